"""The canvas: the 2-D world every map lives in, and its one mapping to and from image pixels.

An :class:`Extent` is a window of that world. Fitting reads it (the trust map's probe grid), drawing
reads it (territories, dots, hatching) and the browser player reads it (hover): all of them convert
between world and pixels through :meth:`Extent.to_pixels` / :meth:`Extent.from_pixels`, so what is
drawn, what is hovered and what was probed are the same places.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._checks import argument_error, check_int, check_points, check_real
from .errors import ConfigError

RESOLUTION_FIX = "Use e.g. 200 cells per side."  # what to do about a bad grid resolution
MAX_RESOLUTION = 2000  # cells (or pixels) per side of a grid at most: 4 million cells, 32 MB of float32 centres,
# 2 s to decode on a CPU; 40,000 asked for 11.9 GiB of centres alone


@dataclass(frozen=True)
class Extent:
    """The 2-D window a territory covers: ``[x_min, x_max] x [y_min, y_max]``, closed."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def __post_init__(self) -> None:
        values = [self.x_min, self.y_min, self.x_max, self.y_max]
        if not np.isfinite(values).all() or self.x_max <= self.x_min or self.y_max <= self.y_min:
            raise ConfigError(f"An Extent must be finite with x_min < x_max and y_min < y_max. Got {values} "
                              "instead. Build it with extent_of(embeddings).")

    def as_list(self) -> list[float]:
        """``[x_min, y_min, x_max, y_max]``, the original tool's order, for JSON."""
        return [float(self.x_min), float(self.y_min), float(self.x_max), float(self.y_max)]

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min

    def to_pixels(self, points: np.ndarray, columns: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """Where world points, shape (n, 2), fall in a ``columns`` x ``rows`` image of this extent.

        Returns float64 ``(x, y)``, each shape (n,): x grows to the right from the left edge (``x_min``),
        y grows DOWN from the top edge (``y_max``), in pixels; pixel (row, column) covers
        ``[column, column + 1) x [row, row + 1)``, so ``floor`` gives the pixel holding a point. This is
        ttv's one world-to-pixel mapping: territories, dots, the trust hatching and the browser's hover
        all go through it (and :meth:`from_pixels`, its inverse), so they line up.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        x = (points[:, 0] - self.x_min) / self.width * columns
        y = (self.y_max - points[:, 1]) / self.height * rows
        return x, y

    def from_pixels(self, x: np.ndarray, y: np.ndarray, columns: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """World ``(x, y)`` of pixel coordinates in a ``columns`` x ``rows`` image (the inverse of
        :meth:`to_pixels`); pass ``column + 0.5`` for a pixel's centre. Computed from the centre out, so
        the middle of an odd-sized image is exactly the extent's centre."""
        x = (self.x_min + self.x_max) / 2 + (np.asarray(x, dtype=np.float64) - columns / 2) * self.width / columns
        y = (self.y_min + self.y_max) / 2 - (np.asarray(y, dtype=np.float64) - rows / 2) * self.height / rows
        return x, y

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point, shape (n, 2), lies in the extent (edges included); bool, shape (n,)."""
        x, y = np.asarray(points, dtype=np.float64).reshape(-1, 2).T
        return (x >= self.x_min) & (x <= self.x_max) & (y >= self.y_min) & (y <= self.y_max)


def extent_of(embeddings: np.ndarray | Sequence[np.ndarray], pad: float = 0.1) -> Extent:
    """One square extent holding every point, padded so dots do not touch the edge.

    Pass all epochs of an animation at once: one extent for all frames keeps the picture still.

    Parameters
    ----------
    embeddings : ndarray of shape (n_points, 2), or a sequence of them (e.g. one per epoch)
    pad : float, default 0.1
        Margin on each side, as a share of the larger side of the bounding box.

    Returns
    -------
    Extent
        Square, centred on the bounding box; the unit square when all points coincide.
    """
    pad = check_real(pad, "pad", owner="extent_of", low=0.0, fix="Use 0.1 for a 10 % margin.")
    arrays = [embeddings] if isinstance(embeddings, np.ndarray) else list(embeddings)
    points = [check_points(array, "embeddings", owner="extent_of", dim=2, min_rows=0) for array in arrays]
    points = np.concatenate(points or [np.empty((0, 2))]).astype(np.float64, copy=False)
    if len(points) == 0:
        raise argument_error("embeddings", "extent_of", "hold at least one point", "none")
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    span = float((high - low).max())
    degenerate = span <= 1e-6 * max(1.0, float(np.abs(centre).max()))
    half = 0.5 if degenerate else span * (1 + 2 * pad) / 2
    return Extent(centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half)


def grid_shape(extent: Extent, resolution: int) -> tuple[int, int]:
    """(rows, columns) of a grid of about ``resolution**2`` near-square cells over ``extent``: exactly
    ``(resolution, resolution)`` for a square extent; a wide one gets more columns and fewer rows."""
    resolution = check_int(resolution, "resolution", owner="grid_shape", low=2, high=MAX_RESOLUTION,
                           fix=RESOLUTION_FIX)
    root = float(np.sqrt(extent.width / extent.height))
    if abs(root - 1.0) < 1e-9:
        return resolution, resolution
    return max(2, round(resolution / root)), max(2, round(resolution * root))


def grid_points(extent: Extent, resolution: int) -> np.ndarray:
    """Centres of the cells tiling ``extent`` (:func:`grid_shape`: ``resolution x resolution`` when it is
    square), in image order.

    Row-major, row 0 at the TOP (``y_max``), column 0 at the left (``x_min``): cell (row, column) is
    at index ``row * columns + column``, so per-cell results ``.reshape(grid_shape(extent, resolution))``
    into an image in display orientation. With an odd resolution the middle cell of a square extent
    is exactly its centre.

    Returns float32, shape (rows * columns, 2).
    """
    resolution = check_int(resolution, "resolution", owner="grid_points", low=2, high=MAX_RESOLUTION,
                           fix=RESOLUTION_FIX)
    rows, columns = grid_shape(extent, resolution)
    xs, _ = extent.from_pixels(np.arange(columns) + 0.5, 0.0, columns, rows)
    _, ys = extent.from_pixels(0.0, np.arange(rows) + 0.5, columns, rows)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)


ASPECTS = np.round(np.arange(0.8, 1.81, 0.1), 1)  # frame width / height: the steps a run's frame may take
ZOOM_STEP = 1.15  # a frame that follows the dots grows or shrinks by at most this much from one epoch to the next
CENTRE_EPOCHS = 2  # ... and its centre follows the dots' centre averaged over this many epochs each side


def frame_windows(bounds: Sequence[tuple[np.ndarray, np.ndarray]], pad: float = 0.06,
                  step: float = ZOOM_STEP) -> tuple[list[Extent], Extent]:
    """Windows that follow an animation's dots: one per epoch, all of one aspect, changing smoothly.

    ``bounds`` are each epoch's (lowest (2,), highest (2,)) point, in the animation's order. Every
    window holds its epoch's points with a ``pad`` margin (a share of the bounding box's larger side)
    and has one aspect for the whole run (the epochs' median, in :data:`ASPECTS` steps, so that an
    epoch landing seldom changes it); early epochs, whose maps are often small, are not lost in the
    last epochs' frame. A window grows or shrinks by at most ``step`` per epoch (unless its own
    points need more room) and its centre moves with the dots' centre averaged over a few epochs:
    the frame glides rather than jumps.

    Returns the per-epoch windows and the whole run's window (holding every one of them, same aspect).
    """
    pad = check_real(pad, "pad", owner="frame_windows", low=0.0, fix="Use 0.06 for a 6 % margin.")
    if not bounds:
        raise argument_error("bounds", "frame_windows", "hold at least one epoch", "none")
    low = np.array([np.asarray(lo, np.float64).reshape(2) for lo, _ in bounds])
    high = np.array([np.asarray(hi, np.float64).reshape(2) for _, hi in bounds])
    if not (np.isfinite(low).all() and np.isfinite(high).all()):
        raise argument_error("bounds", "frame_windows", "be finite", "NaN or inf")
    scale = max(1.0, float(np.abs(np.concatenate([low, high])).max()))
    span = np.maximum(high - low, 1e-6 * scale)
    span = np.maximum(span, span.max(axis=1, keepdims=True) * 0.05)  # a flat epoch still gets a frame
    margin = span.max(axis=1, keepdims=True) * pad
    low, high, span = low - margin, high + margin, span + 2 * margin
    aspect = float(ASPECTS[np.abs(ASPECTS - np.median(span[:, 0] / span[:, 1])).argmin()])
    needed = np.maximum(span[:, 1], span[:, 0] / aspect) / 2  # half-heights holding each epoch's points
    order = np.arange(len(bounds))
    half = (needed[None, :] * step ** -np.abs(order[:, None] - order[None, :]).astype(float)).max(axis=1)
    centre = (low + high) / 2
    near = np.abs(order[:, None] - order[None, :]) <= CENTRE_EPOCHS
    smooth = near.astype(float) @ centre / near.sum(axis=1, keepdims=True)
    extent = np.column_stack([half * aspect, half])
    smooth = np.clip(smooth, high - extent, low + extent)  # the window still holds its epoch's points
    windows = [Extent(cx - ex, cy - ey, cx + ex, cy + ey) for (cx, cy), (ex, ey) in zip(smooth, extent)]
    lo, hi = (smooth - extent).min(axis=0), (smooth + extent).max(axis=0)
    whole_half = max((hi[1] - lo[1]) / 2, (hi[0] - lo[0]) / (2 * aspect))
    mid = (lo + hi) / 2
    whole = Extent(mid[0] - whole_half * aspect, mid[1] - whole_half, mid[0] + whole_half * aspect, mid[1] + whole_half)
    return windows, whole


def epoch_windows(embeddings: dict[int, Sequence[np.ndarray]]) -> tuple[dict[int, Extent], Extent | None]:
    """:func:`frame_windows` of an animation given as epoch -> that epoch's point sets (e.g. its train and
    test positions), in epoch order; ``({}, None)`` when no epoch holds a point."""
    bounds = {}
    for epoch in sorted(embeddings):
        # Column by column, without float64 copies (a minimum is exact in any precision): numpy's min(axis=0) of
        # an (n, 2) array took 1 ms at 60,000 rows, a column's 0.07 ms; 0.5 s at 200 epochs x 70,000 points.
        arrays = [np.asarray(a).reshape(-1, 2) for a in embeddings[epoch] if len(a)]
        if arrays:
            low = [min(a[:, axis].min() for a in arrays) for axis in (0, 1)]
            high = [max(a[:, axis].max() for a in arrays) for axis in (0, 1)]
            bounds[epoch] = (np.array(low, np.float64), np.array(high, np.float64))
    if not bounds:
        return {}, None
    windows, whole = frame_windows(list(bounds.values()))
    return dict(zip(bounds, windows)), whole
