"""The training graph: equal to umap-learn's fuzzy simplicial set, and the edge sampling built on it."""

import re

import numpy as np
import pytest
import scipy.sparse

from ttv_core.fit import graph
from ttv_core.errors import ConfigError, DataError

N_POINTS, K = 200, 10


@pytest.fixture(scope="module")
def points() -> np.ndarray:
    """200 points in 8-D with three exact duplicates (zero distances exercise umap's conventions)."""
    data = np.random.default_rng(0).normal(size=(N_POINTS, 8)).astype(np.float32)
    data[5] = data[6] = data[7]
    return data


@pytest.fixture(scope="module")
def umap_graphs(points):
    """umap-learn's directed and symmetric graphs for local_connectivity 1 and 1.5 (one ~5 s import)."""
    umap_ = pytest.importorskip("umap.umap_")
    indices, distances = graph.nearest_neighbors(points, K)
    # umap wants the vertex itself in column 0; n_neighbors=K keeps the target log2(K) (module docstring).
    with_self = np.hstack([np.arange(N_POINTS)[:, None], indices])
    with_zero = np.hstack([np.zeros((N_POINTS, 1), np.float32), distances])
    result = {}
    for connectivity in (1.0, 1.5):
        for symmetric in (False, True):
            matrix, _, _ = umap_.fuzzy_simplicial_set(
                points, K, np.random.RandomState(0), "euclidean", knn_indices=with_self, knn_dists=with_zero,
                local_connectivity=connectivity, apply_set_operations=symmetric,
            )
            result[connectivity, symmetric] = matrix.tocsr()
    return result


@pytest.mark.parametrize("connectivity", [1.0, 1.5])
def test_graph_matches_umap_learn(points, umap_graphs, connectivity):
    indices, distances = graph.nearest_neighbors(points, K)
    directed = graph.fuzzy_membership(indices, distances, n_vertices=N_POINTS, local_connectivity=connectivity)
    symmetric = graph.fuzzy_simplicial_set(points, K, local_connectivity=connectivity)
    for ours, theirs in ((directed, umap_graphs[connectivity, False]), (symmetric, umap_graphs[connectivity, True])):
        theirs = theirs.copy()
        theirs.eliminate_zeros()
        assert ours.shape == theirs.shape == (N_POINTS, N_POINTS)
        assert ((ours != 0) != (theirs != 0)).nnz == 0, "different sparsity pattern"
        assert abs(ours - theirs).max() < 1e-4


def test_graph_is_symmetric_without_self_loops_and_in_unit_interval(points):
    weights = graph.fuzzy_simplicial_set(points, K)
    assert weights.dtype == np.float32
    assert abs(weights - weights.T).max() == 0
    assert weights.diagonal().max() == 0
    assert weights.data.min() > 0 and weights.data.max() <= 1
    assert weights.nnz >= N_POINTS * K  # the union keeps every directed edge


def test_each_row_totals_log2_k_before_the_union(points):
    indices, distances = graph.nearest_neighbors(points[10:], K)  # no duplicates: no zero distances
    directed = graph.fuzzy_membership(indices, distances, n_vertices=len(indices))
    np.testing.assert_allclose(np.asarray(directed.sum(axis=1)).ravel(), np.log2(K), rtol=1e-4)
    assert np.allclose(directed.max(axis=1).toarray(), 1.0)  # the nearest neighbour is a full member


def test_nearest_neighbors_are_exact_and_exclude_self(points):
    indices, distances = graph.nearest_neighbors(points[10:60], 4)
    full = np.linalg.norm(points[10:60, None] - points[None, 10:60], axis=2)
    np.fill_diagonal(full, np.inf)
    assert indices.dtype == np.int64 and distances.dtype == np.float32 and indices.shape == (50, 4)
    np.testing.assert_array_equal(indices, np.argsort(full, axis=1)[:, :4])
    np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :4], rtol=1e-5)
    with_self, _ = graph.nearest_neighbors(points[10:60], 4, exclude_self=False)
    np.testing.assert_array_equal(with_self[:, 0], np.arange(50))


