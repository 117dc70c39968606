"""Animation frames: one epoch's territory with every sample drawn on it, as an image.

Frames are rendered here, on the server, rather than by a charting library in the browser: a
browser re-plotting 20,000 points per epoch manages about one frame a second on two cores, while
swapping prepared images plays at any speed and costs the same whatever the number of points. Only
the dots' colours and the overlay depend on the viewer's choices (:class:`FrameStyle`), so each
frame is rendered once per style and kept in the result cache (:func:`ttv_core.run.frames.epoch_frame`).

Every frame of an animation has the same shape and size. Its window (an :class:`~ttv_core.canvas.Extent`)
either follows the epoch's dots, gliding from epoch to epoch (:func:`~ttv_core.canvas.frame_windows`),
or is the whole run's, so that the picture stays still while the dots travel (``FrameStyle.follow``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_int, parameter_error
from ..data.dynamics import SPLITS
from .points import MAX_RADIUS, draw_points, point_colours
from ..canvas import MAX_RESOLUTION, Extent, grid_shape

if TYPE_CHECKING:
    from ..fit.active import TrustMap

COLOUR_BY = ("label", "prediction")
EMPTY_BACKGROUND = (246, 246, 246)  # behind maps without territories (the umap baseline)
OUTLINES = {"train": (45, 45, 45), "test": (255, 255, 255)}  # test dots get a white halo to tell them apart
HATCH = (20, 20, 20)  # untrustworthy cells: dark diagonal hatching that leaves the territory colour readable
WASH, WASH_SHARE = (120, 120, 120), 0.45  # ... over the area greyed by this much


@dataclass(frozen=True)
class FrameStyle:
    """What a viewer chose to see; each choice is a separate set of cached frames.

    Attributes
    ----------
    colour_by : {"label", "prediction"}
        Dot colour. The other class rings a misclassified dot, so both are always visible.
    splits : tuple of {"train", "test"}
        Which samples are drawn (test samples carry a white halo).
    trust_map : bool
        Hatch the probe cells whose class does not survive the round trip (``al`` maps only).
    follow : bool
        Each frame's window follows its epoch's dots (early epochs, often small, fill the frame);
        False: every frame shows the whole run's window.
    size : int in [16, 2000]
        Frame width and height in pixels for a square window; about as many pixels in all for
        another shape (:func:`~ttv_core.canvas.grid_shape`).
    radius : int in [0, 32]
        Dot radius in pixels.
    """

    colour_by: str = "label"
    splits: tuple[str, ...] = SPLITS
    trust_map: bool = False
    follow: bool = True
    size: int = 560
    radius: int = 2

    def __post_init__(self) -> None:
        owner = "FrameStyle"
        if self.colour_by not in COLOUR_BY:
            raise parameter_error("colour_by", owner, f"be one of {COLOUR_BY}", self.colour_by)
        if not set(self.splits) <= set(SPLITS):
            raise parameter_error("splits", owner, f"be a subset of {SPLITS}", self.splits)
        check_int(self.size, "size", owner=owner, low=16, high=MAX_RESOLUTION, fix="Use 560 for the dashboard.")
        check_int(self.radius, "radius", owner=owner, low=0, high=MAX_RADIUS, fix="Use 2 for a 560-pixel frame.")


def background(territory_image: np.ndarray | None, shape: int | tuple[int, int]) -> np.ndarray:
    """The territory resampled to ``shape`` (rows, columns; an int for a square; bilinear, so class
    borders stay smooth), or a plain light background when the map has no territory."""
    rows, columns = (shape, shape) if np.ndim(shape) == 0 else shape
    if territory_image is None:
        return np.full((rows, columns, 3), EMPTY_BACKGROUND, dtype=np.uint8)
    from PIL import Image

    return np.asarray(Image.fromarray(np.asarray(territory_image)).resize((columns, rows), Image.Resampling.BILINEAR))


def _cells_under(extent: Extent, rows: int, columns: int, window: Extent, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel row and column of a ``columns`` x ``rows`` frame of ``extent``, the row and column of
    the ``cells`` x ``cells`` grid over ``window`` that holds the pixel's centre; -1 outside that grid."""
    x, _ = extent.from_pixels(np.arange(columns) + 0.5, 0.0, columns, rows)
    _, y = extent.from_pixels(0.0, np.arange(rows) + 0.5, columns, rows)
    cell_x, _ = window.to_pixels(np.column_stack([x, np.full_like(x, window.y_max)]), cells, cells)
    _, cell_y = window.to_pixels(np.column_stack([np.full_like(y, window.x_min), y]), cells, cells)

    def index(values: np.ndarray) -> np.ndarray:
        floor = np.floor(values).astype(np.int64)
        return np.where((floor >= 0) & (floor < cells), floor, -1)

    return index(cell_y), index(cell_x)


