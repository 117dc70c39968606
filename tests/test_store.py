"""The result store never runs what it reads, and heals a damaged cache instead of failing on it."""

import errno
import os
import sqlite3
from pathlib import Path

import diskcache
import numpy as np
import pytest

import ttv_core.run.store as store_module
from ttv_core.errors import ConfigError, TTVError
from ttv_core.run.codec import MAGIC
from ttv_core.run.store import CacheFullError, CacheWarning, ResultStore
from ttv_core.run.visualize import EpochResult

LARGE = 200_000  # bytes: above diskcache's 32 KB, so the value is written as a file of its own


def _result(n_samples=100, key="k"):
    embeddings = {"train": np.random.default_rng(0).normal(size=(n_samples, 2)).astype(np.float32)}
    return EpochResult(1, "proxy", key, embeddings, {"weights": {"w": np.ones((4, 4), np.float32)}, "dim": 4})


def _folder(cache_dir: Path) -> Path:
    return cache_dir / "results" / "store"


def _value_files(cache_dir: Path) -> list[Path]:
    return sorted(_folder(cache_dir).rglob("*.val"))


class Planted:
    """A value whose unpickling runs a shell command: what a shared cache folder must never execute."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_values_are_stored_as_arrays_and_json_never_as_pickles(cache_dir):
    with ResultStore(cache_dir) as store:
        store.put("small", {"figure": 0.5})
        store.put("large", _result(LARGE // 8))
    with sqlite3.connect(_folder(cache_dir) / "cache.db") as db:
        rows = db.execute("SELECT key, raw, mode, filename, value FROM Cache ORDER BY key").fetchall()
    assert [(key, raw, mode) for key, raw, mode, _, _ in rows] == [("large", 1, 2), ("small", 1, 1)]  # raw bytes
    assert rows[1][4].startswith(MAGIC)
    assert (_folder(cache_dir) / rows[0][3]).read_bytes().startswith(MAGIC)


@pytest.mark.parametrize("size", [10, LARGE], ids=["in the database", "in a file"])
def test_a_planted_pickle_never_runs_and_is_computed_again(cache_dir, tmp_path, size):
    marker = tmp_path / "pwned"
    with ResultStore(cache_dir):
        pass
    with diskcache.Cache(str(_folder(cache_dir))) as plain:  # what anyone who can write the folder could do
        plain.set("key", [Planted(marker), "x" * size])
        plain.set((Planted(marker),), "a pickled key")
        assert plain.get("key") and marker.exists()  # the plant is live: unpickling it runs the command
    marker.unlink()
    with ResultStore(cache_dir) as store:
        assert store.keys() == ["key"]  # the pickled key is neither unpickled nor listed
        with pytest.warns(CacheWarning, match="stored as a pickle"):
            assert store.get_or_compute("key", lambda: "computed") == ("computed", False)
        assert store.get("key") == "computed"
        with diskcache.Cache(str(_folder(cache_dir))) as plain:  # planted while the store is open
            plain.set("other", Planted(marker))
        with pytest.warns(CacheWarning, match="stored as a pickle"):
            assert store.get("other", "default") == "default"
        assert "other" not in store  # dropped
    assert not marker.exists()


def test_a_row_of_another_kind_is_dropped(cache_dir):
    with ResultStore(cache_dir):
        pass
    with diskcache.Cache(str(_folder(cache_dir))) as plain:
        plain.set("number", 7)  # stored raw, but not by ttv's codec
        plain.set("text", "y" * LARGE)  # diskcache's text mode
    with ResultStore(cache_dir) as store, pytest.warns(CacheWarning, match="dropped a damaged entry"):
        assert store.get("number") is None
        assert store.get_or_compute("text", lambda: 3) == (3, False)


def test_a_damaged_value_is_dropped_and_computed_again(cache_dir):
    with ResultStore(cache_dir) as store:
        store.put("cut", _result(LARGE // 8))
    (file,) = _value_files(cache_dir)
    file.write_bytes(file.read_bytes()[: LARGE // 2])  # a value cut short
    with diskcache.Cache(str(_folder(cache_dir))) as plain:
        plain.set("garbage", b"\x00 not a ttv value")
    fresh = _result(10, "fresh")
    with ResultStore(cache_dir) as store:
        with pytest.warns(CacheWarning, match=rf"{_folder(cache_dir)}: dropped a damaged entry .*cut short"):
            value, cached = store.get_or_compute("cut", lambda: fresh)
        assert not cached and value is fresh
        assert store.get("cut").key == "fresh"  # stored again, readable
        with pytest.warns(CacheWarning, match="no ttv-res1 header"):
            assert store.get("garbage", "default") == "default"
        assert "garbage" not in store
    assert len(_value_files(cache_dir)) == 0  # the small new value lives in the database; the cut file is gone


def test_a_damaged_database_is_moved_aside_and_a_new_one_started(cache_dir):
    with ResultStore(cache_dir) as store:
        store.put("k", 1)
    database = _folder(cache_dir) / "cache.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"this is not a database " * 200)
    with pytest.warns(CacheWarning, match=r"database was damaged \(file is not a database\); moved it to .*store\.damaged-"):
        store = ResultStore(cache_dir)
    with store:
        assert store.keys() == []
        assert store.get_or_compute("k", lambda: 2) == (2, False)
    (aside,) = (cache_dir / "results").glob("store.damaged-*")
    assert (aside / "cache.db").read_bytes().startswith(b"this is not a database")  # kept for the user to look at
    with ResultStore(cache_dir) as store:  # the new one persists
        assert store.get("k") == 2


def test_damage_found_while_open_is_repaired(cache_dir, monkeypatch):
    with ResultStore(cache_dir) as store:
        store.put("k", 1)
        real_get, calls = diskcache.Cache.get, []

        def malformed_once(cache, *args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise sqlite3.DatabaseError("database disk image is malformed")
            return real_get(cache, *args, **kwargs)

        monkeypatch.setattr(diskcache.Cache, "get", malformed_once)
        with pytest.warns(CacheWarning, match="malformed.*moved it to"):
            assert store.get("k", "default") == "default"
        store.put("k", 3)
        assert store.get("k") == 3
    assert len(list((cache_dir / "results").glob("store.damaged-*"))) == 1


def test_a_second_store_finding_the_damage_does_not_move_the_new_database_aside(cache_dir, monkeypatch):
    first, second = ResultStore(cache_dir), ResultStore(cache_dir)  # two processes' stores, say
    real_get, damaged = diskcache.Cache.get, {first._cache, second._cache}

    def malformed_on_the_old_database(cache, *args, **kwargs):
        if cache in damaged:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return real_get(cache, *args, **kwargs)

    monkeypatch.setattr(diskcache.Cache, "get", malformed_on_the_old_database)
    with pytest.warns(CacheWarning, match="moved it to"):
        assert first.get("k") is None
    first.put("k", "after the repair")
    assert second.get("k") == "after the repair"  # reopened the new database rather than moving it aside too
    assert len(list((cache_dir / "results").glob("store.damaged-*"))) == 1
    first.close()
    second.close()


@pytest.mark.parametrize("name", ["results", "results/store", "results/locks"])
def test_a_file_where_a_cache_folder_should_be_is_named_not_deleted(cache_dir, name):
    path = cache_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the user's own notes")
    with pytest.raises(ConfigError, match=rf"{path} is a file where ttv keeps a folder .* choose another --cache-dir"):
        ResultStore(cache_dir)
    assert path.read_text() == "the user's own notes"


def test_a_full_disk_stops_with_a_message_and_leaves_nothing_half_written(cache_dir, monkeypatch):
    started = []

    def full_disk_open(path, mode="r", **kwargs):
        handle = open(path, mode, **kwargs)
        started.append(Path(path))

        class Full:  # takes a little, then the disk is full
            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                handle.close()

            def write(self, chunk):
                handle.write(chunk[:1000])
                raise OSError(errno.ENOSPC, "No space left on device")

        return Full()

    with ResultStore(cache_dir) as store:
        monkeypatch.setattr(store_module, "open", full_disk_open, raising=False)
        with pytest.raises(CacheFullError, match=rf"^no space left on device in {cache_dir}: free 2 MB or choose "
                                                 r"another --cache-dir$") as caught:
            store.get_or_compute("big", lambda: _result(200_000))  # 1.6 MB of embeddings
        assert isinstance(caught.value, TTVError)
        assert started and not started[0].exists()  # the partial file was begun, then removed
        assert _value_files(cache_dir) == [] and "big" not in store
        monkeypatch.undo()
        assert store.get_or_compute("big", lambda: _result(200_000))[1] is False  # space again: it is stored
        assert len(_value_files(cache_dir)) == 1


def test_a_full_database_leaves_no_orphaned_file(cache_dir, monkeypatch):
    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    with ResultStore(cache_dir) as store:
        store.put("kept", _result(LARGE // 8))
        monkeypatch.setattr(diskcache.Cache, "_row_insert", full)
        with pytest.raises(CacheFullError, match="free 1 MB"):
            store.put("new", _result(LARGE // 8))
        assert len(_value_files(cache_dir)) == 1  # the earlier value's file only
        assert store.get("kept").embeddings["train"].shape == (LARGE // 8, 2)


def test_keys_must_be_strings(cache_dir):
    with ResultStore(cache_dir) as store, pytest.raises(TypeError, match="keys are strings"):
        store.put(("a", 1), 1)
