"""The dashboard's job registry, without Streamlit: shared jobs, progress, a real stop, errors kept."""

import os
import time

import pytest

import ttv_core
from ttv_core.app.jobs import JobRegistry, job_key
from helpers import make_small_run, wait_for
from ttv_core.config import VisConfig

TINY = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=2, layout_epochs=20, warm_max_passes=2, resolution=24)
SLOW = TINY.replace(max_passes=500, layout_epochs=2000, patience=1000)  # long enough to be stopped mid-epoch


@pytest.fixture(scope="module")
def dynamics(tmp_path_factory):
    return ttv_core.load_dynamics(make_small_run(tmp_path_factory.mktemp("runs") / "tiny", epochs=(1, 2, 3, 4),
                                                 n_train=60, n_test=20))


def test_same_key_shares_one_job(dynamics, registry, cache_dir):
    key = job_key(dynamics, "proxy", TINY, None)
    first = registry.submit(key, dynamics, "proxy", TINY, None, cache_dir)
    second = registry.submit(key, dynamics, "proxy", TINY, None, cache_dir)
    assert first is second
    wait_for(first)
    assert registry.submit(key, dynamics, "proxy", TINY, None, cache_dir) is first  # a finished job too


def test_a_job_finishes_every_epoch_and_reports_time(dynamics, registry, cache_dir):
    job = wait_for(registry.submit(job_key(dynamics, "proxy", TINY, [3, 4]), dynamics, "proxy", TINY, [3, 4],
                                   cache_dir))
    assert job.status == "done", job.error
    assert sorted(job.epochs) == [1, 2, 3, 4]  # the chain starts at the run's first epoch
    assert set(job.epochs.values()) <= {"done", "cached"}
    assert job.progress == 1.0 and job.eta is None  # ended: no time left to show
    assert 0 < job.elapsed and set(job.seconds) == {1, 2, 3, 4}
    assert set(job.passes) == {1, 2, 3, 4} and all(n >= 1 for n in job.passes.values())  # progress inside epochs


def test_stop_ends_a_running_job_before_it_finishes(dynamics, registry, cache_dir):
    job = registry.submit(job_key(dynamics, "proxy", SLOW, None), dynamics, "proxy", SLOW, None, cache_dir)
    deadline = time.time() + 20
    while job.epochs[1] != "computing" and time.time() < deadline:
        time.sleep(0.01)
    assert job.epochs[1] == "computing"
    asked = time.monotonic()
    job.stop()
    wait_for(job, timeout=10)
    assert job.status == "stopped"
    assert time.monotonic() - asked < 3  # within a second or so: the fit's process is ended if it lingers
    assert job.progress < 1.0
    assert "computing" not in job.epochs.values()


def test_a_fit_that_kills_its_process_fails_the_job_and_leaves_the_server(dynamics, registry, cache_dir):
    from helpers import DyingRun

    dying = DyingRun(dynamics.folder, location=str(dynamics.location) + "#dying")
    config = TINY.replace(seed=7)
    job = wait_for(registry.submit(job_key(dying, "proxy", config, [2]), dying, "proxy", config, [2], cache_dir))
    assert job.status == "failed" and "ended unexpectedly (exit code 3)" in job.error  # this process lives on
    assert job.epochs[1] == "done" and job.epochs[2] == "waiting"


def test_a_chain_already_in_the_cache_starts_no_worker(dynamics, registry, cache_dir, monkeypatch):
    config = TINY.replace(seed=11)
    assert wait_for(registry.submit(job_key(dynamics, "proxy", config, [2]), dynamics, "proxy", config, [2],
                                    cache_dir)).status == "done"

    def no_worker(*args, **kwargs):
        raise AssertionError("every map is cached: no process to start")

    monkeypatch.setattr("ttv_core.app.jobs.multiprocessing.get_context", no_worker)
    again = wait_for(registry.submit(job_key(dynamics, "proxy", config, [1]), dynamics, "proxy", config, [1], cache_dir))
    assert again.status == "done", again.error
    assert again.epochs == {1: "cached"}


