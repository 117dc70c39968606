"""The body of a fit's worker process (:class:`ttv_core.app.jobs.Job`): the part that runs in the
spawned process, apart from the job that relays its messages in the server; and the guard that lets
the server's job threads and Streamlit parse Python at the same time (:func:`serialize_ast_parse`)."""

from __future__ import annotations

import ast
import dataclasses
import functools
import os
import sys
import threading
import time
from typing import Any

from ttv_core import TTVError
from ttv_core.run.visualize import EpochProgress, Visualization

STOP_GRACE = 1.0  # seconds a fit may take to stop by itself after Stop before its process is terminated


def _fit_in_worker(dynamics, method, config, cache_dir, runtime, epochs, messages, stop) -> None:
    """A worker process's body: fit, sending ("start", epoch), ("end", progress), then how it ended.

    It goes through :func:`~ttv_core.run.fanout.fit_parallel` on the runtime's backend: with more than one
    stretch to fit and more than one worker allowed, the keyframes here, epoch by epoch, then each stretch's
    epochs when it lands (a Stop then ends this process, and with it the local workers; a cluster finishes
    its tasks unheard); otherwise everything here, epoch by epoch.
    """
    if hasattr(os, "setsid"):
        os.setsid()  # a group of its own: a Stop ends this process and every worker it starts (jobs._end_group)
    try:
        visualization = Visualization(dynamics, method, config, cache_dir, runtime)

        def report(progress: EpochProgress) -> None:
            messages.put(("end", dataclasses.asdict(progress)))

        from ttv_core.run.fanout import fit_parallel

        sent = [time.perf_counter()]

        def sending(todo: list[list[int]]) -> None:
            sent[0] = time.perf_counter()
            for stretch in todo:
                messages.put(("start", stretch[0]))

        def landed(stretch: list[int]) -> None:  # seconds: the stretch's share of the time since they were sent
            for epoch in stretch:
                report(EpochProgress(epoch, 0, len(epochs), "computed", (time.perf_counter() - sent[0]) / len(stretch)))

        visualization = fit_parallel(  # the maps go to the cache; this process holds none of their models (slim)
            visualization, epochs, on_epoch_end=report, on_stretches=sending, on_stretch_end=landed, slim=True,
            on_epoch_start=lambda epoch: messages.put(("start", epoch)), should_stop=stop.is_set,
            on_pass_end=lambda epoch, losses: messages.put(("pass", epoch)))
        messages.put(("finished", "stopped" if visualization.cancelled_ else "done"))
    except TTVError as error:
        messages.put(("failed", str(error)))
    except BaseException as error:  # a bug in ttv: reported as a message, never a dead job without one
        messages.put(("crashed", f"{type(error).__name__}: {error}"))


# CPython before 3.11.8 and 3.12.2 counts the AST constructor's recursion depth in global state, so two
# threads in ``ast.parse`` at once can fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). With jobs that happens: numba parses every function it compiles (umap-learn,
# pynndescent) while Streamlit parses a page script for its first run.
AST_PARSE_RACES = sys.version_info < (3, 11, 8) or (3, 12) <= sys.version_info < (3, 12, 2)


def serialize_ast_parse() -> None:
    """On those versions, let one thread at a time into ``ast.parse`` (idempotent, process-wide)."""
    if not AST_PARSE_RACES or getattr(ast.parse, "_ttv_serialized", False):
        return
    parse, lock = ast.parse, threading.RLock()  # re-entrant: a finalizer run by the GC mid-parse may parse too

    @functools.wraps(parse)
    def serialized(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return parse(*args, **kwargs)

    serialized._ttv_serialized = True
    ast.parse = serialized
