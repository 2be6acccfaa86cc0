"""One CLI style (issue 14 §4): --json everywhere with metadata, one bound type, entropies in bits, quiet
broken pipes, help defaults, the same no-matplotlib behaviour, real time caps, progress, entry points."""

import io
import json
import math
import signal
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tnconv as tc
from tnconv.cli import build_parser, main
from tnconv.contract.bench import benchmark_paths
from tnconv.contract.time_cap import TimeCapExceeded, time_cap

META = {"tnconv", "python", "numpy", "platform", "machine", "timestamp", "command"}


def _json(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)  # stdout holds one JSON object and nothing else
    assert set(doc["meta"]) == META and doc["meta"]["tnconv"] == tc.__version__
    assert doc["meta"]["command"] == "tnconv " + " ".join(argv)
    return doc


def _bits(A, part):
    """Entropy in bits of the normalized Schmidt spectrum, from a dense matricization and numpy's SVD."""
    n = A.ndim
    rows = sorted(part)
    cols = [k for k in range(n) if k not in part]
    mat = np.transpose(A, rows + cols).reshape(int(np.prod([A.shape[k] for k in rows])), -1)
    s = np.linalg.svd(mat, compute_uv=False)
    p = s**2 / (s**2).sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_every_command_takes_a_json_flag(capsys, tmp_path):
    docs = [
        _json(["demo", "--json"], capsys),
        _json(["info", "--json"], capsys),
        _json(["experiments", "list", "--json"], capsys),
        _json(["mincut", "--inputs", "8", "--widths", "2", "--descriptors", "2", "--json"], capsys),
        _json(["bench", "paths", "--inputs", "16", "--widths", "2", "--descriptors", "2", "--batch", "4",
               "--repeats", "1", "--optimizers", "levels,structure", "--json"], capsys),
        _json(["linear-accel", "--p", "2", "--depths", "1", "--iters", "5", "--lrs", "2", "--datasets", "synthetic",
               "--json"], capsys),
    ]
    assert [d["command"] for d in docs] == ["demo", "info", "experiments list", "mincut", "bench paths",
                                            "linear-accel"]
    assert [r["method"] for r in docs[4]["rows"]] == ["levels", "structure"]
    # every subcommand's parser has the same --json flag (store_true, not a PATH)
    parser = build_parser()
    for argv in (["demo"], ["info"], ["mincut"], ["bench", "paths"], ["linear-accel"], ["experiments", "list"],
                 ["experiments", "run", "rectifier"]):
        assert parser.parse_args([*argv, "--json"]).json is True


def test_bound_is_always_an_exact_json_int(capsys):
    # contiguous 2x2 pooling, M = 4, width 4: each of the 64 windows straddles the checkerboard cut and is
    # severed at its copy tensor of dim min(M^2, 4) = 4, so the bound is 4^64 = 2^128 (far above 2^53)
    doc = _json(["mincut", "--inputs", "16x16", "--widths", "4", "--descriptors", "4", "checkerboard",
                 "left_right", "--no-spectrum", "--json"], capsys)
    rows = {r["partition"]: r for r in doc["partitions"]}
    assert type(rows["checkerboard"]["bound"]) is int and rows["checkerboard"]["bound"] == 2**128
    # left/right meets at the root only: the top width 4
    assert type(rows["left_right"]["bound"]) is int and rows["left_right"]["bound"] == 4


def test_entropies_are_in_bits_everywhere(capsys, monkeypatch):
    import tnconv.cli.demo as demo

    doc = _json(["mincut", "--inputs", "8", "--widths", "2", "--descriptors", "2", "0,1,2,3", "--json"], capsys)
    assert doc["entropy_unit"] == "bits"
    A = tc.deep(8, 2, 2, pooling="contiguous", seed=0).coefficient_tensor()
    assert doc["partitions"][0]["entropy_bits"] == pytest.approx(_bits(A, {0, 1, 2, 3}), abs=1e-9)
    seen = []
    real = demo.demo_rows
    monkeypatch.setattr(demo, "demo_rows", lambda seed=0: seen.append(real(seed)) or seen[-1])
    assert main(["demo"]) == 0  # one run: its rows and nets are checked, and what it printed
    out = capsys.readouterr().out
    rows, deep_net, shallow_net = seen[0]
    part = tc.partitions.named("checkerboard", (4, 4))
    by = {r["partition"]: r for r in rows}
    deep_bits = _bits(deep_net.coefficient_tensor(), part)
    assert by["checkerboard"]["deep_entropy_bits"] == pytest.approx(deep_bits)
    assert by["checkerboard"]["shallow_entropy_bits"] == pytest.approx(
        _bits(shallow_net.coefficient_tensor(), part))
    assert f"{deep_bits:.3f}" in out and "(bits)" in out and "nats" not in out
    # honest about the budget: 165 parameters against 196, not "the same"
    assert "165 parameters" in out and "196" in out and "same parameter" not in out


