"""Background work for the dashboard: a process-wide registry of fitting and evaluation jobs.

A page submits work and polls the returned job; the work runs off the page, never touching Streamlit:
a fit in a worker process of its own (spawned, so torch's thread settings, its seed and numba's
compilation stay out of the server, a crash cannot take the server down, and Stop ends it within about
a second), relayed by a thread that turns the process's messages into the job's progress; figures on
a worker thread. Jobs are keyed by what they compute (run, method, epochs, configuration), so two sessions
asking for the same work share one job instead of doing it twice. The kinds:

- :class:`Job` fits a run's maps (minutes). One worker: the target machine has two cores and training
  already keeps one busy.
- :class:`FigureJob` evaluates the faithfulness figures of the maps already cached (a quarter of a second
  per demo epoch for proxy and umap, one to two for al: too long to block a page), on a worker of its
  own, so the figures of the epochs trained so far do not wait for training to end.
- :class:`ttv_core.app.framejob.FrameJob` renders the animation's frames (seconds per epoch on a large
  run), on a worker of its own too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ttv_core import TTVError
from ttv_core.config import Runtime, VisConfig
from ttv_core.run.visualize import EpochProgress, Visualization

from .worker import STOP_GRACE, _fit_in_worker, serialize_ast_parse

JobKey = tuple[str, str, tuple[int, ...], str]
FigureKey = tuple[str, str, str, tuple[int, ...], str]
REUSABLE = ("queued", "running", "done")  # a stopped or failed job is replaced by a new submit
# Pages ask for figures on every run, unprompted: a failed evaluation (a damaged epoch) is kept, not retried
# each time, since it would fail again. New maps make a new key, hence a new job.
FIGURE_REUSABLE = REUSABLE + ("failed",)


def job_key(dynamics: Any, method: str, config: VisConfig, epochs: list[int] | None) -> JobKey:
    """What a job computes: (run location, method, asked epochs, configuration key)."""
    asked = tuple(sorted(int(e) for e in (epochs or dynamics.epochs)))
    return str(dynamics.location), method, asked, config.key()


def figure_key(visualization: Visualization) -> FigureKey:
    """What a figure job evaluates: ("figures", run location, method, epochs with a map, configuration key)."""
    return ("figures", str(visualization.dynamics.location), visualization.method,
            tuple(sorted(visualization.results_)), visualization.config.key())


def cached_figures(visualization: Visualization) -> dict[int, dict[str, Any] | None]:
    """The figures of every epoch with a map that are already in the cache (None for the others).

    Never computes: this is how a page shows cached figures at once.
    """
    return {epoch: visualization.figures(epoch, compute=False) for epoch in sorted(visualization.results_)}


@dataclass
class _Work:
    """What every job shares: its key, a status, timing, a stop flag and a callback to the registry.

    Fields are written by the worker thread only and read by pages; reads need no lock.
    """

    key: tuple
    status: str = field(default="queued", kw_only=True)  # "queued", "running", "done", "stopped" or "failed"
    error: str | None = field(default=None, kw_only=True)
    started: float | None = field(default=None, kw_only=True)
    finished: float | None = field(default=None, kw_only=True)
    seconds: dict[int, float] = field(default_factory=dict, kw_only=True)  # epochs computed (not cached) only
    _stop: threading.Event = field(default_factory=threading.Event, repr=False, kw_only=True)
    planned: float | None = field(default=None, kw_only=True)  # forecast seconds (app/estimate.py), if any
    _changed: Callable[[], None] = field(default=lambda: None, repr=False, kw_only=True)

    @property
    def total(self) -> int:
        raise NotImplementedError

    @property
    def completed(self) -> int:
        raise NotImplementedError

    def stop(self) -> None:
        """Ask the job to stop; the worker polls this, and an epoch cut short is not stored."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def active(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def progress(self) -> float:
        """Share of epochs finished (computed or read from the cache), in [0, 1]."""
        return self.completed / self.total if self.total else 1.0

    @property
    def elapsed(self) -> float:
        """Seconds since the job started (until it finished); 0 while queued."""
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def eta(self) -> float | None:
        """Seconds left: mean time of the computed epochs x epochs left; before one is computed, what is
        left of the forecast ``planned`` (None without one); None once the job ended."""
        if not self.active:
            return None
        if not self.seconds:
            return None if self.planned is None else max(self.planned - self.elapsed, 0.0)
        return sum(self.seconds.values()) / len(self.seconds) * (self.total - self.completed)

    def _run(self, *args: Any) -> None:
        """The worker's body: do the work, and keep every error here, out of the UI thread."""
        if self.stop_requested:  # stopped while queued
            self.status, self.finished = "stopped", time.time()
            return
        self.status, self.started = "running", time.time()
        status = "failed"
        try:
            status = self._work(*args)
        except TTVError as error:
            self.error = str(error)
        except Exception as error:  # a bug in ttv: still shown as a message, never raised into the page
            self.error = f"{type(error).__name__}: {error}"
        finally:  # settled first: a page that sees the job ended sees no epoch still in progress
            self._settle()
            self.finished = time.time()
            self.status = status
            self._changed()

    def _work(self, *args: Any) -> str:
        """Do the job; return the final status, "done" or "stopped"."""
        raise NotImplementedError

    def _settle(self) -> None:
        """Leave no epoch marked as in progress once the worker is gone."""


