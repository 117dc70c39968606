"""Territories: colours index the palette, geometry is oriented, bad arguments are named."""

import io
import re

import numpy as np
import pytest
from PIL import Image

from ttv_core.errors import ConfigError, DataError
from ttv_core.canvas import ASPECTS, ZOOM_STEP, Extent, extent_of, frame_windows, grid_points, grid_shape
from ttv_core.draw.territory import classify_grid, palette, render_territory, territory_image

WHITE = np.array([255, 255, 255], dtype=np.uint8)
# Why 20: the lightness/chroma band keeps ~12k usable 8-bit colours; packing 100 of them, greedy
# farthest-point reaches ~25 RGB units (0.06 in OKLab, several just-noticeable differences), so 20
# leaves margin. The first 20 must be far more distinct (Tableau 10 itself is 67 apart).
MIN_RGB_DISTANCE = {3: 60.0, 10: 60.0, 11: 50.0, 40: 30.0, 100: 20.0}


def _min_pairwise_distance(colours: np.ndarray) -> float:
    c = colours.astype(np.float64)
    distances = np.sqrt(((c[:, None] - c[None]) ** 2).sum(axis=-1))
    distances[np.diag_indices(len(c))] = np.inf
    return float(distances.min())


def _linear_head(logits_of_x):
    """A numpy head on 2-D representations whose logits depend on x only."""
    return lambda points: np.stack(logits_of_x(np.asarray(points)[:, 0]), axis=1).astype(np.float32)


@pytest.mark.parametrize("n_classes", sorted(MIN_RGB_DISTANCE))
def test_palette_is_distinct_and_shaped(n_classes):
    colours = palette(n_classes)
    assert colours.shape == (n_classes, 3) and colours.dtype == np.uint8
    assert _min_pairwise_distance(colours) >= MIN_RGB_DISTANCE[n_classes]
    assert np.sqrt(((colours.astype(float) - 255) ** 2).sum(axis=1)).min() > 60  # never mistaken for boundary


def test_palette_starts_with_tableau_10_and_is_prefix_stable():
    assert palette(10)[0].tolist() == [31, 119, 180] and palette(10)[3].tolist() == [214, 39, 40]
    assert np.array_equal(palette(100)[:40], palette(40))
    assert np.array_equal(palette(11)[:10], palette(10))


def test_colours_index_the_palette_not_the_largest_class_present():
    image = territory_image(np.zeros(4, int), np.ones(4), 2, 10)  # only class 0 present, of 10
    assert (image.reshape(-1, 3) == palette(10)[0]).all()
    image = territory_image(np.full(4, 1), np.ones(4), 2, 10)  # class 1 is not the "last" colour
    assert (image.reshape(-1, 3) == palette(10)[1]).all()


def test_boundary_cells_are_white_and_low_confidence_is_paler():
    confidence = np.array([0.0, 0.149, 0.15, 0.5, 0.8, 1.0])
    classes = np.zeros(6, dtype=int)
    cells = territory_image(np.r_[classes, 0, 0, 0], np.r_[confidence, 1, 1, 1], 3, 3).reshape(-1, 3)[:6]
    assert (cells[:2] == WHITE).all()
    assert not (cells[2] == WHITE).all()
    distance_to_white = np.abs(cells.astype(int) - 255).sum(axis=1)[2:]
    assert np.all(np.diff(distance_to_white) > 0)


def test_classify_grid_margin():
    classes, confidence = classify_grid(np.array([[3.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 2.0, 2.0], [0, 4, 1]]))
    assert classes.tolist() == [0, 0, 1, 1] and classes.dtype == np.int64
    np.testing.assert_allclose(confidence, [2 / 3, 0.0, 0.0, 3 / 4])
    assert confidence.dtype == np.float32