def test_info_names_the_extra_of_each_missing_package(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("matplotlib", "quimb")
                        else real(name, *a))
    doc = _json(["info", "--json"], capsys)
    rows = {r["name"]: r for r in doc["packages"]}
    assert rows["matplotlib"]["version"] is None and rows["matplotlib"]["install"] == "pip install 'tnconv[plot]'"
    assert rows["quimb"]["install"] == "pip install 'tnconv[quimb]'"
    assert rows["numpy"]["version"] == np.__version__ and rows["numpy"]["extra"] is None
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "matplotlib       not available: pip install 'tnconv[plot]'" in out


def test_a_closed_pipe_ends_quietly():
    # the reader goes away before tnconv writes: no BrokenPipeError traceback, status 141 (128 + SIGPIPE)
    proc = subprocess.Popen([sys.executable, "-m", "tnconv", "experiments", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and "Exception ignored" not in err


def test_broken_pipe_in_process(monkeypatch, capsys):
    import tnconv.cli.info as info

    def writer(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(info, "cmd_info", writer)
    assert main(["info"]) == 141
    assert capsys.readouterr().err == ""


def test_python_dash_m_and_the_section_column():
    res = subprocess.run([sys.executable, "-m", "tnconv", "experiments", "list"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0
    head = res.stdout.splitlines()[0].split()
    assert head[:2] == ["name", "section"] and "sec" not in head


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield sub
                yield from _subparsers(sub)


def test_help_shows_every_default():
    checked = 0
    for sub in _subparsers(build_parser()):
        text = "".join(sub.format_help().split())  # argparse wraps long values, at hyphens too
        for action in sub._actions:
            if action.nargs == 0 or action.default is None or not action.option_strings:
                continue
            shown = action.default if isinstance(action.default, str) else str(action.default)
            assert f"(default:{''.join(shown.split())})" in text, (sub.prog, action.dest)
            checked += 1
    assert checked >= 25


def test_no_matplotlib_same_message_and_status(monkeypatch, tmp_path, capsys):
    for name in ("matplotlib", "matplotlib.pyplot", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)  # `import matplotlib...` raises ImportError
    a = main(["linear-accel", "--p", "2", "--depths", "1", "--iters", "5", "--lrs", "2", "--datasets", "synthetic",
              "--out", str(tmp_path / "la")])
    err_a = capsys.readouterr().err
    b = main(["experiments", "run", "rectifier", "--out", str(tmp_path / "ex")])
    err_b = capsys.readouterr().err
    assert a == b == 0
    assert (tmp_path / "la" / "linear_accel.json").is_file() and (tmp_path / "ex" / "rectifier.json").is_file()
    assert not (tmp_path / "la" / "linear_accel.png").exists() and not (tmp_path / "ex" / "rectifier.png").exists()
    message = "no figure written (plotting needs matplotlib: pip install 'tnconv[plot]'); the data is in "
    assert err_a == f"tnconv linear-accel: {message}{tmp_path / 'la' / 'linear_accel.json'}\n"
    assert err_b == f"tnconv experiments run: {message}{tmp_path / 'ex' / 'rectifier.json'}\n"
    written = json.loads((tmp_path / "ex" / "rectifier.json").read_text())  # result files carry the metadata too
    assert set(written["meta"]) == META and written["experiment"] == "rectifier" and "result" in written


class _SlowOptimizer:
    """An opt_einsum-style path optimizer that never finishes on its own."""

    def __call__(self, inputs, output, size_dict, memory_limit=None):
        while True:
            time.sleep(0.005)


def test_max_time_is_a_hard_cap_and_rows_come_as_they_finish():
    import opt_einsum as oe

    class Slow(_SlowOptimizer, oe.paths.PathOptimizer):
        pass

    seen = []
    net = tc.deep(16, 2, 2, seed=0)
    t0 = time.perf_counter()
    rows = benchmark_paths(net, ["levels", Slow(), "structure"], batch=4, repeats=1, max_time=0.3,
                           show_progress=False, on_row=lambda r: seen.append((r["method"], time.perf_counter())))
    wall = time.perf_counter() - t0
    assert [r["method"] for r in rows] == ["levels", "Slow", "structure"]
    assert rows[1]["status"].startswith("timeout") and rows[1]["contract_s"] is None
    assert 0.3 <= rows[1]["search_s"] < 1.5 and wall < 10
    assert rows[0]["status"] == rows[2]["status"] == "ok"
    assert [m for m, _ in seen] == ["levels", "Slow", "structure"]  # each row handed on when done
    assert seen[0][1] < seen[1][1] - 0.25  # levels was out before the slow search had ended
    # the timer and the handler are restored
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    rows = benchmark_paths(net, ["levels", "structure"], batch=4, repeats=1, total_time=0, show_progress=False)
    assert all(r["status"].startswith("skipped") for r in rows)
    with pytest.raises(ValueError, match="max_time"):
        benchmark_paths(net, ["levels"], batch=4, max_time=-1, show_progress=False)
    with pytest.raises(TypeError, match="executor"):
        benchmark_paths(net, ["levels"], batch=4, executor=42, show_progress=False)


def test_a_search_stopped_at_the_cap_keeps_its_best_path():
    import opt_einsum as oe

    class KeepsBest(oe.paths.PathOptimizer):
        """Finds a path at once, then keeps "improving" forever (like a random searcher)."""

        def __call__(self, inputs, output, size_dict, memory_limit=None):
            self.path = oe.paths.greedy(inputs, output, size_dict)
            self.best = {"ssa_path": "found"}
            while True:
                time.sleep(0.005)

    net = tc.deep(16, 2, 2, seed=0)
    x = np.random.default_rng(3).standard_normal((4, 16, 2))
    rows = benchmark_paths(net, ["levels", KeepsBest()], features=x, repeats=1, max_time=0.3, show_progress=False)
    assert rows[1]["status"].startswith("ok: search stopped at") and rows[1]["contract_s"] is not None
    assert 0.3 <= rows[1]["search_s"] < 1.5
    # the kept path was contracted and its output compared with the levels engine's (check=True turns a
    # disagreement into a MISMATCH status, so the "ok" above is that comparison)
    assert rows[1]["flops"] > 0 and "MISMATCH" not in rows[1]["status"]


def test_time_cap_nests_and_restores():
    def handler(signum, frame):  # pragma: no cover - never fires
        raise AssertionError("outer handler fired")

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        with time_cap(30):
            with pytest.raises(TimeCapExceeded), time_cap(0.05):
                while True:
                    time.sleep(0.005)
            assert signal.getitimer(signal.ITIMER_REAL)[0] > 20  # the outer cap is still armed
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
        assert signal.getsignal(signal.SIGALRM) is handler
    finally:
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(ValueError, match="nan"), time_cap(float("nan")):
        pass


def test_executor_goes_to_cotengra():
    pytest.importorskip("cotengra")
    calls = []

    class Custom:
        """A minimal executor: submit only, no private attributes for cotengra to read."""

        def __init__(self, pool):
            self.pool = pool

        def submit(self, fn, *args, **kwargs):
            calls.append(fn)
            return self.pool.submit(fn, *args, **kwargs)

    net = tc.deep(8, 2, 2, seed=0)
    with ThreadPoolExecutor(2) as pool:
        rows = benchmark_paths(net, ["structure", "cotengra"], batch=4, repeats=1, max_time=20, max_repeats=4,
                               show_progress=False, executor=Custom(pool))
    assert rows[1]["status"].startswith("ok"), rows[1]["status"]  # output checked against "structure"
    assert calls  # the search trials ran on the executor


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("argv, desc", [
    (["linear-accel", "--p", "2", "--depths", "1", "--iters", "5", "--lrs", "2", "--datasets", "synthetic"],
     "linear-accel"),
    (["experiments", "run", "rectifier"], "experiments"),
    (["bench", "paths", "--inputs", "8", "--widths", "2", "--descriptors", "2", "--batch", "2", "--repeats", "1",
      "--optimizers", "levels"], "benchmark_paths"),
])
def test_long_commands_show_progress(argv, desc, monkeypatch, capsys):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(argv) == 0
    assert f"{desc} [" in tty.getvalue() and "1/1" in tty.getvalue()


def test_dir_lists_the_lazy_names():
    names = dir(tc)
    assert "min_cut" in names and "benchmark_paths" in names and "save" in names and "load" in names
    assert set(tc._LAZY) <= set(names) and set(tc.__all__) <= set(names)


def _models():
    from tnconv import ModeTree

    a, b = ModeTree.dilated(3, [1, 2, 4]), ModeTree.dilated(3, [2, 1, 4])
    return {
        "convac": tc.deep(8, 2, [3, 2, 2], seed=1),
        "relu": tc.ConvNet(ModeTree.grid(4, 4), 2, 3, g="relu_max", seed=4),
        "dilated": tc.DilatedConvNet(ModeTree.dilated(3, [2, 1, 4]), 2, 3, seed=2),
        "mixed": tc.MixedConvNet(a, b, [frozenset(range(4)), frozenset(range(4, 8))], 2, 4, seed=2),
    }


def test_save_and_load_any_model_kind_in_a_fresh_interpreter(tmp_path):
    """tc.save / tc.load; the loading process has imported nothing but ``tnconv`` (the dilated and mixed
    modules included only through it) and must give the same outputs."""
    models = _models()
    feats = {}
    for name, net in models.items():
        tc.save(net, tmp_path / f"{name}.npz")
        feats[name] = np.random.default_rng(0).standard_normal((3, net.n_inputs, net.n_descriptors))
        np.save(tmp_path / f"{name}.x.npy", feats[name])
    code = ("import json, sys, numpy as np, tnconv as tc\n"
            "out = {}\n"
            "for n in sys.argv[2:]:\n"
            "    m = tc.load(f'{sys.argv[1]}/{n}.npz')\n"
            "    out[n] = [type(m).__name__, np.asarray(m.forward(np.load(f'{sys.argv[1]}/{n}.x.npy'))).tolist()]\n"
            "print(json.dumps(out))\n")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path), *models], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    back = json.loads(res.stdout)
    for name, net in models.items():
        assert back[name][0] == type(net).__name__
        np.testing.assert_allclose(back[name][1], net.forward(feats[name]), rtol=1e-12, atol=0)


def test_repr_shows_widths_per_height_as_given():
    assert "widths=[16, 8, 8, 4]" in repr(tc.deep(16, 4, [16, 8, 8, 4], seed=0))
    assert "widths=[4, 4, 4, 4]" in repr(tc.deep(16, 4, 4, seed=0))
    assert "widths=[5]" in repr(tc.shallow(16, 4, 5, seed=0))


def test_readme_node_convention_runs():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "set(tree_a.nodes) & set(tree_b.nodes)" in readme
    tree_a, tree_b = tc.ModeTree.balanced(8), tc.ModeTree.interleaved(8)
    shared = set(tree_a.nodes) & set(tree_b.nodes)
    # the leaves and the root are in every tree over the same inputs; pairs differ between the two
    assert shared == {frozenset([i]) for i in range(8)} | {frozenset(range(8))}
    with pytest.raises(TypeError):
        tree_a.nodes & tree_b.nodes  # tuples do not intersect: the README must not say they do


def test_plain_forward_warns_once_when_it_underflows():
    from tnconv.models.base import ForwardRangeWarning

    net = tc.shallow(4096, 2, 2, seed=0)
    x = np.random.default_rng(0).uniform(0.01, 0.1, (3, 4096, 2))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = net.forward(x)
    assert np.all(out == 0)
    hits = [w for w in caught if issubclass(w.category, ForwardRangeWarning)]
    assert len(hits) == 1 and issubclass(ForwardRangeWarning, RuntimeWarning)
    assert "log=True" in str(hits[0].message) and "3 sample(s) underflowed" in str(hits[0].message)
    assert hits[0].filename == __file__  # points at the caller
    # the log-scale forward (no range limit) confirms that the values lie below the float64 range
    _, log_abs = net.forward(x, log=True)
    assert np.all(log_abs < math.log(np.finfo(np.float64).tiny))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.forward(x, log=True)
        tc.deep(8, 2, 2, seed=0).forward(np.random.default_rng(1).standard_normal((4, 8, 2)))
        zero = x.copy()
        zero[:, 5, :] = 0.0  # a zero feature vector: a product net's output is exactly 0, legitimately
        small = tc.shallow(16, 2, 2, seed=0)
        assert np.all(small.forward(zero[:, :16, :]) == 0)


@pytest.mark.slow  # a dask cluster takes seconds to start
def test_executor_dask_client_and_its_executor():
    pytest.importorskip("cotengra")
    distributed = pytest.importorskip("distributed")
    net = tc.deep(8, 2, 2, seed=0)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        for executor in (client, client.get_executor()):
            rows = benchmark_paths(net, ["structure", "cotengra"], batch=4, repeats=1, max_time=30, max_repeats=4,
                                   show_progress=False, executor=executor)
            assert rows[1]["status"].startswith("ok"), rows[1]["status"]
