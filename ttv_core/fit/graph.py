"""The training graph: UMAP's fuzzy simplicial set over the vertices, arrays in and arrays out.

The visualization model learns from a weighted graph (ALGORITHMS.md section 2): each vertex is linked
to its k nearest neighbours with a membership strength that decays from 1 at the nearest neighbour,
the per-vertex scale chosen so that every vertex has the same total membership (log2 k); the two
directed memberships of an edge are then merged by the fuzzy union. This module computes that graph
in plain numpy, vectorised over all vertices, because umap-learn's numba version costs seconds of
compilation in every new process (docs/ECOSYSTEM.md) while the numpy version takes milliseconds.

Neighbour convention
--------------------
Everywhere in this module ``k`` counts the *other* vertices: a kNN list never contains the vertex
itself (:func:`nearest_neighbors` drops it), and the membership target is ``log2(k)``. umap-learn
instead passes lists whose first column is the vertex itself; the result here equals
``umap.umap_.fuzzy_simplicial_set(X, n_neighbors=k, ..., knn_indices=I, knn_dists=D)`` where ``I`` and
``D`` are the ``k + 1``-column lists with the vertex itself prepended at distance 0. (umap-learn's own
``n_neighbors=15`` therefore links 14 other vertices with target log2 15; ttv's ``k=15`` links 15.)

Every function checks its arguments (:mod:`ttv_core._checks`): a bad parameter raises
:class:`~ttv_core.errors.ConfigError`, a bad array :class:`~ttv_core.errors.DataError` (both
ValueErrors), with a message that names the argument, the rule, the value and the fix.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.sparse

from . import knn
from .._checks import (
    argument_error,
    check_int,
    check_points,
    check_real,
    check_rng,
    parameter_error,
)

SMOOTH_K_TOLERANCE = 1e-5  # umap-learn's stopping tolerance of the sigma search, kept for equal results
MIN_K_DIST_SCALE = 1e-3  # umap-learn's floor on sigma, relative to the mean kNN distance of the vertex
SIGMA_SEARCH_STEPS = 64  # umap-learn's cap on bisection steps; 64 halvings exhaust float64 anyway
_FEWER_NEIGHBOURS = "Choose fewer neighbours or give more points."


# -- nearest neighbours ----------------------------------------------------------------------------
def nearest_neighbors(points, k: int, *, exclude_self: bool = True, exact: bool = False,
                      seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean k nearest neighbours of every point among the points: exact, or approximate past
    :data:`~ttv_core.fit.knn.EXACT_BELOW` points.

    Below that size, or for 2-D and 3-D points (maps), or with ``exact=True``, the search is exact
    (scikit-learn, or blocked products for large sets, :func:`~ttv_core.fit.knn.exact_knn`); it needs no
    numba compilation. Past it, representations are searched by cells
    (:func:`~ttv_core.fit.knn.approximate_knn`; 60,000 x 512: 6.6 s, recall 1.0): an exact search
    of that takes 42 s on 2 cores, too long for every epoch of a chain.

    Parameters
    ----------
    points : array, shape (n_samples, n_features)
    k : int
        Neighbours per point, in [1, n_samples - 1] (in [1, n_samples] when ``exclude_self`` is False).
    exclude_self : bool, default True
        Leave each point out of its own list (ttv's convention, see the module docstring). When False,
        the point itself is usually at column 0, as umap-learn expects; with exact duplicates a
        duplicate may come first instead. Only exact searches keep the point itself.
    exact : bool, default False
        Always search exactly (the figures do: they judge maps against the true neighbours).
    seed : int, default 0
        The cells' k-means seed of an approximate search.

    Returns
    -------
    indices : array of int64, shape (n_samples, k)
        Neighbour indices, nearest first.
    distances : array of float32, shape (n_samples, k)
        Their euclidean distances, ascending along each row.
    """
    owner = "nearest_neighbors"
    points = check_points(points, "points", owner=owner, min_rows=2 if exclude_self else 1)
    n = points.shape[0]
    high, text = (n - 1, "n_samples - 1") if exclude_self else (n, "n_samples")
    k = check_int(k, "k", owner=owner, low=1, high=high, high_text=text, fix=_FEWER_NEIGHBOURS)
    if exclude_self and n >= knn.EXACT_BELOW and points.shape[1] > 3:
        return knn.exact_knn(points, k) if exact else knn.approximate_knn(points, k, seed=seed)
    from sklearn.neighbors import NearestNeighbors  # 0.66 s to import: not on a view's first page

    model = NearestNeighbors(n_neighbors=k).fit(points)
    distances, indices = model.kneighbors(None if exclude_self else points)
    return indices.astype(np.int64, copy=False), distances.astype(np.float32, copy=False)


