"""Exact GF(p) ranks of dilated nets, checked against float SVD ranks of their dense coefficient tensors."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.exact import coefficient_tensor_mod_p, generic_schmidt_rank, planned_bytes_mod_p


def dense_rank(A, part):
    """numpy's matrix_rank of the matricization, with its margin: the gap around the threshold."""
    n = A.ndim
    rest = [k for k in range(n) if k not in part]
    mat = np.transpose(A, sorted(part) + rest).reshape(int(np.prod([A.shape[k] for k in part])), -1)
    s = np.linalg.svd(mat, compute_uv=False)
    tol = max(mat.shape) * np.finfo(float).eps * s[0]
    return int(np.sum(s > tol)), s, tol


@settings(deadline=None)
@given(n=st.integers(2, 7), seed=st.integers(0, 10**6), m=st.integers(1, 3), w=st.integers(1, 3),
       shared=st.booleans(), data=st.data())
def test_dilated_generic_rank_equals_dense_rank(n, seed, m, w, shared, data):
    tree = tc.ModeTree.random(n, arity=(2, 2), seed=seed)
    try:
        net = tc.DilatedConvNet(tree, m, w, seed=seed, shared=shared, init="orthogonal")
    except ValueError:  # sharing needs a tree that is uniform per height
        assume(False)
    part = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    rank, s, tol = dense_rank(net.coefficient_tensor(), part)
    # Generic float weights reach the generic rank; a value near the threshold would make the float count
    # ambiguous, so such draws are skipped.
    assume(not np.any((s > tol / 30) & (s < tol * 30)))
    assert generic_schmidt_rank(net, part, seed=seed % 97) == rank


def test_dilated_mod_p_tensor_agrees_with_a_dense_float_net_of_the_same_integer_weights():
    """The mod-p tensor of the GF(p) weights equals the float net's tensor with those integer weights."""
    tree = tc.ModeTree.balanced(4)
    p = 7
    net = tc.DilatedConvNet(tree, 2, 2, seed=0)
    rng = np.random.default_rng(3)
    # The same draw order as tnconv.exact: leaves first in node order, per-child matrices in child order.
    ints = {}
    for v in tree.nodes:
        if tree.is_leaf(v):
            ints[v] = rng.integers(0, p, size=(2, 2), dtype=np.int64)
        else:
            out_w = 1 if v == tree.root else 2
            ints[v] = tuple(rng.integers(0, p, size=(2, out_w), dtype=np.int64) for _ in tree.children(v))
    net.set_weights({v: (tuple(W.astype(float) for W in W_) if isinstance(W_, tuple) else W_.astype(float))
                     for v, W_ in ints.items()})
    exact = np.rint(net.coefficient_tensor()).astype(np.int64) % p
    np.testing.assert_array_equal(coefficient_tensor_mod_p(net, p=p, seed=np.random.default_rng(3)), exact)


def test_dilated_plan_bounds_the_measured_peak():
    net = tc.DilatedConvNet(tc.ModeTree.balanced(8), 4, 4, seed=0)
    plan = planned_bytes_mod_p(net)
    tracemalloc.start()
    coefficient_tensor_mod_p(net, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= plan
    with pytest.raises(tc.TensorTooLargeError):
        coefficient_tensor_mod_p(net, seed=0, max_bytes=plan / 2)


def test_mixed_nets_are_refused_with_their_real_limits():
    a = tc.ModeTree.balanced(8)
    b = tc.ModeTree.interleaved(8)
    mixed = tc.MixedConvNet(a, b, [], 2, 2, seed=0)
    with pytest.raises(TypeError, match="tiling_rank_bounds"):
        generic_schmidt_rank(mixed, [0, 1])
