"""kNN at scale: the blocked exact search equals scikit-learn's, the cell search finds nearly all
neighbours of clustered data, and nearest_neighbors switches between them by size."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.neighbors import NearestNeighbors

from ttv_core.fit import graph, knn

K = 10


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    """3,000 points in 64-D: 12 clusters with structure inside them (as trained features have)."""
    points, _ = make_blobs(n_samples=3000, n_features=64, centers=12, cluster_std=2.0, random_state=0)
    return points.astype(np.float32)


def _sklearn(points, k, queries=None):
    distances, indices = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(queries)
    return indices, distances


def test_exact_search_equals_scikit_learn(clustered):
    indices, distances = knn.exact_knn(clustered, K)
    expected_indices, expected_distances = _sklearn(clustered, K)
    assert indices.dtype == np.int64 and distances.dtype == np.float32 and indices.shape == (3000, K)
    assert knn.recall(indices, expected_indices) == 1.0
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-5)
    assert not (indices == np.arange(3000)[:, None]).any()  # never the point itself


def test_exact_search_of_queries_among_points(clustered):
    queries = clustered[:50] + 0.01
    indices, distances = knn.exact_knn(clustered, K, queries=queries)
    expected_indices, expected_distances = _sklearn(clustered, K, queries)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-5, atol=1e-5)


def test_cell_search_finds_nearly_all_neighbours_and_is_deterministic(clustered):
    exact, _ = knn.exact_knn(clustered, K)
    indices, distances = knn.approximate_knn(clustered, K, seed=3)
    assert knn.recall(indices, exact) >= 0.98
    assert not (indices == np.arange(len(clustered))[:, None]).any()
    assert (np.diff(distances, axis=1) >= 0).all()
    true = np.linalg.norm(clustered[indices] - clustered[:, None, :], axis=2)
    np.testing.assert_allclose(distances, true, rtol=1e-5, atol=1e-5)  # the distances of what was found are exact
    again, _ = knn.approximate_knn(clustered, K, seed=3)
    np.testing.assert_array_equal(indices, again)


def test_cell_search_without_clusters_still_finds_most_neighbours():
    points = np.random.default_rng(0).normal(size=(2000, 16)).astype(np.float32)
    exact, _ = knn.exact_knn(points, K)
    assert knn.recall(knn.approximate_knn(points, K)[0], exact) >= 0.9


def test_tiny_cells_fall_back_to_searching_everything():
    points = np.random.default_rng(1).normal(size=(30, 4)).astype(np.float32)
    indices, _ = knn.approximate_knn(points, 25, probes=1)
    assert knn.recall(indices, knn.exact_knn(points, 25)[0]) == 1.0


def test_nearest_neighbors_switches_to_cells_past_the_limit(clustered, monkeypatch):
    small = graph.nearest_neighbors(clustered, K)  # below the limit: scikit-learn, exact
    np.testing.assert_array_equal(small[0], _sklearn(clustered, K)[0])
    monkeypatch.setattr(knn, "EXACT_BELOW", 1000)
    approximate = graph.nearest_neighbors(clustered, K, seed=3)
    np.testing.assert_array_equal(approximate[0], knn.approximate_knn(clustered, K, seed=3)[0])
    exact = graph.nearest_neighbors(clustered, K, exact=True)  # the figures' search stays exact
    assert knn.recall(exact[0], _sklearn(clustered, K)[0]) == 1.0
    maps = graph.nearest_neighbors(clustered[:, :2], K)  # 2-D maps: always exact (a k-d tree)
    np.testing.assert_array_equal(maps[0], _sklearn(clustered[:, :2], K)[0])
