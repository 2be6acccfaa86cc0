"""Compiled contraction programs: batched calls, depth-first release order, the static peak and the budget.

Every result is checked against an independent contraction (``np.einsum`` of the whole network in one
call, or opt_einsum's own contraction); peaks against a brute force over depth-first orders and
against tracemalloc.
"""

from __future__ import annotations

import itertools
import re
import string
import tracemalloc

import numpy as np
import opt_einsum as oe
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tnconv as tc
from tnconv.contract import generic, program
from tnconv.contract.paths import network_inputs, structure_path


@pytest.fixture
def no_batching(monkeypatch):
    """Force the depth-first schedule (programs compiled inside the test only)."""
    monkeypatch.setattr(program, "BATCH_ELEMENTS", -1)
    monkeypatch.setattr(program, "_CACHE", type(program._CACHE)())


def _network(shape, M, w, B, seed=0):
    net = tc.deep(shape, M, w, seed=seed)
    tn = net.to_tensor_network()
    F = np.random.default_rng(seed).standard_normal((B, net.n_inputs, M))
    return net, tn, F


def _program_of(tn, F):
    arrays = generic._device_arrays(tn, generic.resolve_backend(None, F))
    return generic._program(tn, generic._cached_structure_path(tn, True), arrays, F)


# ---------------------------------------------------------------------- batched calls
@pytest.mark.parametrize("shape, M, w", [(8, 2, 3), ((4, 4), 2, 2), (16, 3, 2), ((2, 4), 3, 3)])
def test_batched_program_matches_opt_einsum(shape, M, w):
    _, tn, F = _network(shape, M, w, 5)
    prog = _program_of(tn, F)
    assert prog.batched and len(prog.calls) < len(prog.steps)  # sibling steps merged
    expected = oe.contract(tn.equation(features=True), *tn.operands(F), optimize="greedy")
    np.testing.assert_allclose(tn.contract(F), expected, rtol=1e-11, atol=1e-13)
    # the same program without the stacked feature group (execute_path: features as separate operands)
    sp = structure_path(tn, features=True)
    got = generic.execute_path(sp.inputs, sp.output, sp.path, tn.operands(F))
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-13)


def test_depth_first_program_matches_opt_einsum(no_batching):
    _, tn, F = _network(16, 3, 2, 5)
    prog = _program_of(tn, F)
    assert not prog.batched and len(prog.calls) == len(prog.steps)
    expected = oe.contract(tn.equation(features=True), *tn.operands(F), optimize="greedy")
    np.testing.assert_allclose(tn.contract(F), expected, rtol=1e-11, atol=1e-13)


def _motif_network(seed, n_tensors, copies):
    """``copies`` renamed copies of a random motif (same shapes), one index shared by all copies."""
    rng = np.random.default_rng(seed)
    letters = "abcdefg"
    sizes = {c: int(rng.integers(1, 4)) for c in letters}
    motif = [tuple(rng.choice(list(letters), size=int(rng.integers(1, 4)), replace=False)) for _ in range(n_tensors)]
    used = sorted({i for ix in motif for i in ix})
    shared = used[int(rng.integers(len(used)))]
    kept = [i for i in used if rng.random() < 0.3]

    def name(i, c):
        return i if i == shared else f"{i}{c}"

    inputs = [tuple(name(i, c) for i in ix) for c in range(copies) for ix in motif]
    output = tuple(dict.fromkeys(name(i, c) for c in range(copies) for i in kept))
    size = {name(i, c): sizes[i] for c in range(copies) for i in used}
    arrays = [rng.standard_normal([size[i] for i in ix]) for ix in inputs]
    # each copy folded in motif order, then the copies' results pairwise (a balanced tree)
    ssa, n = [], len(inputs)
    tops = []
    for c in range(copies):
        acc = c * n_tensors
        for j in range(1, n_tensors):
            ssa.append((acc, c * n_tensors + j))
            acc = n
            n += 1
        tops.append(acc)
    while len(tops) > 1:
        nxt = []
        for a, b in zip(tops[::2], tops[1::2]):
            ssa.append((a, b))
            nxt.append(n)
            n += 1
        tops = nxt + ([tops[-1]] if len(tops) % 2 else [])
    return inputs, output, arrays, oe.paths.ssa_to_linear(ssa)


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 10**6), n_tensors=st.integers(2, 4), copies=st.integers(2, 5))
def test_batched_calls_match_einsum_on_repeated_motifs(seed, n_tensors, copies):
    inputs, output, arrays, path = _motif_network(seed, n_tensors, copies)
    sym = dict(zip(sorted({i for ix in inputs for i in ix}), string.ascii_letters))
    eq = ",".join("".join(sym[i] for i in ix) for ix in inputs) + "->" + "".join(sym[i] for i in output)
    expected = np.einsum(eq, *arrays, optimize=True)  # numpy's own contraction, one call
    with pytest.MonkeyPatch.context() as mp:  # batch whatever the size (some outputs alone are large)
        mp.setattr(program, "BATCH_ELEMENTS", 2**40)
        mp.setattr(program, "_CACHE", type(program._CACHE)())
        prog = program.compile_path(inputs, output, path, [a.shape for a in arrays])
    assert prog.batched and len(prog.calls) < len(prog.steps)
    got = program.run_program(prog, arrays, np)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * max(1, np.abs(expected).max()))
    # the first copy's operands passed stacked, as one input group
    k = n_tensors
    same = [j for j in range(k) if all(arrays[j].shape == arrays[c * k + j].shape for c in range(copies))]
    if same:  # an input group: rows j, j + k, ... are not adjacent inputs, so group copy 0's tensor 0 alone
        prog_g = program.compile_path(inputs, output, path, [a.shape for a in arrays], groups=[(0, 1)])
        got = program.run_program(prog_g, [None] + arrays[1:], np, (arrays[0][None],))
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10 * max(1, np.abs(expected).max()))


