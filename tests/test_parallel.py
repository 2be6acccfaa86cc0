"""tc.sweep and tnconv.parallel.map_chunks on every executor, seeds, per-point errors and dead workers.

References are computed without tnconv.parallel: plain list comprehensions over the same functions,
numpy's own ``SeedSequence(seed).spawn(n)`` children, direct calls for the expected error messages.
Worker deaths are real (``os._exit`` in a worker process) and proven to have happened by a marker file.
"""

from __future__ import annotations

import functools
import itertools
import math
import multiprocessing
import operator
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parallel_fns import (
    bad_length,
    die_always,
    die_once,
    die_once_chunk,
    fails_on,
    getpid,
    poly,
    raise_on_five,
    seeded,
    squares,
)

import tnconv as tc
from tnconv.parallel import (
    PointError,
    SweepError,
    SweepResult,
    map_chunks,
    point_rng,
    resolve_executor,
    sweep,
)

# The scheduler's HTTP server binds 8787 even with dashboard_address=None; another cluster on the
# machine moves it elsewhere, with a warning.
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")

GRID = [(k, k / 3 - 5.0) for k in range(57)]
SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture(scope="module")
def threads():
    with ThreadPoolExecutor(2) as pool:
        yield pool


@pytest.fixture(scope="module")
def processes():
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        yield pool


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c
    assert c.status == "closed"


@pytest.fixture(params=["serial", "threads", "processes", "dask", "dask-executor"])
def executor(request):
    if request.param == "serial":
        return None
    if request.param == "dask":
        return request.getfixturevalue("client")
    if request.param == "dask-executor":
        return request.getfixturevalue("client").get_executor()
    return request.getfixturevalue(request.param)


# -------------------------------------------------------------------------------------------------
# Every executor equals the serial loop
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 1, 5, 100])
def test_sweep_equals_serial_loop(executor, chunk_size):
    expected = [poly(p) for p in GRID]
    got = sweep(poly, GRID, executor, progress=False, chunk_size=chunk_size)
    assert isinstance(got, SweepResult)
    assert got == expected  # floats compared exactly: bit for bit
    assert got.ok and got.errors == () and got.failed == []
    assert got.points == tuple(GRID)


def test_sweep_order_with_uneven_work(threads):
    # Later chunks finish first (earlier points sleep longer); the results still come in grid order.
    grid = [(k, 0.02 * (6 - k)) for k in range(6)]
    got = sweep(_sleep_then_poly, grid, threads, progress=False, chunk_size=1)
    assert got == [poly(p) for p in grid]


def _sleep_then_poly(point):
    import time

    time.sleep(point[1])
    return poly(point)


def test_process_workers_are_other_processes(processes):
    pids = sweep(getpid, range(8), processes, progress=False, chunk_size=1)
    assert os.getpid() not in pids


def test_mapping_grid_is_row_major_product(threads):
    grid = {"a": [1, 2, 3], "b": ["x", "y"], "c": (0.5,)}
    expected = [{"a": a, "b": b, "c": c} for a, b, c in itertools.product([1, 2, 3], ["x", "y"], (0.5,))]
    got = sweep(dict, grid, threads, progress=False, chunk_size=2)
    assert got == expected
    assert got.points == tuple(expected)


def test_points_that_look_like_dask_tasks_are_data(client):
    # dask reads (callable, *args) tuples as tasks in graphs; sweep's points must stay plain data.
    grid = [(len, [1, 2]), (operator.add, 1, 2), {"a": (sum, [1])}]
    assert sweep(_identity, grid, client, progress=False) == grid
    assert sweep(_identity, grid, client.get_executor(), progress=False) == grid


def _identity(point):
    return point


def test_generator_grid_and_empty_grid():
    assert sweep(poly, (p for p in GRID[:4]), progress=False) == [poly(p) for p in GRID[:4]]
    with ThreadPoolExecutor(1) as pool:
        empty = sweep(poly, [], pool, progress=False)
    assert empty == [] and empty.ok


# -------------------------------------------------------------------------------------------------
# Seeds
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_seeds_come_from_the_point_not_the_worker(executor, chunk_size):
    seed = 20260401
    children = np.random.SeedSequence(seed).spawn(len(GRID))
    expected = [seeded(p, rng=np.random.default_rng(c)) for p, c in zip(GRID, children)]
    got = sweep(seeded, GRID, executor, progress=False, seed=seed, chunk_size=chunk_size)
    assert got == expected


def test_seed_sequence_and_point_rng():
    ss = np.random.SeedSequence(99, spawn_key=(4,))
    children = ss.spawn(5)
    expected = [seeded(p, rng=np.random.default_rng(c)) for p, c in zip(GRID[:5], children)]
    assert sweep(seeded, GRID[:5], progress=False, seed=ss) == expected
    assert point_rng(7, 3).integers(0, 2**62) == np.random.default_rng(np.random.SeedSequence(7).spawn(4)[3]).integers(
        0, 2**62
    )


