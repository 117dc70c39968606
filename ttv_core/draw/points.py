"""Points on the map: marker colours that agree with the territories, and dots rasterised onto them.

A point is drawn in its class's colour from the same :func:`~ttv_core.draw.territory.palette` the
territories use, so a dot and the territory of its class share a colour; a misclassified point is a
dot in its predicted colour ringed in its label colour (ALGORITHMS 6.4). :func:`draw_points` paints
the dots onto a territory image for server-side frames. Arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .._checks import argument_error, check_classes, check_int, check_points
from ..canvas import Extent
from .territory import palette

MAX_RADIUS = 32  # pixels of a dot (or ring) at most: each pixel of the disc is one pass over every point, and the
# canvas is padded by it; 32 is a 65-pixel dot, larger than any frame would want


class PointColours(NamedTuple):
    """How each point is drawn: ``fill`` and ``ring`` uint8 (n, 3), ``misclassified`` bool (n,)."""

    fill: np.ndarray
    ring: np.ndarray
    misclassified: np.ndarray


def point_colours(labels: np.ndarray, predictions: np.ndarray | None = None, *, n_classes: int) -> PointColours:
    """Marker colours (ALGORITHMS 6.4): a correct point is a dot in its label colour; a misclassified
    one a dot in its PREDICTED colour ringed in its label colour, so it tells both classes at once.

    ``labels`` and optional ``predictions`` (without them every point counts as correct) are int,
    shape (n,). In the returned colours ``ring == fill`` where a point is correct, which tells
    :func:`draw_points` to draw no ring there.
    """
    owner = "point_colours"
    n_classes = check_int(n_classes, "n_classes", owner=owner, low=1, fix="Pass the classifier's number of classes.")
    labels = check_classes(labels, "labels", owner=owner, n_classes=n_classes)
    colours = palette(n_classes)
    if predictions is not None:
        predictions = check_classes(predictions, "predictions", owner=owner, n_classes=n_classes)
    else:
        predictions = labels
    if predictions.shape != labels.shape:
        raise argument_error("predictions", owner, f"have the shape of labels {labels.shape}",
                             f"shape {predictions.shape}", "Pass one prediction per label.")
    return PointColours(colours[predictions], colours[labels], predictions != labels)


@functools.lru_cache(maxsize=32)
def _disc(inner: float, outer: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets (dy, dx) with ``inner < distance <= outer``, farthest first, so that a dot's own
    centre is the last pixel it writes."""
    span = int(np.ceil(outer))
    dy, dx = np.mgrid[-span : span + 1, -span : span + 1].reshape(2, -1)
    distance = np.hypot(dy, dx)
    keep = (distance > inner) & (distance <= outer)
    order = np.argsort(-distance[keep], kind="stable")
    return dy[keep][order], dx[keep][order]


def _stamp(flat: np.ndarray, width: int, base: np.ndarray, colours: np.ndarray, offsets: tuple) -> None:
    """Write ``colours`` (k, 3) at every offset around the flat pixel indices ``base`` (k,)."""
    for dy, dx in zip(*offsets, strict=True):
        flat[base + (dy * width + dx)] = colours


def _colours_for(colours: Any, n: int, name: str) -> np.ndarray:
    """``colours`` as uint8 RGB, shape (n, 3): one triple for all points or one per point."""
    array = np.asarray(colours)
    if array.shape not in ((3,), (n, 3)) or (array.size and (array.min() < 0 or array.max() > 255)):
        got = f"shape {array.shape}" + (f", values in [{array.min()}, {array.max()}]" if array.size else "")
        raise argument_error(name, "draw_points", f"be RGB in 0..255 of shape (3,) or ({n}, 3)", got)
    return np.broadcast_to(array.astype(np.uint8), (n, 3))


