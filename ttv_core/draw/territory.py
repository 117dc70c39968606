"""Territories: the classifier's decisions painted as the map's background.

A grid of 2-D cells is decoded to representations, classified by the head g_e and coloured by
class, paler where the decision is less sure, white on the boundary (ALGORITHMS section 6). The dots
drawn on top (:mod:`ttv_core.draw.points`) use the SAME palette, indexed by class, so a dot and its
class's territory share a colour (the original normalised by the largest class present, so they did
not). Images are (rows, columns, 3) with row 0 at the TOP (the extent's ``y_max``), as PIL shows
them. Arrays in, arrays out; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..canvas import MAX_RESOLUTION, RESOLUTION_FIX, Extent, grid_points, grid_shape
from .._checks import argument_error, check_classes, check_int, check_points, check_real

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
_N_CLASSES_FIX = "Pass the classifier's number of classes."


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
    n_classes = check_int(n_classes, "n_classes", owner="palette", low=1, fix=_N_CLASSES_FIX)
    return _palette_sequence(max(16, 1 << (n_classes - 1).bit_length()))[:n_classes].copy()  # few cache keys


def palette_css(n_classes: int) -> list[str]:
    """:func:`palette` as CSS colours ("#1f77b4", ...), for charts and the browser."""
    return ["#%02x%02x%02x" % tuple(int(v) for v in rgb) for rgb in palette(n_classes)]


def classify_grid(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class (argmax) and confidence margin ``s = (top1 - top2) / (top1 - min)`` of each cell's logits.

    ``s`` is 1 when the winner is far ahead of the runner-up relative to the logits' spread and 0 on
    a tie (also when all logits are equal, instead of dividing by zero). With exactly 2 classes
    ``top2 == min``, so ``s`` is 1 everywhere except on exact ties.

    Takes logits of shape (n_cells, n_classes >= 2); returns ``classes`` int64 (n_cells,) and
    ``confidence`` float32 (n_cells,) in [0, 1].
    """
    logits = check_points(logits, "logits", owner="classify_grid", min_rows=0).astype(np.float64, copy=False)
    if logits.shape[1] < 2:
        raise argument_error("logits", "classify_grid", "have shape (n_cells, n_classes >= 2)", f"shape {logits.shape}")
    ordered = np.partition(logits, (-2, -1), axis=1)
    top1, top2, spread = ordered[:, -1], ordered[:, -2], ordered[:, -1] - logits.min(axis=1)
    confidence = np.divide(top1 - top2, spread, out=np.zeros_like(spread), where=spread > 0)
    return logits.argmax(axis=1).astype(np.int64), confidence.astype(np.float32)


