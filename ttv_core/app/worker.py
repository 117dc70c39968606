"""The body of a fit's worker process (:class:`ttv_core.app.jobs.Job`): the part that runs in the
spawned process, apart from the job that relays its messages in the server."""

from __future__ import annotations

import dataclasses

from ttv_core import TTVError
from ttv_core.run.visualize import Visualization

STOP_GRACE = 1.0  # seconds a fit may take to stop by itself after Stop before its process is terminated


def _fit_in_worker(dynamics, method, config, cache_dir, runtime, epochs, messages, stop) -> None:
    """A worker process's body: fit, sending ("start", epoch), ("end", progress), then how it ended."""
    try:
        visualization = Visualization(dynamics, method, config, cache_dir, runtime).fit(
            epochs, on_epoch_start=lambda epoch: messages.put(("start", epoch)),
            on_epoch_end=lambda progress: messages.put(("end", dataclasses.asdict(progress))),
            on_pass_end=lambda epoch, losses: messages.put(("pass", epoch)), should_stop=stop.is_set)
        messages.put(("finished", "stopped" if visualization.cancelled_ else "done"))
    except TTVError as error:
        messages.put(("failed", str(error)))
    except BaseException as error:  # a bug in ttv: reported as a message, never a dead job without one
        messages.put(("crashed", f"{type(error).__name__}: {error}"))
