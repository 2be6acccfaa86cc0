import multiprocessing
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The profiles alone set the example counts (no test hard-codes max_examples). CI draws fresh random
# examples on every run (not derandomized) and prints the reproduction blob of any failure;
# `thorough` runs 20x as many.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True, database=None)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng():
    return np.random.default_rng(20260401)


@pytest.fixture(autouse=True, scope="session")
def _single_blas_thread():
    """One BLAS thread: on two shared cores threaded SVDs of small matrices are 10-30x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture
def one_torch_thread():
    """Tiny torch ops on a shared 2-core machine: one intra-op thread avoids spinning workers."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", autouse=True)
def _nothing_left_running():
    """Every test module leaves no child process running (pools, clusters, workers are shut down)."""
    before = {p.pid for p in multiprocessing.active_children()}
    yield
    left = [p for p in multiprocessing.active_children() if p.pid not in before]
    assert not left, f"child processes left running: {left}"