@dataclass
class Job(_Work):
    """One fit of a run's maps, shared and polled by pages.

    ``epochs`` maps every epoch the fit goes through (the chain starts at the run's first epoch, since
    each map is warm-started from the one before) to "waiting", "computing", "cached" or "done".
    """

    epochs: dict[int, str]
    config: VisConfig | None = field(default=None, kw_only=True)
    passes: dict[int, int] = field(default_factory=dict, kw_only=True)  # training passes done, per epoch
    created: float = field(default_factory=time.time, kw_only=True)

    @property
    def total(self) -> int:
        return len(self.epochs)

    @property
    def completed(self) -> int:
        return sum(state in ("cached", "done") for state in self.epochs.values())

    # -- worker side -------------------------------------------------------------------------------
    def _epoch_started(self, epoch: int) -> None:
        self.epochs[epoch] = "computing"

    def _epoch_ended(self, progress: EpochProgress) -> None:
        if progress.status == "computed":
            self.seconds[progress.epoch] = progress.seconds
        self.epochs[progress.epoch] = "done" if progress.status == "computed" else "cached"
        self._changed()

    def _work(self, dynamics: Any, method: str, config: VisConfig, cache_dir: Any, runtime: Runtime) -> str:
        """Run the fit in a worker process and relay its messages; a stop asked for ends it within
        STOP_GRACE seconds (a graceful stop after the current pass, else the process is terminated:
        each epoch's map is stored atomically, so nothing half-written is left)."""
        # What the cache holds is read here at once: progress shows without waiting ~3 s for a worker
        # to import torch, and a chain that is all cached (or settings the run cannot take) needs none.
        cached = Visualization(dynamics, method, config, cache_dir, runtime).fit(
            list(self.key[2]), on_epoch_end=self._epoch_ended, compute=False)
        if not cached.missing_:
            return "done"
        # spawn: never fork a server with threads and torch in it. A spawned process imports the parent's
        # __main__ again (Streamlit's is guarded): a script using this registry needs `if __name__ == "__main__":`.
        context = multiprocessing.get_context("spawn")
        messages, stop = context.Queue(), context.Event()
        worker = context.Process(target=_fit_in_worker, name="ttv-fit", daemon=True,
                                 args=(dynamics, method, config, cache_dir, runtime, list(self.key[2]), messages, stop))
        worker.start()
        try:
            return self._relay(worker, messages, stop)
        finally:
            _end_group(worker)  # the fit and whatever it started (local stretch workers)
            worker.join(timeout=5)
            messages.close()
            self._reconcile(dynamics, method, config, cache_dir, runtime)

    def _reconcile(self, dynamics: Any, method: str, config: VisConfig, cache_dir: Any, runtime: Runtime) -> None:
        """Once the worker has ended, mark done every epoch the cache holds: a dying process can lose its
        last messages (a thread of its own flushes the queue), never a map it stored."""
        stored = Visualization(dynamics, method, config, cache_dir, runtime).fit(list(self.key[2]), compute=False)
        self.epochs.update({e: "done" for e in stored.results_ if self.epochs.get(e) not in ("done", "cached")})

    def _relay(self, worker, messages, stop) -> str:
        stop_asked = None
        while True:
            if self._stop.is_set() and stop_asked is None:
                stop.set()
                stop_asked = time.monotonic()
            if stop_asked is not None and time.monotonic() - stop_asked > STOP_GRACE:
                _end_group(worker)
                return "stopped"
            try:
                kind, value = messages.get(timeout=0.1)
            except queue.Empty:
                if not worker.is_alive() and messages.empty():
                    if stop_asked is not None:
                        return "stopped"
                    raise RuntimeError(f"the fit's worker process ended unexpectedly (exit code {worker.exitcode}); "
                                       "what it printed is in the server's log")
                continue
            if kind == "start":
                self._epoch_started(value)
            elif kind == "pass":
                self.passes[value] = self.passes.get(value, 0) + 1
            elif kind == "end":
                self._epoch_ended(EpochProgress(**value))
            elif kind == "failed":
                raise TTVError(value)
            elif kind == "crashed":
                raise RuntimeError(value)
            else:  # "finished"
                return value

    def _settle(self) -> None:
        self.epochs.update({e: "waiting" for e, s in self.epochs.items() if s == "computing"})


