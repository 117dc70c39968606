"""k nearest neighbours of representations: exact by blocked matrix products, or approximate by cells.

A CIFAR-sized epoch (60,000 x 512) is too large for an exact search on a CPU at every epoch of a
chain (scikit-learn: ~2 min on 2 cores; blocked float32 products in torch: 42 s), and too large
for pynndescent's NN-descent to be trusted on high intrinsic dimension (recall 0.66 on Gaussian blobs
in 512-D, docs/ECOSYSTEM.md). Representations of a trained network are clustered, which an inverted
file search uses: the points are split into cells by k-means, and each point compares itself only with
the points of the cells whose centres are nearest to it (60,000 x 512 on 2 cores: 6.6 s, recall 1.0).

* :func:`exact_knn`: every pair, in blocks of rows on ``device``; the best candidates' distances are
  recomputed from their differences (:func:`_reranked`), so the order equals an exact search's but for
  ties.
* :func:`approximate_knn`: the inverted file search. Its recall against the exact search is measured
  by ``bench/bench_scale.py`` and checked by the tests on clustered data.

:func:`ttv_core.fit.graph.nearest_neighbors` chooses between them by size (:data:`EXACT_BELOW`).
Both are deterministic for a given seed on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch

EXACT_BELOW = 20_000  # points: an exact search up to here (2 cores: ~5 s at 20,000 x 512), cells from here
_BLOCK_ELEMENTS = 2**25  # distance-matrix entries per block (128 MB of float32): bounds the peak memory
_RERANK_EXTRA = 8  # candidates beyond k re-ranked by direct differences: float32 products misorder near-ties
_POINTS_PER_CELL = 256  # cells = n / this (60,000 -> 234), clamped to [_MIN_CELLS, _MAX_CELLS]
_MIN_CELLS, _MAX_CELLS = 8, 4096
_PROBES = 12  # cells each point searches, nearest centres first (recall 1.0 on the synthetic run and on
# 20 blobs in 512-D, 0.998 on one 64-D Gaussian; 24 probes gained nothing there for 1.4-1.5x the time)
_KMEANS_ITERATIONS = 12  # Lloyd iterations for the cells' centres, on a subsample
_KMEANS_SAMPLE_PER_CELL = 40  # subsample for the centres: 40 points per cell (60,000 -> 9,360)


def _squared_norms(points: torch.Tensor) -> torch.Tensor:
    return (points * points).sum(1)


def _blocks(n_rows: int, n_columns: int) -> range:
    return range(0, n_rows, max(1, _BLOCK_ELEMENTS // max(n_columns, 1)))


def _top_k(queries: torch.Tensor, points: torch.Tensor, k: int, *, exclude: torch.Tensor | None) -> torch.Tensor:
    """Indices into ``points`` of each query's ``k`` smallest squared distances (float32, unordered ties).

    ``exclude``: per query, one index into ``points`` to leave out (the query itself), or None.
    """
    distances = _squared_norms(points)[None, :] - 2.0 * queries @ points.T
    if exclude is not None:
        distances[torch.arange(len(queries), device=queries.device), exclude] = torch.inf
    return distances.topk(min(k, points.shape[0]), dim=1, largest=False).indices


def _reranked(queries: torch.Tensor, points: torch.Tensor, candidates: torch.Tensor,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest of each query's ``candidates`` (indices into ``points``), by direct distances.

    The blocked products find candidates by |x|^2 - 2 x.y + |y|^2, which in float32 loses the digits
    that order near neighbours of large vectors; summing the squared differences does not. Returns
    (indices int64, distances float32), each shape (n_queries, k), nearest first; a stable sort on the
    distance, ties by candidate index, so equal inputs give equal lists.
    """
    candidates = torch.sort(candidates, dim=1).values
    difference = points[candidates] - queries[:, None, :]
    distances = (difference * difference).sum(2).sqrt()
    order = torch.sort(distances, dim=1, stable=True).indices[:, :k]
    return (torch.gather(candidates, 1, order).cpu().numpy().astype(np.int64),
            torch.gather(distances, 1, order).cpu().numpy().astype(np.float32))


