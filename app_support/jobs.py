"""Background training for the dashboard: a process-wide registry of fitting jobs.

A page submits work and polls the returned :class:`Job`; training runs on a worker thread that never
touches Streamlit. Jobs are keyed by what they compute (run, method, epochs, configuration), so two
sessions asking for the same work share one job instead of training twice. One worker: the target
machine has two cores and training already keeps one busy.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ttv_core import TTVError
from ttv_core.config import VisConfig
from ttv_core.visualize import EpochProgress, Visualization

JobKey = tuple[str, str, tuple[int, ...], str]
REUSABLE = ("queued", "running", "done")  # a stopped or failed job is replaced by a new submit


def job_key(dynamics: Any, method: str, config: VisConfig, epochs: list[int] | None) -> JobKey:
    """What a job computes: (run location, method, asked epochs, configuration key)."""
    asked = tuple(sorted(int(e) for e in (epochs or dynamics.epochs)))
    return str(dynamics.location), method, asked, config.key()


@dataclass
class Job:
    """One fit of a run's maps, shared and polled by pages.

    ``epochs`` maps every epoch the fit goes through (the chain starts at the run's first epoch, since
    each map is warm-started from the one before) to "waiting", "computing", "cached" or "done".
    Fields are written by the worker thread only and read by pages; reads need no lock.
    """

    key: JobKey
    epochs: dict[int, str]
    status: str = "queued"  # "queued", "running", "done", "stopped" or "failed"
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    seconds: dict[int, float] = field(default_factory=dict)  # computed (not cached) epochs only
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _changed: Callable[[], None] = field(default=lambda: None, repr=False)  # the registry's generation bump

    def stop(self) -> None:
        """Ask the job to stop; training polls this, and an epoch cut short is not stored."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def completed(self) -> int:
        return sum(state in ("cached", "done") for state in self.epochs.values())

    @property
    def progress(self) -> float:
        """Share of epochs finished (computed or read from the cache), in [0, 1]."""
        return self.completed / len(self.epochs) if self.epochs else 1.0

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished); 0 while queued."""
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left: mean time of the computed epochs x epochs left; None before one is computed."""
        if not self.active:
            return 0.0
        if not self.seconds:
            return None
        return sum(self.seconds.values()) / len(self.seconds) * (len(self.epochs) - self.completed)

    # -- worker side -------------------------------------------------------------------------------
    def _epoch_started(self, epoch: int) -> None:
        self.epochs[epoch] = "computing"

    def _epoch_ended(self, progress: EpochProgress) -> None:
        if progress.status == "computed":
            self.seconds[progress.epoch] = progress.seconds
        self.epochs[progress.epoch] = "done" if progress.status == "computed" else "cached"
        self._changed()

    def _run(self, dynamics: Any, method: str, config: VisConfig, cache_dir: Any) -> None:
        """The worker's body: fit, record progress, and keep every error here, out of the UI thread."""
        if self.stop_requested:  # stopped while queued
            self.status, self.finished = "stopped", time.time()
            return
        self.status, self.started = "running", time.time()
        try:
            visualization = Visualization(dynamics, method, config, cache_dir).fit(
                list(self.key[2]), on_epoch_start=self._epoch_started, on_epoch_end=self._epoch_ended,
                should_stop=self._stop.is_set)
            self.status = "stopped" if visualization.cancelled_ else "done"
        except TTVError as error:
            self.status, self.error = "failed", str(error)
        except Exception as error:  # a bug in ttv: still shown as a message, never raised into the page
            self.status, self.error = "failed", f"{type(error).__name__}: {error}"
        finally:
            self.epochs.update({e: "waiting" for e, s in self.epochs.items() if s == "computing"})
            self.finished = time.time()
            self._changed()


class JobRegistry:
    """Process-wide jobs by key, run one at a time on a worker thread.

    ``generation`` grows whenever a job finishes an epoch or ends, so views that read the cache know
    when to read it again. Finished jobs are kept for their pages to show, at most ``keep_finished``
    of them (the oldest go first); their results stay in the cache either way.
    """

    def __init__(self, max_workers: int = 1, keep_finished: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ttv-job")
        self._lock = threading.Lock()
        self._jobs: dict[JobKey, Job] = {}
        self.keep_finished = keep_finished
        self.generation = 0

    def _bump(self) -> None:
        with self._lock:
            self.generation += 1
            self._evict()

    def _evict(self) -> None:
        """Forget the oldest finished jobs beyond ``keep_finished`` (caller holds the lock)."""
        finished = sorted((job for job in self._jobs.values() if not job.active), key=lambda job: job.finished or 0)
        for job in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job.key]

    def get(self, key: JobKey | None) -> Job | None:
        with self._lock:
            return self._jobs.get(key) if key is not None else None

    def submit(self, key: JobKey, dynamics: Any, method: str, config: VisConfig, epochs: list[int] | None,
               cache_dir: Any = None) -> Job:
        """The job for ``key``: the existing one if it is queued, running or done, else a new one."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status in REUSABLE:
                return job
            last = max(int(e) for e in (epochs or dynamics.epochs))
            chain = [int(e) for e in dynamics.epochs if int(e) <= last] or [last]
            job = Job(key, {e: "waiting" for e in chain}, _changed=self._bump)
            self._jobs[key] = job
            self._pool.submit(job._run, dynamics, method, config, cache_dir)
            return job

    def shutdown(self) -> None:
        """Stop every job and wait for the worker (tests; the server keeps its registry)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        self._pool.shutdown(wait=True)
