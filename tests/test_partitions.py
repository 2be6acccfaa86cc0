"""Named partitions against direct formulas, partition validation, and option/budget validation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tnconv as tc
from tnconv import partitions as P
from tnconv._core.options import check_budget

shapes_2d = st.tuples(st.integers(1, 9), st.integers(1, 9)).filter(lambda s: s[0] * s[1] >= 2)


def pixels(h, w):
    return [(r, c) for r in range(h) for c in range(w)]


@given(st.integers(2, 60))
def test_1d_builders_match_formulas(n):
    assert P.odd_even(n) == {i for i in range(n) if i % 2 == 1}
    assert P.left_right(n) == {i for i in range(n) if 2 * i < n - n % 2}
    assert P.named("odd_even", n) == P.odd_even(n) and P.named("left_right", n) == P.left_right(n)


@given(shapes_2d, st.integers(0, 3))
def test_2d_builders_match_formulas(shape, level):
    h, w = shape
    idx = {(r, c): r * w + c for r, c in pixels(h, w)}
    if w >= 2:
        assert P.left_right(shape) == {idx[r, c] for r, c in pixels(h, w) if c < w // 2}
    if h >= 2:
        assert P.top_bottom(shape) == {idx[r, c] for r, c in pixels(h, w) if r < h // 2}
    assert P.checkerboard(shape) == {idx[r, c] for r, c in pixels(h, w) if (r + c) % 2 == 1}
    if min(shape) >= 2:
        r0, c0 = (h - h // 2) // 2, (w - w // 2) // 2
        assert P.center_periphery(shape) == {idx[r, c] for r, c in pixels(h, w)
                                             if r0 <= r < r0 + h // 2 and c0 <= c < c0 + w // 2}
    if 2**level < max(shape):
        expected = {idx[r, c] for r, c in pixels(h, w) if ((r >> level) + (c >> level)) % 2 == 1}
        assert P.block_interleaved(shape, level) == expected
        assert P.named(f"block_interleaved:{level}", shape) == expected
    else:
        with pytest.raises(ValueError, match=f"level {level}"):
            P.block_interleaved(shape, level)


@given(st.integers(2, 40), st.data())
def test_contiguous_and_random(n, data):
    size = data.draw(st.integers(1, n - 1))
    start = data.draw(st.integers(0, n - size))
    assert P.contiguous_block(n, size, start) == set(range(start, start + size))
    seed = data.draw(st.integers(0, 2**32))
    part = P.random(n, size, seed=seed)
    assert len(part) == size and part <= set(range(n)) and part == P.random(n, size, seed=seed)
    assert P.named(f"random:{size}:{seed}", n) == part


@given(st.integers(1, 12), st.lists(st.integers(-3, 15), max_size=14))
def test_validate_partition_against_brute_force(n, items):
    valid = (len(set(items)) == len(items) and all(0 <= x < n for x in items) and 0 < len(items) < n)
    if valid:
        assert P.validate_partition(items, n) == frozenset(items)
        mask = np.zeros(n, bool)
        mask[items] = True
        assert P.validate_partition(mask, n) == frozenset(items)
        assert P.validate_partition(np.array(items, dtype=np.int64), n) == frozenset(items)
    else:
        with pytest.raises(ValueError):
            P.validate_partition(items, n)


@pytest.mark.parametrize("part, exc, match", [
    ("odd_even", TypeError, r"got the string 'odd_even'.*tc\.partitions\.odd_even"),
    ("block_interleaved:1", TypeError, r"tc\.partitions\.block_interleaved"),
    ({0: 1}, TypeError, "got a dict"),
    ([2**70], ValueError, r"\[1180591620717411303424\] are out of range for 8 inputs"),
    ([-(2**70)], ValueError, "out of range"),
    ([1.0], TypeError, "got 1.0"),
    ([True], TypeError, "got True"),
    (3, TypeError, "single int"),
    (np.zeros((2, 2), int), ValueError, "must be 1D"),
    (range(10**12), ValueError, "1000000000000 positions but there are only 8"),
    ([0, 0], ValueError, r"duplicated positions \[0\]"),
    ([], ValueError, "empty"),
    (range(8), ValueError, "all 8 inputs"),
])
def test_validate_partition_errors(part, exc, match):
    with pytest.raises(exc, match=match):
        P.validate_partition(part, 8)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: P.block_interleaved((8, 8), 1.5), TypeError, "level must be an int, got 1.5"),
    (lambda: P.block_interleaved((8, 8), 1.0), TypeError, "got 1.0"),
    (lambda: P.block_interleaved((8, 8), True), TypeError, "got True"),
    (lambda: P.block_interleaved((8, 8), -1), ValueError, "level -1"),
    (lambda: P.block_interleaved((8, 8), 10**30), ValueError, "level 1000000000000000000000000000000"),
    (lambda: P.left_right((-2, -2)), ValueError, r"positive sizes.*\(-2, -2\)"),
    (lambda: P.checkerboard((0, 5)), ValueError, r"\(0, 5\)"),
    (lambda: P.checkerboard((2.0, 2)), TypeError, "got 2.0"),
    (lambda: P.odd_even(-4), ValueError, "got -4"),
    (lambda: P.odd_even(True), TypeError, "True"),
    (lambda: P.odd_even("8"), TypeError, "'8'"),
    (lambda: P.odd_even((4, 4)), ValueError, "1D partition"),
    (lambda: P.contiguous_block(8, 2.5), TypeError, "size must be an int, got 2.5"),
    (lambda: P.contiguous_block(8, 9), ValueError, "size=9"),
    (lambda: P.random(8, 4.0), TypeError, "k must be an int, got 4.0"),
    (lambda: P.random(8, 0), ValueError, "k=0"),
    (lambda: P.named("block_interleaved:1.5", (8, 8)), ValueError, "level L must be an integer, got '1.5'"),
    (lambda: P.named("random:x", 8), ValueError, "size K must be an integer, got 'x'"),
    (lambda: P.named("random:2:3:4", 8), ValueError, "at most 2"),
    (lambda: P.named("odd_even:1", 8), ValueError, "at most 0"),
    (lambda: P.named("odd", 8), ValueError, "unknown partition name 'odd'"),
    (lambda: P.named(3, 8), TypeError, "got 3"),
])
def test_builder_argument_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_huge_partitions_refused_before_allocating():
    with pytest.raises(tc.TensorTooLargeError, match="left_right over 10000000000 inputs"):
        P.left_right(10**10)
    with pytest.raises(tc.TensorTooLargeError, match="100000x100000 image"):
        P.checkerboard((10**5, 10**5))


# ------------------------------------------------------------------------------------------ budgets
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, 0, "abc", True, None, [1], 1 + 2j])
def test_options_refuse_bad_values(value):
    before = dict(tc.options)
    with pytest.raises(ValueError, match=f"max_dense_bytes must be a positive finite number.*{value!r}"[:80]
                       .replace("(", r"\(").replace(")", r"\)").replace("[", r"\[").replace("]", r"\]")
                       .replace("+", r"\+")):
        tc.set_options(max_dense_bytes=value)
    with pytest.raises(ValueError), tc.option_context(max_dense_bytes=value):
        pass
    assert tc.options == before


def test_unknown_options_are_value_errors():
    with pytest.raises(ValueError, match="unknown tnconv option 'max_dense_byte'"):
        tc.set_options(max_dense_byte=10)
    with pytest.raises(ValueError, match="unknown tnconv option 'nope'"), tc.option_context(nope=1):
        pass
    with tc.option_context(max_dense_bytes=2**20):
        assert tc.options["max_dense_bytes"] == 2**20
    assert tc.options["max_dense_bytes"] == 2**31


@pytest.mark.parametrize("value", [float("nan"), float("-inf"), float("inf"), -5, 0, "1e9", False])
def test_check_budget_refuses_bad_budgets(value):
    with pytest.raises(ValueError, match="max_bytes must be a positive finite number"):
        check_budget("x", 1.0, max_bytes=value)


def test_check_budget_limits():
    check_budget("x", 1000, max_bytes=1000)
    check_budget("x", 10.0, max_bytes=np.float64(10.5))
    with pytest.raises(tc.TensorTooLargeError, match="x would need"):
        check_budget("x", 1001, max_bytes=1000)
    with pytest.raises(tc.TensorTooLargeError):
        check_budget("x", float("nan"))
    with pytest.raises(tc.TensorTooLargeError):
        check_budget("x", math.inf)
