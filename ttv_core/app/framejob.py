"""Rendering an animation's frames in the background, the epoch shown first and outward from it.

At 60,000 samples an epoch's first frame costs about 0.6 s on 2 idle cores (its predictions 0.25 s,
its territory 0.2 s, the dots 0.15 s), so a 200-epoch run's frames take minutes (282 s in the
background of a page in use): the Territories page renders the epoch it shows itself (its first
picture waits for one frame), hands the rest to a :class:`FrameJob` and shows each frame as it lands. Frames, predictions and territories go to the result cache, so the
work is done once per map, window and style, whichever session asked for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ttv_core.draw.frames import FrameStyle
from ttv_core.run.frames import frame_key, frame_with_predictions, render_order
from ttv_core.run.visualize import Visualization

from .jobs import JobRegistry, _Work

__all__ = ["FrameJob", "frame_job", "frame_with_predictions", "render_order"]


@dataclass
class FrameJob(_Work):
    """The frames of one method's cached maps in one style; ``ready`` maps each epoch with a map, in
    rendering order (:func:`render_order`), to whether its frame is in the cache. A stop takes effect
    between frames."""

    ready: dict[int, bool]

    @property
    def total(self) -> int:
        return len(self.ready)

    @property
    def completed(self) -> int:
        return sum(self.ready.values())

    def _work(self, visualization: Visualization, style: FrameStyle) -> str:
        for epoch in [e for e, done in self.ready.items() if not done]:
            if self.stop_requested:
                return "stopped"
            start = time.perf_counter()
            frame_with_predictions(visualization, epoch, style)
            self.ready[epoch] = True
            self.seconds[epoch] = time.perf_counter() - start
            self._changed()
        return "done"


def frame_job(registry: JobRegistry, visualization: Visualization, style: FrameStyle, first: int) -> FrameJob:
    """The job rendering ``visualization``'s frames in ``style`` (fitted, e.g. with ``compute=False``),
    ``first`` first: the existing one for the same maps, window and style unless it was stopped or failed.
    A job for other maps of the same run and method (fewer epochs, another window: training went on) is
    stopped: no page shows those frames any more. Other styles keep theirs (another session may show them)."""
    epochs = sorted(visualization.results_)
    run = ("frames", str(visualization.dynamics.location), visualization.method, visualization.config.key())
    windows = tuple(tuple(visualization.window(e, style.follow).as_list()) for e in epochs)
    key = (*run, tuple(epochs), windows, style)
    registry.stop_where(lambda other: other[:4] == run and other[-1] == style and other != key)

    def make() -> FrameJob:
        ready = {e: frame_key(visualization, e, style) in visualization.store for e in render_order(epochs, first)}
        return FrameJob(key, ready)

    return registry.background(key, make, visualization, style)