def _reranked_in_blocks(queries: torch.Tensor, points: torch.Tensor, candidates: np.ndarray,
                        k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_reranked` a few thousand queries at a time (its gather holds candidates x dim each)."""
    candidates = torch.from_numpy(candidates).to(points.device)
    step = max(1, _BLOCK_ELEMENTS // max(1, candidates.shape[1] * points.shape[1]))
    parts = [_reranked(queries[s:s + step], points, candidates[s:s + step], k) for s in range(0, len(queries), step)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def exact_knn(points: np.ndarray, k: int, *, queries: np.ndarray | None = None,
              device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Exact euclidean kNN by blocked products: of every point among the others (``queries`` None), or
    of every query among ``points``.

    Returns (indices int64, distances float32), each shape (n_queries, k), nearest first.
    """
    device = torch.device(device)
    own = queries is None
    gallery = torch.as_tensor(np.array(points, np.float32), device=device)  # a copy: the input may be read-only
    asked = gallery if own else torch.as_tensor(np.array(queries, np.float32), device=device)
    wanted = min(k + _RERANK_EXTRA, len(points) - (1 if own else 0))
    found = np.empty((len(asked), wanted), np.int64)
    for start in _blocks(len(asked), len(gallery)):
        rows = slice(start, min(start + max(1, _BLOCK_ELEMENTS // len(gallery)), len(asked)))
        exclude = torch.arange(rows.start, rows.stop, device=device) if own else None
        found[rows] = _top_k(asked[rows], gallery, wanted, exclude=exclude).cpu().numpy()
    return _reranked_in_blocks(asked, gallery, found, k)


def n_cells(n_points: int) -> int:
    """How many cells :func:`approximate_knn` splits ``n_points`` into."""
    return int(min(_MAX_CELLS, max(_MIN_CELLS, round(n_points / _POINTS_PER_CELL))))


def cell_centres(points: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """k-means centres (Lloyd's, :data:`_KMEANS_ITERATIONS` rounds) of a seeded subsample of ``points``.

    A centre left without members keeps its place. Deterministic for a given seed on a CPU.
    """
    generator = np.random.default_rng(seed)
    size = min(len(points), n * _KMEANS_SAMPLE_PER_CELL)
    sample = points[torch.from_numpy(np.sort(generator.choice(len(points), size, replace=False))).to(points.device)]
    centres = sample[torch.from_numpy(generator.choice(size, n, replace=False)).to(points.device)].clone()
    for _ in range(_KMEANS_ITERATIONS):
        members = _top_k(sample, centres, 1, exclude=None)[:, 0]
        sums = torch.zeros_like(centres).index_add_(0, members, sample)
        counts = torch.bincount(members, minlength=n).to(sums.dtype)[:, None]
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
    return centres


def approximate_knn(points: np.ndarray, k: int, *, seed: int = 0, probes: int = _PROBES,
                    device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Approximate euclidean kNN of every point among the others: an inverted file search.

    The points are split into :func:`n_cells` cells by k-means; each point searches the ``probes``
    cells whose centres are nearest to it. Points of one cell are searched together, against the union
    of the cells any of them probes, so the work is a few hundred dense products. Returns (indices int64,
    distances float32), each shape (n_points, k), nearest first, with the true distances of the
    neighbours found.
    """
    device = torch.device(device)
    data = torch.as_tensor(np.array(points, np.float32), device=device)  # a copy: the input may be read-only
    n = len(points)
    centres = cell_centres(data, n_cells(n), seed)
    probes = min(probes, len(centres))
    probed = torch.cat([_top_k(data[s:s + 65536], centres, probes, exclude=None) for s in range(0, n, 65536)])
    home = probed[:, 0]
    order = torch.argsort(home, stable=True)
    bounds = torch.searchsorted(home[order], torch.arange(len(centres) + 1, device=device)).tolist()
    members = [order[bounds[c]:bounds[c + 1]] for c in range(len(centres))]
    wanted = min(k + _RERANK_EXTRA, n - 1)
    found = np.empty((n, wanted), np.int64)
    for cell, queries in enumerate(members):
        if not len(queries):
            continue
        cells = torch.unique(probed[queries])
        gallery = torch.sort(torch.cat([members[int(c)] for c in cells])).values
        if len(gallery) <= wanted:  # too few points in the probed cells: search everything
            gallery = torch.arange(n, device=device)
        own = torch.searchsorted(gallery, queries)  # each query's own row: its home cell is among those probed
        for start in _blocks(len(queries), len(gallery)):
            rows = slice(start, min(start + max(1, _BLOCK_ELEMENTS // len(gallery)), len(queries)))
            nearest = _top_k(data[queries[rows]], data[gallery], wanted, exclude=own[rows])
            found[queries[rows].cpu().numpy()] = gallery[nearest].cpu().numpy()
    return _reranked_in_blocks(data, data, found, k)


def shared_neighbours(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Per row, how many indices two neighbour lists share, shape (n_rows,); entries unique within a row.

    The one count behind neighbour preservation, DVI's temporal strength and a search's recall.
    """
    both = np.sort(np.concatenate([first, second], axis=1), axis=1)
    return np.count_nonzero(both[:, 1:] == both[:, :-1], axis=1)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Share of the exact neighbours that ``found`` lists, over all rows (both shape (n, k))."""
    return float(shared_neighbours(found, exact).sum() / exact.size)