def territory_image(classes: np.ndarray, confidence: np.ndarray, resolution: int | tuple[int, int], n_classes: int,
                    *, boundary_threshold: float = 0.15) -> np.ndarray:
    """Paint cells: class colour blended with white by confidence, boundary cells white.

    A cell is ``white + w * (palette[c] - white)`` with ``w = 0.35 + 0.65 * s``: exactly the class
    colour at ``s = 1``, pale but still that class's hue just above the boundary. Cells with
    ``s < boundary_threshold`` are white, so the boundary is a white band with a visible step to the
    territories on either side.

    Parameters
    ----------
    classes : ndarray of int, shape (rows * columns,) or (rows, columns), in image order
    confidence : ndarray of float in [0, 1], same size (see :func:`classify_grid`)
    resolution : int, or (rows, columns)
        Cells per side of a square grid, or the grid's shape (:func:`~ttv_core.canvas.grid_shape`).
    n_classes : int
        The classifier's class count (colours index the palette by class, whatever classes are present).
    boundary_threshold : float in [0, 1], default 0.15
        Margin below which a cell is boundary; 0 draws none.

    Returns uint8, shape (rows, columns, 3).
    """
    owner = "territory_image"
    rows, columns = (resolution, resolution) if np.ndim(resolution) == 0 else resolution
    rows = check_int(rows, "resolution", owner=owner, low=2, fix=RESOLUTION_FIX)
    columns = check_int(columns, "resolution", owner=owner, low=2, fix=RESOLUTION_FIX)
    n_classes = check_int(n_classes, "n_classes", owner=owner, low=1, fix=_N_CLASSES_FIX)
    threshold = check_real(boundary_threshold, "boundary_threshold", owner=owner, low=0.0, high=1.0,
                           fix="0.15 is the usual value.")
    classes = np.asarray(classes).reshape(-1)
    confidence = np.asarray(confidence, dtype=np.float64).reshape(-1)
    for name, array in (("classes", classes), ("confidence", confidence)):
        if array.size != rows * columns:
            raise argument_error(name, owner, f"hold {rows} x {columns} = {rows * columns} cells", f"{array.size}")
    classes = check_classes(classes, "classes", owner=owner, n_classes=n_classes)
    if not ((confidence >= 0) & (confidence <= 1)).all():
        got = f"values in [{confidence.min()}, {confidence.max()}]"
        raise argument_error("confidence", owner, "lie in [0, 1]", got, "Compute it with classify_grid.")
    weight = (_PALEST + (1 - _PALEST) * confidence)[:, None]
    colours = _WHITE + weight * (palette(n_classes)[classes] - _WHITE)
    colours[confidence < threshold] = _WHITE
    return np.rint(colours).astype(np.uint8).reshape(rows, columns, 3)


@dataclass(frozen=True, eq=False)
class Territory:
    """A rendered territory and what it was painted from; the arrays are made read-only.

    ``image`` uint8 (rows, columns, 3), ``classes`` int64 (rows, columns), ``confidence`` float32
    (rows, columns), all in image order (row 0 at ``extent.y_max``; square for a square extent, see
    :func:`~ttv_core.canvas.grid_shape`), and the ``extent`` they cover.
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
        from ..data.dynamics import png_bytes

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
        The epoch's head g_e, e.g. a :class:`~ttv_core.data.head.Head`.
    extent : Extent
    resolution : int, default 200
        Cells per side of a square extent (about as many cells in all for another shape).
    boundary_threshold : float, default 0.15
        See :func:`territory_image`.
    batch_size : int, default 8192
        Cells decoded at a time: memory stays at ``batch_size * D`` floats (16 MB for D = 512)
        whatever the resolution.

    Returns a :class:`Territory`.
    """
    owner = "render_territory"
    resolution = check_int(resolution, "resolution", owner=owner, low=2, high=MAX_RESOLUTION, fix=RESOLUTION_FIX)
    batch_size = check_int(batch_size, "batch_size", owner=owner, low=1, fix="8192 suits a CPU.")
    grid = grid_points(extent, resolution)
    classes = np.empty(len(grid), dtype=np.int64)
    confidence = np.empty(len(grid), dtype=np.float32)
    n_classes = 0
    for start in range(0, len(grid), batch_size):
        cells = grid[start : start + batch_size]
        representations = np.asarray(decode(cells), dtype=np.float32)
        if representations.ndim != 2 or len(representations) != len(cells):
            raise argument_error("decode", owner, f"map cells ({len(cells)}, 2) to ({len(cells)}, D)",
                                 f"shape {representations.shape}")
        logits = np.asarray(head(representations))
        if logits.ndim != 2 or len(logits) != len(cells) or (n_classes and logits.shape[1] != n_classes):
            raise argument_error("head", owner, f"map ({len(cells)}, D) to logits ({len(cells)}, n_classes)",
                                 f"shape {logits.shape}")
        n_classes = logits.shape[1]
        classes[start : start + len(cells)], confidence[start : start + len(cells)] = classify_grid(logits)
    shape = grid_shape(extent, resolution)
    image = territory_image(classes, confidence, shape, n_classes, boundary_threshold=boundary_threshold)
    return Territory(image, classes.reshape(shape), confidence.reshape(shape), extent)
