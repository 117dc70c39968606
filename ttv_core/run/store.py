"""Memoization of expensive per-epoch results on disk: computed once, by one process, then reused.

Keys are canonical: a SHA-256 over a JSON document of everything a result depends on (the data's
content fingerprint, the epoch, the method, the full config, the code version and, for results
warm-started from the previous epoch, that epoch's key). No default argument is left out and dict
order does not matter (both traps of ``diskcache.memoize``).

Values live in a :class:`diskcache.Cache` under ``<cache dir>/results``; diskcache writes each value
in one SQLite transaction (large ones as files), so a killed process leaves no half-written result.
Computing is guarded by an OS file lock per key: two processes (or two dashboard sessions) asking
for the same result compute it once, the second waits and reads. The OS drops the lock when its
holder dies, so a killed run never blocks the next one.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import diskcache
from filelock import FileLock

from ..cachedir import resolve_cache_dir

# Bump when a change to the code changes what a stored result means: older entries stop matching.
CODE_VERSION = "8"  # 3: the warm chain of issue 9; 4: modules moved into layers (stored objects name their module);
# 5: denormals flushed in fits, and large runs get cells kNN, a sampled proxy tree, fewer stage-2 passes;
# 6: a diverging stage-2 fit rolls back; chains restart from the first epoch every stretch_epochs;
# 7: a stretch starts from the keyframe before it, warm (the first stretch's start has the key it had);
# 8: proxy maps show the training samples where the layout put them, and the decoder learns from there

T = TypeVar("T")
_MISSING = object()


def result_key(kind: str, **parts: Any) -> str:
    """Canonical key of a result: SHA-256 of sorted JSON of ``kind``, ``parts`` and the code version."""
    document = json.dumps({"kind": kind, "code": CODE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()


class ResultStore:
    """Per-epoch results on disk, shared by every process using the same cache folder.

    Parameters
    ----------
    cache_dir : str or Path, optional
        See :func:`ttv_core.cachedir.resolve_cache_dir`.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        self.root = resolve_cache_dir(cache_dir) / "results"
        self._locks = self.root / "locks"
        self._locks.mkdir(parents=True, exist_ok=True)
        # size_limit: results are the point of the cache; never evict them silently.
        self._cache = diskcache.Cache(str(self.root / "store"), size_limit=2**50, eviction_policy="none")

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value for ``key``, or ``default``."""
        return self._cache.get(key, default=default)

    def __contains__(self, key: str) -> bool:
        return key in self._cache

    def keys(self) -> list[str]:
        """Every stored key."""
        return list(self._cache.iterkeys())

    def put(self, key: str, value: Any) -> None:
        self._cache.set(key, value)

    def get_or_compute(self, key: str, compute: Callable[[], T], *, store: Callable[[T], bool] | None = None) -> tuple[T, bool]:
        """Return ``(value, was_cached)``, computing and storing the value if no process has yet.

        ``store(value)`` may veto storing (e.g. for a result cut short by a cancel request).
        """
        value = self._cache.get(key, default=_MISSING)
        if value is not _MISSING:
            return value, True
        with FileLock(str(self._locks / f"{key}.lock")):
            value = self._cache.get(key, default=_MISSING)  # another process may have finished meanwhile
            if value is not _MISSING:
                return value, True
            value = compute()
            if store is None or store(value):
                self._cache.set(key, value)
            return value, False

    def close(self) -> None:
        self._cache.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.root
