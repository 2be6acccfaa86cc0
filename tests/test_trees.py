import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnconv as tc
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
    with pytest.raises(ValueError, match="at least two inputs"):
        ModeTree.balanced(1)
    with pytest.raises(ValueError, match="leave 3 blocks"):
        ModeTree.interleaved(12, windows=[2, 2])
    with pytest.raises(ValueError, match=r"windows\[1\] = \(3, 3\) is larger than the 2x3"):
        ModeTree.grid(4, 6, windows=[2, 3])
    with pytest.raises(ValueError, match="1x1"):
        ModeTree.grid(4, 4, windows=[(1, 1), 4])
    with pytest.raises(ValueError, match="drop the other 1"):
        ModeTree.grid(4, 4, windows=[4, 2])
    with pytest.raises(ValueError, match="not both"):
        ModeTree.grid(4, 4, window=4, windows=[4])
    with pytest.raises(TypeError, match="1D windows are ints"):
        ModeTree.balanced(4, windows=[(2, 2)])
    with pytest.raises(TypeError, match="must be an int"):
        ModeTree.grid(4, 4, windows=[2.0, 2])
    with pytest.raises(ValueError, match="at least 2 pixels"):
        ModeTree.grid(1, 1)
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


# ------------------------------------------------------------------------- nested input, size, validation
shapes = st.recursive(st.just(None), lambda kids: st.lists(kids, min_size=2, max_size=4).map(tuple), max_leaves=20)


def fill(shape, perm):
    """Nested tuples with the leaves of ``shape`` numbered by ``perm``, and the expected node sets."""
    it = iter(perm)

    def rec(s):
        return next(it) if s is None else tuple(rec(c) for c in s)

    nested = rec(shape)

    def covers(x):
        return fs({x}) if isinstance(x, int) else fs().union(*map(covers, x))

    def walk(x, acc):
        acc.append(covers(x))
        if not isinstance(x, int):
            for c in x:
                walk(c, acc)
        return acc

    return nested, walk(nested, [])


@given(shapes.filter(lambda s: s is not None), st.randoms())
def test_from_nested_against_brute_force(shape, rnd):
    n = str(shape).count("None")
    perm = list(range(n))
    rnd.shuffle(perm)
    nested, expected = fill(shape, perm)
    t = ModeTree.from_nested(nested)
    assert set(t.nodes) == set(expected) and len(t.nodes) == len(expected)
    assert t.to_nested() == nested and t.root == fs(range(n))
    # an independent cross-check of the mapping constructor, with numpy ints that must come back as int
    kids = {v: [fs(np.int64(x) for x in c) for c in t.children(v)] for v in t.internal_nodes}
    t2 = ModeTree(kids)
    assert t2 == t and all(type(x) is int for v in t2.nodes for x in v)
    if n >= 3:  # a repeated leaf is refused
        bad = str(nested).replace(f"{perm[0]},", f"{perm[1]},", 1).replace(f"({perm[0]})", f"({perm[1]})")
        if bad != str(nested):
            with pytest.raises(ValueError, match="duplicate leaves"):
                ModeTree.from_nested(eval(bad))


def caterpillar(n):
    t = (0, 1)
    for i in range(2, n):
        t = (t, i)
    return t


def test_deep_caterpillar_builds_iteratively():
    t = ModeTree.from_nested(caterpillar(3000))  # 3000 deep: far past the recursion limit
    assert t.height(t.root) == 2999 and t.depth(fs({0})) == 2999
    assert [len(v) for v in t.internal_nodes] == list(range(2, 3001))
    assert repr(t).startswith("ModeTree(((((") and len(repr(t)) < 100
    assert ModeTree.from_nested(t.to_nested()) == t