def hatch_untrustworthy(image: np.ndarray, extent: Extent, trust_map: TrustMap) -> np.ndarray:
    """Grey and hatch diagonally the frame pixels that fall in the trust map's untrustworthy cells.

    The trust map has its own window (the proxy map's extent); each frame pixel looks up the cell
    holding its centre, so the overlay lines up whatever the two windows and resolutions are.
    """
    size_rows, size_columns = image.shape[:2]
    grid, window = trust_map.untrustworthy_after, trust_map.extent
    rows, columns = _cells_under(extent, size_rows, size_columns, window, trust_map.resolution)
    padded = np.pad(grid, ((0, 1), (0, 1)))  # index -1 reads the padding: never untrustworthy
    mask = padded[np.ix_(rows, columns)]
    stripes = (np.add.outer(np.arange(size_rows), np.arange(size_columns)) % 6) < 2
    out = image.copy()
    # The whole untrustworthy area greyed, then hatched: hatching alone changed 0.11 % of the demo's al
    # frame, too little to see; greyed, the class colour still shows between the stripes.
    out[mask] = ((1 - WASH_SHARE) * out[mask] + WASH_SHARE * np.asarray(WASH)).astype(np.uint8)
    shaded = mask & stripes
    out[shaded] = (0.65 * np.asarray(HATCH) + 0.35 * out[shaded]).astype(np.uint8)
    return out


def render_frame(territory_image: np.ndarray | None, extent: Extent, layers: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 *, n_classes: int, style: FrameStyle = FrameStyle(), trust_map: TrustMap | None = None) -> np.ndarray:
    """One frame as a uint8 image, shape ``grid_shape(extent, style.size)`` + (3,).

    Parameters
    ----------
    territory_image : ndarray of uint8, shape (rows, columns, 3), or None
        The epoch's territory over ``extent``; None draws the dots on a plain background.
    extent : Extent
        The frame's window (see :func:`~ttv_core.canvas.frame_windows`).
    layers : dict
        Split -> (positions (n, 2), labels (n,), predictions (n,)); drawn in ``style.splits`` order.
    n_classes : int
    style : FrameStyle
    trust_map : TrustMap, optional
        Hatched over the territory when ``style.trust_map`` is set.
    """
    image = background(territory_image, grid_shape(extent, style.size))
    if style.trust_map and trust_map is not None:
        image = hatch_untrustworthy(image, extent, trust_map)
    for split in style.splits:
        if split not in layers:
            continue
        positions, labels, predictions = layers[split]
        # point_colours fills a dot in its `predictions` colour and rings it in its `labels` colour (the
        # original's markers). Coloured by label, the fill shows the label and the ring the prediction.
        fill, ring = (labels, predictions) if style.colour_by == "label" else (predictions, labels)
        colours = point_colours(labels=ring, predictions=fill, n_classes=n_classes)
        image = draw_points(image, extent, positions, colours.fill, colours.ring, radius=style.radius,
                            outline=OUTLINES[split])
    return image
