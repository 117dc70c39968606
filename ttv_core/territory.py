"""Territories: the classifier's decisions painted as the map's background, and the dots on top.

A grid of 2-D cells is decoded to representations, classified by the head g_e and coloured by
class, paler where the decision is less sure, white on the boundary (ALGORITHMS section 6). Points
use the SAME palette, indexed by class, so a dot and its class's territory share a colour (the
original normalised by the largest class present, so they did not). Images are (rows, columns, 3)
with row 0 at the TOP (the extent's ``y_max``), as PIL shows them. Arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .errors import ConfigError, DataError

# matplotlib's "tab10" (Tableau 10): the colours people already read as "class 0, class 1, ...".
_TABLEAU_10 = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
    dtype=np.uint8,
)
# Beyond 10 classes, colours are picked from an 8-bit RGB lattice restricted to Tableau-like colours:
_LATTICE_STEP = 8  # 32 levels per channel: ~12k candidates; 100 colours are picked in ~50 ms
_LIGHTNESS = (0.45, 0.82)  # OKLab L: not so dark that rings vanish, not so light it reads as boundary
_CHROMA = (0.05, 0.20)  # OKLab chroma: coloured, but no neon (Tableau 10 tops out at ~0.21)
_PALEST = 0.35  # colour weight of a cell just sure enough not to be boundary; 1 at full confidence
_WHITE = np.array([255.0, 255.0, 255.0])


def _check_int(value: Any, name: str, where: str, minimum: int, fix: str) -> int:
    """``value`` as an int >= ``minimum``, or a ConfigError naming the parameter, rule, value and fix."""
    return int(_check_real(value, name, where, minimum, np.inf, fix, integer=True))


def _check_real(value: Any, name: str, where: str, low: float, high: float, fix: str, *, integer: bool = False,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a number in the interval, or a ConfigError naming the parameter, rule, value and fix."""
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    ok = isinstance(value, kinds) and not isinstance(value, (bool, np.bool_))
    if not (ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)):
        close = ")" if high_open or high == np.inf else "]"
        interval = f"{'(' if low_open else '['}{low}, {'inf' if high == np.inf else high}{close}"
        raise ConfigError(f"The {name!r} parameter of {where} must be {'an int' if integer else 'a float'} in the "
                          f"range {interval}. Got {value!r} instead. {fix}")
    return float(value)