def test_extent_is_square_padded_and_holds_every_epoch():
    rng = np.random.default_rng(0)
    epochs = [rng.normal(size=(30, 2)) * [4.0, 1.0] + shift for shift in ([0, 0], [5, 2], [-3, 1])]
    extent = extent_of(epochs)
    assert np.isclose(extent.x_max - extent.x_min, extent.y_max - extent.y_min)
    assert all(extent.contains(points).all() for points in epochs)
    pooled = np.concatenate(epochs)
    span = (pooled.max(axis=0) - pooled.min(axis=0)).max()
    assert np.isclose(pooled[:, 0].min() - extent.x_min, 0.1 * span)  # x is the wider axis: 10 % pad
    assert pooled[:, 1].min() - extent.y_min > 0.1 * span
    assert len(extent.as_list()) == 4 and extent.as_list()[0] == extent.x_min


def test_extent_of_identical_points_is_a_unit_square_around_them():
    extent = extent_of(np.full((5, 2), [3.0, -2.0]))
    assert extent.as_list() == [2.5, -2.5, 3.5, -1.5]


def test_grid_orientation_row_zero_is_the_top():
    extent = Extent(0.0, 10.0, 4.0, 14.0)
    grid = grid_points(extent, 4).reshape(4, 4, 2)
    assert grid.dtype == np.float32
    np.testing.assert_allclose(grid[0, :, 1], 13.5)  # top row: half a cell below y_max
    np.testing.assert_allclose(grid[-1, :, 1], 10.5)
    np.testing.assert_allclose(grid[:, 0, 0], 0.5)  # left column: half a cell right of x_min
    np.testing.assert_allclose(grid[:, -1, 0], 3.5)


def test_render_territory_splits_at_the_middle_column():
    head = _linear_head(lambda x: (-x, x))  # class 0 where x < 0, class 1 where x > 0
    extent = Extent(-1.0, -1.0, 1.0, 1.0)
    territory = render_territory(lambda cells: cells, head, extent, resolution=11, batch_size=7)
    classes = territory.classes
    assert classes.shape == (11, 11) and territory.image.shape == (11, 11, 3)
    assert (classes[:, :5] == 0).all() and (classes[:, 6:] == 1).all()
    assert (territory.image[:, 5] == WHITE).all()  # x == 0 exactly: a tie, drawn as boundary
    assert (territory.image[:, :5] == palette(2)[0]).all() and (territory.image[:, 6:] == palette(2)[1]).all()
    assert Image.open(io.BytesIO(territory.png())).size == (11, 11)
    with pytest.raises(ValueError):
        territory.image[0, 0] = 0  # read-only: a rendered territory is an immutable result


