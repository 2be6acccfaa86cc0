import pytest
from hypothesis import given
from hypothesis import strategies as st

from tnconv import ModeTree, hybrid_trees

fs = frozenset


def test_balanced_binary_structure():
    t = ModeTree.balanced(8)
    assert t.n_inputs == 8 and t.root == fs(range(8))
    assert set(t.children(t.root)) == {fs(range(4)), fs(range(4, 8))}
    assert set(t.children(fs({0, 1, 2, 3}))) == {fs({0, 1}), fs({2, 3})}
    assert t.height(t.root) == 3 and t.depth(t.root) == 0
    assert all(t.height(leaf) == 0 and t.depth(leaf) == 3 for leaf in t.leaves)
    assert len(t.nodes) == 15 and len(t.internal_nodes) == 7
    assert t.parent(fs({5})) == fs({4, 5}) and t.parent(t.root) is None
    assert t.is_uniform()


def test_balanced_ternary_and_interleaved():
    t = ModeTree.balanced(9, arity=3)
    assert set(t.children(t.root)) == {fs({0, 1, 2}), fs({3, 4, 5}), fs({6, 7, 8})}
    t = ModeTree.interleaved(8)
    # first level pools i with i + 4, next level node i with node i + 2
    assert set(t.levels()[1]) == {fs({0, 4}), fs({1, 5}), fs({2, 6}), fs({3, 7})}
    assert set(t.children(t.root)) == {fs({0, 2, 4, 6}), fs({1, 3, 5, 7})}


def test_grid_2x2_blocks():
    t = ModeTree.grid(4, 4)
    assert set(t.children(t.root)) == {fs({0, 1, 4, 5}), fs({2, 3, 6, 7}), fs({8, 9, 12, 13}), fs({10, 11, 14, 15})}
    assert all(len(t.children(v)) == 4 for v in t.internal_nodes)
    wide = ModeTree.grid(2, 8)
    assert wide.n_inputs == 16 and wide.height(wide.root) == 3
    assert fs({0, 1, 8, 9}) in wide.nodes
    mirror = ModeTree.grid(4, 4, interleaved=True)
    assert fs({0, 2, 8, 10}) in mirror.nodes


def test_flat_and_nested_roundtrip():
    assert ModeTree.flat(5).to_nested() == (0, 1, 2, 3, 4)
    nested = ((0, (3, 1)), (2, 4, 5))
    t = ModeTree.from_nested(nested)
    assert t.to_nested() == nested
    assert t == ModeTree.from_nested(((2, 4, 5), ((1, 3), 0)))  # order of children does not matter
    assert hash(t) == hash(ModeTree.from_nested(((2, 4, 5), ((1, 3), 0))))


def test_dilated_trees():
    assert ModeTree.dilated(3) == ModeTree.balanced(8)
    t = ModeTree.dilated(3, [2, 1, 4])
    # layer 0 (dilation 2) joins t-2 and t: nodes {0,2},{1,3}; layer 1 joins them into contiguous quarters
    assert fs({0, 2}) in t.nodes and fs({1, 3}) in t.nodes and fs({0, 1, 2, 3}) in t.nodes
    t4 = ModeTree.dilated(4, [2, 1, 8, 4])
    assert fs({0, 1, 2, 3, 8, 9, 10, 11}) in t4.nodes  # 1st + 3rd quarter of the root
    with pytest.raises(ValueError, match="permutation"):
        ModeTree.dilated(3, [1, 2, 2])
    with pytest.raises(ValueError, match="one entry per layer"):
        ModeTree.dilated(3, [1, 2])


@pytest.mark.parametrize(
    "nested, match",
    [
        (((0,), (1, 2)), "1 child"),
        ((0, 1, 1), "duplicate leaves"),
        ((0, 2), "non-contiguous"),
        ((1, 2), "non-contiguous"),
        (0, "at least two inputs"),
    ],
)
def test_from_nested_errors(nested, match):
    with pytest.raises(ValueError, match=match):
        ModeTree.from_nested(nested)


def test_constructor_errors():
    with pytest.raises(TypeError, match="ints or tuples"):
        ModeTree.from_nested((0, "a"))
    with pytest.raises(ValueError, match="power of arity"):
        ModeTree.balanced(6)
    with pytest.raises(ValueError, match="power of arity"):
        ModeTree.interleaved(12, arity=2)
    with pytest.raises(ValueError, match="powers of window"):
        ModeTree.grid(4, 6)
    with pytest.raises(ValueError, match="overlap"):
        ModeTree({fs({0, 1}): [fs({0}), fs({0, 1})]})
    with pytest.raises(ValueError, match="cover"):
        ModeTree({fs({0, 1, 2}): [fs({0}), fs({1})]})
    with pytest.raises(ValueError, match="not a node"):
        ModeTree.balanced(4).children({0, 2})


@st.composite
def random_trees(draw, max_n=12):
    n = draw(st.integers(2, max_n))
    seed = draw(st.integers(0, 2**31))
    return ModeTree.random(n, arity=(2, 4), seed=seed)


@given(random_trees())
def test_random_tree_invariants(t):
    seen = set()
    for v in t.nodes:
        kids = t.children(v)
        if kids:
            assert len(kids) >= 2
            assert all(c in seen for c in kids), "children must come before parents"
            assert fs().union(*kids) == v and sum(map(len, kids)) == len(v)
            assert t.height(v) == 1 + max(t.height(c) for c in kids)
            assert all(t.depth(c) == t.depth(v) + 1 and t.parent(c) == v for c in kids)
        else:
            assert len(v) == 1 and t.height(v) == 0
        seen.add(v)
    assert t.nodes[-1] == t.root
    assert ModeTree.from_nested(t.to_nested()) == t
    assert sum(len(level) for level in t.levels()) == len(t.nodes)


@given(random_trees(), st.data())
def test_tiling_is_the_maximal_cover(t, data):
    part = data.draw(st.sets(st.integers(0, t.n_inputs - 1), min_size=1, max_size=t.n_inputs - 1))
    tiles = t.tiling(part)
    assert fs().union(*tiles) == part and sum(map(len, tiles)) == len(part)
    for v in tiles:
        parent = t.parent(v)
        assert parent is None or not parent <= part  # maximal
    # brute force: every node contained in part is below exactly one tile
    for v in t.nodes:
        if v <= part:
            assert sum(v <= tile for tile in tiles) == 1


def test_hybrid_trees_mix_segments():
    a = ModeTree.dilated(3, [1, 2, 4])
    b = ModeTree.dilated(3, [2, 1, 4])
    mix = [fs(range(4)), fs(range(4, 8))]
    hybrids = hybrid_trees(a, b, mix)
    assert a in hybrids and b in hybrids and len(hybrids) == 4
    # a hybrid takes the left quarter-segment from b and the right one from a
    assert any(fs({0, 2}) in h.nodes and fs({4, 5}) in h.nodes for h in hybrids)
    with pytest.raises(ValueError, match="not an internal node of both"):
        hybrid_trees(a, b, [fs({0, 1})])
