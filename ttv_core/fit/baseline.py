"""The comparison baseline, method ``"umap"``: umap-learn fitted on each epoch, aligned to the previous one.

This is what a user gets without ttv: one UMAP per epoch. It has no decoder, so no inverse and no
territory; independent fits also turn and mirror the picture from epoch to epoch, so each fit is
rotated, translated and, where that fits better, mirrored onto the previous epoch's map (a UMAP
layout has no handedness; a fair baseline aligns as well as a user could), to keep an animation
from spinning. What remains is genuine change in the layout.

Cost (docs/ECOSYSTEM.md): umap's own NN-descent costs ~36 s of numba compilation per process, so
the kNN is computed exactly with scikit-learn and passed as ``precomputed_knn``. umap-learn still
compiles its graph and layout code once per process: on the 1,437 x 64 demo (2 shared cores) the
first fit in a fresh process takes 10-15 s (~8 s CPU, most of it compiling umap's
``fuzzy_simplicial_set``), later fits 1.5-3 s. umap is imported inside :meth:`UmapBaseline.fit` only.

``transform`` does not call umap's: without an NN-descent search index (which a precomputed kNN
lacks) umap-learn refuses to transform new data. It places a new point where umap's transform
*starts* (``init_graph_transform``): at the membership-weighted mean of the embeddings of its
``n_neighbors`` nearest training samples, weights from the same fuzzy memberships as the graph
(:func:`ttv_core.fit.graph.fuzzy_membership`), and skips umap's refining optimisation passes.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._checks import argument_error, check_int, check_points, check_real
from .alignment import Alignment, best_rotation
from ..errors import TTVError
from .graph import fuzzy_membership, nearest_neighbors, nearest_neighbors_between
from .model import NotFittedError

_MAX_SEED = 2**32 - 1  # umap seeds numpy's RandomState, which takes seeds below 2**32
_BLOCK_VALUES = 4_000_000  # float64 values per block of exact distances in transform (~32 MB)


def _exact_distances(points: np.ndarray, reference: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Euclidean distances from each point to ``reference[indices]``, shape of ``indices``, float32.

    Computed from the differences, in blocks: scikit-learn's dot-product formula leaves rounding
    error (~1e-7) where the distance is 0, and transform needs to know when a point IS a sample.
    """
    distances = np.empty(indices.shape, np.float32)
    block = max(1, _BLOCK_VALUES // max(1, indices.shape[1] * points.shape[1]))
    for start in range(0, points.shape[0], block):
        rows = slice(start, start + block)
        difference = reference[indices[rows]].astype(np.float64) - points[rows, None, :]
        distances[rows] = np.sqrt((difference**2).sum(axis=2))
    return distances


class NoInverseError(TTVError, ValueError, NotImplementedError):
    """Raised when a 2-D -> representation map is asked of a method that has none (no territory)."""


class UmapBaseline:
    """umap-learn's map of one epoch's representations, optionally aligned to the previous epoch.

    Parameters
    ----------
    n_neighbors : int, default 15
        umap's ``n_neighbors``: size of each kNN list *including the sample itself* (umap's
        convention; ttv's own ``k`` excludes it, see :mod:`ttv_core.fit.graph`). In [2, n_samples - 1].
    min_dist : float, default 0.1
        umap's ``min_dist``, in [0, spread].
    spread : float, default 1.0
        umap's ``spread``, > 0.
    seed : int, default 0
        umap's ``random_state``. Same seed, same map; note that a seeded umap runs single-threaded.

    Attributes
    ----------
    embedding_ : array of float32, shape (n_samples, 2)
        The map of the training representations, aligned to ``previous_embedding`` when one was given.
    alignment_ : Alignment or None
        The rotation and translation applied to umap's raw output, None without a previous embedding.
    n_features_in_ : int
        Representation dimension seen in fit.
    training_representations_ : array, shape (n_samples, n_features_in_)
        The fitted representations, the reference set of :meth:`transform`.
    """

    def __init__(self, *, n_neighbors: int = 15, min_dist: float = 0.1, spread: float = 1.0, seed: int = 0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.spread = spread
        self.seed = seed

    def _checked_parameters(self, n_samples: int) -> dict[str, Any]:
        owner = type(self).__name__
        spread = check_real(self.spread, "spread", owner=owner, low=0.0, low_open=True, fix="umap uses 1.0.")
        return {
            "n_neighbors": check_int(self.n_neighbors, "n_neighbors", owner=owner, low=2, high=n_samples - 1,
                                     high_text="n_samples - 1", fix="Choose fewer neighbours or give more samples."),
            "min_dist": check_real(self.min_dist, "min_dist", owner=owner, low=0.0, high=spread, high_text="spread",
                                   fix="umap uses 0.1."),
            "spread": spread,
            "seed": check_int(self.seed, "seed", owner=owner, low=0, high=_MAX_SEED),
        }

    def fit(self, representations: Any, *, previous_embedding: Any = None) -> UmapBaseline:
        """Fit umap-learn on ``representations`` and align the map to ``previous_embedding``.

        Parameters
        ----------
        representations : array, shape (n_samples, n_features)
            One epoch's representations, at least 3 samples.
        previous_embedding : array, shape (n_samples, 2), optional
            The previous epoch's map of the same samples. The new map is rotated, translated and, if that
            fits better, mirrored (never scaled) onto it.

        Returns
        -------
        self
        """
        owner = "UmapBaseline.fit"
        representations = check_points(representations, "representations", owner=owner, min_rows=3)
        n_samples = representations.shape[0]
        parameters = self._checked_parameters(n_samples)
        if previous_embedding is not None:
            previous_embedding = check_points(previous_embedding, "previous_embedding", owner=owner, dim=2)
            if previous_embedding.shape[0] != n_samples:
                raise argument_error("previous_embedding", owner, f"have one row per sample, shape ({n_samples}, 2)",
                                     f"shape {previous_embedding.shape}",
                                     "Pass the previous epoch's embedding of the same samples.")
        raw = self._fit_umap(representations, **parameters)
        self.alignment_: Alignment | None = None
        if previous_embedding is not None:
            self.alignment_ = best_rotation(previous_embedding, raw, allow_reflection=True)
            raw = self.alignment_.apply(raw)
        self.embedding_ = np.ascontiguousarray(raw, dtype=np.float32)
        self.n_features_in_ = representations.shape[1]
        self.training_representations_ = representations
        self._transform_neighbors = parameters["n_neighbors"]  # as fitted, even if the attribute changes later
        return self

    @staticmethod
    def _fit_umap(representations: np.ndarray, *, n_neighbors: int, min_dist: float, spread: float,
                  seed: int) -> np.ndarray:
        """umap-learn's raw 2-D map, from an exact kNN so that umap runs no NN-descent."""
        import umap  # lazy: importing umap-learn costs ~2 s and numba; only this method needs it

        n_samples = representations.shape[0]
        others, distances = nearest_neighbors(representations, n_neighbors - 1)
        knn_indices = np.hstack([np.arange(n_samples)[:, None], others])  # umap wants self in column 0
        knn_distances = np.hstack([np.zeros((n_samples, 1), np.float32), distances])
        model = umap.UMAP(n_neighbors=n_neighbors, min_dist=min_dist, spread=spread, random_state=seed, n_jobs=1,
                          precomputed_knn=(knn_indices, knn_distances, None))
        with warnings.catch_warnings():
            # umap warns that a kNN without a search index cannot transform; transform is ours
            warnings.filterwarnings("ignore", message=r".*knn_search_index.*", category=UserWarning)
            model.fit(representations)
        return np.asarray(model.embedding_, dtype=np.float32)

    def fit_transform(self, representations: Any, *, previous_embedding: Any = None) -> np.ndarray:
        """:meth:`fit`, then the training map ``embedding_``, shape (n_samples, 2), float32."""
        return self.fit(representations, previous_embedding=previous_embedding).embedding_

    def _check_fitted(self) -> None:
        if getattr(self, "embedding_", None) is None:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")

    def transform(self, representations: Any) -> np.ndarray:
        """2-D positions of new representations on the fitted map, shape (n_points, 2), float32.

        Each point goes to the membership-weighted mean of its ``n_neighbors`` nearest training
        samples' positions (umap's transform initialisation; see the module docstring). A point equal
        to training samples lands exactly on them (the mean of their positions).

        Parameters
        ----------
        representations : array, shape (n_points, n_features_in_)
        """
        self._check_fitted()
        training = self.training_representations_
        points = check_points(representations, "representations", owner="UmapBaseline.transform",
                              dim=self.n_features_in_, min_rows=0)
        if points.shape[0] == 0:  # e.g. a run without a test split
            return np.zeros((0, 2), np.float32)
        indices, _ = nearest_neighbors_between(points, training, self._transform_neighbors)
        distances = _exact_distances(points, training, indices)
        membership = fuzzy_membership(indices, distances, n_vertices=training.shape[0], bipartite=True)
        embedding = self.embedding_.astype(np.float64)
        positions = (membership @ embedding) / np.asarray(membership.sum(axis=1))
        exact = distances == 0
        on_sample = exact.any(axis=1)
        if on_sample.any():
            chosen = exact[on_sample, :, None]
            positions[on_sample] = (embedding[indices[on_sample]] * chosen).sum(axis=1) / chosen.sum(axis=1)
        return positions.astype(np.float32)

    def inverse_transform(self, points: Any) -> np.ndarray:
        """Always raises :class:`NoInverseError`: the umap baseline has no inverse, hence no territory."""
        raise NoInverseError(
            "The 'umap' baseline (UmapBaseline) has no inverse: it cannot map 2-D points back to "
            "representations, so it has no territory. Use a ttv visualizer (e.g. Visualizer) for territories."
        )