def test_input_groups_are_checked():
    ins, shapes = [("i", "j"), ("j", "k")], [(2, 3), (3, 4)]
    with pytest.raises(ValueError, match=r"start=1, count=2"):
        program.compile_path(ins, ("i", "k"), [(0, 1)], shapes, groups=[(1, 2)])
    with pytest.raises(ValueError, match="overlaps"):
        program.compile_path(ins, ("i", "k"), [(0, 1)], shapes, groups=[(0, 1), (0, 2)])
    prog = program.compile_path(ins, ("i", "k"), [(0, 1)], shapes, groups=[(0, 1)])
    with pytest.raises(ValueError, match="1 input groups, got 0"):
        program.run_program(prog, [None, np.ones((3, 4))], np)


# ---------------------------------------------------------------------- depth-first order and peak
def _brute_force_peak(ssa, dims):
    """Least peak over all depth-first orders of a bracketed matrix chain (inputs free, results counted)."""
    n = len(dims) - 1
    span = {k: (k, k + 1) for k in range(n)}  # the matrices a node covers: its result is dims[lo] x dims[hi]
    kids = {}
    for k, (a, b) in enumerate(ssa):
        kids[n + k] = (a, b)
        span[n + k] = (min(span[a][0], span[b][0]), max(span[a][1], span[b][1]))

    def size(v):
        return 0 if v < n else dims[span[v][0]] * dims[span[v][1]]

    def peaks(v):
        """The peak of every depth-first evaluation of ``v`` (children in either order, recursively)."""
        if v < n:
            return [0]
        a, b = kids[v]
        return [max(px, size(x) + py, size(x) + size(y) + size(v))
                for x, y in ((a, b), (b, a)) for px, py in itertools.product(peaks(x), peaks(y))]

    return min(peaks(n + len(ssa) - 1))


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 7))
def test_depth_first_peak_is_the_least_over_depth_first_orders(seed, n):
    # A product of n matrices bracketed at random: every step is one plain matmul (no copies, no sums),
    # so each step's memory is its result, and the brute force needs no model of the calls.
    rng = np.random.default_rng(seed)
    dims = [int(d) for d in rng.integers(1, 9, size=n + 1)]
    inputs = [(f"i{k}", f"i{k + 1}") for k in range(n)]
    shapes = [(dims[k], dims[k + 1]) for k in range(n)]
    ssa, nxt, ids = [], n, list(range(n))  # ids: the live operands in chain order
    while len(ids) > 1:
        j = int(rng.integers(len(ids) - 1))
        ssa.append((ids[j], ids[j + 1]))
        ids[j : j + 2] = [nxt]
        nxt += 1
    path = oe.paths.ssa_to_linear(ssa)
    output = ("i0", f"i{n}")
    with pytest.MonkeyPatch.context() as mp:  # depth-first even where two steps happen to look alike
        mp.setattr(program, "BATCH_ELEMENTS", -1)
        mp.setattr(program, "_CACHE", type(program._CACHE)())
        prog = program.compile_path(inputs, output, path, shapes)
    assert not prog.batched
    assert prog.peak == _brute_force_peak(ssa, dims)
    arrays = [rng.standard_normal(s) for s in shapes]
    expected = np.linalg.multi_dot(arrays) if n > 2 else arrays[0] @ arrays[1]
    np.testing.assert_allclose(program.run_program(prog, arrays, np), expected, rtol=1e-10, atol=1e-10)


def _traced_peak(fn):
    fn()  # compile and cache first: the traced call allocates only the contraction
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return out, peak