def nearest_neighbors_between(queries, points, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact euclidean k nearest ``points`` of every query (e.g. proxies or probes into the samples).

    Parameters
    ----------
    queries : array, shape (n_queries, n_features)
    points : array, shape (n_points, n_features)
    k : int
        Neighbours per query, in [1, n_points].

    Returns
    -------
    indices : array of int64, shape (n_queries, k)
        Row indices into ``points``, nearest first. A query equal to a point lists it at distance 0.
    distances : array of float32, shape (n_queries, k)
        Euclidean distances, ascending along each row.
    """
    owner = "nearest_neighbors_between"
    points = check_points(points, "points", owner=owner)
    queries = check_points(queries, "queries", owner=owner, dim=points.shape[1])
    k = check_int(k, "k", owner=owner, low=1, high=points.shape[0], high_text="n_points", fix=_FEWER_NEIGHBOURS)
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(queries)
    return indices.astype(np.int64, copy=False), distances.astype(np.float32, copy=False)


# -- fuzzy memberships -----------------------------------------------------------------------------
def _check_knn(knn_indices, knn_distances, n_vertices, bipartite: bool) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate a kNN pair; return it with each row sorted by distance, and the vertex count."""
    owner, from_nearest_neighbors = "fuzzy_membership", "Pass the arrays nearest_neighbors returns."
    indices = np.asarray(knn_indices)
    distances = np.asarray(knn_distances, dtype=np.float32)
    if indices.ndim != 2 or indices.shape[1] == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise argument_error("knn_indices", owner, "be vertex indices of shape (n_rows, k), k >= 1",
                             f"{indices.dtype} of shape {indices.shape}", from_nearest_neighbors)
    if distances.shape != indices.shape:
        raise argument_error("knn_distances", owner, f"have the shape of knn_indices {indices.shape}",
                             f"shape {distances.shape}", from_nearest_neighbors)
    n_rows = indices.shape[0]
    n_vertices = check_int(n_vertices, "n_vertices", owner=owner, low=1,
                           fix="It is the number of vertices the neighbours index.")
    if not bipartite and n_vertices != n_rows:
        raise parameter_error("n_vertices", owner, f"equal the number of rows of knn_indices ({n_rows})", n_vertices,
                              "Pass len(knn_indices), or bipartite=True when the rows come from another set.")
    if indices.size and (indices.min() < 0 or indices.max() >= n_vertices):
        raise argument_error("knn_indices", owner, f"lie in [0, {n_vertices - 1}] (n_vertices - 1)",
                             f"values in [{int(indices.min())}, {int(indices.max())}]",
                             "umap's -1 placeholders are not supported.")
    if not np.isfinite(distances).all() or (distances < 0).any():
        raise argument_error("knn_distances", owner, "be finite and >= 0", "NaN, infinite or negative values",
                             from_nearest_neighbors)
    self_rows = np.flatnonzero((indices == np.arange(n_rows)[:, None]).any(axis=1)) if not bipartite else []
    if len(self_rows):
        raise argument_error("knn_indices", owner, "not list a vertex as its own neighbour (ttv's convention)",
                             f"row {int(self_rows[0])} listing itself",
                             "Use nearest_neighbors(points, k, exclude_self=True).")
    if (np.diff(distances, axis=1) < 0).any():
        order = np.argsort(distances, axis=1, kind="stable")
        indices, distances = np.take_along_axis(indices, order, 1), np.take_along_axis(distances, order, 1)
    return indices.astype(np.int64, copy=False), distances, n_vertices


def _local_radius(distances: np.ndarray, local_connectivity: float) -> np.ndarray:
    """rho: distance to the ``local_connectivity``-th nonzero neighbour (interpolated), as umap-learn.

    Rows are sorted, so their nonzero distances are a suffix; zero distances (duplicates) are skipped
    so that every vertex is fully connected to at least its nearest distinct neighbour.
    """
    n, k = distances.shape
    n_nonzero = np.count_nonzero(distances > 0, axis=1)
    first = k - n_nonzero
    rows = np.arange(n)

    def nonzero_at(m: int) -> np.ndarray:
        return distances[rows, np.minimum(first + m, k - 1)].astype(np.float64)

    index = int(np.floor(local_connectivity))
    interpolation = local_connectivity - index
    if index > 0:
        rho = nonzero_at(index - 1)
        if interpolation > SMOOTH_K_TOLERANCE:
            rho = rho + interpolation * (nonzero_at(index) - rho)
    else:
        rho = interpolation * nonzero_at(0)
    fallback = np.where(n_nonzero > 0, distances[:, -1], 0.0)  # the largest nonzero distance
    return np.where(n_nonzero >= local_connectivity, rho, fallback).astype(np.float32)


def _bandwidth(distances: np.ndarray, rho: np.ndarray, target: float) -> np.ndarray:
    """sigma: bisection, all rows at once, for sum_j exp(-max(0, d_ij - rho_i) / sigma_i) = target.

    Follows umap-learn's ``smooth_knn_dist`` step for step (start 1, double while no upper bound,
    stop a row once within SMOOTH_K_TOLERANCE) so that both give the same sigmas.
    """
    n = distances.shape[0]
    excess = np.maximum(distances - rho[:, None], 0).astype(np.float64)
    low, high, sigma = np.zeros(n), np.full(n, np.inf), np.ones(n)
    active = np.arange(n)
    with np.errstate(over="ignore", divide="ignore"):
        for _ in range(SIGMA_SEARCH_STEPS):
            total = np.exp(-excess[active] / sigma[active, None]).sum(axis=1)
            searching = np.abs(total - target) >= SMOOTH_K_TOLERANCE
            active, total = active[searching], total[searching]
            if active.size == 0:
                break
            over = total > target
            high[active[over]] = sigma[active[over]]
            low[active[~over]] = sigma[active[~over]]
            bounded = np.isfinite(high[active])
            sigma[active] = np.where(bounded, (low[active] + high[active]) / 2, sigma[active] * 2)
    # Floor as umap-learn: means count the vertex itself at distance 0, as its lists include it.
    k = distances.shape[1]
    row_mean = distances.sum(axis=1, dtype=np.float64) / (k + 1)
    global_mean = distances.sum(dtype=np.float64) / (distances.size + n)
    floor = MIN_K_DIST_SCALE * np.where(rho > 0, row_mean, global_mean)
    return np.maximum(sigma.astype(np.float32), floor.astype(np.float32))


def fuzzy_membership(
    knn_indices, knn_distances, *, n_vertices: int, local_connectivity: float = 1.0, bipartite: bool = False
) -> scipy.sparse.csr_matrix:
    """Directed membership strengths: how strongly each vertex (row) claims each of its neighbours.

    w_ij = exp(-max(0, d_ij - rho_i) / sigma_i), where rho_i makes the nearest distinct neighbour a
    full member (the data's local density does not matter) and sigma_i sets the total membership of
    every row to log2(k), so sparse and dense regions carry the same weight.

    Parameters
    ----------
    knn_indices : array of int, shape (n_rows, k)
        Neighbours of each row, WITHOUT the vertex itself (see the module docstring).
    knn_distances : array, shape (n_rows, k)
        Their distances; rows are sorted here if they are not ascending.
    n_vertices : int
        Number of columns of the result: equal to n_rows, or the size of the other set if ``bipartite``.
    local_connectivity : float, default 1.0
        How many nearest distinct neighbours count as full members (interpolated).
    bipartite : bool, default False
        Rows are queries from another set (proxies, probes); then no self check is made.

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_rows, n_vertices)
        At most k entries per row, in (0, 1]; no explicit zeros.
    """
    indices, distances, n_vertices = _check_knn(knn_indices, knn_distances, n_vertices, bipartite)
    local_connectivity = check_real(local_connectivity, "local_connectivity", owner="fuzzy_membership", low=0.0,
                                    low_open=True, fix="Use 1.0, as umap does.")
    n_rows, k = indices.shape
    rho = _local_radius(distances, local_connectivity)
    sigma = _bandwidth(distances, rho, np.log2(k))
    excess = np.maximum(distances.astype(np.float64) - rho[:, None], 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(sigma[:, None] > 0, np.exp(-excess / sigma[:, None]), 1.0).astype(np.float32)
    membership = scipy.sparse.csr_matrix(
        (weights.ravel(), indices.ravel(), np.arange(0, n_rows * k + 1, k)), shape=(n_rows, n_vertices)
    )
    membership.eliminate_zeros()
    membership.sort_indices()
    return membership


def fuzzy_union(directed) -> scipy.sparse.csr_matrix:
    """Symmetrise directed memberships with the probabilistic fuzzy union W = A + A^T - A * A^T.

    An edge is as strong as "i claims j or j claims i", so a vertex in a sparse region keeps the
    edges its denser neighbours hold to it.

    Parameters
    ----------
    directed : sparse matrix, shape (n_vertices, n_vertices)
        Memberships in [0, 1], e.g. from :func:`fuzzy_membership`.

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_vertices, n_vertices)
        Symmetric, values in (0, 1], sorted indices, no explicit zeros.
    """
    if not scipy.sparse.issparse(directed) or directed.shape[0] != directed.shape[1]:
        shape = getattr(directed, "shape", None)
        raise argument_error("directed", "fuzzy_union", "be a square scipy sparse matrix",
                             f"{type(directed).__name__} of shape {shape}",
                             "Pass the result of fuzzy_membership for a square (non-bipartite) kNN.")
    forward = scipy.sparse.csr_matrix(directed, dtype=np.float32)
    backward = forward.transpose().tocsr()
    union = (forward + backward - forward.multiply(backward)).tocsr()
    np.minimum(union.data, 1.0, out=union.data)  # a + b - ab <= 1; clip float rounding
    union.eliminate_zeros()
    union.sort_indices()
    return union


def fuzzy_simplicial_set(points, k: int, *, local_connectivity: float = 1.0,
                         neighbors: tuple[np.ndarray, np.ndarray] | None = None) -> scipy.sparse.csr_matrix:
    """The symmetric UMAP training graph of ``points``: exact kNN, memberships, fuzzy union.

    Parameters
    ----------
    points : array, shape (n_samples, n_features)
    k : int
        Other vertices per kNN list, in [1, n_samples - 1].
    local_connectivity : float, default 1.0
    neighbors : (indices, distances), optional
        :func:`nearest_neighbors` ``(points, k)`` if the caller has it already (the chain computes it
        for the temporal strength): the exact kNN is the graph's largest cost on large runs.

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (n_samples, n_samples)
    """
    indices, distances = nearest_neighbors(points, k) if neighbors is None else neighbors
    directed = fuzzy_membership(indices, distances, n_vertices=len(indices), local_connectivity=local_connectivity)
    return fuzzy_union(directed)


# -- from the graph to training batches -------------------------------------------------------------
def training_edges(graph, n_epochs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges worth training on, as umap-learn keeps them: drop w < max(w) / n_epochs.

    An edge that weak would be sampled less than once in ``n_epochs`` passes; dropping it saves
    memory and time without changing what the optimiser sees on average.

    Parameters
    ----------
    graph : sparse matrix, shape (n_vertices, n_vertices)
        A symmetric graph, e.g. from :func:`fuzzy_simplicial_set`; both directions of an edge are kept.
    n_epochs : int
        Planned passes over the edges, >= 1.

    Returns
    -------
    heads, tails : arrays of int64, shape (n_edges,)
        Vertex indices of each kept edge, in row-major order.
    weights : array of float32, shape (n_edges,)
    """
    if not scipy.sparse.issparse(graph):
        raise argument_error("graph", "training_edges", "be a scipy sparse matrix", type(graph).__name__,
                             "Use fuzzy_simplicial_set.")
    n_epochs = check_int(n_epochs, "n_epochs", owner="training_edges", low=1,
                         fix="It is the number of training passes, e.g. 10.")
    edges = scipy.sparse.coo_matrix(scipy.sparse.csr_matrix(graph))
    if edges.nnz == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    keep = (edges.data >= edges.data.max() / float(n_epochs)) & (edges.data > 0)
    return (
        edges.row[keep].astype(np.int64),
        edges.col[keep].astype(np.int64),
        edges.data[keep].astype(np.float32),
    )


def sample_edges(weights, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw edge indices with replacement, each with probability proportional to its weight.

    Sampling by weight replaces weighting the loss: a strong edge is simply seen more often, which
    keeps the gradient scale of every batch the same (umap's and DVI's scheme).

    Parameters
    ----------
    weights : array, shape (n_edges,)
        Non-negative edge weights with a positive sum, e.g. from :func:`training_edges`.
    n_samples : int
        How many edges to draw, >= 0 (DVI draws about n_epochs * sum(weights) per pass).
    rng : numpy.random.Generator
        The only source of randomness: same generator state, same draw.

    Returns
    -------
    array of int64, shape (n_samples,)
        Indices into ``weights``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 1 or not np.isfinite(weights).all() or (weights < 0).any() or not weights.sum() > 0:
        got = f"shape {weights.shape}" if weights.ndim != 1 else f"min {weights.min(initial=0)}, sum {weights.sum()}"
        raise argument_error("weights", "sample_edges", "be a 1-D array of finite values >= 0 with a positive sum",
                             got, "Pass the weights training_edges returns.")
    n_samples = check_int(n_samples, "n_samples", owner="sample_edges", low=0, fix="It is how many edges to draw.")
    rng = check_rng(rng, "rng", owner="sample_edges")
    return rng.choice(weights.size, size=n_samples, replace=True, p=weights / weights.sum()).astype(np.int64)


def find_ab_params(spread: float = 1.0, min_dist: float = 0.1) -> tuple[float, float]:
    """Fit (a, b) of the low-dimensional similarity q(d) = 1 / (1 + a d^(2b)), as umap-learn does.

    q must be smooth (for gradients) yet mimic "1 within min_dist, then exp(-(d - min_dist) / spread)",
    so the pair is fitted by least squares on 300 points of [0, 3 * spread].

    Parameters
    ----------
    spread : float, default 1.0
        Scale of the embedded points, > 0.
    min_dist : float, default 0.1
        How tightly points may pack, in [0, spread].

    Returns
    -------
    a, b : float
        About (1.577, 0.895) for the defaults.
    """
    spread = check_real(spread, "spread", owner="find_ab_params", low=0.0, low_open=True, fix="umap uses 1.0.")
    min_dist = check_real(min_dist, "min_dist", owner="find_ab_params", low=0.0, high=spread, high_text="spread",
                          fix="umap uses 0.1.")
    x = np.linspace(0, spread * 3, 300)
    y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))

    def curve(d, a, b):
        return 1.0 / (1.0 + a * d ** (2 * b))

    (a, b), _ = scipy.optimize.curve_fit(curve, x, y)
    return float(a), float(b)