def test_different_seeds_differ():
    a = sweep(seeded, GRID[:4], progress=False, seed=1)
    b = sweep(seeded, GRID[:4], progress=False, seed=2)
    assert all(x != y for x, y in zip(a, b))


# -------------------------------------------------------------------------------------------------
# Per-point errors
# -------------------------------------------------------------------------------------------------


def _expected_outcomes(fn, grid):
    values, errors = [], {}
    for i, p in enumerate(grid):
        try:
            values.append(fn(p))
        except Exception as exc:
            values.append(None)
            errors[i] = (type(exc).__name__, str(exc))
    return values, errors


def test_failing_points_are_reported_and_the_rest_kept(executor):
    values, errors = _expected_outcomes(fails_on, GRID)
    assert sorted(errors) == [3, 10, 11, 13, 40]
    got = sweep(fails_on, GRID, executor, progress=False, chunk_size=4, raise_errors=False)
    assert got == values
    assert got.failed == sorted(errors)
    for e in got.errors:
        assert isinstance(e, PointError)
        assert (e.type, e.message) == errors[e.index]
        assert e.point == GRID[e.index]
        assert "fails_on" in e.traceback
    with pytest.raises(SweepError, match=r"5 of 57 grid points failed: point 3 \(\(3, -4\.0\)\): ValueError") as info:
        sweep(fails_on, GRID, executor, progress=False, chunk_size=4)
    assert info.value.result == values
    assert info.value.errors == got.errors


def test_sweep_error_and_result_pickle():
    got = sweep(fails_on, GRID[:12], progress=False, raise_errors=False)
    again = pickle.loads(pickle.dumps(got))
    assert again == got and again.errors == got.errors and again.points == got.points
    err = pickle.loads(pickle.dumps(SweepError(got)))
    assert str(err) == str(SweepError(got)) and err.result == got


def test_keyboard_interrupt_is_not_a_point_error():
    def stop(point):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(stop, [1, 2], progress=False)


# -------------------------------------------------------------------------------------------------
# map_chunks (the batch primitive min_cuts uses)
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [None, 1, 7])
def test_map_chunks_equals_loop(executor, chunk_size):
    items = list(range(50))
    assert map_chunks(squares, items, executor, chunk_size) == [x * x for x in items]


def test_map_chunks_chunking_is_per_task(threads):
    seen = []

    def record(chunk):
        seen.append(list(chunk))
        return chunk

    assert map_chunks(record, range(10), threads, chunk_size=4) == list(range(10))
    assert sorted(seen) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_map_chunks_default_chunking_on_a_client(client):
    # 2 worker threads x 4 chunks per worker: 8 tasks of 125 items for 1000 items.
    sizes = map_chunks(_chunk_len, range(1000), client)
    assert sorted(set(sizes)) == [125] and len(sizes) == 1000


def _chunk_len(chunk):
    return [len(chunk)] * len(chunk)


def test_map_chunks_errors(threads):
    with pytest.raises(KeyError):
        map_chunks(raise_on_five, range(10), threads, chunk_size=2)
    with pytest.raises(ValueError, match="returned 2 results for a chunk of 3 items"):
        map_chunks(bad_length, range(6), None, chunk_size=3)
    backend = resolve_executor(threads)
    assert map_chunks(squares, range(3), backend) == [0, 1, 4]


# -------------------------------------------------------------------------------------------------
# Progress
# -------------------------------------------------------------------------------------------------


def test_progress_bar_tqdm(capsys):
    pytest.importorskip("tqdm")
    sweep(poly, GRID[:10], progress=True)
    err = capsys.readouterr().err
    assert "sweep" in err and "10/10" in err


