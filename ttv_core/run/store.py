"""Memoization of expensive per-epoch results on disk: computed once, by one process, then reused.

Keys are canonical: a SHA-256 over a JSON document of everything a result depends on (the data's
content fingerprint, the epoch, the method, the full config, the code version and, for results
warm-started from the previous epoch, that epoch's key). No default argument is left out and dict
order does not matter (both traps of ``diskcache.memoize``).

Values live in a :class:`diskcache.Cache` under ``<cache dir>/results/store``: epoch maps
(:class:`~ttv_core.run.visualize.EpochResult`, with the fitted model's weights and trust map), territories,
figures, frame PNGs and predictions. Each is written as arrays and JSON (:mod:`ttv_core.run.codec`),
never pickled, and nothing read back is ever unpickled: a cache folder shared with others
(``TTV_CACHE_DIR``) is data, not a way to run code. A row stored as a pickle (by ttv before code
version 9, or planted) is dropped unread.

diskcache writes each value in one SQLite transaction (large ones as files), so a killed process
leaves no half-written result; a failed write (a full disk) removes the file it began. A damaged
entry is dropped with a :class:`CacheWarning` and computed again; a damaged database is moved aside
(``store.damaged-<time>``) and a new one started.
Computing is guarded by an OS file lock per key: two processes (or two dashboard sessions) asking
for the same result compute it once, the second waits and reads. The OS drops the lock when its
holder dies, so a killed run never blocks the next one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import sqlite3
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import diskcache
from diskcache.core import MODE_BINARY, MODE_PICKLE, MODE_RAW, UNKNOWN
from filelock import FileLock

from ..cachedir import resolve_cache_dir
from ..errors import ConfigError, TTVError
from .codec import CodecError, decode, encode

# Bump when a change to the code changes what a stored result means: older entries stop matching.
CODE_VERSION = "10"  # 3: the warm chain of issue 9; 4: modules moved into layers (stored objects name their module);
# 5: denormals flushed in fits, and large runs get cells kNN, a sampled proxy tree, fewer stage-2 passes;
# 6: a diverging stage-2 fit rolls back; chains restart from the first epoch every stretch_epochs;
# 7: a stretch starts from the keyframe before it, warm (the first stretch's start has the key it had);
# 8: proxy maps show the training samples where the layout put them, and the decoder learns from there;
# 9: results stored as arrays and JSON, never pickled; 10: a keyframe (long step) fits its model as a cold fit does

T = TypeVar("T")
_MISSING = object()
_PICKLED_KEY = object()  # what a row whose key was stored as a pickle reads as: never unpickled, never listed
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_SQLITE_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_SQLITE_FULL = 13


class CacheFullError(TTVError):
    """The disk under the cache folder is full; the message says how much to free."""


class CacheWarning(UserWarning):
    """Part of the result cache was damaged: it was dropped or moved aside, and is computed again."""


class _RefusedValue(Exception):
    """A row whose value this store did not write (a pickle, text): never read."""


def result_key(kind: str, **parts: Any) -> str:
    """Canonical key of a result: SHA-256 of sorted JSON of ``kind``, ``parts`` and the code version."""
    document = json.dumps({"kind": kind, "code": CODE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()


class _Disk(diskcache.Disk):
    """diskcache's storage, narrowed to string keys and bytes values, with pickles refused on the way in and out."""

    def __init__(self, directory: str, **settings: Any):
        super().__init__(directory, **settings)
        self._written = threading.local()  # the file the current thread's set wrote, while it may fail

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"result keys are strings; got a {type(key).__name__}")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        return super().get(key, raw) if raw else _PICKLED_KEY

    def store(self, value: Any, read: bool, key: Any = UNKNOWN) -> tuple:
        if type(value) is not bytes or read:
            raise TypeError(f"the result store writes encoded bytes only; got a {type(value).__name__}")
        size, mode, filename, db_value = super().store(value, read, key)
        self._written.name = filename
        return size, mode, filename, db_value

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == MODE_PICKLE:
            raise _RefusedValue("it was stored as a pickle, by ttv before code version 9 or planted; ttv never unpickles")
        if mode not in (MODE_RAW, MODE_BINARY) or read:
            raise _RefusedValue(f"it was stored in diskcache's mode {mode}, not by ttv")
        return super().fetch(mode, filename, value, read)

    def _write(self, full_path: str, iterator, mode: str, encoding: str | None = None) -> int:
        """diskcache's file write, except that a write that fails (a full disk) removes its partial file."""
        for attempt in range(10):
            with contextlib.suppress(OSError):
                os.makedirs(os.path.dirname(full_path))
            try:
                writer = open(full_path, mode, encoding=encoding)  # "x": a new file, named at random
                break
            except OSError:
                if attempt == 9:  # another process may remove an emptied folder between makedirs and open
                    raise
        try:
            with writer:
                size = 0
                for chunk in iterator:
                    size += len(chunk)
                    writer.write(chunk)
            return size
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(full_path)
            raise

    @contextlib.contextmanager
    def new_file_removed_on_failure(self) -> Iterator[None]:
        """Around a ``Cache.set``: if it fails after its file was written (the database refused the row),
        the file goes too, rather than stay behind with no row pointing to it."""
        self._written.name = None
        try:
            yield
        except BaseException:
            if getattr(self._written, "name", None):
                self.remove(self._written.name)
            raise
        finally:
            self._written.name = None