def _end_group(worker) -> None:
    """End a fit's worker process and every process it started: it leads a process group of its own
    (``worker._fit_in_worker``), and local stretch workers outlived a plain terminate, computing on."""
    if hasattr(os, "killpg"):  # no such group while the process is still starting: then terminate alone
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(worker.pid, signal.SIGTERM)
    if worker.is_alive():
        worker.terminate()


@dataclass
class FigureJob(_Work):
    """The faithfulness figures of one method's cached maps, evaluated epoch by epoch, then the run's.

    ``figures`` maps every epoch with a map to its :meth:`Visualization.figures` (None until
    evaluated; the cached ones are filled in when the job is made); ``temporal`` is the run's
    :func:`ttv_core.evaluate.figures.temporal_figures` over those epochs, set last. A stop takes effect
    between epochs.
    """

    figures: dict[int, dict[str, Any] | None]
    temporal: dict[str, Any] | None = None

    @property
    def total(self) -> int:
        return len(self.figures)

    @property
    def completed(self) -> int:
        return sum(figures is not None for figures in self.figures.values())

    def _work(self, visualization: Visualization) -> str:
        for epoch in [e for e, figures in self.figures.items() if figures is None]:
            if self.stop_requested:
                return "stopped"
            start = time.perf_counter()
            self.figures[epoch] = visualization.figures(epoch)
            self.seconds[epoch] = time.perf_counter() - start
            self._changed()
        if self.stop_requested:
            return "stopped"
        self.temporal = visualization.temporal()
        return "done"


def time_left(jobs: list[_Work]) -> float | None:
    """Seconds until ``jobs`` are all finished, run one after the other: every epoch left costs the mean
    time of its job's computed epochs (of all the jobs' while it has none); None before any is computed."""
    timed = [seconds for job in jobs for seconds in job.seconds.values()]
    if not timed:
        return None
    overall = sum(timed) / len(timed)
    return sum(job.eta if job.seconds else overall * (job.total - job.completed) for job in jobs if job.active)