def test_progress_counter_without_tqdm(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails: the plain counter
    sweep(poly, GRID[:10], progress=True, chunk_size=3)
    assert capsys.readouterr().err.strip().endswith("sweep: 10/10")


def test_progress_off(capsys):
    sweep(poly, GRID[:10], progress=False)
    map_chunks(squares, range(5))
    assert capsys.readouterr().err == ""


# -------------------------------------------------------------------------------------------------
# Bad input
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "name"),
    [(4, "int"), ("dask", "str"), (True, "bool"), (object(), "object"), (ThreadPoolExecutor, "the class")],
)
def test_bad_executor_types(executor, name):
    with pytest.raises(TypeError, match=f"not {name}"):
        sweep(poly, GRID[:2], executor, progress=False)
    with pytest.raises(TypeError, match=f"not {name}"):
        map_chunks(squares, [1], executor)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chunk_size": 0}, ValueError, "chunk_size must be >= 1, got 0"),
        ({"chunk_size": -3}, ValueError, "got -3"),
        ({"chunk_size": True}, TypeError, "chunk_size must be an int, not bool"),
        ({"chunk_size": 2.0}, TypeError, "not float"),
        ({"chunk_size": math.nan}, TypeError, "nan"),
        ({"retries": -1}, ValueError, "retries must be >= 0, got -1"),
        ({"retries": False}, TypeError, "retries must be an int, not bool"),
        ({"seed": -1}, ValueError, "seed must be non-negative, got -1"),
        ({"seed": 1.5}, TypeError, "not float"),
        ({"seed": True}, TypeError, "not bool"),
        ({"seed": np.random.default_rng(0)}, TypeError, "Generator"),
        ({"progress": "yes"}, TypeError, "progress must be True or False, not str"),
        ({"progress": 1}, TypeError, "progress must be True or False, not int"),
        ({"raise_errors": None}, TypeError, "raise_errors must be True or False"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        sweep(poly, GRID[:2], **{"progress": False, **kwargs})


def test_bad_fn_and_grid(processes):
    with pytest.raises(TypeError, match="fn must be callable, not int"):
        sweep(3, GRID, progress=False)
    with pytest.raises(TypeError, match="grid must be an iterable of points or a mapping name -> values, not int"):
        sweep(poly, 5, progress=False)
    with pytest.raises(TypeError, match="not str"):
        sweep(poly, "abc", progress=False)
    with pytest.raises(TypeError, match=r"grid\['a'\] must be an iterable of values, not str"):
        sweep(dict, {"a": "xyz"}, progress=False)
    with pytest.raises(TypeError, match="cannot be pickled for a ProcessPoolExecutor"):
        sweep(lambda p: p, GRID, processes, progress=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'workers'"):
        sweep(poly, GRID, workers=2)


def test_closed_client_is_refused():
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, dashboard_address=None) as c:
        pass
    with pytest.raises(ValueError, match="'closed', not running"):
        sweep(poly, GRID[:2], c, progress=False)


def test_tc_sweep_is_the_lazy_export():
    assert tc.sweep is sweep


# -------------------------------------------------------------------------------------------------
# Property: any chunking, any failure pattern
# -------------------------------------------------------------------------------------------------


@settings(deadline=None)
@given(
    ks=st.lists(st.integers(0, 50), max_size=40),
    chunk_size=st.one_of(st.none(), st.integers(1, 12)),
    use_threads=st.booleans(),
)
def test_property_any_chunking(threads, ks, chunk_size, use_threads):
    grid = [(k, k * 0.25) for k in ks]
    values, errors = _expected_outcomes(fails_on, grid)
    got = sweep(fails_on, grid, threads if use_threads else None, progress=False, chunk_size=chunk_size,
                raise_errors=False)
    assert got == values
    assert {e.index: (e.type, e.message) for e in got.errors} == errors


# -------------------------------------------------------------------------------------------------
# Faults: dead workers
# -------------------------------------------------------------------------------------------------


def test_dask_worker_killed_mid_sweep(tmp_path):
    distributed = pytest.importorskip("distributed")
    marker = tmp_path / "killed"
    fn = functools.partial(die_once, marker=str(marker), victim=25, delay=0.01)
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        got = sweep(fn, GRID, c, progress=False, chunk_size=5)
    assert c.status == "closed"
    assert marker.exists(), "the victim never killed its worker: the test proved nothing"
    assert int(marker.read_text()) != os.getpid()
    assert got == [poly(p) for p in GRID]  # none missing, none duplicated, none misplaced
    assert len(got) == len(GRID) and got.ok


def test_process_pool_broken_mid_sweep(tmp_path):
    marker = tmp_path / "killed"
    fn = functools.partial(die_once, marker=str(marker), victim=20, delay=0.005)
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        got = sweep(fn, GRID, pool, progress=False, chunk_size=4)
    assert marker.exists(), "the victim never killed its worker: the test proved nothing"
    assert got == [poly(p) for p in GRID] and got.ok


def test_process_pool_broken_in_map_chunks(tmp_path):
    marker = tmp_path / "killed"
    fn = functools.partial(die_once_chunk, marker=str(marker), victim=33)
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        got = map_chunks(fn, range(60), pool, chunk_size=6)
    assert marker.exists()
    assert got == [x * x for x in range(60)]


def test_process_pool_poison_point_without_retries():
    # A point that kills every worker it meets: with retries=0 the break is reported per point (the
    # pool cannot say whose worker died, so every unfinished chunk fails) and the caller survives.
    fn = functools.partial(die_always, victim=9)
    with ProcessPoolExecutor(2, mp_context=SPAWN) as pool:
        got = sweep(fn, GRID[:24], pool, progress=False, chunk_size=3, retries=0, raise_errors=False)
    assert 9 in got.failed
    assert {e.type for e in got.errors} == {"BrokenProcessPool"}
    for i, value in enumerate(got):
        assert (value is None) == (i in got.failed)
        if value is not None:
            assert value == poly(GRID[i])
