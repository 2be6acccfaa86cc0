"""Partitions in every accepted form (API.md, Partitions) against direct formulas, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnconv as tc
from tnconv.mincut import min_cut, min_cuts
from tnconv.partition_resolve import PartitionResolver, is_pair


def pixels(h, w):
    return [(r, c) for r in range(h) for c in range(w)]


@given(st.integers(2, 6), st.integers(2, 6), st.data())
def test_masks_and_names_match_formulas(h, w, data):
    r = PartitionResolver(h * w, shape=(h, w))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=h * w, max_size=h * w)), dtype=bool)
    expected = {k for k in range(h * w) if mask[k]}
    if 0 < len(expected) < h * w:
        assert r.resolve(mask) == expected
        assert r.resolve(mask.reshape(h, w)) == expected
    checker = {rr * w + cc for rr, cc in pixels(h, w) if (rr + cc) % 2 == 1}
    assert r.resolve("checkerboard") == checker
    assert r.resolve("left_right") == {rr * w + cc for rr, cc in pixels(h, w) if cc < w // 2}
    assert r.resolve("top_bottom") == {rr * w + cc for rr, cc in pixels(h, w) if rr < h // 2}


@given(st.integers(2, 40))
def test_1d_names(n):
    r = PartitionResolver(n)
    assert r.resolve("odd_even") == {i for i in range(n) if i % 2}
    assert r.resolve("left_right") == set(range(n // 2))
    assert r.resolve(f"random:1:{n}") == tc.partitions.random(n, 1, seed=n)


def test_labels_and_tags():
    r = PartitionResolver(4, labels=["a", "b", 7, "d"], tags={"left": [0, 1], "odd": (1, 3)})
    assert r.resolve("a") == {0} and r.resolve(["a", "d"]) == {0, 3}
    assert r.resolve(("a", "d")) == {0, 3} and r.resolve({"b"}) == {1} and r.resolve(x for x in ["a", 1]) == {0, 1}
    assert r.resolve("left") == {0, 1} and r.resolve(["left", "odd"]) == {0, 1, 3}
    assert r.resolve(["a", 2]) == {0, 2}  # ints are positions, never labels (7 is not a name)
    assert r.resolve(["left", "a"]) == {0, 1}  # a leg named twice is taken once
    assert r.resolve_pair((["a"], "odd")) == ({0}, {1, 3})


@pytest.mark.parametrize("part, exc, match", [
    ("zz", ValueError, r"'zz' is not a partition name nor an open-leg label or tag"),
    (["a", "zz"], ValueError, r"'zz' is neither an open-leg label nor a tag"),
    (["a", 1.5], TypeError, "got 1.5"),
    (["a", 5], ValueError, r"out of range"),
    (["left", "b", "d", "c"], ValueError, "all 4 inputs"),
    (np.zeros((3, 3), bool), ValueError, r"mask has shape \(3, 3\), expected \(4,\) or \(2, 2\)"),
    (np.zeros(4, bool), ValueError, "empty"),
    ({0: 1}, TypeError, "got a dict"),
    (3, TypeError, "single int"),
    (b"ab", TypeError, "got the string b'ab'"),
    (([0], [1]), TypeError, r"an A\|B pair"),
])
def test_resolve_errors(part, exc, match):
    r = PartitionResolver(4, shape=(2, 2), labels=["a", "b", "c", "d"], tags={"left": [0, 1]})
    with pytest.raises(exc, match=match):
        r.resolve(part)


def test_pair_rules():
    assert is_pair(([0], [1])) and is_pair((np.array([0]), {2})) and is_pair((range(2), [3]))
    assert not is_pair(("k0", "k1")) and not is_pair((0, 1)) and not is_pair([[0], [1]])
    r = PartitionResolver(4)
    with pytest.raises(ValueError, match=r"share positions \[1\]"):
        r.resolve_pair(([0, 1], [1, 2]))
    with pytest.raises(ValueError, match="empty"):
        r.resolve_pair(([0], []))


def test_geometry_2d_names_need_an_image_shape():
    r = PartitionResolver(16)
    with pytest.raises(ValueError, match=r"no image shape.*checkerboard\(\(height, width\)\)"):
        r.resolve("checkerboard")


def test_models_resolve_names_for_their_geometry():
    net2 = tc.deep((4, 8), 2, 2, seed=0)
    assert net2.tree.image_shape == (4, 8)
    cut = min_cut(net2, "left_right")
    assert cut.part == tc.partitions.left_right((4, 8))
    mask = np.zeros((4, 8), bool)
    mask[:, :4] = True
    assert min_cut(net2, mask).part == cut.part and min_cut(net2, mask.ravel()).bound == cut.bound
    net1 = tc.deep(8, 2, 2, seed=0)
    assert min_cut(net1, "odd_even").part == {1, 3, 5, 7}
    with pytest.raises(ValueError, match="checkerboard"):
        min_cut(net1, "checkerboard")
    got = min_cuts(net2, {"cb": "checkerboard", "tb": "top_bottom", "mask": mask})
    assert got["cb"].part == tc.partitions.checkerboard((4, 8)) and got["mask"].part == cut.part
    assert got["tb"].part == tc.partitions.top_bottom((4, 8))


def test_spectra_take_the_same_forms():
    net = tc.deep((2, 4), 2, 2, seed=0)
    A = net.coefficient_tensor()
    part = tc.partitions.checkerboard((2, 4))
    dense = np.linalg.svd(tc.matricize(A, part), compute_uv=False)
    s = tc.schmidt_values(net, "checkerboard")
    np.testing.assert_allclose(s, dense[: s.size], rtol=1e-10, atol=1e-12 * dense[0])
    mask = np.zeros((2, 4), bool)
    mask.ravel()[sorted(part)] = True
    np.testing.assert_allclose(tc.schmidt_values(net, mask), s, rtol=1e-12)


def test_min_cuts_takes_a_stack_of_masks():
    net = tc.deep((4, 4), 2, 2, seed=0)
    rng = np.random.default_rng(0)
    flat = rng.permuted(np.arange(16)[None, :].repeat(30, 0) < 8, axis=1)
    want = [min_cut(net, set(np.flatnonzero(m).tolist())).bound for m in flat]
    assert [c.bound for c in min_cuts(net, flat)] == want
    assert [c.bound for c in min_cuts(net, flat.reshape(30, 4, 4))] == want
    assert min_cuts(net, flat)[3].part == set(np.flatnonzero(flat[3]).tolist())
    bad = flat.copy()
    bad[7] = False
    with pytest.raises(ValueError, match="partition 7 of the mask array is empty"):
        min_cuts(net, bad)
    bad[7] = True
    with pytest.raises(ValueError, match="partition 7 of the mask array holds all 16 inputs"):
        min_cuts(net, bad)


def test_dense_measures_take_names_and_masks():
    A = np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    want = np.linalg.svd(np.transpose(A, (1, 3, 0, 2)).reshape(6, 4), compute_uv=False)
    np.testing.assert_allclose(tc.schmidt_values(A, "odd_even"), want, rtol=1e-12)
    np.testing.assert_allclose(tc.schmidt_values(A, np.array([False, True, False, True])), want, rtol=1e-12)
    with pytest.raises(TypeError, match=r"A\|B pair"):
        tc.schmidt_values(A, ([0], [1]))
