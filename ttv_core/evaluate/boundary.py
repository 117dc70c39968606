"""Boundary points (DVI, ALGORITHMS section 7): synthetic representations on the head's decision boundary.

Two samples the head assigns to different classes are mixed, ``lambda * x1 + (1 - lambda) * x2``,
and lambda is bisected until the head is torn between its two favourite classes. Mixing the
representations and asking only the head g_e (not mixing raw inputs through the whole subject
model, as the original did) puts the points on exactly the boundary the territories paint, and
needs nothing but the recorded representations and head. The boundary metric (section 8) and,
in DVI, extra graph vertices use them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._checks import argument_error, check_int, check_points, check_real, check_rng

_WEIGHT_FLOOR = 0.01  # every sample may be picked, so confidently separated classes still get points
_PAIRS_PER_ROUND = 8192  # pairs bisected at once: memory ~3 * 8192 * D floats (100 MB for D = 1024)
_MAX_ATTEMPTS = 8  # give up after trying 8 * n_points pairs (the head may have few reachable boundaries)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, shape (n, n_classes); stable for large logits."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(shifted - shifted.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _top_two_gap(probabilities: np.ndarray) -> np.ndarray:
    """Largest minus second-largest probability per row, shape (n,): 0 on the boundary, 1 far from it."""
    ordered = np.partition(probabilities, (-2, -1), axis=1)
    return ordered[:, -1] - ordered[:, -2]


def _probabilities(head: Callable[[np.ndarray], np.ndarray], points: np.ndarray) -> np.ndarray:
    logits = np.asarray(head(points))
    if logits.ndim != 2 or len(logits) != len(points) or logits.shape[1] < 2:
        raise argument_error("head", "boundary_points", f"map ({len(points)}, D) to logits ({len(points)}, "
                             "n_classes >= 2)", f"shape {logits.shape}")
    if not np.isfinite(logits).all():
        raise argument_error("head", "boundary_points", "return finite logits", "NaN or inf", "Check its weights.")
    return softmax(logits)


def _sample_pairs(predicted: np.ndarray, weights: np.ndarray, n_pairs: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (first, second), int64 (n_pairs,) each, with different predicted classes.

    Both ends are drawn with probability proportional to ``weights``; the second among the samples
    of other classes (one draw per class of the first end, so no rejection loop).
    """
    first = rng.choice(len(predicted), size=n_pairs, p=weights / weights.sum())
    second = np.empty(n_pairs, dtype=np.int64)
    for label in np.unique(predicted[first]):
        rows = np.flatnonzero(predicted[first] == label)
        others = np.flatnonzero(predicted != label)
        second[rows] = rng.choice(others, size=rows.size, p=weights[others] / weights[others].sum())
    return first.astype(np.int64), second


