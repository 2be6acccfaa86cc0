"""Build (and optionally execute) one notebook per claim from :mod:`tnconv.experiments.registry`.

Usage::

    python notebooks/build_notebooks.py                      # write the .ipynb files (no outputs)
    python notebooks/build_notebooks.py --execute            # ... and run them at their size, keeping outputs
    python notebooks/build_notebooks.py --execute --size small --only rectifier

Each notebook reads its size from the environment variable ``TNCONV_NOTEBOOK_SIZE`` (default: the
experiment's ``notebook_size``, ``"full"``, or ``"medium"`` for the trained experiments). At that size it
writes its figure and JSON to ``notebooks/figures/``; at small size (the tests) it writes them to a
temporary directory, so test runs never overwrite the recorded results.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SETUP = """\
import os, tempfile, time
from pathlib import Path
from IPython.display import Image, display

from tnconv.experiments import {name} as exp
from tnconv.experiments import to_json

SIZE = os.environ.get("TNCONV_NOTEBOOK_SIZE", "{size}")
# {size_cap}-size figures are the recorded results; small runs (tests) go to a scratch directory.
FIG_DIR = Path("figures") if SIZE == "{size}" else Path(tempfile.mkdtemp(prefix="tnconv-nb-"))
FIG_DIR.mkdir(exist_ok=True)
print("size:", SIZE)"""

RUN = """\
t0 = time.perf_counter()
result = exp.run(size=SIZE, seed=0)
print(f"run({{SIZE!r}}) took {{time.perf_counter() - t0:.1f}} s")
(FIG_DIR / "{name}.json").write_text(to_json(result, indent=None))"""

FIGURE = """\
path = exp.plot(result, FIG_DIR / "{figure}")
display(Image(filename=str(path)))"""

VERDICT = """\
print(exp.verdict(result))"""

# Per-notebook cells between the run and the figure: the numbers behind the plot.
NUMBERS = {
    "depth_efficiency": """\
print("N      deep odd/even log2 cut   theory N/2 log2 min(M,w)   left/right log2 cut")
for n, c, t, l in zip(result.cut_n, result.deep_odd_even_log2_cut, result.theory_odd_even_log2,
                      result.deep_left_right_log2_cut):
    print(f"{n:<6} {c:>12g} {t:>24g} {l:>22g}")
print("exact generic ranks (GF(p)):", dict(zip(result.exact_n, result.deep_odd_even_rank)))
print("left/right entropy (nats) through the cut:",
      {n: None if e is None else round(e, 4) for n, e in zip(result.cut_n, result.left_right_entropy)})
print("shallow net at the deep net's parameter budget:",
      dict(zip(result.exact_n, result.shallow_budget_odd_even_rank)))
print("log2 required top width after removing k layers:",
      dict(zip(result.layers_removed, result.required_top_log2_cut)))""",
    "pooling_geometry": """\
for geo, rows in result.log2_cut.items():
    print(geo)
    for side, row in zip(result.sides, rows):
        print(f"  {side}x{side}:", {p: v for p, v in zip(result.partitions, row) if v is not None})
print("exact generic ranks on 4x4:", result.exact_rank)""",
    "width_range": """\
for name, ws in result.profiles.items():
    print(f"{name:<10} widths {ws} ({result.profile_parameters[name]} params):",
          [round(v, 2) for v in result.log2_cut[name]])
print("allocate_widths:", result.alloc_profiles["allocated"], "objective", result.alloc_objective)""",
    "entanglement_vs_bound": """\
import numpy as np
for kind in ("random", "trained-like"):
    m = [k == kind for k in result.kind]
    s = np.array(result.entropy)[m]; c = np.array(result.log_bound)[m]
    print(f"{kind:<13} pairs {m.count(True):>4}  max S - log C = {np.max(s - c):+.3e}  mean S/log C = {np.mean(s / c):.3f}")""",
    "rectifier": """\
from collections import Counter
for g, ranks in result.ranks.items():
    print(f"{g:<9}", dict(sorted(Counter(ranks).items())))""",
    "mixed_dilated": """\
for name, lo, e, up in zip(result.trees, result.tiling_lower, result.exact_rank, result.tiling_upper):
    print(f"{name:<10} tiling lower {lo:>4}  exact {e:>4}  upper {up:>4}")
