"""The umap baseline: a seeded umap-learn map per epoch, aligned to the previous one, with no inverse.

umap-learn's first fit in a process compiles numba code (~10 s), so every test shares one fitted
baseline on small blobs; later fits of 180 points take a fraction of a second.
"""

import numpy as np
import pytest

from ttv_core.fit.alignment import best_rotation
from ttv_core.fit.baseline import NoInverseError, UmapBaseline
from ttv_core.errors import ConfigError, DataError
from ttv_core.fit.model import NotFittedError

N_PER_BLOB, DIM = 60, 12


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs in 12-D, 60 points each, with their labels."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(3, DIM))
    labels = np.repeat(np.arange(3), N_PER_BLOB)
    points = (centres[labels] + rng.normal(size=(len(labels), DIM))).astype(np.float32)
    return points, labels


@pytest.fixture(scope="module")
def fitted(blobs):
    pytest.importorskip("umap")  # a declared requirement; imported here, not at collection (it costs seconds)
    points, _ = blobs
    return UmapBaseline(n_neighbors=10, seed=3).fit(points)


def rotation(degrees: float) -> np.ndarray:
    theta = np.radians(degrees)
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def nearest_label(embedding: np.ndarray, labels: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Label of the nearest embedded training point of each query (a 1-NN classifier on the map)."""
    nearest = ((queries[:, None, :] - embedding[None]) ** 2).sum(axis=2).argmin(axis=1)
    return labels[nearest]


def test_embedding_shape_dtype_and_quality(blobs, fitted):
    points, labels = blobs
    assert fitted.embedding_.shape == (len(points), 2) and fitted.embedding_.dtype == np.float32
    assert fitted.alignment_ is None and fitted.n_features_in_ == DIM
    # each blob stays together: the leave-one-out 1-NN classifier on the map is (nearly) perfect
    distances = ((fitted.embedding_[:, None] - fitted.embedding_[None]) ** 2).sum(axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (labels[distances.argmin(axis=1)] == labels).mean() >= 0.95


def test_same_seed_same_map_other_seed_other_map(blobs, fitted):
    points, _ = blobs
    again = UmapBaseline(n_neighbors=10, seed=3).fit(points)
    np.testing.assert_array_equal(again.embedding_, fitted.embedding_)
    other = UmapBaseline(n_neighbors=10, seed=4).fit(points)
    assert not np.allclose(other.embedding_, fitted.embedding_, atol=1e-3)


def test_fit_aligns_to_a_rotated_previous_embedding(blobs, fitted):
    points, _ = blobs
    previous = fitted.embedding_ @ rotation(90.0).T + [20.0, -5.0]
    aligned = UmapBaseline(n_neighbors=10, seed=3).fit(points, previous_embedding=previous)
    assert aligned.alignment_.angle_degrees == pytest.approx(90.0, abs=1e-3)
    assert not aligned.alignment_.reflection
    assert abs(best_rotation(previous, aligned.embedding_).angle_degrees) < 1e-3
    np.testing.assert_allclose(aligned.embedding_, previous, atol=1e-3)
    assert aligned.embedding_.dtype == np.float32


def test_fit_mirrors_onto_a_mirrored_previous_embedding(blobs, fitted):
    points, _ = blobs
    previous = fitted.embedding_ * [1.0, -1.0]
    aligned = UmapBaseline(n_neighbors=10, seed=3).fit(points, previous_embedding=previous)
    assert aligned.alignment_.reflection, "a UMAP layout has no handedness: mirroring is a fair alignment"
    assert not best_rotation(previous, aligned.embedding_).reflection


def test_transform_places_training_points_on_their_map_and_new_points_in_their_blob(blobs, fitted):
    points, labels = blobs
    np.testing.assert_array_equal(fitted.transform(points), fitted.embedding_)
    noisy = points + np.random.default_rng(1).normal(scale=0.3, size=points.shape).astype(np.float32)
    placed = fitted.transform(noisy)
    assert placed.shape == (len(points), 2) and placed.dtype == np.float32
    assert (nearest_label(fitted.embedding_, labels, placed) == labels).mean() >= 0.95


def test_transform_needs_a_fit_and_the_fitted_dimension(fitted):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        UmapBaseline().transform(np.zeros((3, DIM)))
    with pytest.raises(DataError, match=r"The 'representations' argument of UmapBaseline.transform must be a 2-D "
                                        rf"array of shape \(n_samples, {DIM}\)"):
        fitted.transform(np.zeros((3, DIM + 1)))


def test_inverse_transform_says_there_is_no_inverse(fitted):
    with pytest.raises(NoInverseError, match="no inverse") as raised:
        fitted.inverse_transform(np.zeros((4, 2)))
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, NotImplementedError)
    assert "territory" in str(raised.value)


def test_init_only_stores_and_is_keyword_only(blobs):
    baseline = UmapBaseline(n_neighbors=-5, min_dist="x")  # validated in fit, as scikit-learn does
    assert (baseline.n_neighbors, baseline.min_dist, baseline.spread, baseline.seed) == (-5, "x", 1.0, 0)
    with pytest.raises(TypeError):
        UmapBaseline(15)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"n_neighbors": 1}, (r"The 'n_neighbors' parameter of UmapBaseline must be an int in the range \[2, 179\] "
                              r"\(n_samples - 1\)\. Got 1 instead")),
        ({"n_neighbors": 180}, r"The 'n_neighbors' parameter of UmapBaseline must be an int in the range \[2, 179\]"),
        ({"n_neighbors": 15.0}, r"The 'n_neighbors' parameter of UmapBaseline must be an int"),
        ({"min_dist": -0.1}, (r"The 'min_dist' parameter of UmapBaseline must be a float in the range \[0.0, 1.0\] "
                               r"\(spread\)\. Got -0.1 instead")),
        ({"min_dist": 2.0}, r"The 'min_dist' parameter of UmapBaseline must be a float in the range \[0.0, 1.0\]"),
        ({"spread": 0.0}, r"The 'spread' parameter of UmapBaseline must be a float in the range \(0.0, inf\)"),
        ({"seed": -1}, r"The 'seed' parameter of UmapBaseline must be an int in the range \[0, 4294967295\]"),
        ({"seed": True}, r"The 'seed' parameter of UmapBaseline must be an int"),
    ],
)
def test_invalid_parameters_are_named(blobs, parameters, message):
    points, _ = blobs
    with pytest.raises(ConfigError, match=message):
        UmapBaseline(**parameters).fit(points)


def test_invalid_arguments_are_named(blobs):
    points, _ = blobs
    with pytest.raises(DataError, match=r"The 'previous_embedding' argument of UmapBaseline.fit must have one row "
                                        r"per sample, shape \(180, 2\)\. Got shape \(179, 2\) instead"):
        UmapBaseline().fit(points, previous_embedding=np.zeros((179, 2)))
    with pytest.raises(DataError, match=r"The 'representations' argument of UmapBaseline.fit must hold at least 3"):
        UmapBaseline().fit(points[:2])
    with pytest.raises(DataError, match=r"The 'representations' argument of UmapBaseline.fit must hold finite"):
        UmapBaseline().fit(np.full((10, 3), np.nan))