def test_nearest_neighbors_between_links_queries_into_points(points):
    indices, distances = graph.nearest_neighbors_between(points[:3] + 1e-3, points, 2)
    assert indices.shape == distances.shape == (3, 2)
    assert indices[0, 0] == 0 and distances[0, 0] < 1e-2
    bipartite = graph.fuzzy_membership(indices, distances, n_vertices=N_POINTS, bipartite=True)
    assert bipartite.shape == (3, N_POINTS)


def test_training_edges_drop_weak_edges():
    weights = np.array([1.0, 0.5, 0.1, 0.09, 0.01], dtype=np.float32)
    matrix = scipy.sparse.csr_matrix((weights, ([0, 1, 2, 3, 4], [1, 2, 3, 4, 0])), shape=(5, 5))
    heads, tails, kept = graph.training_edges(matrix, n_epochs=10)
    np.testing.assert_array_equal(kept, weights[:3])  # 0.1 = max / n_epochs stays, as in umap
    np.testing.assert_array_equal(heads, [0, 1, 2])
    np.testing.assert_array_equal(tails, [1, 2, 3])
    assert heads.dtype == tails.dtype == np.int64 and kept.dtype == np.float32


def test_sample_edges_follow_weights_and_the_seed():
    weights = np.array([1.0, 2.0, 3.0, 4.0, 0.0])
    draw = graph.sample_edges(weights, 100_000, np.random.default_rng(7))
    assert draw.dtype == np.int64 and draw.shape == (100_000,)
    np.testing.assert_allclose(np.bincount(draw, minlength=5) / draw.size, weights / weights.sum(), atol=0.01)
    np.testing.assert_array_equal(draw, graph.sample_edges(weights, 100_000, np.random.default_rng(7)))
    assert not np.array_equal(draw, graph.sample_edges(weights, 100_000, np.random.default_rng(8)))


def test_find_ab_params_matches_umap_defaults():
    a, b = graph.find_ab_params(1.0, 0.1)
    assert a == pytest.approx(1.577, abs=2e-3) and b == pytest.approx(0.895, abs=2e-3)
    a_tight, _ = graph.find_ab_params(1.0, 0.001)
    assert a_tight != pytest.approx(a, abs=0.05)


GOOD_INDICES = np.array([[1], [0], [0]])
GOOD_DISTANCES = np.ones((3, 1), np.float32)


