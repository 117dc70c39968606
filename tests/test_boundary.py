"""Boundary points: on the head's boundary, on the segment between their pair, reproducible."""

import re

import numpy as np
import pytest
from torch import nn

from ttv_core.evaluate.boundary import boundary_points
from ttv_core.errors import ConfigError, DataError
from ttv_core.data.head import Head


def _two_class_head(direction):
    """Logits (w.x, -w.x): the boundary is the hyperplane w.x = 0."""
    w = np.asarray(direction, dtype=np.float32)
    return lambda x: np.stack([x @ w, -(x @ w)], axis=1)


def _two_blobs(n=60, dim=5, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, dim), dtype=np.float32)
    centres[:, 0] = [-2.0, 2.0]
    return (centres[np.arange(n) % 2] + rng.normal(size=(n, dim))).astype(np.float32)


def _mixing_weight(point, first, second):
    """lambda with point = lambda * first + (1 - lambda) * second, and the distance off that line."""
    direction = first - second
    lam = float((point - second) @ direction / (direction @ direction))
    return lam, float(np.linalg.norm(point - (lam * first + (1 - lam) * second)))


def test_points_are_on_the_boundary_between_their_pairs():
    x = _two_blobs()
    head = _two_class_head([1.0, 0.5, 0, 0, 0])
    points, pairs = boundary_points(x, head, 40, rng=np.random.default_rng(1))
    assert points.dtype == np.float32 and pairs.dtype == np.int64
    assert points.shape == (40, 5) and pairs.shape == (40, 2)
    probabilities = np.exp(head(points)) / np.exp(head(points)).sum(axis=1, keepdims=True)
    assert (np.abs(probabilities[:, 0] - probabilities[:, 1]) < 0.1).all()
    predicted = head(x).argmax(axis=1)
    assert (predicted[pairs[:, 0]] != predicted[pairs[:, 1]]).all()
    assert len(np.unique(pairs, axis=0)) == len(pairs)  # no pair, hence no point, twice
    for point, (i, j) in zip(points, pairs):
        lam, off_line = _mixing_weight(point, x[i], x[j])
        assert 0.4 - 1e-5 <= lam <= 1 + 1e-5 and off_line < 1e-4


def test_tolerance_and_l_bound_are_honoured():
    x = _two_blobs(seed=3)
    head = _two_class_head([1.0, 0, 0, 0, 0])
    points, pairs = boundary_points(x, head, 30, rng=np.random.default_rng(0), l_bound=0.5, tolerance=0.02)
    probabilities = np.exp(head(points)) / np.exp(head(points)).sum(axis=1, keepdims=True)
    assert len(points) > 0 and (np.abs(probabilities[:, 0] - probabilities[:, 1]) < 0.02).all()
    assert all(_mixing_weight(p, x[i], x[j])[0] >= 0.5 - 1e-5 for p, (i, j) in zip(points, pairs))


def test_same_seed_same_points_and_a_different_seed_differs():
    x = _two_blobs()
    head = _two_class_head([1.0, 0.5, 0, 0, 0])
    first = boundary_points(x, head, 25, rng=np.random.default_rng(7))
    again = boundary_points(x, head, 25, rng=np.random.default_rng(7))
    other = boundary_points(x, head, 25, rng=np.random.default_rng(8))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_works_with_a_torch_head_of_several_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 8)).astype(np.float32)
    head = Head(nn.Linear(8, 4), dim=8, n_classes=4)
    points, _ = boundary_points(x, head, 30, rng=rng)
    probabilities = np.exp(head(points)) / np.exp(head(points)).sum(axis=1, keepdims=True)
    top_two = np.sort(probabilities, axis=1)[:, -2:]
    assert len(points) > 0 and (top_two[:, 1] - top_two[:, 0] < 0.1).all()


def test_a_single_predicted_class_gives_empty_arrays_of_the_right_shape():
    x = np.abs(_two_blobs()) + 1.0  # all on the positive side of w.x = 0: one predicted class
    points, pairs = boundary_points(x, _two_class_head([1.0, 0, 0, 0, 0]), 10, rng=np.random.default_rng(0))
    assert points.shape == (0, 5) and points.dtype == np.float32
    assert pairs.shape == (0, 2) and pairs.dtype == np.int64
    points, pairs = boundary_points(_two_blobs(), _two_class_head([1.0, 0, 0, 0, 0]), 0, rng=np.random.default_rng(0))
    assert points.shape == (0, 5) and pairs.shape == (0, 2)


def test_unreachable_boundary_returns_fewer_points_not_an_endless_loop():
    x = _two_blobs()
    x[:, 0] = np.where(np.arange(len(x)) % 2, 1.0, -1.0) * 10  # every sample far from w.x = 0
    head = _two_class_head([1.0, 0, 0, 0, 0])
    points, pairs = boundary_points(x, head, 20, rng=np.random.default_rng(0), l_bound=0.9)  # mixes stay near x1
    assert points.shape == (0, 5) and pairs.shape == (0, 2)
    points, _ = boundary_points(x, head, 20, rng=np.random.default_rng(0))  # l_bound 0.4 reaches the middle
    assert len(points) == 20


@pytest.mark.parametrize(
    "name, value, rule",
    [
        ("n_points", -1, "an int in the range [0, inf)"),
        ("l_bound", 1.0, "a float in the range [0.0, 1.0)"),
        ("l_bound", -0.1, "a float in the range [0.0, 1.0)"),
        ("tolerance", 0.0, "a float in the range (0.0, 1.0]"),
        ("max_iter", 0, "an int in the range [1, inf)"),
        ("rng", 0, "a numpy.random.Generator"),
    ],
)
def test_invalid_arguments_are_named(name, value, rule):
    arguments = {"n_points": 5, "rng": np.random.default_rng(0), name: value}
    message = f"The '{name}' parameter of boundary_points must be {rule}. Got {value!r} instead."
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        boundary_points(_two_blobs(), _two_class_head([1.0, 0, 0, 0, 0]), **arguments)


def test_non_finite_representations_are_rejected():
    x = _two_blobs()
    x[3, 2] = np.nan
    message = ("The 'representations' argument of boundary_points must hold finite numbers. "
               "Got NaN or infinity in 1 row(s), first row 3 = ")
    with pytest.raises(DataError, match="^" + re.escape(message)):
        boundary_points(x, _two_class_head([1.0, 0, 0, 0, 0]), 5, rng=np.random.default_rng(0))