def test_a_failing_job_reports_its_message(dynamics, registry, cache_dir):
    job = wait_for(registry.submit(job_key(dynamics, "proxy", TINY, [99]), dynamics, "proxy", TINY, [99], cache_dir))
    assert job.status == "failed"
    assert "epoch 99 is not in" in job.error
    unknown = wait_for(registry.submit(job_key(dynamics, "nope", TINY, None), dynamics, "nope", TINY, None, cache_dir))
    assert unknown.status == "failed" and "'method'" in unknown.error


def test_generation_grows_with_every_epoch_and_old_finished_jobs_are_forgotten(dynamics):
    registry = JobRegistry(keep_finished=1)
    try:
        before = registry.generation
        first = registry.submit(job_key(dynamics, "proxy", TINY, [2]), dynamics, "proxy", TINY, [2])
        wait_for(first)
        assert registry.generation >= before + 3  # two epochs and the end
        assert registry.get(first.key) is first  # still shown: within keep_finished
        other = TINY.replace(seed=1)
        second = registry.submit(job_key(dynamics, "proxy", other, [1]), dynamics, "proxy", other, [1])
        wait_for(second)
        assert registry.get(second.key) is second and registry.get(first.key) is None
    finally:
        registry.shutdown()


def test_the_latest_fit_of_a_run_is_found_with_its_configuration(dynamics, registry, cache_dir):
    location = str(dynamics.location)
    assert registry.latest_fit(location) is None
    other = TINY.replace(seed=3)
    first = registry.submit(job_key(dynamics, "proxy", TINY, [1]), dynamics, "proxy", TINY, [1], cache_dir)
    second = registry.submit(job_key(dynamics, "umap", other, [1]), dynamics, "umap", other, [1], cache_dir)

    assert registry.latest_fit(location) is second and second.config == other
    assert registry.latest_fit(location, "proxy") is first and first.config == TINY
    assert registry.latest_fit(location, "al") is None and registry.latest_fit("/elsewhere") is None
    wait_for(first), wait_for(second)


def test_ast_parse_is_safe_while_jobs_run_in_threads():
    """CPython 3.11.7's race (python/cpython#106905), provoked: two threads parse while the GC runs a
    finalizer that switches threads mid-parse. With the registry's guard no parse fails."""
    import ast
    import sys
    import threading
    from pathlib import Path

    JobRegistry().shutdown()  # a registry installs the guard where the interpreter needs it
    source = Path(__file__).read_text()
    errors, switch = [], sys.getswitchinterval()

    class Cycle:
        def __del__(self):
            time.sleep(0)  # lets the other thread run

    def parse_often():
        for _ in range(150):
            cycle = Cycle()
            cycle.me = cycle  # collected by whichever thread's allocation triggers the GC
            try:
                ast.parse(source)
            except SystemError as error:
                errors.append(str(error))
                return

    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=parse_often) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(switch)
    assert errors == []


def test_epochs_a_dead_worker_stored_count_as_done_even_if_its_messages_were_lost(dynamics, registry, cache_dir):
    from ttv_core.config import Runtime

    config = TINY.replace(seed=13)
    job = wait_for(registry.submit(job_key(dynamics, "proxy", config, [2]), dynamics, "proxy", config, [2], cache_dir))
    job.epochs.update({1: "waiting", 2: "computing"})  # as if the process died before its queue was flushed
    job._reconcile(dynamics, "proxy", config, cache_dir, Runtime())
    assert job.epochs == {1: "done", 2: "done"}


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_ending_a_fit_ends_the_processes_it_started(tmp_path):
    """A Stop (or the end of a fit) ends what the fit's process started: local stretch workers outlived
    a plain terminate of their parent and computed on."""
    import multiprocessing

    from helpers import leader_with_a_child
    from ttv_core.app.jobs import _end_group

    pid_file = tmp_path / "child.pid"
    worker = multiprocessing.get_context("spawn").Process(target=leader_with_a_child, args=(str(pid_file),))
    worker.start()
    deadline = time.time() + 30
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    _end_group(worker)
    worker.join(timeout=10)

    def gone(pid: int) -> bool:  # reaped by init once its parent is gone
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    deadline = time.time() + 10
    while not gone(child) and time.time() < deadline:
        time.sleep(0.1)
    assert not worker.is_alive() and gone(child)
