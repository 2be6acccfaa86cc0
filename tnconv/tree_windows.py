"""Pooling windows of any size: per-level windows for 1D sequences and 2D images, and ragged edges.

A pooling level with window ``(a, b)`` joins blocks of ``a`` rows by ``b`` columns of the level below.
Sides need not be powers of the window, nor divisible by it. The rule for what does not divide:

* **Contiguous pooling.** ``c`` blocks along a side, pooled with a window of ``k`` (``1 <= k <= c``),
  form ``s = c // k`` runs of ``k`` consecutive blocks. The ``c % k`` blocks left over join the last
  run, which then has ``k + c % k`` blocks. So no window is smaller than ``k``, and a single leftover
  block, which could not form a window (a mode tree has no unary nodes), never stands alone.
* **Interleaved ("mirror") pooling.** Run ``j`` takes blocks ``j, j + s, ..., j + (k - 1) s``. The
  leftover blocks ``k s .. c - 1`` join the last run, ``j = s - 1``.
* **Default windows.** Without ``windows``, every level pools ``window x window`` (2 x 2). A side that
  is down to fewer blocks than ``window`` uses the blocks it has, and a side that is down to one block
  uses 1, so the last levels of a rectangle are strips. So a side of ``c`` pixels is pooled in
  about ``log_window(c)`` levels (``floor(log2(c))`` for windows of 2), and a window never spans more
  than ``2 * window - 1`` blocks per side (2 or 3 for windows of 2).
  For powers of the window this is the classic tree. For example, 28 pools as 28 -> 14 -> 7 -> 3 -> 1
  (the 7 pools as runs 2, 2, 3).
* **Explicit windows.** ``windows[l]`` is level ``l``'s window, counted from the leaves: a pair
  ``(a, b)``, or an int ``k`` that means ``(k, k)``, with 1 on a side that is down to one block. In
  1D, use an int. Each window must fit in the blocks left on its side. No level may be ``1 x 1``, and
  the last level must leave a single block.

Input ``i`` of an image is pixel ``(i // width, i % width)``. A 1D sequence is a ``1 x n`` image.

References
----------
.. [1] N. Cohen, A. Shashua, "Inductive Bias of Deep Convolutional Networks through Pooling Geometry",
   ICLR 2017, arXiv:1605.06743 (square and mirror pooling windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .tree_builders import check_bool, check_int, check_tree_size, short_repr

__all__ = ["pooled_children", "pooling_windows", "side_runs"]

Window = tuple[int, int]


def side_runs(count: int, k: int, interleaved: bool = False) -> list[list[int]]:
    """The runs of block indices ``0..count-1`` that a window of ``k`` pools along one side.

    Examples
    --------
    >>> side_runs(7, 2)
    [[0, 1], [2, 3], [4, 5, 6]]
    >>> side_runs(7, 2, interleaved=True)
    [[0, 3], [1, 4], [2, 5, 6]]
    >>> side_runs(4, 1)
    [[0], [1], [2], [3]]
    """
    return [list(r) for r in _runs(count, k, interleaved)]


def _runs(count: int, k: int, interleaved: bool) -> list[range | list[int]]:
    s = count // k
    if interleaved:
        runs: list[range | list[int]] = [range(j, j + k * s, s) for j in range(s)]
        if count > k * s:
            runs[-1] = [*runs[-1], *range(k * s, count)]
    else:
        runs = [range(j * k, j * k + k) for j in range(s)]
        runs[-1] = range((s - 1) * k, count)
    return runs


def _window_entry(entry: Any, level: int, dims: int) -> tuple[int, int, bool]:
    """A windows entry as ``(rows, cols, square)``; a square int window is clipped to 1 on an exhausted side."""
    where = f"windows[{level}]"
    if isinstance(entry, (tuple, list)):
        if dims == 1:
            raise TypeError(f"{where} is {short_repr(entry)}; 1D windows are ints")
        if len(entry) != 2:
            raise ValueError(f"{where} is {short_repr(entry)}; a 2D window is a pair (rows, cols)")
        a, b = (check_int(x, where) for x in entry)
        if a < 1 or b < 1:
            raise ValueError(f"{where} is {(a, b)}; window sides must be >= 1")
        return a, b, False
    k = check_int(entry, where)
    if k < 2:
        raise ValueError(f"{where} is {k}; a window pools at least 2 blocks (use a pair such as (1, 2) "
                         "in 2D for a strip)")
    return k, k, True


def pooling_windows(height: int, width: int, windows: Sequence[Any] | None = None, window: int = 2,
                    dims: int = 2) -> list[Window]:
    """The per-level windows ``(rows, cols)`` that pool a ``height x width`` image to one block.

    Parameters
    ----------
    height, width : int
        The image (``1, n`` for a sequence of ``n``).
    windows : sequence, optional
        Per-level windows, counted from the leaves (see the module docstring). ``None`` applies the
        default rule with ``window``.
    window : int
        The default square window (2).
    dims : {1, 2}
        1 when the windows describe a sequence (ints only).

    Returns
    -------
    list of (int, int)
        One window per level, each fitting the blocks left, the last leaving ``1 x 1``.

    Raises
    ------
    ValueError
        A window larger than the blocks left on its side, a ``1 x 1`` level, windows that stop before
        one block is left or go on after it.
    TypeError
        Entries that are not ints or pairs of ints (or pairs in 1D).

    Examples
    --------
    >>> pooling_windows(28, 28)  # 28 -> 14 -> 7 -> 3 -> 1: the last runs absorb a leftover block
    [(2, 2), (2, 2), (2, 2), (2, 2)]
    >>> pooling_windows(28, 28, windows=[2, 2, 7])
    [(2, 2), (2, 2), (7, 7)]
    >>> pooling_windows(2, 8)
    [(2, 2), (1, 2), (1, 2)]
    """
    height, width, window = check_int(height, "height"), check_int(width, "width"), check_int(window, "window")
    if height < 1 or width < 1 or height * width < 2:
        raise ValueError(f"an image of {height}x{width} pixels cannot be pooled; it needs at least 2 pixels")
    r, c = height, width
    out: list[Window] = []
    if windows is None:
        if window < 2:
            raise ValueError(f"window={window}; a pooling window has at least 2 blocks per side")
        while r * c > 1:
            a, b = min(window, r), min(window, c)
            out.append((a, b))
            r, c = r // a, c // b
        return out
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence):
        raise TypeError(f"windows must be a sequence of per-level windows, got {short_repr(windows)}")
    shape = f"{width}" if dims == 1 else f"{height}x{width}"
    for level, entry in enumerate(windows):
        if r * c == 1:
            raise ValueError(f"windows {short_repr(list(windows))} pool the {shape} input to one block after "
                             f"{level} levels; drop the other {len(windows) - level}")
        a, b, square = _window_entry(entry, level, dims)
        if dims == 1:
            a = 1
        elif square:
            a, b = (a if r > 1 else 1), (b if c > 1 else 1)
        if a > r or b > c:
            left = f"{c}" if dims == 1 else f"{r}x{c}"
            got = f"{b}" if dims == 1 else f"{(a, b)}"
            raise ValueError(f"windows[{level}] = {got} is larger than the {left} blocks left at that level "
                             f"of the {shape} input")
        if a == b == 1:
            raise ValueError(f"windows[{level}] pools 1x1 blocks, which is no pooling (a mode tree has no "
                             "unary nodes)")
        out.append((a, b))
        r, c = r // a, c // b
    if r * c > 1:
        left = f"{c}" if dims == 1 else f"{r}x{c}"
        raise ValueError(f"windows {short_repr(list(windows))} leave {left} blocks of the {shape} input; add "
                         f"levels until one block is left (for example a last window of {left.replace('x', ', ')})")
    return out


def pooled_children(height: int, width: int, windows: Sequence[Window], interleaved: bool,
                    what: str | None = None) -> dict[frozenset, tuple[frozenset, ...]]:
    """The ``{node: children}`` mapping of an image pooled with resolved ``windows``; the root is last.

    Children are listed row-major within each window. The windows must come from
    :func:`pooling_windows`.
    """
    interleaved = check_bool(interleaved, "interleaved")
    n = height * width
    check_tree_size(what or f"a mode tree over a {height}x{width} input", 2 * n, n * (1 + len(windows)))
    blocks = [[frozenset((r * width + c,)) for c in range(width)] for r in range(height)]
    children: dict[frozenset, tuple[frozenset, ...]] = {}
    union = frozenset().union
    for a, b in windows:
        rows = _runs(len(blocks), a, interleaved)
        cols = _runs(len(blocks[0]), b, interleaved)
        slices = [(cs.start, cs.stop) if type(cs) is range and cs.step == 1 else None for cs in cols]
        nxt = []
        for run in rows:
            src = [blocks[i] for i in run]
            row = []
            for cs, cut in zip(cols, slices):
                # contiguous columns are slices; a 1D level is one source line
                if cut is None:
                    group = tuple([line[j] for line in src for j in cs])
                elif len(src) == 1:
                    group = tuple(src[0][cut[0]:cut[1]])
                else:
                    group = tuple([x for line in src for x in line[cut[0]:cut[1]]])
                node = union(*group)
                children[node] = group
                row.append(node)
            nxt.append(row)
        blocks = nxt
    return children