@pytest.mark.parametrize("shape, M, w, B", [(64, 4, 8, 512), ((8, 8), 2, 4, 256), (32, 2, 16, 128)])
def test_intermediates_are_released_depth_first(shape, M, w, B, no_batching):
    _, tn, F = _network(shape, M, w, B)
    out, peak = _traced_peak(lambda: tn.contract(F))
    prog = _program_of(tn, F)
    assert not prog.batched
    # what a breadth-first order holds: every leaf window's result (one per tree leaf's parent)
    leaves = sum(1 for v in tn.tree.nodes if not tn.tree.children(v))
    all_leaves = leaves * w * B * 8
    assert peak <= 1.5 * prog.peak_bytes(8) + 64 * 1024
    assert prog.peak_bytes(8) < all_leaves / 4
    expected = oe.contract(tn.equation(features=True), *tn.operands(F), optimize=structure_path(tn, True).path)
    np.testing.assert_allclose(out, expected, rtol=1e-10)


def test_batched_peak_is_traced(monkeypatch):
    _, tn, F = _network((4, 4), 4, 4, 512)
    monkeypatch.setattr(program, "BATCH_ELEMENTS", 2**22)
    monkeypatch.setattr(program, "_CACHE", type(program._CACHE)())
    out, peak = _traced_peak(lambda: tn.contract(F))
    prog = _program_of(tn, F)
    assert prog.batched
    assert prog.peak_bytes(8) <= peak * 1.5 and peak <= 1.5 * prog.peak_bytes(8) + 64 * 1024
    np.testing.assert_allclose(out, oe.contract(tn.equation(features=True), *tn.operands(F), optimize="greedy"),
                               rtol=1e-10)


# ---------------------------------------------------------------------- the budget
def test_over_budget_program_is_refused_before_it_allocates():
    net, tn, F = _network(64, 4, 8, 512)
    tn.contract(F)  # compile and cache the program
    prog = _program_of(tn, F)
    need = prog.peak_bytes(8)
    # the peak counts at least every live result: the two largest inputs of the last steps and more
    assert need >= 8 * prog.largest
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        named = rf"peak of live intermediates.*\({re.escape(f'{need:.4g}')} bytes\)"
        with pytest.raises(tc.TensorTooLargeError, match=named) as err:
            tn.contract(F, max_bytes=need - 1)
        _, traced = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.n_bytes == need
    assert traced < need / 4  # refused before the contraction allocated its intermediates
    got = tn.contract(F, max_bytes=need)  # exactly the budget runs
    np.testing.assert_allclose(got, net.forward(F)[:, 0], rtol=1e-10)


def test_network_inputs_and_program_agree_on_shapes():
    _, tn, F = _network(8, 2, 3, 4)
    inputs, _, _ = network_inputs(tn, True, 4)
    prog = _program_of(tn, F)
    assert prog.n_inputs == len(inputs) and prog.groups == ((tn.n_tensors, len(tn.open_inds)),)


def test_steps_with_the_same_ops_but_other_operand_shapes_are_not_stacked():
    # Two sums over the last axis of (2, 3) and (2, 5) matrices share their op (sum axis 1) and result
    # shape, as do the pair steps that follow them; only the operand shapes tell them apart.
    rng = np.random.default_rng(0)
    inputs = [("i", "a"), ("i", "b"), ("i", "c"), ("i", "d")]
    shapes = [(2, 3), (2, 5), (2, 3), (2, 4)]
    arrays = [rng.standard_normal(s) for s in shapes]
    path = [(0,), (0,), (0,), (0,), (0, 1), (0, 1), (0, 1)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(program, "_CACHE", type(program._CACHE)())
        prog = program.compile_path(inputs, ("i",), path, shapes)
    assert prog.batched and len(prog.calls) < len(prog.steps)
    expected = np.einsum("ia,ib,ic,id->i", *arrays)
    np.testing.assert_allclose(program.run_program(prog, arrays, np), expected, rtol=1e-12)


def test_depth_first_program_with_batched_subtrees(monkeypatch):
    # Past the whole-program batching limit, subtrees of small steps still run batched one at a time.
    _, tn, F = _network(64, 2, 4, 16)
    monkeypatch.setattr(program, "BATCH_ELEMENTS", 2**12)
    monkeypatch.setattr(program, "_CACHE", type(program._CACHE)())
    out, peak = _traced_peak(lambda: tn.contract(F))
    prog = _program_of(tn, F)
    assert not prog.batched and len(prog.calls) < len(prog.steps)
    assert peak <= 1.5 * prog.peak_bytes(8) + 64 * 1024
    expected = oe.contract(tn.equation(features=True), *tn.operands(F), optimize="greedy")
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    monkeypatch.setattr(program, "UNITS", False)
    monkeypatch.setattr(program, "_CACHE", type(program._CACHE)())
    tn.__dict__.pop("_tnconv_programs")
    assert len(_program_of(tn, F).calls) == len(prog.steps)