def _bisect(representations: np.ndarray, first: np.ndarray, second: np.ndarray, target: np.ndarray,
            head: Callable[[np.ndarray], np.ndarray], l_bound: float, tolerance: float,
            max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Bisect lambda for every pair at once; only pairs not yet converged are sent to the head.

    ``lambda = 1`` is the first sample (class ``target``): when the mix still has that class the
    boundary lies towards the second sample, so the upper end moves down, else the lower end up.

    Returns the mixed points, float32 (n_pairs, D) (rows of unconverged pairs are zero), and
    whether each pair converged, bool (n_pairs,).
    """
    low = np.full(len(first), l_bound, dtype=np.float32)
    high = np.ones(len(first), dtype=np.float32)
    points = np.zeros((len(first), representations.shape[1]), dtype=np.float32)
    converged = np.zeros(len(first), dtype=bool)
    active = np.arange(len(first))
    for _ in range(max_iter):
        middle = (low[active] + high[active]) / 2
        weight = middle[:, None]
        mixed = weight * representations[first[active]] + (1 - weight) * representations[second[active]]
        probabilities = _probabilities(head, mixed)
        done = _top_two_gap(probabilities) < tolerance
        points[active[done]], converged[active[done]] = mixed[done], True
        same = probabilities.argmax(axis=1) == target[active]
        high[active] = np.where(same, middle, high[active])
        low[active] = np.where(same, low[active], middle)
        active = active[~done]
        if active.size == 0:
            break
    return points, converged


def boundary_points(representations: np.ndarray, head: Callable[[np.ndarray], np.ndarray], n_points: int, *,
                    rng: np.random.Generator, l_bound: float = 0.4, tolerance: float = 0.1,
                    max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Points on the head's decision boundary, mixed from pairs of differently classified samples.

    Pairs are drawn with probability proportional to ``1 - gap + 0.01`` at each end, where ``gap`` is
    the sample's top-two softmax difference: samples already near a boundary are favoured, every
    sample stays possible. For each pair lambda is bisected in ``[l_bound, 1]`` (steps vectorised
    over all pairs) until the two largest softmax probabilities of the mix differ by less than
    ``tolerance``. Pairs are drawn in rounds until ``n_points`` converge or ``8 * n_points`` pairs
    have been tried; only converged points are returned, one per distinct pair, so there may be
    fewer than asked.

    Parameters
    ----------
    representations : ndarray of float, shape (n_samples, D)
        One epoch's representations X_e.
    head : callable, float32 (m, D) -> logits (m, n_classes)
        The epoch's head g_e, e.g. a :class:`~ttv_core.data.head.Head`.
    n_points : int
        How many boundary points to return at most.
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives the same points.
    l_bound : float in [0, 1), default 0.4
        Smallest weight of the first sample, DVI's: a point lies at most 60 % of the way to the second.
    tolerance : float in (0, 1], default 0.1
        Largest top-two probability gap that counts as "on the boundary", DVI's.
    max_iter : int, default 30
        Bisection steps per pair; 30 halvings resolve lambda to 6e-10.

    Returns
    -------
    points : ndarray of float32, shape (m, D), m <= n_points
    pairs : ndarray of int64, shape (m, 2)
        Rows ``(i, j)`` of ``representations`` each point was mixed from:
        ``points[k] = lam * X[i] + (1 - lam) * X[j]`` with ``l_bound <= lam <= 1`` and
        ``argmax head(X[i]) != argmax head(X[j])``.
        When the head predicts fewer than 2 classes over ``representations`` there is no boundary
        to reach between them: both arrays are empty, shapes (0, D) and (0, 2).
    """
    owner = "boundary_points"
    n_points = check_int(n_points, "n_points", owner=owner, low=0, fix="Pass 0 for none, or e.g. 10 % of the samples.")
    l_bound = check_real(l_bound, "l_bound", owner=owner, low=0.0, high=1.0, high_open=True, fix="DVI uses 0.4.")
    tolerance = check_real(tolerance, "tolerance", owner=owner, low=0.0, high=1.0, low_open=True, fix="DVI uses 0.1.")
    max_iter = check_int(max_iter, "max_iter", owner=owner, low=1, fix="30 bisection steps are plenty.")
    rng = check_rng(rng, "rng", owner=owner)
    x = check_points(representations, "representations", owner=owner, min_rows=0).astype(np.float32, copy=False)
    empty = np.empty((0, x.shape[1]), dtype=np.float32), np.empty((0, 2), dtype=np.int64)
    probabilities = _probabilities(head, x) if n_points and len(x) else np.zeros((0, 2))
    predicted = probabilities.argmax(axis=1)
    if np.unique(predicted).size < 2:
        return empty
    weights = 1.0 - _top_two_gap(probabilities) + _WEIGHT_FLOOR
    points, pairs, attempted = *empty, 0
    while len(points) < n_points and attempted < _MAX_ATTEMPTS * n_points:
        n_pairs = min(_PAIRS_PER_ROUND, max(2 * (n_points - len(points)), 64))
        more_points, more_pairs = _one_round(x, head, predicted, weights, n_pairs, rng, (l_bound, tolerance, max_iter))
        points, pairs = np.concatenate([points, more_points]), np.concatenate([pairs, more_pairs])
        first_seen = np.sort(np.unique(pairs, axis=0, return_index=True)[1])  # a pair drawn twice: one point
        points, pairs, attempted = points[first_seen], pairs[first_seen], attempted + n_pairs
    return points[:n_points], pairs[:n_points]


def _one_round(x: np.ndarray, head: Callable[[np.ndarray], np.ndarray], predicted: np.ndarray, weights: np.ndarray,
               n_pairs: int, rng: np.random.Generator, bisection: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` pairs, bisect them all; the converged points (k, D) and their pairs (k, 2)."""
    first, second = _sample_pairs(predicted, weights, n_pairs, rng)
    mixed, converged = _bisect(x, first, second, predicted[first], head, *bisection)
    return mixed[converged], np.stack([first[converged], second[converged]], axis=1)