def _check_points(points: Any, name: str, where: str) -> np.ndarray:
    """A finite float64 array of shape (n, 2), or a DataError naming the argument."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 2:
        raise DataError(f"The {name!r} argument of {where} must have shape (n_points, 2); got {array.shape}.")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        raise DataError(f"The {name!r} argument of {where} must be finite; row {bad[0]} is "
                        f"{array[bad[0]].tolist()}. Drop or fix the {bad.size} non-finite point(s).")
    return array


def _oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB colours, shape (n, 3) in 0..255, in OKLab, shape (n, 3), where distances track perception."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lms = linear @ np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                             [0.2119034982, 0.6806995451, 0.1073969566],
                             [0.0883024619, 0.2817188376, 0.6299787005]]).T
    return np.cbrt(lms) @ np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                                    [1.9779984951, -2.4285922050, 0.4505937099],
                                    [0.0259040371, 0.7827717662, -0.8086757660]]).T


@functools.lru_cache(maxsize=8)
def _palette_sequence(n_colours: int) -> np.ndarray:
    """Tableau 10, then greedy farthest-point picks in OKLab: each new colour is the candidate farthest
    from all colours chosen so far, so the sequence is deterministic and prefix-stable."""
    levels = np.arange(_LATTICE_STEP // 2, 256, _LATTICE_STEP)
    candidates = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = _oklab(candidates)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= _LIGHTNESS[0]) & (lab[:, 0] <= _LIGHTNESS[1])
    keep &= (chroma >= _CHROMA[0]) & (chroma <= _CHROMA[1])
    candidates, lab = candidates[keep], lab[keep]
    chosen = [*_TABLEAU_10[:n_colours]]
    nearest = np.full(len(candidates), np.inf)  # squared distance to the closest chosen colour
    for colour in _oklab(_TABLEAU_10[:n_colours]):
        nearest = np.minimum(nearest, ((lab - colour) ** 2).sum(axis=1))
    while len(chosen) < min(n_colours, len(candidates)):
        pick = int(np.argmax(nearest))
        chosen.append(candidates[pick])
        nearest = np.minimum(nearest, ((lab - lab[pick]) ** 2).sum(axis=1))
    sequence = np.resize(np.array(chosen, dtype=np.uint8), (n_colours, 3))  # > ~12k classes: colours repeat
    sequence.setflags(write=False)
    return sequence


def palette(n_classes: int) -> np.ndarray:
    """The class colours shared by points and territories: uint8, shape (n_classes, 3), row c = class c.

    Tableau 10 (matplotlib's ``tab10``) first; then each colour is the mid-light, moderately saturated
    one farthest (in perceptual OKLab) from all earlier ones, never near the boundary's white.
    Prefix-stable, ``palette(n)[c]`` is the same for every ``n > c``, so a class keeps its colour
    whatever class count a caller passes. Beyond ~12,000 classes colours repeat.
    """
    n_classes = _check_int(n_classes, "n_classes", "palette", 1, "Pass the classifier's number of classes.")
    return _palette_sequence(max(16, 1 << (n_classes - 1).bit_length()))[:n_classes].copy()  # few cache keys


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
    pad = _check_real(pad, "pad", "extent_of", 0.0, np.inf, "Use 0.1 for a 10 % margin.", high_open=True)
    arrays = [embeddings] if isinstance(embeddings, np.ndarray) else list(embeddings)
    points = np.concatenate([_check_points(a, "embeddings", "extent_of") for a in arrays] or [np.empty((0, 2))])
    if len(points) == 0:
        raise DataError("The 'embeddings' argument of extent_of must hold at least one point; got none.")
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
    resolution = _check_int(resolution, "resolution", "grid_points", 2, "Use e.g. 200 cells per side.")
    steps = np.arange(resolution) - (resolution - 1) / 2
    xs = (extent.x_min + extent.x_max) / 2 + steps * (extent.x_max - extent.x_min) / resolution
    ys = (extent.y_min + extent.y_max) / 2 - steps * (extent.y_max - extent.y_min) / resolution
    grid_x, grid_y = np.meshgrid(xs, ys)
    return np.stack([grid_x.ravel(), grid_y.ravel()], axis=1).astype(np.float32)


def classify_grid(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class (argmax) and confidence margin ``s = (top1 - top2) / (top1 - min)`` of each cell's logits.

    ``s`` is 1 when the winner is far ahead of the runner-up relative to the logits' spread and 0 on
    a tie (also when all logits are equal, instead of dividing by zero). With exactly 2 classes
    ``top2 == min``, so ``s`` is 1 everywhere except on exact ties.

    Takes logits of shape (n_cells, n_classes >= 2); returns ``classes`` int64 (n_cells,) and
    ``confidence`` float32 (n_cells,) in [0, 1].
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise DataError(f"The 'logits' argument of classify_grid must have shape (n_cells, >=2); got {logits.shape}.")
    if not np.isfinite(logits).all():
        raise DataError("The 'logits' argument of classify_grid must be finite; the head returned NaN or inf.")
    ordered = np.partition(logits, (-2, -1), axis=1)
    top1, top2, spread = ordered[:, -1], ordered[:, -2], ordered[:, -1] - logits.min(axis=1)
    confidence = np.divide(top1 - top2, spread, out=np.zeros_like(spread), where=spread > 0)
    return logits.argmax(axis=1).astype(np.int64), confidence.astype(np.float32)


def territory_image(classes: np.ndarray, confidence: np.ndarray, resolution: int, n_classes: int, *,
                    boundary_threshold: float = 0.15) -> np.ndarray:
    """Paint cells: class colour blended with white by confidence, boundary cells white.

    A cell is ``white + w * (palette[c] - white)`` with ``w = 0.35 + 0.65 * s``: exactly the class
    colour at ``s = 1``, pale but still that class's hue just above the boundary. Cells with
    ``s < boundary_threshold`` are white, so the boundary is a white band with a visible step to the
    territories on either side.

    Parameters
    ----------
    classes : ndarray of int, shape (resolution**2,) or (resolution, resolution), in image order
    confidence : ndarray of float in [0, 1], same size (see :func:`classify_grid`)
    resolution : int
    n_classes : int
        The classifier's class count (colours index the palette by class, whatever classes are present).
    boundary_threshold : float in [0, 1], default 0.15
        Margin below which a cell is boundary; 0 draws none.

    Returns uint8, shape (resolution, resolution, 3).
    """
    where = "territory_image"
    resolution = _check_int(resolution, "resolution", where, 2, "Use e.g. 200 cells per side.")
    n_classes = _check_int(n_classes, "n_classes", where, 1, "Pass the classifier's number of classes.")
    threshold = _check_real(boundary_threshold, "boundary_threshold", where, 0.0, 1.0, "0.15 is the usual value.")
    classes = np.asarray(classes).reshape(-1)
    confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
    if classes.size != resolution**2 or confidence.size != resolution**2:
        raise DataError(f"{where}: 'classes' and 'confidence' must hold {resolution}**2 cells each; "
                        f"got {classes.size} and {confidence.size}.")
    if classes.min() < 0 or classes.max() >= n_classes:
        raise DataError(f"{where}: 'classes' must lie in [0, {n_classes}); got values in "
                        f"[{classes.min()}, {classes.max()}]. Pass the classifier's n_classes.")
    if not ((confidence >= 0) & (confidence <= 1)).all():
        raise DataError(f"{where}: 'confidence' must lie in [0, 1]; compute it with classify_grid.")
    weight = (_PALEST + (1 - _PALEST) * confidence)[:, None]
    colours = _WHITE + weight * (palette(n_classes)[classes.astype(np.int64)] - _WHITE)
    colours[confidence < threshold] = _WHITE
    return np.rint(colours).astype(np.uint8).reshape(resolution, resolution, 3)


@dataclass(frozen=True, eq=False)
class Territory:
    """A rendered territory and what it was painted from; the arrays are made read-only.

    ``image`` uint8 (R, R, 3), ``classes`` int64 (R, R), ``confidence`` float32 (R, R), all in image
    order (row 0 at ``extent.y_max``), and the ``extent`` they cover.
    """

    image: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    extent: Extent

    def __post_init__(self) -> None:
        for array in (self.image, self.classes, self.confidence):
            array.setflags(write=False)

    def png(self) -> bytes:
        """The image as PNG bytes (for st.image, a browser, or a file the caller writes)."""
        from .dynamics import png_bytes

        return png_bytes(self.image)


def render_territory(decode: Callable[[np.ndarray], np.ndarray], head: Callable[[np.ndarray], np.ndarray],
                     extent: Extent, resolution: int = 200, *, boundary_threshold: float = 0.15,
                     batch_size: int = 8192) -> Territory:
    """Decode a grid over ``extent`` to representations, classify them with the head, paint them.

    Parameters
    ----------
    decode : callable, float32 (m, 2) -> float32 (m, D)
        The visualization model's inverse.
    head : callable, float32 (m, D) -> logits (m, n_classes)
        The epoch's head g_e, e.g. a :class:`~ttv_core.head.Head`.
    extent : Extent
    resolution : int, default 200
        Cells per side.
    boundary_threshold : float, default 0.15
        See :func:`territory_image`.
    batch_size : int, default 8192
        Cells decoded at a time: memory stays at ``batch_size * D`` floats (16 MB for D = 512)
        whatever the resolution.

    Returns a :class:`Territory`.
    """
    where = "render_territory"
    resolution = _check_int(resolution, "resolution", where, 2, "Use e.g. 200 cells per side.")
    batch_size = _check_int(batch_size, "batch_size", where, 1, "8192 suits a CPU.")
    grid = grid_points(extent, resolution)
    classes = np.empty(len(grid), dtype=np.int64)
    confidence = np.empty(len(grid), dtype=np.float32)
    n_classes = 0
    for start in range(0, len(grid), batch_size):
        cells = grid[start : start + batch_size]
        representations = np.asarray(decode(cells), dtype=np.float32)
        if representations.ndim != 2 or len(representations) != len(cells):
            raise DataError(f"{where}: decode must map cells ({len(cells)}, 2) to ({len(cells)}, D); "
                            f"got {representations.shape}.")
        logits = np.asarray(head(representations))
        if logits.ndim != 2 or len(logits) != len(cells) or (n_classes and logits.shape[1] != n_classes):
            raise DataError(f"{where}: head must map ({len(cells)}, D) to logits ({len(cells)}, n_classes); "
                            f"got {logits.shape}.")
        n_classes = logits.shape[1]
        classes[start : start + len(cells)], confidence[start : start + len(cells)] = classify_grid(logits)
    image = territory_image(classes, confidence, resolution, n_classes, boundary_threshold=boundary_threshold)
    shape = (resolution, resolution)
    return Territory(image, classes.reshape(shape), confidence.reshape(shape), extent)


class PointColours(NamedTuple):
    """How each point is drawn: ``fill`` and ``ring`` uint8 (n, 3), ``misclassified`` bool (n,)."""

    fill: np.ndarray
    ring: np.ndarray
    misclassified: np.ndarray


def _check_classes(values: Any, name: str, n_classes: int) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"The {name!r} argument of point_colours must be a 1-D array of class indices; "
                        f"got shape {array.shape}, dtype {array.dtype}.")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise DataError(f"The {name!r} argument of point_colours must lie in [0, {n_classes}); got values "
                        f"in [{array.min()}, {array.max()}]. Pass the classifier's n_classes.")
    return array.astype(np.int64)


def point_colours(labels: np.ndarray, predictions: np.ndarray | None = None, *, n_classes: int) -> PointColours:
    """Marker colours (ALGORITHMS 6.4): a correct point is a dot in its label colour; a misclassified
    one a dot in its PREDICTED colour ringed in its label colour, so it tells both classes at once.

    ``labels`` and optional ``predictions`` (without them every point counts as correct) are int,
    shape (n,). In the returned colours ``ring == fill`` where a point is correct, which tells
    :func:`draw_points` to draw no ring there.
    """
    n_classes = _check_int(n_classes, "n_classes", "point_colours", 1, "Pass the classifier's number of classes.")
    labels = _check_classes(labels, "labels", n_classes)
    colours = palette(n_classes)
    predictions = labels if predictions is None else _check_classes(predictions, "predictions", n_classes)
    if predictions.shape != labels.shape:
        raise DataError(f"point_colours: 'predictions' has shape {predictions.shape} but 'labels' has "
                        f"{labels.shape}; pass one prediction per label.")
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
    array = np.asarray(colours)
    if array.shape not in ((3,), (n, 3)) or (array.size and (array.min() < 0 or array.max() > 255)):
        raise DataError(f"The {name!r} argument of draw_points must be RGB in 0..255 of shape (3,) or "
                        f"({n}, 3); got shape {array.shape}.")
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
    where = "draw_points"
    radius = _check_int(radius, "radius", where, 0, "Use 2 for a 400-pixel frame.")
    ring_width = _check_int(ring_width, "ring_width", where, 1, "Use 1, or pass ring=None for no rings.")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise DataError(f"The 'image' argument of {where} must be uint8 of shape (rows, columns, 3); "
                        f"got {image.dtype} {image.shape}.")
    points = _check_points(points, "points", where)
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
    x = (points[:, 0] - extent.x_min) / (extent.x_max - extent.x_min) * columns
    y = (extent.y_max - points[:, 1]) / (extent.y_max - extent.y_min) * rows
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
