"""Images of any size: per-level windows, the ragged-edge rule, and 28x28 models end to end.

Independent references: the pooling tree rebuilt from a closed-form block index per pixel, the
forward pass as a plain loop over the tree in log space, the min cut as a tree DP over exact
integers, and Schmidt values from Gram matrices of the two sides of a tree node.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnconv as tc
from tnconv.tree_windows import pooling_windows, side_runs
from tnconv.trees import ModeTree

fs = frozenset


# ----------------------------------------------------------------------------------- reference trees
def run_of(i: int, count: int, k: int, interleaved: bool) -> int:
    """Closed form: which run of a side of ``count`` blocks pooled by ``k`` holds block ``i``."""
    s = count // k
    if interleaved:
        return i % s if i < k * s else s - 1
    return min(i // k, s - 1)


def reference_levels(h, w, windows, interleaved):
    """Per level, the nodes as sets of pixels with their block coordinates, by composing closed forms."""
    rows, cols = list(range(h)), list(range(w))  # block index of each pixel row / column
    r_count, c_count = h, w
    levels = [{(r, c): fs({r * w + c}) for r in range(h) for c in range(w)}]
    for a, b in windows:
        rows = [run_of(i, r_count, a, interleaved) for i in rows]
        cols = [run_of(j, c_count, b, interleaved) for j in cols]
        r_count, c_count = r_count // a, c_count // b
        level: dict = {}
        for r in range(h):
            for c in range(w):
                level.setdefault((rows[r], cols[c]), set()).add(r * w + c)
        levels.append({k: fs(v) for k, v in level.items()})
    return levels


def check_against_reference(t: ModeTree, h, w, windows, interleaved):
    levels = reference_levels(h, w, windows, interleaved)
    assert len(levels[-1]) == 1 and t.root == fs(range(h * w))
    expected = {v for level in levels for v in level.values()}
    assert set(t.nodes) == expected and len(t.nodes) == len(expected)
    for lv in range(1, len(levels)):
        below = levels[lv - 1]
        for v in levels[lv].values():
            # children in row-major order of their block coordinates one level down
            kids = sorted((key for key, u in below.items() if u <= v))
            assert t.children(v) == tuple(below[key] for key in kids)
            assert t.height(v) == lv
    assert all(t.depth(leaf) == len(windows) for leaf in t.leaves)


@st.composite
def images_and_windows(draw):
    """A random image with random valid per-level windows (each fits the blocks left)."""
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    if h * w < 2:
        w = 2
    windows, r, c = [], h, w
    while r * c > 1:
        a = draw(st.integers(1, r))
        b = draw(st.integers(1 if a > 1 else min(2, c), c)) if c > 1 else 1
        if a == b == 1:
            a = 2 if r > 1 else 1
            b = 2 if a == 1 else 1
        windows.append((a, b))
        r, c = r // a, c // b
    return h, w, windows


@given(images_and_windows(), st.booleans())
def test_grid_with_windows_matches_closed_form(case, interleaved):
    h, w, windows = case
    t = ModeTree.grid(h, w, windows=windows, interleaved=interleaved)
    check_against_reference(t, h, w, windows, interleaved)


@given(st.integers(1, 12), st.integers(1, 12), st.booleans())
def test_default_rule_is_windows_of_two_with_absorbed_leftovers(h, w, interleaved):
    if h * w < 2:
        return
    windows = pooling_windows(h, w)
    # windows of 2 while a side has 2 or more blocks; floor(log2(side)) levels per side
    assert len(windows) == max(int(math.log2(h)), int(math.log2(w)))
    r, c = h, w
    for a, b in windows:
        assert (a, b) == (min(2, r), min(2, c))
        r, c = r // a, c // b
    t = ModeTree.grid(h, w, interleaved=interleaved)
    check_against_reference(t, h, w, windows, interleaved)
    for v in t.internal_nodes:  # every window spans 2 or 3 blocks per side (1 on a finished side)
        assert 2 <= len(t.children(v)) <= 9


@given(st.integers(2, 40), st.sampled_from([2, 3]), st.booleans())
def test_1d_any_length(n, arity, interleaved):
    t = (ModeTree.interleaved if interleaved else ModeTree.balanced)(n, arity=arity)
    levels, c = [], n
    while c > 1:
        levels.append((1, min(arity, c)))
        c //= min(arity, c)
    check_against_reference(t, 1, n, levels, interleaved)
    assert t == ModeTree.grid(1, n, window=arity, interleaved=interleaved)


def test_powers_keep_the_classic_trees():
    assert ModeTree.balanced(8).to_nested() == (((0, 1), (2, 3)), ((4, 5), (6, 7)))
    assert ModeTree.interleaved(8).to_nested() == (((0, 4), (2, 6)), ((1, 5), (3, 7)))
    assert ModeTree.balanced(27, arity=3) == ModeTree.balanced(27, windows=[3, 3, 3])
    t = ModeTree.grid(2, 8)  # 2x2 blocks, then 1x2 strips
    assert [[len(t.children(v)) for v in level] for level in t.levels()[1:]] == [[4] * 4, [2, 2], [2]]


def test_side_runs_examples():
    assert side_runs(7, 3) == [[0, 1, 2], [3, 4, 5, 6]]
    assert side_runs(7, 3, interleaved=True) == [[0, 2, 4], [1, 3, 5, 6]]
    assert side_runs(5, 5) == [[0, 1, 2, 3, 4]]


def test_named_windows_from_the_issue():
    t = ModeTree.grid(28, 28, windows=[(2, 2), (2, 2), (7, 7)])
    assert t.height(t.root) == 3 and len(t.children(t.root)) == 49 and t.is_uniform()
    t = ModeTree.grid(100, 100, windows=[(2, 2), (5, 5), (5, 5), (2, 2)])
    assert [len(level) for level in t.levels()] == [10_000, 2_500, 100, 4, 1] and t.is_uniform()
    t = ModeTree.grid(6, 10, windows=[(3, 5), 2])
    assert len(t.children(t.root)) == 4 and fs({0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 20, 21, 22, 23, 24}) in t.nodes


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    (dict(windows=[2, 2]), ValueError, "leave 7x7 blocks"),
    (dict(windows=[2, 2, 7, 2]), ValueError, "drop the other 1"),
    (dict(windows=[(2, 2), (1, 1), (14, 14)]), ValueError, "1x1"),
    (dict(windows=[(29, 1)]), ValueError, r"larger than the 28x28"),
    (dict(windows=[(2, 2, 2)]), ValueError, "pair"),
    (dict(windows=[(0, 2)]), ValueError, ">= 1"),
    (dict(windows=[1]), ValueError, "at least 2"),
    (dict(windows="22"), TypeError, "sequence"),
    (dict(windows=[True]), TypeError, "int"),
    (dict(window=1), ValueError, "window=1"),
    (dict(window=[2, 2, 7]), TypeError, "go in windows="),
])
def test_grid_window_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ModeTree.grid(28, 28, **kwargs)


# ----------------------------------------------------------------------------------- partitions
@given(st.integers(1, 11), st.integers(1, 11), st.integers(0, 3))
def test_named_partitions_any_shape_against_masks(h, w, level):
    if h * w < 2:
        return
    pix = [(r, c) for r in range(h) for c in range(w)]

    def mask(pred):
        return fs(r * w + c for r, c in pix if pred(r, c))

    P = tc.partitions
    assert P.checkerboard((h, w)) == mask(lambda r, c: (r + c) % 2 == 1)
    if w >= 2:
        assert P.left_right((h, w)) == mask(lambda r, c: 2 * c < w - w % 2)
        assert P.named("left_right", (h, w)) == P.left_right((h, w))
    else:
        with pytest.raises(ValueError, match="2 wide"):
            P.left_right((h, w))
    if h >= 2:
        assert P.top_bottom((h, w)) == mask(lambda r, c: 2 * r < h - h % 2)
    else:
        with pytest.raises(ValueError, match="2 high"):
            P.top_bottom((h, w))
    if min(h, w) >= 2:
        center = P.center_periphery((h, w))
        rows = sorted({x // w for x in center})
        cols = sorted({x % w for x in center})
        assert center == mask(lambda r, c: r in rows and c in cols)  # a rectangle
        assert len(rows) == h // 2 and len(cols) == w // 2
        assert rows == list(range(rows[0], rows[-1] + 1)) and cols == list(range(cols[0], cols[-1] + 1))
        top, bottom = rows[0], h - 1 - rows[-1]
        left, right = cols[0], w - 1 - cols[-1]
        assert 0 <= bottom - top <= 1 and 0 <= right - left <= 1  # centred, ties towards the top left
    b = 2**level
    if b < max(h, w):
        assert P.block_interleaved((h, w), level) == mask(lambda r, c: (r // b + c // b) % 2 == 1)
        assert P.named(f"block_interleaved:{level}", (h, w)) == P.block_interleaved((h, w), level)
    else:
        with pytest.raises(ValueError, match="too large"):
            P.block_interleaved((h, w), level)
    part = P.random((h, w), seed=level)
    assert len(part) == h * w // 2 and part <= fs(range(h * w))


@given(st.integers(2, 50))
def test_1d_partitions_any_length(n):
    P = tc.partitions
    assert P.odd_even(n) == fs(i for i in range(n) if i % 2 == 1)
    assert P.left_right(n) == fs(i for i in range(n) if 2 * i < n - n % 2)


# ----------------------------------------------------------------------------------- 28x28 models
def reference_log_forward(net, x):
    """``(sign, log|y|)`` of output 0 by a loop over the tree, rescaling every node (independent of
    the forward engines)."""
    tree, W = net.tree, net.weights
    vals: dict = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            (i,) = v
            h = x[:, i, :] @ W[v]
            logs = np.zeros(x.shape[0])
        else:
            h = np.ones((x.shape[0], W[v].shape[0]))
            logs = np.zeros(x.shape[0])
            for c in tree.children(v):
                hc, lc = vals.pop(c)
                h = h * hc
                logs = logs + lc
            h = h @ W[v]
        scale = np.abs(h).max(axis=1)
        vals[v] = (h / scale[:, None], logs + np.log(scale))
    h, logs = vals[tree.root]
    return np.sign(h[:, 0]), np.log(np.abs(h[:, 0])) + logs


def reference_min_cut(net, part):
    """The min cut bound by a DP over the tree: each weight tensor on side 0 or 1; a node's input
    hyperedge (product pooling of its children) costs its width once if its members are split, and an
    input's leg costs M if its leaf tensor sits on the other side. Exact integers."""
    tree = net.tree
    best: dict = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            side = 1 if next(iter(v)) in part else 0
            best[v] = (1 if side == 0 else net.n_descriptors, 1 if side == 1 else net.n_descriptors)
            continue
        w_in = net.in_width(v)
        free = math.prod(min(best[c]) for c in tree.children(v)) * w_in
        best[v] = tuple(min(math.prod(best[c][s] for c in tree.children(v)), free) for s in (0, 1))
    return min(best[tree.root])