print("mixed net rank:", result.mixed_rank, "| single tree by width:", dict(zip(result.single_tree_widths, result.single_tree_rank)))
print("required single-tree width:", dict(zip(result.r_values, result.required_width)))""",
    "implicit_acceleration": """\
from tnconv.experiments import linear_acceleration as la
print(la.format_table(result.results))""",
    "pooling_geometry_trained": """\
print("test accuracy, mean +- std over seeds")
print(exp.format_table(result))
print("parameters:", result.n_parameters)
print(f"training: {sum(result.seconds):.0f} s over {len(result.seconds)} runs")""",
    "width_range_trained": """\
print("test accuracy, mean +- std over seeds")
print(exp.format_table(result))
print(f"training: {sum(result.seconds):.0f} s over {len(result.seconds)} runs")""",
    "entanglement_trained": """\
import numpy as np
for kind in exp.KINDS:
    m = [k == kind for k in result.kind]
    s = np.array(result.entropy)[m]; c = np.array(result.log_bound)[m]
    print(f"{kind:<8} pairs {m.count(True):>4}  max S - log C = {np.max(s - c):+.3e}  mean S/log C = {np.mean(s / c):.3f}")
for net, acc in result.test_accuracy.items():
    print(f"trained {net}: test accuracy {acc:.3f}")""",
    "contraction_paths": """\
print(f"{'network':<12}{'method':<16}{'flops':>12}{'search s':>10}{'contract s':>12}  status")
for row in zip(result.network, result.method, result.flops, result.search_s, result.contract_s, result.status):
    net, m, f, s, t, st = row
    print(f"{net:<12}{m:<16}{f or float('nan'):>12.4g}{s or 0:>10.3f}{t or float('nan'):>12.2e}  {st}")""",
}


def intro(exp) -> str:
    """The notebook's opening paragraph: the module docstring up to its references."""
    mod = exp.load()
    doc = (mod.__doc__ or "").split("References\n")[0].strip()
    title, _, body = doc.partition("\n")
    return (f"# {exp.section}. {exp.title}\n\n**Claim.** {exp.claim} ({exp.paper})\n\n{body.strip()}\n\n"
            f"Run size: set `TNCONV_NOTEBOOK_SIZE={'|'.join(exp.sizes)}` (default `{exp.notebook_size}`). From the "
            f"command line: `tnconv experiments run {exp.name} --size {exp.notebook_size} --out DIR`.")


def build(names: list[str] | None = None) -> list[Path]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    sys.path.insert(0, str(HERE.parent))
    from tnconv.experiments.registry import EXPERIMENTS

    paths = []
    for exp in EXPERIMENTS.values():
        if names and exp.name not in names:
            continue
        fmt = {"name": exp.name, "figure": exp.figure, "size": exp.notebook_size,
               "size_cap": exp.notebook_size.capitalize()}
        cells = [
            new_markdown_cell(intro(exp)),
            new_code_cell(SETUP.format(**fmt)),
            new_code_cell(RUN.format(**fmt)),
            new_markdown_cell("## The numbers"),
            new_code_cell(NUMBERS[exp.name]),
            new_markdown_cell("## The figure"),
            new_code_cell(FIGURE.format(**fmt)),
            new_markdown_cell("## Do the numbers support the claim?\n\nThe verdict below is computed from the "
                              "numbers above (`exp.verdict(result)`), not written by hand."),
            new_code_cell(VERDICT),
        ]
        nb = new_notebook(cells=cells, metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        })
        path = HERE / exp.notebook
        nbformat.write(nb, path)
        paths.append(path)
    return paths


def execute(paths: list[Path], size: str | None, timeout: int = 600) -> None:
    import nbformat
    from nbclient import NotebookClient

    if size is None:
        os.environ.pop("TNCONV_NOTEBOOK_SIZE", None)
    else:
        os.environ["TNCONV_NOTEBOOK_SIZE"] = size
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
        nbformat.write(nb, path)
        print(f"executed {path.name} at size {size or 'default'} in {time.perf_counter() - t0:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--execute", action="store_true", help="run the notebooks and keep their outputs")
    parser.add_argument("--size", choices=["small", "medium", "full"], default=None,
                        help="default: each notebook's own size (full; medium for the trained experiments)")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME", help="experiment names")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    paths = build(args.only)
    print("wrote", ", ".join(p.name for p in paths))
    if args.execute:
        execute(paths, args.size, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
