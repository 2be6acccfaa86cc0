"""The one bounded cache (tnconv._core.caches.LRUCache): eviction order against a plain list model of LRU,
one value per key under concurrent builds, nothing stored when a build fails."""

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tnconv._core.caches import LRUCache


@given(keys=st.lists(st.integers(0, 6), max_size=60), maxsize=st.integers(1, 4))
def test_eviction_follows_least_recent_use(keys, maxsize):
    cache, recent, builds = LRUCache(), [], 0  # recent: the model, most recently used last
    for k in keys:
        before = builds

        def build(k=k):
            nonlocal builds
            builds += 1
            return k * 10

        assert cache.get_or_build(k, build, maxsize) == k * 10
        assert (builds > before) == (k not in recent)
        if k in recent:
            recent.remove(k)
        recent.append(k)
        recent = recent[-maxsize:]
        assert cache.keys() == recent
    assert cache.hits + cache.misses == len(keys) and cache.misses == builds


def test_concurrent_builds_of_one_key_give_one_value():
    cache, start = LRUCache(), threading.Barrier(8)
    out = []

    def worker():
        start.wait()
        out.append(cache.get_or_build("k", object, maxsize=4))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 8 and all(v is out[0] for v in out) and len(cache) == 1


def test_a_failed_build_stores_nothing():
    cache = LRUCache()

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        cache.get_or_build("k", fail, maxsize=2)
    assert len(cache) == 0 and cache.get_or_build("k", lambda: 1, maxsize=2) == 1
