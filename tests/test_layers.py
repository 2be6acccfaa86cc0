"""The package is layered: no import cycle, no import from a layer to the right, no private names across modules.

Imports are parsed with ``ast`` (inside functions too, relative and absolute), so lazy imports count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "tnconv"

# Left to right; a module may import only from its own layer's left or, inside one layer, not from a peer
# package of the same layer (contract, mincut and spectrum are peers).
LAYERS: list[tuple[str, ...]] = [
    ("tnconv._core", "tnconv._version"),
    ("tnconv.tree_checks", "tnconv.tree_codes", "tnconv.tree_builders", "tnconv.tree_windows", "tnconv.hybrid",
     "tnconv.tree_navigation", "tnconv.trees", "tnconv.partition_checks", "tnconv.partitions",
     "tnconv.partition_resolve"),
    ("tnconv.models",),
    ("tnconv.network", "tnconv.network_io", "tnconv.network_compile", "tnconv.network_check", "tnconv.network_einsum",
     "tnconv.network_structure"),
    ("tnconv.contract", "tnconv.mincut", "tnconv.spectrum", "tnconv.exact", "tnconv.linear"),
    ("tnconv.measures", "tnconv.entanglement"),
    ("tnconv.datasets", "tnconv.train"),
    ("tnconv.plot", "tnconv.parallel", "tnconv.experiments", "tnconv.contract.bench"),
    ("tnconv.cli", "tnconv.__main__", "tnconv"),
]
PEERS = {"tnconv.contract", "tnconv.mincut", "tnconv.spectrum"}

# Known violations (none left).
ALLOWED: set[tuple[str, str]] = set()
# Private names imported across modules (none left).
ALLOWED_PRIVATE: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, list[str]]]:
    """``(imported module, names)`` for every import in the file, resolved to tnconv modules."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "tnconv"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "tnconv":
                continue
            names = [a.name for a in node.names]
            # "from . import partitions" imports a module
            subs = [n for n in names if f"{mod}.{n}" in known]
            out += [(f"{mod}.{n}", []) for n in subs]
            rest = [n for n in names if n not in subs]
            if rest:
                out.append((mod, rest))
    return out


def _layer(mod: str) -> tuple[int, str]:
    best = (-1, "")
    for k, group in enumerate(LAYERS):
        for prefix in group:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > len(best[1]):
                best = (k, prefix)
    assert best[0] >= 0, f"module {mod} has no layer in the table"
    return best


def _graph() -> tuple[nx.DiGraph, dict[str, list[tuple[str, list[str]]]]]:
    mods = _modules()
    known = set(mods)
    G = nx.DiGraph()
    edges = {}
    for name, path in mods.items():
        G.add_node(name)
        edges[name] = _imports(name, path, known)
        for target, _ in edges[name]:
            if target in known and target != name and not name.startswith(target + "."):
                G.add_edge(name, target)
    return G, edges


def test_every_module_has_a_layer():
    for mod in _modules():
        _layer(mod)


def test_no_import_cycle():
    G, _ = _graph()
    H = G.copy()
    H.remove_edges_from(ALLOWED)
    cycles = list(nx.simple_cycles(H))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_no_import_runs_right_to_left_or_between_peers():
    G, _ = _graph()
    bad = []
    for a, b in G.edges:
        (la, pa), (lb, pb) = _layer(a), _layer(b)
        if (a, b) in ALLOWED:
            continue
        if lb > la or (lb == la and pa != pb and pa in PEERS and pb in PEERS):
            bad.append((a, b))
    assert not bad, f"imports from the right or between peers: {sorted(bad)}"


def test_allowed_violations_are_real():
    # An entry that no longer occurs must leave the set (it would hide a regression otherwise).
    G, _ = _graph()
    stale = [e for e in ALLOWED if not G.has_edge(*e)]
    assert not stale, f"ALLOWED lists imports that no longer exist: {stale}"


def test_no_private_names_across_modules():
    _, edges = _graph()
    bad = []
    for name, imps in edges.items():
        for target, names in imps:
            private_module = any(p.startswith("_") and p not in ("__init__",) for p in target.split(".")[1:])
            low = target.startswith("tnconv._core") or target == "tnconv._version"
            # tnconv._cli_common serves the command-line modules (cli helper's files).
            cli_user = name.endswith(".cli") or name == "tnconv.contract.bench"
            if private_module and not low and not cli_user:
                bad.append((name, target))
            for n in names:
                private = n.startswith("_") and not n.startswith("__")
                if private and target != name and (name, f"{target}.{n}") not in ALLOWED_PRIVATE:
                    bad.append((name, f"{target}.{n}"))
    assert not bad, f"private names imported across modules: {sorted(bad)}"


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    # The parser must find imports inside functions and resolve relative ones (else the tests above prove nothing).
    pkg = tmp_path / "tnconv" / "sub"
    pkg.mkdir(parents=True)
    f = pkg / "mod.py"
    f.write_text("def f():\n    from ..network import TensorNetwork\n    from . import other\n"
                 "    import tnconv.trees\n")
    got = _imports("tnconv.sub.mod", f, {"tnconv.sub.other"})
    assert ("tnconv.network", ["TensorNetwork"]) in got
    assert ("tnconv.sub.other", []) in got
    assert ("tnconv.trees", []) in got


def test_mixed_min_cut_names_its_real_limits():
    import pytest

    import tnconv as tc

    a, b = tc.ModeTree.dilated(2, [1, 2]), tc.ModeTree.dilated(2, [2, 1])
    mix = tc.MixedConvNet(a, b, [], 2, 2, seed=0)
    with pytest.raises(TypeError, match="tiling_rank_bounds") as info:
        tc.min_cut(mix, [0, 1])
    assert "rectifier" not in str(info.value).lower()


def test_dilated_network_carries_its_tree_and_gets_the_structure_path():
    import numpy as np

    import tnconv as tc

    net = tc.DilatedConvNet(tc.ModeTree.dilated(3), 2, 3, seed=1)
    tn = tc.TensorNetwork.from_model(net)
    assert tn.tree is net.tree and tn.tensor_nodes is not None
    # independent reference: the model's own dense coefficient tensor
    np.testing.assert_allclose(tn.contract(optimize="structure"), net.coefficient_tensor(), rtol=1e-12, atol=1e-14)
    assert tc.TensorNetwork.from_model(net).inds == net.to_tensor_network().inds