def gram_schmidt_values(net, node):
    """Schmidt values of output 0 across (inputs of ``node``, the rest), from the Gram matrices of the
    subtree below ``node`` and of its environment."""
    tree, W = net.tree, net.weights
    gram: dict = {}
    for v in tree.nodes:  # G_v = Phi_v^T Phi_v, Phi_v the (M^|v|, w_v) map of the subtree
        if tree.is_leaf(v):
            gram[v] = W[v].T @ W[v]
        else:
            had = np.ones((net.in_width(v),) * 2)
            for c in tree.children(v):
                had = had * gram[c]
            gram[v] = W[v].T @ had @ W[v]
    # environment Gram, down the path from the root: E_root selects output 0
    path = [node]
    while tree.parent(path[-1]) is not None:
        path.append(tree.parent(path[-1]))
    env = np.zeros((net.n_outputs,) * 2)
    env[0, 0] = 1.0
    for p, v in zip(path[:0:-1], path[-2::-1]):
        env_in = W[p] @ env @ W[p].T
        for s in tree.children(p):
            if s != v:
                env_in = env_in * gram[s]
        env = env_in
    ev = np.linalg.eigvals(gram[node] @ env)
    return np.sqrt(np.sort(np.abs(ev.real))[::-1])


@pytest.fixture(scope="module")
def mnist_nets():
    default = tc.deep((28, 28), 3, 2, seed=1)
    windows = tc.deep((28, 28), 3, [2, 3, 2], windows=[(2, 2), (2, 2), (7, 7)], seed=2)
    return default, windows