AT_LEAST_ONE = "must be an int in the range [1, inf)."


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: grid_points(Extent(0, 0, 1, 1), 1), ConfigError,
         "The 'resolution' parameter of grid_points must be an int in the range [2, 2000]. Got 1 "),
        (lambda: render_territory(lambda c: c, lambda r: r, Extent(0, 0, 1, 1), 1), ConfigError,
         "The 'resolution' parameter of render_territory must be an int in the range [2, 2000]. Got 1 "),
        (lambda: render_territory(lambda c: c, lambda r: r, Extent(0, 0, 1, 1), batch_size=0), ConfigError,
         "The 'batch_size' parameter of render_territory must be an int in the range [1, inf). Got 0 "),
        (lambda: territory_image(np.zeros(4, int), np.ones(4), 2, 2, boundary_threshold=1.5), ConfigError,
         "The 'boundary_threshold' parameter of territory_image must be a float in the range [0.0, 1.0]. Got 1.5 "),
        (lambda: territory_image(np.zeros(4, int), np.ones(4), 2, 2, boundary_threshold=-0.1), ConfigError,
         "The 'boundary_threshold' parameter of territory_image must be a float in the range [0.0, 1.0]. Got -0.1 "),
        (lambda: territory_image(np.full(4, 3), np.ones(4), 2, 2), DataError,
         "The 'classes' argument of territory_image must lie in [0, 2) (n_classes). Got values in [3, 3] "),
        (lambda: territory_image(np.zeros(4, int), np.full(4, 2.0), 2, 2), DataError,
         "The 'confidence' argument of territory_image must lie in [0, 1]. Got values in [2.0, 2.0] "),
        (lambda: palette(0), ConfigError, f"The 'n_classes' parameter of palette {AT_LEAST_ONE} Got 0 "),
        (lambda: palette(True), ConfigError, f"The 'n_classes' parameter of palette {AT_LEAST_ONE} Got True "),
        (lambda: extent_of(np.zeros((3, 2)), pad=-0.1), ConfigError,
         "The 'pad' parameter of extent_of must be a float in the range [0.0, inf). Got -0.1 "),
        (lambda: extent_of(np.zeros((3, 3))), DataError,
         "The 'embeddings' argument of extent_of must be a 2-D array of shape (n_samples, 2). Got shape (3, 3) "),
        (lambda: extent_of([np.zeros((3, 2)), np.array([[0.0, np.nan]])]), DataError,
         ("The 'embeddings' argument of extent_of must hold finite numbers. "
          "Got NaN or infinity in 1 row(s), first row 0 = [0.0, nan] ")),
        (lambda: Extent(1.0, 0.0, 0.0, 1.0), ConfigError,
         "An Extent must be finite with x_min < x_max and y_min < y_max. Got [1.0, 0.0, 0.0, 1.0] "),
        (lambda: classify_grid(np.zeros((3, 1))), DataError,
         "The 'logits' argument of classify_grid must have shape (n_cells, n_classes >= 2). Got shape (3, 1) "),
    ],
)
def test_invalid_arguments_are_named(call, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        call()


def test_frame_windows_follow_small_early_maps_and_glide():
    rng = np.random.default_rng(0)
    # A map that grows 30-fold over 12 epochs (as a warm-started chain's often does) and drifts right.
    maps = [rng.normal(size=(200, 2)) * [1.5, 1.0] * 1.35**e + [e, 0] for e in range(12)]
    windows, whole = frame_windows([(m.min(axis=0), m.max(axis=0)) for m in maps])
    aspects = {round(w.width / w.height, 9) for w in windows}
    assert len(aspects) == 1 and aspects.pop() in ASPECTS and abs(whole.width / whole.height - windows[0].width / windows[0].height) < 1e-9
    for m, w in zip(maps, windows):
        assert w.contains(m).all() and whole.contains(m).all()
    growth = [b.width / a.width for a, b in zip(windows, windows[1:])]
    assert max(growth) <= 1.35 * 1.01  # no faster than the map itself
    # One outlying epoch: the frames around it widen gradually, not in one jump, and narrow again.
    sizes = [1, 1, 1, 1, 8, 1, 1, 1, 1]
    windows, _ = frame_windows([(-np.array([s, s]), np.array([s, s])) for s in sizes])
    steps = [b.width / a.width for a, b in zip(windows, windows[1:])]
    assert all(max(step, 1 / step) <= ZOOM_STEP + 1e-9 for i, step in enumerate(steps) if i != 3)
    assert windows[0].width < windows[3].width < windows[4].width and windows[-1].width < windows[5].width
    first = maps[0]
    share = lambda window: np.prod(np.ptp(first, axis=0)) / (window.width * window.height)  # noqa: E731
    assert share(windows[0]) > 10 * share(whole)  # the first epoch fills its frame, not a corner of the run's


def test_frame_windows_of_one_point_or_a_line_are_proper_frames():
    windows, whole = frame_windows([(np.array([1.0, 1.0]), np.array([1.0, 1.0])), (np.array([0.0, 0.0]), np.array([4.0, 0.0]))])
    assert all(w.width > 0 and w.height > 0 for w in windows) and whole.contains(np.array([[1.0, 1.0], [4.0, 0.0]])).all()
    assert grid_shape(Extent(0, 0, 1, 1), 200) == (200, 200) and grid_shape(Extent(0, 0, 2, 1), 200) == (141, 283)