def _sqlite_code(error: BaseException) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    return None if code is None else code & 0xFF


def _is_damaged(error: BaseException) -> bool:
    """Whether ``error`` says the database file itself is damaged (not locked, not full)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = _sqlite_code(error)
    if code is not None:
        return code in _SQLITE_DAMAGED
    return "not a database" in str(error) or "malformed" in str(error)


def _is_full(error: BaseException) -> bool:
    if isinstance(error, OSError):
        return error.errno in _FULL_ERRNOS
    if isinstance(error, sqlite3.OperationalError):
        code = _sqlite_code(error)
        return code == _SQLITE_FULL if code is not None else "disk is full" in str(error)
    return False


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class ResultStore:
    """Per-epoch results on disk, shared by every process using the same cache folder.

    Parameters
    ----------
    cache_dir : str or Path, optional
        See :func:`ttv_core.cachedir.resolve_cache_dir`.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        self.root = resolve_cache_dir(cache_dir) / "results"
        self._folder, self._locks = self.root / "store", self.root / "locks"
        for path in (self.root, self._folder, self._locks):
            if path.exists() and not path.is_dir():
                raise ConfigError(f"{path} is a file where ttv keeps a folder of its result cache. ttv does not "
                                  "delete what it did not make: move the file away, or choose another --cache-dir.")
        with self._no_space(0):
            self._locks.mkdir(parents=True, exist_ok=True)
        self._repairing = threading.Lock()
        self._current: tuple[diskcache.Cache | None, int | None] = (None, None)  # the open cache, its file's inode
        inode = _inode(self._folder / "cache.db")
        try:
            self._new_cache()
        except sqlite3.DatabaseError as error:
            if not _is_damaged(error):
                raise
            self._repair(None, inode, error)

    @property
    def _cache(self) -> diskcache.Cache:
        """The open :class:`diskcache.Cache` (a new one after a repair)."""
        return self._current[0]

    # -- opening and repairing ------------------------------------------------------------------------
    def _new_cache(self) -> None:
        # size_limit: results are the point of the cache; never evict them silently.
        with self._no_space(0):
            cache = diskcache.Cache(str(self._folder), size_limit=2**50, eviction_policy="none", disk=_Disk)
        self._current = (cache, _inode(self._folder / "cache.db"))

    def _repair(self, failed: diskcache.Cache | None, inode: int | None, error: BaseException) -> None:
        """Replace ``failed`` (None: the cache that would not open), whose database (``inode``) is damaged.

        One thread of one process repairs: the others find the cache replaced (another thread) or the
        database file replaced (another process) and open the new one.
        """
        with self._repairing, FileLock(str(self._locks / "store-repair.lock")):
            if self._current[0] is not failed:
                return
            if failed is not None:
                failed.close()
            if _inode(self._folder / "cache.db") == inode:
                self._move_aside(error)
            try:
                self._new_cache()
            except sqlite3.DatabaseError as again:
                if not _is_damaged(again):
                    raise
                raise ConfigError(f"{self._folder}: ttv cannot start a new result cache here ({again}). "
                                  "Delete this folder, or choose another --cache-dir.") from None

    def _move_aside(self, error: BaseException) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside, n = self.root / f"store.damaged-{stamp}", 1
        while aside.exists():
            n += 1
            aside = self.root / f"store.damaged-{stamp}-{n}"
        try:
            os.replace(self._folder, aside)
        except OSError as moving:
            raise ConfigError(f"{self._folder}: the result cache's database is damaged ({error}) and ttv cannot "
                              f"move it aside ({moving}). Delete this folder, or choose another --cache-dir.") from None
        warnings.warn(f"{self._folder}: the result cache's database was damaged ({error}); moved it to {aside} "
                      "and started a new one, so results will be computed again. Delete the old folder when "
                      "you no longer need it.", CacheWarning, stacklevel=2)

    def _guarded(self, operation: Callable[[diskcache.Cache], T]) -> T:
        """``operation(cache)``; if the database turns out damaged, again on a new one."""
        cache, inode = self._current
        try:
            return operation(cache)
        except sqlite3.DatabaseError as error:
            if not _is_damaged(error):
                raise
            self._repair(cache, inode, error)
        return operation(self._current[0])

    @contextlib.contextmanager
    def _no_space(self, size: int) -> Iterator[None]:
        """A full disk (or quota) while writing ``size`` bytes becomes a :class:`CacheFullError`."""
        try:
            yield
        except (OSError, sqlite3.OperationalError) as error:
            if not _is_full(error):
                raise
            megabytes = max(1, math.ceil(size / 2**20))
            raise CacheFullError(f"no space left on device in {self.root.parent}: free {megabytes} MB "
                                 "or choose another --cache-dir") from None

    # -- reading and writing --------------------------------------------------------------------------
    def _read(self, key: str) -> Any:
        """The value stored for ``key``, or ``_MISSING``; a damaged entry is dropped (and warned about)."""
        try:
            blob = self._guarded(lambda cache: cache.get(key, default=_MISSING))
            return _MISSING if blob is _MISSING else decode(blob)
        except (CodecError, _RefusedValue) as error:
            warnings.warn(f"{self._folder}: dropped a damaged entry of the result cache ({error}); "
                          "it will be computed again.", CacheWarning, stacklevel=3)
            with self._no_space(0):
                self._guarded(lambda cache: cache.delete(key, retry=True))
            return _MISSING

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value for ``key``, or ``default`` (also for a damaged entry, which is dropped)."""
        value = self._read(key)
        return default if value is _MISSING else value

    def __contains__(self, key: str) -> bool:
        return self._guarded(lambda cache: key in cache)

    def keys(self) -> list[str]:
        """Every stored key."""
        return self._guarded(lambda cache: [key for key in cache.iterkeys() if type(key) is str])

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` (a tree :func:`~ttv_core.run.codec.encode` takes) under ``key``.

        Raises :class:`CacheFullError` when the disk is full; nothing of the value stays behind then.
        """
        blob = encode(value)

        def write(cache: diskcache.Cache) -> None:
            with cache.disk.new_file_removed_on_failure():
                cache.set(key, blob)

        with self._no_space(len(blob)):
            self._guarded(write)

    def get_or_compute(self, key: str, compute: Callable[[], T], *, store: Callable[[T], bool] | None = None) -> tuple[T, bool]:
        """Return ``(value, was_cached)``, computing and storing the value if no process has yet.

        ``store(value)`` may veto storing (e.g. for a result cut short by a cancel request).
        """
        value = self._read(key)
        if value is not _MISSING:
            return value, True
        with FileLock(str(self._locks / f"{key}.lock")):
            value = self._read(key)  # another process may have finished meanwhile
            if value is not _MISSING:
                return value, True
            value = compute()
            if store is None or store(value):
                self.put(key, value)
            return value, False

    def close(self) -> None:
        cache = self._current[0]
        if cache is not None:
            cache.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.root