def test_28x28_construction(mnist_nets):
    default, windows = mnist_nets
    assert default.n_inputs == windows.n_inputs == 784
    assert default.tree.height(default.tree.root) == 4  # 28 -> 14 -> 7 -> 3 -> 1
    assert [len(level) for level in windows.tree.levels()] == [784, 196, 49, 1]
    assert windows.weights[windows.tree.root].shape == (2, 1)
    with pytest.raises(ValueError, match=r"needs 4 for this tree.*in 4 levels"):
        tc.deep((28, 28), 3, [2, 2, 2])
    with pytest.raises(ValueError, match="not both"):
        tc.deep((28, 28), 3, 2, arity=2, windows=[2, 2, 7])
    assert tc.deep(28, 2, [2, 2, 2], windows=[2, 2, 7]).tree == ModeTree.balanced(28, windows=[2, 2, 7])


def test_28x28_forward_plain_and_log(mnist_nets):
    rng = np.random.default_rng(0)
    # features near 1 keep the plain forward in range, so it can be compared directly
    x = 1.0 + 0.05 * rng.standard_normal((3, 784, 3))
    for net in mnist_nets:
        net = net.with_parameters({k: v / np.abs(v).sum(axis=0) for k, v in net.parameters().items()})
        sign, log_abs = reference_log_forward(net, x)
        got_sign, got_log = net.forward(x, log=True)
        np.testing.assert_array_equal(np.ravel(got_sign), sign)
        np.testing.assert_allclose(np.ravel(got_log), log_abs, rtol=1e-10, atol=1e-8)
        y = np.ravel(net.forward(x))
        np.testing.assert_allclose(y, sign * np.exp(log_abs), rtol=1e-8)


