"""Point markers: their colours agree with the territories, dots land on the right pixels, bad
arguments are named."""

import re

import numpy as np
import pytest

from ttv_core.errors import ConfigError, DataError
from ttv_core.draw.points import draw_points, point_colours
from ttv_core.canvas import Extent
from ttv_core.draw.territory import palette, territory_image

WHITE = np.array([255, 255, 255], dtype=np.uint8)


def test_territory_colour_equals_point_colour_for_every_class():
    n_classes = 5
    confident = np.ones(n_classes * n_classes, dtype=np.float32)  # s = 1 everywhere
    classes = np.arange(n_classes * n_classes) % n_classes
    image = territory_image(classes, confident, n_classes, n_classes).reshape(-1, 3)
    fill, ring, misclassified = point_colours(np.arange(n_classes), n_classes=n_classes)
    for c in range(n_classes):
        assert (image[classes == c] == palette(n_classes)[c]).all()
        assert (image[classes == c] == fill[c]).all() and (ring[c] == fill[c]).all()
    assert not misclassified.any()


def test_draw_points_fill_at_the_point_and_ring_around_misclassified():
    image = np.full((21, 21, 3), 255, dtype=np.uint8)
    extent = Extent(0.0, 0.0, 21.0, 21.0)
    points = np.array([[5.5, 15.5], [15.5, 5.5]])  # pixel (row 5, col 5) and (row 15, col 15)
    fill, ring, misclassified = point_colours(np.array([0, 1]), np.array([0, 2]), n_classes=3)
    assert misclassified.tolist() == [False, True] and (fill[1] == palette(3)[2]).all()
    drawn = draw_points(image, extent, points, fill, ring, radius=2)
    assert (drawn[5, 5] == palette(3)[0]).all() and (drawn[15, 15] == palette(3)[2]).all()
    assert (drawn[15, 15 + 3] == palette(3)[1]).all() and (drawn[15 - 3, 15] == palette(3)[1]).all()
    assert (drawn[5, 5 + 3] == WHITE).all()  # correct point: no ring
    assert (image == 255).all()  # input untouched
    outlined = draw_points(image, extent, points, fill, ring, radius=2, outline=(0, 0, 0))
    assert (outlined[5, 5 + 3] == 0).all() and (outlined[15, 15 + 4] == 0).all()


def test_draw_points_skips_points_outside_the_extent():
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    outside = np.array([[2.0, 0.5], [-0.1, 0.5], [0.5, 1.01]])
    assert (draw_points(image, Extent(0.0, 0.0, 1.0, 1.0), outside, [9, 9, 9]) == 0).all()


def test_every_dot_keeps_its_own_colour_at_its_centre_despite_overlaps():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 1, size=(300, 2))  # dense: discs of radius 2 overlap a lot on 40 x 40
    fill = rng.integers(0, 256, size=(300, 3), dtype=np.uint8)
    drawn = draw_points(np.zeros((40, 40, 3), np.uint8), Extent(0.0, 0.0, 1.0, 1.0), points, fill, radius=2)
    row, column = ((1 - points[:, 1]) * 40).astype(int), (points[:, 0] * 40).astype(int)
    pixel = row * 40 + column
    alone = np.bincount(pixel, minlength=1600)[pixel] == 1
    assert alone.sum() > 200
    assert (drawn[row[alone], column[alone]] == fill[alone]).all()


IMAGE, EXTENT, ONE_POINT = np.zeros((4, 4, 3), np.uint8), Extent(0, 0, 1, 1), np.zeros((1, 2))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: point_colours(np.array([0, 5]), n_classes=3), DataError,
         "The 'labels' argument of point_colours must lie in [0, 3) (n_classes). Got values in [0, 5] "),
        (lambda: point_colours(np.array([0.0, 1.0]), n_classes=3), DataError,
         ("The 'labels' argument of point_colours must be a 1-D array of class indices. "
          "Got shape (2,), dtype float64 ")),
        (lambda: point_colours(np.array([0, 1]), np.array([0]), n_classes=3), DataError,
         "The 'predictions' argument of point_colours must have the shape of labels (2,). Got shape (1,) "),
        (lambda: point_colours(np.array([0]), n_classes=0), ConfigError,
         "The 'n_classes' parameter of point_colours must be an int in the range [1, inf). Got 0 "),
        (lambda: draw_points(IMAGE, EXTENT, ONE_POINT, [0, 0, 0], radius=-1), ConfigError,
         "The 'radius' parameter of draw_points must be an int in the range [0, 32]. Got -1 "),
        (lambda: draw_points(IMAGE, EXTENT, ONE_POINT, [0, 0, 0], ring_width=0), ConfigError,
         "The 'ring_width' parameter of draw_points must be an int in the range [1, 32]. Got 0 "),
        (lambda: draw_points(IMAGE.astype(float), EXTENT, ONE_POINT, [0, 0, 0]), DataError,
         "The 'image' argument of draw_points must be uint8 of shape (rows, columns, 3). Got float64 (4, 4, 3) "),
        (lambda: draw_points(IMAGE, EXTENT, np.zeros((1, 3)), [0, 0, 0]), DataError,
         "The 'points' argument of draw_points must be a 2-D array of shape (n_samples, 2). Got shape (1, 3) "),
        (lambda: draw_points(IMAGE, EXTENT, ONE_POINT, [0, 0, 256]), DataError,
         ("The 'fill' argument of draw_points must be RGB in 0..255 of shape (3,) or (1, 3). "
          "Got shape (3,), values in [0, 256] ")),
    ],
)
def test_invalid_arguments_are_named(call, error, message):
    with pytest.raises(error, match="^" + re.escape(message)):
        call()