def test_huge_trees_refused_before_building():
    with pytest.raises(tc.TensorTooLargeError, match="50000 inputs"):  # 1.25e9 positions
        ModeTree.from_nested(caterpillar(50_000))
    with pytest.raises(tc.TensorTooLargeError, match=r"balanced\(n=1099511627776"):
        ModeTree.balanced(2**40)
    with pytest.raises(tc.TensorTooLargeError, match=r"interleaved\(n=1099511627776"):
        ModeTree.interleaved(2**40)
    with pytest.raises(tc.TensorTooLargeError, match=r"flat\(n=10000000000\)"):
        ModeTree.flat(10**10)
    with pytest.raises(tc.TensorTooLargeError, match=r"grid\(65536, 65536"):
        ModeTree.grid(2**16, 2**16)
    with pytest.raises(tc.TensorTooLargeError, match=r"dilated\(n_layers=40\)"):
        ModeTree.dilated(40)
    with pytest.raises(tc.TensorTooLargeError, match=r"random\(n=10000000000\)"):
        ModeTree.random(10**10)
    with tc.option_context(max_dense_bytes=2**40):  # the same tree fits a larger budget
        assert ModeTree.from_nested(caterpillar(600)).n_inputs == 600


def test_hostile_nestings():
    deep = 0
    for _ in range(50_000):
        deep = (deep,)
    with pytest.raises(ValueError, match="1 child"):
        ModeTree.from_nested(deep)
    loop = [0, 1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        ModeTree.from_nested(loop)
    shared = (0, 1)
    for _ in range(80):  # a DAG of 2^80 leaves: refused at the first repeated leaf
        shared = (shared, shared)
    with pytest.raises(ValueError, match=r"duplicate leaves \[0\]"):
        ModeTree.from_nested(shared)
    with pytest.raises(TypeError, match="leaves must be ints, got True"):
        ModeTree.from_nested((True, 0))
    with pytest.raises(TypeError, match=r"ints or tuples, got 1\.0"):
        ModeTree.from_nested((1.0, 0))
    with pytest.raises(ValueError, match=r"out of range \[-1\]"):
        ModeTree.from_nested((0, -1))


@pytest.mark.parametrize("call, match", [
    (lambda: ModeTree.balanced(4.0), "n must be an int, got 4.0"),
    (lambda: ModeTree.balanced(True), "n must be an int, got True"),
    (lambda: ModeTree.balanced(9, arity=3.0), "arity must be an int"),
    (lambda: ModeTree.grid(4, 4, window=2.0), "window must be an int"),
    (lambda: ModeTree.grid(4, 4, interleaved=1), "interleaved must be True or False"),
    (lambda: ModeTree.flat(2.5), "got 2.5"),
    (lambda: ModeTree.dilated(2, [1.0, 2]), "each dilation must be an int, got 1.0"),
    (lambda: ModeTree.dilated(2, "12"), "sequence of ints"),
    (lambda: ModeTree.random(5, arity=(2.0, 3)), "arity must be an int"),
    (lambda: ModeTree.random(5, arity=3), "pair"),
    (lambda: ModeTree({fs({0.0, 1}): [fs({0.0}), fs({1})]}), "inputs must be ints, got 0.0"),
    (lambda: ModeTree([1, 2]), "needs a mapping"),
])
def test_builder_type_errors(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_random_trees_hold_python_ints():
    t = ModeTree.random(9, seed=np.random.default_rng(1))
    assert all(type(x) is int for v in t.nodes for x in v)
    import json

    json.dumps(t.to_nested())  # numpy int64 inside nodes made this (and save) fail


def test_node_lookup_errors():
    t = ModeTree.balanced(4)
    with pytest.raises(ValueError, match=r"\{0,2\} is not a node"):
        t.height({0, 2})
    with pytest.raises(TypeError, match="set of input positions"):
        t.children(3)


# ------------------------------------------------------------------------- linear-time builders
def slow_tables(nested):
    """An independent recursive construction: nodes in post-order, children, parents, heights, depths."""
    order, kids, parent, height, depth = [], {}, {}, {}, {}

    def rec(x, d):
        if isinstance(x, int):
            node = fs({x})
            height[node] = 0
        else:
            ch = tuple(rec(c, d + 1) for c in x)
            node = fs().union(*ch)
            kids[node] = ch
            for c in ch:
                parent[c] = node
            height[node] = 1 + max(height[c] for c in ch)
        depth[node] = d
        order.append(node)
        return node

    rec(nested, 0)
    return order, kids, parent, height, depth


def codes_of(nested):
    return [x if isinstance(x, int) else -len(x) for x in _post(nested)]


def _post(x):
    if isinstance(x, int):
        return [x]
    return [y for c in x for y in _post(c)] + [x]


@given(shapes.filter(lambda s: s is not None), st.randoms())
def test_every_builder_equals_a_slow_construction(shape, rnd):
    n = str(shape).count("None")
    perm = list(range(n))
    rnd.shuffle(perm)
    nested, _ = fill(shape, perm)
    order, kids, parent, height, depth = slow_tables(nested)
    mapping = {v: list(ch) for v, ch in reversed(kids.items())}  # any key order
    for t in (ModeTree.from_nested(nested), ModeTree(mapping), ModeTree.from_codes(codes_of(nested))):
        assert t.nodes == tuple(order)
        assert t.internal_nodes == tuple(v for v in order if v in kids)
        assert t.leaves == tuple(fs({i}) for i in range(n))
        for v in order:
            assert t.children(v) == kids.get(v, ())
            assert t.parent(v) == parent.get(v)
            assert t.height(v) == height[v] and t.depth(v) == depth[v]
            assert t.is_leaf(v) == (v not in kids)
        assert t.levels() == [tuple(v for v in order if height[v] == h) for h in range(height[order[-1]] + 1)]
        assert t.codes() == codes_of(nested)
        assert t.to_nested() == nested
        assert t.is_uniform() == (len({depth[fs({i})] for i in range(n)}) == 1 and all(
            len({len(kids[v]) for v in kids if height[v] == h}) == 1 for h in range(1, height[order[-1]] + 1)))


def is_mode_tree(mapping):
    """Brute force: every node the disjoint union of >= 2 children, one root 0..n-1, all connected."""
    nodes = set(mapping)
    children = [c for ch in mapping.values() for c in ch]
    if len(children) != len(set(children)):
        return False
    for v, ch in mapping.items():
        if len(ch) < 2 or sum(map(len, ch)) != len(v) or fs().union(*ch) != v:
            return False
    roots = nodes - set(children)
    if len(roots) != 1:
        return False
    (root,) = roots
    if root != fs(range(len(root))):
        return False
    leaves = [c for c in children if c not in mapping]
    return all(len(c) == 1 for c in leaves) and len(leaves) == len(root)


@given(random_trees(), st.data())
def test_mapping_validator_agrees_with_brute_force(t, data):
    mapping = {v: list(t.children(v)) for v in t.internal_nodes}
    keys = list(mapping)
    how = data.draw(st.sampled_from(["move", "duplicate", "drop", "merge"]))
    v = data.draw(st.sampled_from(keys))
    if how == "move":  # move one child to another node
        u = data.draw(st.sampled_from(keys))
        if mapping[v]:
            mapping[u].append(mapping[v].pop())
    elif how == "duplicate":
        mapping[v].append(data.draw(st.sampled_from(mapping[v])))
    elif how == "drop":
        del mapping[v]
    else:  # replace a child by the union of two children
        if len(mapping[v]) >= 2:
            a, b = mapping[v][:2]
            mapping[v][:2] = [a | b]
    if is_mode_tree(mapping):
        assert ModeTree(mapping).nodes  # accepted
    else:
        with pytest.raises(ValueError):
            ModeTree(mapping)


@pytest.mark.parametrize("codes, error, match", [
    ([0, 1, -2, 2], ValueError, "2 unfinished"),
    ([0, -1], ValueError, "closes a node of 1"),
    ([0, 1, -3], ValueError, "but 2 are open"),
    ([0, 0, -2], ValueError, "duplicate leaves"),
    ([0, 2, -2], ValueError, "missing"),
    ([0], ValueError, "at least two inputs"),
    ([0, 1.0, -2], TypeError, "codes are ints"),
    ("01", TypeError, "sequence of ints"),
    (np.zeros((2, 2), int), TypeError, "1D"),
])
def test_from_codes_errors(codes, error, match):
    with pytest.raises(error, match=match):
        ModeTree.from_codes(codes)


def test_builders_restore_the_garbage_collector():
    import gc

    assert gc.isenabled()
    ModeTree.balanced(8)
    ModeTree.from_nested(((0, 1), 2))
    assert gc.isenabled()
    gc.disable()
    try:
        ModeTree.grid(3, 3)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(ValueError):
        ModeTree({fs({0, 1}): [fs({0}), fs({0})]})
    assert gc.isenabled()

