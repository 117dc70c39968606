"""Aligning 2-D maps: Procrustes recovers known rotations, reflections and scales; the flip report."""

import dataclasses
from itertools import pairwise

import numpy as np
import pytest

from ttv_core.fit.alignment import Alignment, align_to, best_rotation, flip_report
from ttv_core.errors import ConfigError, DataError


def rotation(degrees: float) -> np.ndarray:
    """The 2x2 rotation by ``degrees`` for column vectors."""
    theta = np.radians(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def turn(points: np.ndarray, degrees: float, shift=(0.0, 0.0)) -> np.ndarray:
    return points @ rotation(degrees).T + np.asarray(shift)


MIRROR_Y = np.diag([1.0, -1.0])


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    """60 points of an anisotropic 2-D cloud (no symmetry that would make the rotation ambiguous)."""
    return np.random.default_rng(0).normal(size=(60, 2)) * [3.0, 1.0] + [5.0, -2.0]


@pytest.mark.parametrize("degrees", [30.0, -120.0, 179.0])
def test_best_rotation_recovers_a_known_rotation(cloud, degrees):
    current = turn(cloud, degrees, shift=(4.0, -7.0))
    alignment = best_rotation(cloud, current)
    assert isinstance(alignment, Alignment)
    assert alignment.angle_degrees == pytest.approx(-degrees, abs=1e-9)  # turning current back onto previous
    assert not alignment.reflection
    assert alignment.scale == 1.0
    np.testing.assert_allclose(alignment.matrix, rotation(-degrees), atol=1e-12)
    np.testing.assert_allclose(alignment.apply(current), cloud, atol=1e-9)


def test_a_half_turn_is_reported_as_plus_180(cloud):
    assert best_rotation(cloud, turn(cloud, 180.0)).angle_degrees == pytest.approx(180.0)


def test_best_rotation_detects_a_reflection(cloud):
    mirrored = turn(cloud @ MIRROR_Y, 40.0, shift=(1.0, 2.0))
    alignment = best_rotation(cloud, mirrored)
    assert alignment.reflection
    assert np.linalg.det(alignment.matrix) == pytest.approx(-1.0)
    np.testing.assert_allclose(alignment.apply(mirrored), cloud, atol=1e-9)

    proper = best_rotation(cloud, mirrored, allow_reflection=False)
    assert not proper.reflection
    assert np.abs(proper.apply(mirrored) - cloud).max() > 1.0, "a rotation cannot undo a mirror"


def test_fit_scale_recovers_the_scale_without_changing_the_rotation(cloud):
    current = turn(cloud, 25.0) * 4.0
    scaled = best_rotation(cloud, current, fit_scale=True)
    assert scaled.scale == pytest.approx(0.25)
    assert scaled.angle_degrees == pytest.approx(best_rotation(cloud, current).angle_degrees)
    np.testing.assert_allclose(scaled.apply(current), cloud, atol=1e-9)


def test_collinear_points_get_a_rotation_not_a_reflection():
    line = np.column_stack([np.arange(6.0), np.zeros(6)])
    alignment = best_rotation(line, line @ MIRROR_Y)  # a mirror of a line is also a rotation of it
    assert not alignment.reflection
    np.testing.assert_allclose(alignment.apply(line @ MIRROR_Y), line, atol=1e-12)


def test_alignment_is_immutable(cloud):
    alignment = best_rotation(cloud, turn(cloud, 10.0))
    with pytest.raises(dataclasses.FrozenInstanceError):
        alignment.scale = 2.0
    with pytest.raises(ValueError):
        alignment.matrix[0, 0] = 5.0


def test_align_to_undoes_a_rotation_and_keeps_float32(cloud):
    previous = cloud.astype(np.float32)
    current = turn(cloud, 70.0, shift=(-3.0, 8.0)).astype(np.float32)
    aligned = align_to(previous, current)
    assert aligned.dtype == np.float32 and aligned.shape == previous.shape
    np.testing.assert_allclose(aligned, previous, atol=1e-4)


def test_align_to_never_mirrors_unless_allowed(cloud):
    mirrored = cloud @ MIRROR_Y
    aligned = align_to(cloud, mirrored)
    assert best_rotation(cloud, aligned).reflection, "the result is still a mirror image of previous"
    assert np.abs(aligned - cloud).max() > 1.0
    np.testing.assert_allclose(align_to(cloud, mirrored, allow_reflection=True), cloud, atol=1e-9)


def test_flip_report_on_a_rotating_sequence(cloud):
    epochs = [turn(cloud, 10.0 * e, shift=(e, -e)) for e in range(5)]
    epochs[3] = epochs[3] @ MIRROR_Y  # one epoch flips
    report = flip_report(epochs)
    assert len(report) == 4
    assert [a.reflection for a in report] == [False, False, True, True]
    for index in (0, 1):
        assert report[index].angle_degrees == pytest.approx(-10.0)
    for alignment, (previous, current) in zip(report, pairwise(epochs)):
        np.testing.assert_allclose(alignment.apply(current), previous, atol=1e-9)
    assert flip_report(epochs[:1]) == []
    assert len(flip_report(np.stack(epochs))) == 4  # a 3-D array works too


def test_mismatched_shapes_are_refused(cloud):
    with pytest.raises(DataError, match=r"The 'current' argument of best_rotation must have the shape of previous"):
        best_rotation(cloud, cloud[:-1])
    with pytest.raises(DataError, match=r"The 'previous' argument of best_rotation must be a 2-D array of shape "
                                        r"\(n_samples, 2\)"):
        best_rotation(np.zeros((5, 3)), np.zeros((5, 3)))
    with pytest.raises(DataError, match=r"The 'embeddings\[2\]' argument of flip_report must have the shape"):
        flip_report([cloud, cloud, cloud[:10]])


@pytest.mark.parametrize("name", ["allow_reflection", "fit_scale"])
def test_flags_must_be_bools(cloud, name):
    with pytest.raises(ConfigError, match=rf"The '{name}' parameter of best_rotation must be a bool\. Got 1 instead"):
        best_rotation(cloud, cloud, **{name: 1})


def test_align_to_checks_allow_reflection(cloud):
    with pytest.raises(ConfigError, match=r"The 'allow_reflection' parameter of best_rotation must be a bool"):
        align_to(cloud, cloud, allow_reflection="yes")
