"""A sample's neighbourhood in the representation space and on the map, and how much of it the map kept."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_int, check_points
from ..fit.graph import nearest_neighbors_between
from ..evaluate.metrics import _check_pair


# -- neighbourhoods ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Neighbourhood:
    """Sample ``index``'s k nearest other samples in the representation space and on the 2-D map."""

    index: int
    high: np.ndarray  # int64 (k,), nearest first
    low: np.ndarray  # int64 (k,), nearest first

    @property
    def shared(self) -> np.ndarray:
        """The neighbours on both lists, in the representation space's order."""
        return self.high[np.isin(self.high, self.low)]

    @property
    def overlap(self) -> float:
        """Share of the k representation-space neighbours the map keeps, in [0, 1]."""
        return self.shared.size / self.high.size


def nearest_others(points, index: int, k: int) -> np.ndarray:
    """The k points nearest to ``points[index]``, itself left out even behind exact duplicates.

    Parameters
    ----------
    points : array, shape (n_samples, n_features)
    index : int
        In [0, n_samples - 1].
    k : int
        In [1, n_samples - 1].

    Returns
    -------
    array of int64, shape (k,)
        Row indices, nearest first.
    """
    owner = "nearest_others"
    points = check_points(points, "points", owner=owner, min_rows=2)
    n = points.shape[0]
    index = check_int(index, "index", owner=owner, low=0, high=n - 1, high_text="n_samples - 1",
                      fix="Choose a sample of this split.")
    k = check_int(k, "k", owner=owner, low=1, high=n - 1, high_text="n_samples - 1", fix="Choose a smaller k.")
    found = nearest_neighbors_between(points[index : index + 1], points, k + 1)[0][0]
    return found[found != index][:k]


def neighbours(high_dim, low_dim, index: int, k: int) -> Neighbourhood:
    """Compare sample ``index``'s kNN among the samples in the representation space and on the map.

    Parameters
    ----------
    high_dim : array, shape (n_samples, D)
        One epoch's representations.
    low_dim : array, shape (n_samples, 2)
        The same samples on that epoch's map.
    index : int
        In [0, n_samples - 1].
    k : int
        In [1, n_samples - 1].
    """
    owner = "neighbours"
    high_dim, low_dim = _check_pair(high_dim, low_dim, owner, ("high_dim", "low_dim"), min_rows=2)
    n = high_dim.shape[0]
    index = check_int(index, "index", owner=owner, low=0, high=n - 1, high_text="n_samples - 1",
                      fix="Choose a sample of this split.")
    k = check_int(k, "k", owner=owner, low=1, high=n - 1, high_text="n_samples - 1", fix="Choose a smaller k.")
    return Neighbourhood(index, nearest_others(high_dim, index, k), nearest_others(low_dim, index, k))