K_RANGE = "must be an int in the range [1, 4] (n_samples - 1)."
WEIGHTS_RULE = "must be a 1-D array of finite values >= 0 with a positive sum."


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: graph.nearest_neighbors(np.zeros((5, 2)), 0), ConfigError,
         f"'k' parameter of nearest_neighbors {K_RANGE} Got 0 "),
        (lambda: graph.nearest_neighbors(np.zeros((5, 2)), 5), ConfigError,
         f"'k' parameter of nearest_neighbors {K_RANGE} Got 5 "),
        (lambda: graph.nearest_neighbors(np.zeros((5, 2)), 2.0), ConfigError,
         f"'k' parameter of nearest_neighbors {K_RANGE} Got 2.0 "),
        (lambda: graph.nearest_neighbors(np.zeros(5), 1), DataError,
         "'points' argument of nearest_neighbors must be a 2-D array of shape (n_samples, n_features). Got shape (5,)"),
        (lambda: graph.nearest_neighbors(np.array([[0.0, np.nan], [1, 1]]), 1), DataError,
         ("'points' argument of nearest_neighbors must hold finite numbers. "
          "Got NaN or infinity in 1 row(s), first row 0 = [0.0, nan]")),
        (lambda: graph.nearest_neighbors_between(np.zeros((2, 3)), np.zeros((5, 2)), 1), DataError,
         ("'queries' argument of nearest_neighbors_between must be a 2-D array of shape (n_samples, 2). "
          "Got shape (2, 3)")),
        (lambda: graph.nearest_neighbors_between(np.zeros((2, 2)), np.zeros((5, 2)), 6), ConfigError,
         "'k' parameter of nearest_neighbors_between must be an int in the range [1, 5] (n_points). Got 6 "),
        (lambda: graph.fuzzy_membership(GOOD_INDICES, GOOD_DISTANCES[:2], n_vertices=3), DataError,
         "'knn_distances' argument of fuzzy_membership must have the shape of knn_indices (3, 1). Got shape (2, 1)"),
        (lambda: graph.fuzzy_membership(GOOD_INDICES, GOOD_DISTANCES, n_vertices=4), ConfigError,
         "'n_vertices' parameter of fuzzy_membership must equal the number of rows of knn_indices (3). Got 4 "),
        (lambda: graph.fuzzy_membership(GOOD_INDICES + 5, GOOD_DISTANCES, n_vertices=3), DataError,
         "'knn_indices' argument of fuzzy_membership must lie in [0, 2] (n_vertices - 1). Got values in [5, 6]"),
        (lambda: graph.fuzzy_membership(np.array([[0], [0], [0]]), GOOD_DISTANCES, n_vertices=3), DataError,
         "'knn_indices' argument of fuzzy_membership must not list a vertex as its own neighbour"),
        (lambda: graph.fuzzy_membership(GOOD_INDICES, -GOOD_DISTANCES, n_vertices=3), DataError,
         "'knn_distances' argument of fuzzy_membership must be finite and >= 0."),
        (lambda: graph.fuzzy_membership(GOOD_INDICES, GOOD_DISTANCES, n_vertices=3, local_connectivity=0), ConfigError,
         "'local_connectivity' parameter of fuzzy_membership must be a float in the range (0.0, inf). Got 0 "),
        (lambda: graph.fuzzy_union(scipy.sparse.csr_matrix((2, 3))), DataError,
         "'directed' argument of fuzzy_union must be a square scipy sparse matrix. Got csr_matrix of shape (2, 3)"),
        (lambda: graph.fuzzy_union(np.eye(2)), DataError,
         "'directed' argument of fuzzy_union must be a square scipy sparse matrix. Got ndarray"),
        (lambda: graph.training_edges(scipy.sparse.eye(3, format="csr"), 0), ConfigError,
         "'n_epochs' parameter of training_edges must be an int in the range [1, inf). Got 0 "),
        (lambda: graph.training_edges(np.eye(3), 10), DataError,
         "'graph' argument of training_edges must be a scipy sparse matrix. Got ndarray"),
        (lambda: graph.sample_edges([1.0, -1.0], 3, np.random.default_rng(0)), DataError,
         f"'weights' argument of sample_edges {WEIGHTS_RULE} Got min -1.0"),
        (lambda: graph.sample_edges([0.0, 0.0], 3, np.random.default_rng(0)), DataError,
         f"'weights' argument of sample_edges {WEIGHTS_RULE} Got min 0.0, sum 0.0"),
        (lambda: graph.sample_edges([1.0], -1, np.random.default_rng(0)), ConfigError,
         "'n_samples' parameter of sample_edges must be an int in the range [0, inf). Got -1 "),
        (lambda: graph.sample_edges([1.0], 3, 0), ConfigError,
         "'rng' parameter of sample_edges must be a numpy.random.Generator. Got 0 "),
        (lambda: graph.find_ab_params(spread=0.0), ConfigError,
         "'spread' parameter of find_ab_params must be a float in the range (0.0, inf). Got 0.0 "),
        (lambda: graph.find_ab_params(spread=1.0, min_dist=2.0), ConfigError,
         "'min_dist' parameter of find_ab_params must be a float in the range [0.0, 1.0] (spread). Got 2.0 "),
    ],
)
def test_invalid_arguments_name_themselves(call, error, message):
    with pytest.raises(error, match="^The " + re.escape(message)):
        call()
