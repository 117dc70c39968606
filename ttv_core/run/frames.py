"""An epoch's animation frame for a fitted chain, rendered once per map, window and style, then cached; and the
frames a first visit of the dashboard shows, which ``ttv proxy`` renders ahead of it."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Callable

from ..data.dynamics import SPLITS, png_bytes
from ..draw.frames import FrameStyle, render_frame
from .store import result_key

if TYPE_CHECKING:
    from ..data.dynamics import TrainingDynamics
    from ..evaluate.predictions import PredictionHistory
    from .visualize import Visualization


def opening_style(dynamics: TrainingDynamics) -> FrameStyle:
    """The style of a first visit's frames on the dashboard: dots by label, every split the run has, each
    frame following its epoch's dots (the Territories page's defaults)."""
    return FrameStyle(splits=tuple(split for split in SPLITS if dynamics.n_test or split == "train"))


def render_order(epochs: list[int], first: int) -> list[int]:
    """``epochs`` from ``first`` outward (the later one first at equal distance): where a viewer looks next."""
    at = epochs.index(first) if first in epochs else len(epochs) - 1
    return sorted(epochs, key=lambda e: (abs(epochs.index(e) - at), -e))


def frame_key(visualization: Visualization, epoch: int, style: FrameStyle = FrameStyle()) -> str:
    """The cache key of ``epoch``'s frame: its map, its window and the style."""
    return result_key("frame", model=visualization._held(epoch).key,
                      extent=visualization.window(epoch, style.follow).as_list(),
                      style=asdict(style), config=visualization.config.key_for("territory"))


def cached_frame(visualization: Visualization, epoch: int, style: FrameStyle = FrameStyle()) -> bytes | None:
    """PNG of ``epoch``'s frame if it was rendered before, else None (never renders)."""
    return visualization.store.get(frame_key(visualization, epoch, style))


def epoch_frame(visualization: Visualization, epoch: int, predictions: dict[str, PredictionHistory],
                style: FrameStyle = FrameStyle()) -> bytes:
    """PNG of ``epoch``'s frame for a fitted :class:`~ttv_core.run.visualize.Visualization`, from the cache
    when it was rendered before with the same map, window and style.

    ``predictions`` maps each split to its :func:`~ttv_core.evaluate.predictions.prediction_history` (which
    must include ``epoch``): the dots' colours and rings come from it.
    """
    held = visualization._held(epoch)  # the embeddings; a slim fit reads the whole result back only for a trust map

    def render() -> bytes:
        dynamics = visualization.dynamics
        window = visualization.window(epoch, style.follow)
        territory = visualization.territory(epoch, extent=window)
        layers = {split: (held.embeddings[split], dynamics.labels(split),
                          predictions[split].predicted[predictions[split].row(epoch)]) for split in style.splits}
        trust_map = visualization.trust_map(epoch) if style.trust_map else None
        image = render_frame(None if territory is None else territory.image, window, layers,
                             n_classes=dynamics.n_classes, style=style, trust_map=trust_map)
        return png_bytes(image)

    frame, _ = visualization.store.get_or_compute(frame_key(visualization, epoch, style), render)
    return frame


def frame_with_predictions(visualization: Visualization, epoch: int, style: FrameStyle) -> bytes:
    """``epoch``'s frame, rendering it (and the epoch's predictions, memoized in the cache) if it is not cached."""
    from ..evaluate.predictions import prediction_history

    predictions = {split: prediction_history(visualization.dynamics, split, epochs=[epoch],
                                             cache_dir=visualization.cache_dir) for split in style.splits}
    return epoch_frame(visualization, epoch, predictions, style)


def render_opening_frames(visualization: Visualization, on_frame: Callable[[int, int], None] | None = None) -> list[int]:
    """Render, into the cache, the frames a first visit of the dashboard shows of ``visualization``'s run,
    method and configuration: every epoch with a map in the cache, the last first (the epoch shown first),
    in :func:`opening_style`. Returns the epochs, in the order rendered; ``on_frame(epoch, n_epochs)`` after each.

    After ``ttv proxy RUN``, the dashboard then opens on a picture at once (at 60,000 samples an epoch's
    frame takes about 0.6 s, and the torch import a first render needs, 0.85 s more) and plays without
    waiting for frames rendered in the background.
    """
    from .visualize import Visualization

    shown = Visualization(visualization.dynamics, visualization.method, visualization.config,
                          visualization.cache_dir, visualization.runtime).fit(compute=False, slim=True)  # as the dashboard reads them
    epochs = sorted(shown.results_)
    order = render_order(epochs, epochs[-1]) if epochs else []
    style = opening_style(shown.dynamics)
    for epoch in order:
        frame_with_predictions(shown, epoch, style)
        if on_frame is not None:
            on_frame(epoch, len(order))
    return order