def draw_points(image: np.ndarray, extent: Extent, points: np.ndarray, fill: np.ndarray,
                ring: np.ndarray | None = None, *, radius: int = 2, ring_width: int = 1,
                outline: Sequence[int] | None = None) -> np.ndarray:
    """Rasterise dots onto an image of ``extent`` (e.g. a territory) for server-side frames.

    One numpy assignment per pixel offset of the disc (21 for radius 2) over all points at once.
    Layers, bottom to top: ``outline`` halos, plain dots, ringed dots (the misclassified, which
    matter most). Each dot's centre pixel keeps its own fill unless another dot is centred on the
    same pixel. Points outside the extent are skipped.

    Parameters
    ----------
    image : ndarray of uint8, shape (rows, columns, 3)
        Background showing ``extent`` in image order, any size; not modified.
    extent : Extent
    points : ndarray of float, shape (n, 2)
    fill, ring : ndarray of uint8, shape (n, 3) or (3,); ``ring`` optional
        A ring ``ring_width`` pixels wide goes around each point whose ring colour differs from its
        fill, as :func:`point_colours` gives misclassified points.
    radius : int, default 2
        Dot radius in pixels; 0 draws one pixel.
    ring_width : int, default 1
    outline : RGB triple, optional
        A one-pixel halo around every marker, e.g. ``(40, 40, 40)``, so that a dot stays visible on
        a fully confident territory of its own colour.

    Returns a new uint8 image, same shape as ``image``.
    """
    owner = "draw_points"
    radius = check_int(radius, "radius", owner=owner, low=0, high=MAX_RADIUS, fix="Use 2 for a 400-pixel frame.")
    ring_width = check_int(ring_width, "ring_width", owner=owner, low=1, high=MAX_RADIUS,
                           fix="Use 1, or pass ring=None for no rings.")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise argument_error("image", owner, "be uint8 of shape (rows, columns, 3)", f"{image.dtype} {image.shape}")
    points = check_points(points, "points", owner=owner, dim=2, min_rows=0).astype(np.float64, copy=False)
    fill = _colours_for(fill, len(points), "fill")
    ring = fill if ring is None else _colours_for(ring, len(points), "ring")
    halo = None if outline is None else _colours_for(outline, 1, "outline")[0]
    inside = extent.contains(points)
    rows, columns = image.shape[:2]
    margin = radius + ring_width + 2  # the widest stamp (ring plus outline) stays on the canvas
    canvas = np.pad(image, ((margin, margin), (margin, margin), (0, 0)))
    width = columns + 2 * margin
    row, column = _pixel_of(extent, points[inside], rows, columns)
    base = (row + margin) * width + column + margin
    _draw_layers(canvas.reshape(-1, 3), width, base, fill[inside], ring[inside], halo, radius, ring_width)
    return canvas[margin : margin + rows, margin : margin + columns].copy()


def _pixel_of(extent: Extent, points: np.ndarray, rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column, int64 (n,), of the pixel holding each point of the extent, in image order."""
    x, y = extent.to_pixels(points, columns, rows)
    return np.minimum(y.astype(np.int64), rows - 1), np.minimum(x.astype(np.int64), columns - 1)


def _draw_layers(flat: np.ndarray, width: int, base: np.ndarray, fill: np.ndarray, ring: np.ndarray,
                 halo: np.ndarray | None, radius: int, ring_width: int) -> None:
    """Outline halos, then plain dots, then ringed dots on top (see :func:`draw_points`)."""
    ringed = (ring != fill).any(axis=1)
    plain = ~ringed
    dot = _disc(-1.0, radius + 0.5)
    if halo is not None:
        colours = np.broadcast_to(halo, fill.shape)
        for group, edge in ((plain, radius + 0.5), (ringed, radius + ring_width + 0.5)):
            _stamp(flat, width, base[group], colours[group], _disc(edge, edge + 1.0))
    _stamp(flat, width, base[plain], fill[plain], dot)
    _stamp(flat, width, base[ringed], ring[ringed], _disc(radius + 0.5, radius + ring_width + 0.5))
    _stamp(flat, width, base[ringed], fill[ringed], dot)
