"""An epoch's animation frame for a fitted chain, rendered once per map, window and style, then cached."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from ..data.dynamics import png_bytes
from ..draw.frames import FrameStyle, render_frame
from .store import result_key

if TYPE_CHECKING:
    from ..evaluate.predictions import PredictionHistory
    from .visualize import Visualization


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