def test_28x28_min_cuts(mnist_nets):
    P = tc.partitions
    for net in mnist_nets:
        for part in (P.checkerboard((28, 28)), P.left_right((28, 28)), P.center_periphery((28, 28)),
                     P.random((28, 28), seed=3)):
            assert tc.min_cut(net, part).bound == reference_min_cut(net, part)


def test_28x28_entropy_through_a_small_cut(mnist_nets):
    for net in mnist_nets:
        tree = net.tree
        node = tree.children(tree.children(tree.root)[1])[0]
        s_ref = gram_schmidt_values(net, node)
        p = s_ref**2 / np.sum(s_ref**2)
        p = p[p > 1e-300]
        np.testing.assert_allclose(tc.entanglement_entropy(net, node), -np.sum(p * np.log(p)), rtol=1e-9,
                                   atol=1e-12)
        s = tc.schmidt_values(net, node)
        np.testing.assert_allclose(s[: len(s_ref)], s_ref[: len(s)], rtol=1e-7, atol=1e-12 * s_ref[0])


def test_28x28_save_load_round_trip(mnist_nets, tmp_path):
    x = np.random.default_rng(1).random((2, 784, 3))
    for k, net in enumerate(mnist_nets):
        path = tmp_path / f"net{k}.npz"
        net.save(path)
        back = tc.ConvAC.load(path)
        assert back.tree == net.tree and back.tree.nodes == net.tree.nodes
        assert all(np.array_equal(back.weights[v], net.weights[v]) for v in net.tree.nodes)
        np.testing.assert_array_equal(np.ravel(back.forward(x, log=True)[1]), np.ravel(net.forward(x, log=True)[1]))
