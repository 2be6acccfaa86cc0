"""One bounded, thread-safe cache: compiled programs, spectrum plans, min cuts and compiled training steps.

Values are built outside the lock, so that a slow build (compiling a path, a min cut) does not block the
other threads' lookups; when two threads build the same key at once, the first value stored is the one
both get, so the value every caller uses for a key is unique while it is cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

__all__ = ["LRUCache"]


class LRUCache:
    """A map from keys to built values that keeps the ``maxsize`` most recently used (thread-safe).

    The bound is given on every call (:meth:`get_or_build`), so a module constant read at call time
    bounds it, and changing that constant takes effect at once.

    Attributes
    ----------
    hits, misses : int
        Lookups that found their key, and those that built it, since creation or :meth:`clear`.

    Examples
    --------
    >>> cache = LRUCache()
    >>> builds = []
    >>> cache.get_or_build("a", lambda: builds.append("a") or 1, maxsize=2)
    1
    >>> cache.get_or_build("a", lambda: builds.append("a") or 2, maxsize=2)  # cached: not rebuilt
    1
    >>> _ = cache.get_or_build("b", lambda: 2, maxsize=2); _ = cache.get_or_build("c", lambda: 3, maxsize=2)
    >>> sorted(cache.keys()), builds, (cache.hits, cache.misses)  # "a" was least recently used
    (['b', 'c'], ['a'], (1, 3))
    """

    def __init__(self) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_build(self, key: Hashable, build: Callable[[], Any], maxsize: int) -> Any:
        """The value cached under ``key``, else ``build()``, stored (evicting the least recently used
        beyond ``maxsize``) and returned; an exception in ``build`` stores nothing.

        Parameters
        ----------
        key : hashable
        build : callable
            Called without arguments, outside the lock.
        maxsize : int
            How many entries to keep at most.

        Returns
        -------
        object
            The cached value (the first one stored, if two threads built ``key`` at once).

        Examples
        --------
        >>> LRUCache().get_or_build(("k", 1), lambda: "v", maxsize=4)
        'v'
        """
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return self._data[key]
            self.misses += 1
        value = build()
        with self._lock:
            value = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            while len(self._data) > maxsize:
                self._data.popitem(last=False)
        return value

    def keys(self) -> list:
        """The cached keys, least recently used first.

        Examples
        --------
        >>> LRUCache().keys()
        []
        """
        with self._lock:
            return list(self._data)

    def clear(self) -> None:
        """Drop every entry and reset the counters.

        Examples
        --------
        >>> cache = LRUCache(); _ = cache.get_or_build(1, lambda: 1, maxsize=1); cache.clear(); len(cache)
        0
        """
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
