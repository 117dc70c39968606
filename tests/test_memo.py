"""The result store: canonical keys, compute once across processes, nothing half-written."""

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from ttv_core.run.store import ResultStore, result_key


def test_keys_are_canonical_and_sensitive():
    assert result_key("epoch", a=1, b={"x": 1, "y": 2}) == result_key("epoch", b={"y": 2, "x": 1}, a=1)
    assert result_key("epoch", a=1) != result_key("epoch", a=2)
    assert result_key("epoch", a=1) != result_key("figures", a=1)
    assert result_key("epoch", a=1, b=None) != result_key("epoch", a=1)  # a default left out would collide


def test_second_call_is_a_cache_hit(cache_dir):
    calls = []
    with ResultStore(cache_dir) as store:
        assert store.get_or_compute("k", lambda: calls.append(1) or 42) == (42, False)
        assert store.get_or_compute("k", lambda: calls.append(1) or 43) == (42, True)
    with ResultStore(cache_dir) as reopened:  # persists across store objects (and processes)
        assert reopened.get_or_compute("k", lambda: 44) == (42, True)
    assert calls == [1]


def test_vetoed_or_failed_results_are_not_stored(cache_dir):
    with ResultStore(cache_dir) as store:
        assert store.get_or_compute("cut-short", lambda: 1, store=lambda value: False) == (1, False)
        assert "cut-short" not in store

        def broken():
            raise RuntimeError("killed")

        with pytest.raises(RuntimeError):
            store.get_or_compute("broken", broken)
        assert "broken" not in store
        assert store.get_or_compute("broken", lambda: 2) == (2, False)  # the lock was released


def _slow_compute(cache_dir: str, marker_dir: str, results) -> None:
    def compute():
        Path(marker_dir, f"computed-{os.getpid()}").touch()
        time.sleep(1.0)
        return "value"

    with ResultStore(cache_dir) as store:
        results.put(store.get_or_compute("shared", compute))


def test_two_processes_on_one_key_compute_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(target=_slow_compute, args=(str(tmp_path / "cache"), str(tmp_path), results)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted([results.get(timeout=60), results.get(timeout=60)], key=lambda item: item[1])
    for worker in workers:
        worker.join(timeout=60)
    assert [value for value, _ in outcomes] == ["value", "value"]
    assert [cached for _, cached in outcomes] == [False, True]
    assert len(list(tmp_path.glob("computed-*"))) == 1
