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


def grid_points(extent: Extent, resolution: int) -> np.ndarray:
    """Centres of the ``resolution x resolution`` cells tiling ``extent``, in image order.

    Row-major, row 0 at the TOP (``y_max``), column 0 at the left (``x_min``): cell (row, column) is
    at index ``row * resolution + column``, so per-cell results ``.reshape(resolution, resolution)``
    into an image in display orientation. With an odd resolution the middle cell is exactly the
    extent's centre.

    Returns float32, shape (resolution * resolution, 2).
    """
    resolution = check_int(resolution, "resolution", owner="grid_points", low=2, fix=RESOLUTION_FIX)
    centres = np.arange(resolution) + 0.5
    xs, ys = extent.from_pixels(centres, centres, resolution, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)
