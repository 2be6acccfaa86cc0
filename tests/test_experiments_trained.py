"""The trained experiments: small runs checked against independent computations (statistics, numpy SVD,
closed-form parameter counts and min cuts), the verdicts against their numbers, and the plumbing."""

import math
import statistics
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import tnconv as tc
from tnconv.experiments import registry
from tnconv.experiments import trained_common as tcm

pytest.importorskip("jax")
pytest.importorskip("optax")


# --- helpers -------------------------------------------------------------------------------------------

def test_mirror_tree_pools_reflections():
    side = 8
    tree = tcm.mirror_tree(side)
    assert tree.n_inputs == side * side
    first = [v for v in tree.nodes if len(v) == 4]
    assert len(first) == (side // 2) ** 2
    for v in first:  # each first-level window: one pixel and its three reflections
        r, c = divmod(min(v), side)
        assert v == frozenset({r * side + c, r * side + side - 1 - c, (side - 1 - r) * side + c,
                               (side - 1 - r) * side + side - 1 - c})
    # Left/right is the mirror geometry's strong partition, the square geometry's weak one.
    lr = tc.partitions.left_right((side, side))
    mirror = tc.min_cut(tc.ConvAC(tree, 2, 4), lr).bound
    square = tc.min_cut(tc.ConvAC(tcm.grid_tree(side, "square"), 2, 4), lr).bound
    assert mirror == 2**32 and square < 2**10
    with pytest.raises(ValueError, match="12"):
        tcm.mirror_tree(12)
    with pytest.raises(ValueError, match="round"):
        tcm.grid_tree(8, "round")


def test_pixel_features_closed_form():
    X = np.array([[[0.0, 0.5], [1.0, 0.25]]])
    F = tcm.pixel_features(X, 3)
    mu, s = np.array([0, 0.5, 1]), 0.25
    for k, x in enumerate([0.0, 0.5, 1.0, 0.25]):
        np.testing.assert_allclose(F[0, k], [math.exp(-(x - m) ** 2 / (2 * s * s)) for m in mu])
    assert F.min() > 0


def test_mean_std_and_compare():
    a, b = [0.9, 0.8, 0.85], [0.6, 0.7, 0.65]
    assert tcm.mean_std(a) == pytest.approx((statistics.mean(a), statistics.stdev(a)))
    c = tcm.compare(a, b)
    assert c["gap"] == pytest.approx(0.2) and c["spread"] == pytest.approx(0.1) and c["wins"]
    assert not tcm.compare(b, a)["wins"]
    assert not tcm.compare([0.7, 0.9], [0.75, 0.8])["wins"]  # gap 0.025 < spread


def test_seed_summary_and_expected_checks_against_statistics():
    rng = np.random.default_rng(3)
    points = [{"task": t, "geometry": g, "seed": k} for t in ("b", "a") for g in ("square", "mirror") for k in range(3)]
    outs = [{"test_accuracy": float(rng.uniform()), "train_accuracy": float(rng.uniform())} for _ in points]
    s = tcm.seed_summary(points, outs, ["task", "geometry"], [["a", "b"], ["square", "mirror"]])
    assert list(s["accuracy"]) == ["a", "b"] and list(s["accuracy"]["a"]) == ["square", "mirror"]
    for t in ("a", "b"):
        for g in ("square", "mirror"):
            test = [o["test_accuracy"] for p, o in zip(points, outs) if (p["task"], p["geometry"]) == (t, g)]
            train = [o["train_accuracy"] for p, o in zip(points, outs) if (p["task"], p["geometry"]) == (t, g)]
            assert s["accuracy"][t][g] == test and s["train_accuracy"][t][g] == train
            assert s["mean"][t][g] == pytest.approx(statistics.mean(test))
            assert s["std"][t][g] == pytest.approx(statistics.stdev(test))
    checks = tcm.expected_checks(s["accuracy"], {"b": "mirror", "a": "square"}, ("square", "mirror"))
    assert [(c["task"], c["winner"], c["loser"]) for c in checks] == [("b", "mirror", "square"),
                                                                     ("a", "square", "mirror")]
    for c in checks:
        w, lo = s["accuracy"][c["task"]][c["winner"]], s["accuracy"][c["task"]][c["loser"]]
        gap, spread = statistics.mean(w) - statistics.mean(lo), statistics.stdev(w) + statistics.stdev(lo)
        assert c["gap"] == pytest.approx(gap) and c["spread"] == pytest.approx(spread) and c["wins"] == (gap > spread)
        assert tcm.check_line("x", c).endswith(f"{spread:.3f}: {gap > spread}.")


def _count(side, M, widths, shared, n_classes=10):
    dims = [M, *widths, n_classes]
    return sum((1 if shared else (side * side) // 4**h) * dims[h] * dims[h + 1] for h in range(len(dims) - 1))


@pytest.mark.parametrize("side, M, wide, narrow, shared", [(4, 2, 8, 2, False), (8, 2, 16, 4, False),
                                                           (16, 3, 16, 4, True), (32, 4, 64, 16, True)])
def test_width_profiles_equal_parameters(side, M, wide, narrow, shared):
    from tnconv.experiments import width_range_trained as wrt

    p = wrt.profiles(side, M, wide, narrow, shared)
    L = int(math.log2(side))
    assert len(p["wide_base"]) == len(p["wide_tip"]) == L
    assert p["wide_base"][0] == wide and p["wide_tip"][0] == narrow
    nb, nt = (tcm.build_net({"side": side, "geometry": "square", "M": M, "widths": p[k], "n_outputs": 10,
                             "shared": shared}, 0).n_parameters for k in ("wide_base", "wide_tip"))
    assert wrt.n_parameters(side, M, p["wide_base"], shared) == nb == _count(side, M, p["wide_base"], shared)
    assert abs(nt / nb - 1) <= 0.05


# --- small runs ----------------------------------------------------------------------------------------

def _check_lines(text, expected):
    lines = text.splitlines()
    ends = [line.rstrip(".") for line in lines[1:]]
    flags = [e.endswith(": True") for e in ends if e.endswith((": True", ": False"))]
    assert flags == expected
    assert lines[0].startswith("SUPPORTED:" if all(expected) else "NOT SUPPORTED:")


def test_pooling_geometry_trained_small():
    from tnconv.experiments import pooling_geometry_trained as pgt

    r = pgt.run("small")
    expected = []
    assert r.kinds == ["convac"]
    for kind in r.kinds:
        for task in pgt.TASKS:
            for geo in tcm.GEOMETRIES:
                accs = r.accuracy[kind][task][geo]
                assert len(accs) == r.seeds == 2 and all(0 <= a <= 1 for a in accs)
                # n_test = 200 images: accuracies are multiples of 1/200
                assert all(abs(a * r.n_test - round(a * r.n_test)) < 1e-9 for a in accs)
                assert r.mean[kind][task][geo] == pytest.approx(statistics.mean(accs))
                assert r.std[kind][task][geo] == pytest.approx(statistics.stdev(accs))
            win = "square" if task == "closedness" else "mirror"
            lose = "mirror" if win == "square" else "square"
            gap = statistics.mean(r.accuracy[kind][task][win]) - statistics.mean(r.accuracy[kind][task][lose])
            spread = statistics.stdev(r.accuracy[kind][task][win]) + statistics.stdev(r.accuracy[kind][task][lose])
            expected.append(gap > spread)
    _check_lines(pgt.verdict(r), expected)
    assert set(r.n_parameters["convac"]) == set(tcm.GEOMETRIES)
    assert "square" in pgt.format_table(r)


def test_width_range_trained_small():
    from tnconv.experiments import width_range_trained as wrt

    r = wrt.run("small")
    expected = [abs(r.n_parameters["wide_tip"] / r.n_parameters["wide_base"] - 1) <= 0.05]
    for task, win, lose in (("local", "wide_base", "wide_tip"), ("global", "wide_tip", "wide_base")):
        a, b = r.accuracy[task][win], r.accuracy[task][lose]
        assert len(a) == len(b) == r.seeds and all(0 <= x <= 1 for x in a + b)
        gap = statistics.mean(a) - statistics.mean(b)
        expected.append(gap > statistics.stdev(a) + statistics.stdev(b))
    assert r.n_parameters["wide_base"] == _count(4, 2, r.widths["wide_base"], False)
    _check_lines(wrt.verdict(r), expected)


def _entropy(A, part):
    I = sorted(part)
    J = [k for k in range(A.ndim) if k not in I]
    s = np.linalg.svd(np.transpose(A, I + J).reshape(2 ** len(I), -1), compute_uv=False)
    p = s**2 / np.sum(s**2)
    p = p[p > 1e-300]
    return float(-np.sum(p * np.log(p)))


def test_entanglement_trained_small():
    from tnconv.experiments import entanglement_trained as et
    from tnconv.experiments.entanglement_vs_bound import make_partitions

    with ThreadPoolExecutor(2) as pool:
        r = et.run("small", executor=pool)
    parts = dict(make_partitions("full", 0))
    n = len(r.kind)
    assert n == 3 * len(et.grid("small")) * len(parts)
    assert all(s <= c + 1e-9 for s, c in zip(r.entropy, r.log_bound))
    # The random nets again, from their seeds: entropies by a plain SVD, min cuts in closed form.
    for point in et.grid("small"):
        desc = f"{point['task']}, {point['tree']}, w={point['width']}, seed {point['seed']}"
        net = tc.ConvAC(et.tree_of(point["tree"]), 2, point["width"], seed=point["seed"] + 7, init="orthogonal")
        A = net.coefficient_tensor()
        rows = [k for k in range(n) if r.kind[k] == "random" and r.network[k] == desc]
        assert len(rows) == len(parts)
        for k in rows:
            assert r.entropy[k] == pytest.approx(_entropy(A, parts[r.partition[k]]), abs=1e-9)
            if point["tree"] == "balanced" and r.partition[k] == "left_right":
                assert r.bound[k] == point["width"]  # the left half is a subtree: one edge of width w
        assert 0 <= r.test_accuracy[desc] <= 1
    fr = statistics.mean(s / c for k, s, c in zip(r.kind, r.entropy, r.log_bound) if k == "random")
    ft = statistics.mean(s / c for k, s, c in zip(r.kind, r.entropy, r.log_bound) if k == "trained")
    _check_lines(et.verdict(r), [ft < fr])


# --- plumbing ------------------------------------------------------------------------------------------

def test_registry_sizes_and_errors():
    for name in ("pooling_geometry_trained", "width_range_trained", "entanglement_trained"):
        exp = registry.get(name)
        assert exp.sizes == ("small", "medium", "full") and exp.notebook_size == "medium"
        with pytest.raises(ValueError, match="'huge'"):
            exp.load().run("huge")
    with pytest.raises(ValueError, match="'medium'"):
        registry.run_experiment("rectifier", "medium")


def test_cli_refuses_medium_for_untrained(capsys):
    from tnconv.cli import main

    assert main(["experiments", "run", "rectifier", "--size", "medium"]) == 2
    assert "medium" in capsys.readouterr().err


def test_run_grid_matches_serial_on_an_executor():
    points = [{"x": k} for k in range(5)]
    with ThreadPoolExecutor(2) as pool:
        assert tcm.run_grid(_square, points, pool) == tcm.run_grid(_square, points) == [0, 1, 4, 9, 16]


def _square(point):
    return point["x"] ** 2