class JobRegistry:
    """Process-wide jobs by key: fits one at a time on a worker thread, evaluations on another.

    ``generation`` grows whenever a fit stores an epoch's map or ends, so views that read the maps
    know when to read them again (figures, which no view reads from the cache while a job has them,
    leave it alone: the Territories page need not redraw for them). Finished jobs are kept for their
    pages to show, at most ``keep_finished`` of each kind (the oldest go first); their results stay in
    the cache either way.
    """

    def __init__(self, max_workers: int = 1, keep_finished: int = 32) -> None:
        serialize_ast_parse()  # before any worker thread exists
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ttv-job")
        self._figure_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttv-figures")
        self._frame_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ttv-frames")
        self._lock = threading.Lock()
        self._jobs: dict[tuple, Job | FigureJob] = {}
        self.keep_finished = keep_finished
        self.generation = 0

    def _bump(self) -> None:
        with self._lock:
            self.generation += 1
            self._evict()

    def _forget(self) -> None:
        with self._lock:
            self._evict()

    def _evict(self) -> None:
        """Forget the oldest finished jobs of each kind beyond ``keep_finished`` (caller holds the lock).

        By kind, so that the many short figure jobs never push a fit out before its page has shown it.
        """
        finished = sorted((job for job in self._jobs.values() if not job.active), key=lambda job: job.finished or 0)
        for kind in {type(job) for job in finished}:
            same = [job for job in finished if type(job) is kind]
            for job in same[: max(0, len(same) - self.keep_finished)]:
                del self._jobs[job.key]

    @property
    def busy(self) -> bool:
        """Whether any job is queued or running: views of the cache may change until it is not."""
        with self._lock:
            return any(job.active for job in self._jobs.values())

    def active_fits(self) -> list[Job]:
        """The fits queued or running on this server (they run one at a time)."""
        with self._lock:
            return [job for job in self._jobs.values() if isinstance(job, Job) and job.active]

    def get(self, key: tuple | None) -> Job | FigureJob | None:
        with self._lock:
            return self._jobs.get(key) if key is not None else None

    def latest_fit(self, location: str, method: str | None = None) -> Job | None:
        """The fit of the run at ``location`` (and of ``method``, if given) submitted last, if any: what a
        new session shows, e.g. a second browser tab opened while the first one trains."""
        with self._lock:
            fits = [job for job in self._jobs.values()
                    if isinstance(job, Job) and job.key[0] == location and method in (None, job.key[1])]
        return max(fits, key=lambda job: job.created, default=None)

    def submit(self, key: JobKey, dynamics: Any, method: str, config: VisConfig, epochs: list[int] | None,
               cache_dir: Any = None, runtime: Runtime | None = None, planned: float | None = None) -> Job:
        """The job for ``key``: the existing one if it is queued, running or done, else a new one
        (``planned``: its forecast seconds, shown as time left until an epoch is timed)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status in REUSABLE:
                return job
            last = max(int(e) for e in (epochs or dynamics.epochs))
            chain = [int(e) for e in dynamics.epochs if int(e) <= last] or [last]
            job = Job(key, {e: "waiting" for e in chain}, config=config, _changed=self._bump, planned=planned)
            self._jobs[key] = job
            self._pool.submit(job._run, dynamics, method, config, cache_dir, runtime or Runtime())
            return job

    def evaluate(self, visualization: Visualization) -> FigureJob:
        """The figure job of ``visualization``'s maps (fitted, e.g. with ``compute=False``): the existing
        one unless it was stopped, else a new one that starts with the cached figures."""
        return self.background(figure_key(visualization), lambda: FigureJob(figure_key(visualization),
                                                                            cached_figures(visualization)), visualization)

    def background(self, key: tuple, make: Callable[[], _Work], *args: Any) -> Any:
        """The job for ``key`` unless it was stopped, else ``make()`` (which may read the disk: it is
        called outside the lock every page polls) run with ``args`` on the worker thread of its kind
        (figures and frames have one each, so neither waits for the other nor for a fit)."""
        existing = self.get(key)
        if existing is not None and existing.status in FIGURE_REUSABLE:
            return existing
        made = make()
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.status in FIGURE_REUSABLE:  # another session made it meanwhile
                return job
            made._changed = self._forget
            self._jobs[key] = made
            pool = self._figure_pool if isinstance(made, FigureJob) else self._frame_pool
            pool.submit(made._run, *args)
            return made

    def stop_where(self, unwanted: Callable[[tuple], bool]) -> None:
        """Stop every active job whose key is ``unwanted`` (e.g. frames of a window no page shows now)."""
        with self._lock:
            for job in [job for key, job in self._jobs.items() if job.active and unwanted(key)]:
                job.stop()

    def shutdown(self) -> None:
        """Stop every job and wait for the workers (tests; the server keeps its registry)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.stop()
        self._pool.shutdown(wait=True)
        self._figure_pool.shutdown(wait=True)
        self._frame_pool.shutdown(wait=True)
