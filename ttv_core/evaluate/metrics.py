"""Faithfulness figures of a visualization: how much of the high-dimensional picture the 2-D one keeps.

Pure functions on arrays (ALGORITHMS.md section 8). Neighbour lists come from exact euclidean kNN
(:mod:`ttv_core.fit.graph`), so a figure does not move between runs on the same data. Rates are in [0, 1];
:func:`neighbor_preservation` also reports the original tools' "legacy" count, which counted every point
as its own neighbour, so that ttv's numbers can be compared with published ones.

Every function checks its arguments (:mod:`ttv_core._checks`): a bad parameter raises
:class:`~ttv_core.errors.ConfigError`, a bad array :class:`~ttv_core.errors.DataError` (both
ValueErrors), with a message that names the argument, the rule, the value and the fix.
"""

from __future__ import annotations

import numpy as np
import scipy.stats

from .._checks import argument_error, check_int, check_points
from ..fit.graph import nearest_neighbors, nearest_neighbors_between
from ..fit.knn import exact_knn, shared_neighbours

_CHUNK_BYTES = 32 * 2**20  # working memory of the temporal figures per block of samples


def _check_pair(high, low, owner: str, names: tuple[str, str] = ("high", "low"), *, min_rows: int = 1):
    """Validate a (high-dimensional, 2-D) pair of arrays describing the same samples."""
    high = check_points(high, names[0], owner=owner, min_rows=min_rows)
    low = check_points(low, names[1], owner=owner, min_rows=min_rows)
    if high.shape[0] != low.shape[0]:
        raise argument_error(names[1], owner, f"have one row per row of {names[0]} ({high.shape[0]})",
                             f"{low.shape[0]} rows", "Pass the embedding of exactly these samples, in the same order.")
    return high, low


def neighbor_preservation(high, low, k: int = 15, *, rows=None) -> dict[str, float]:
    """How many of each sample's k nearest neighbours in D are also among its k nearest in 2-D.

    Parameters
    ----------
    high : array, shape (n_samples, D)
        Representations.
    low : array, shape (n_samples, 2)
        Their embedding (any dimension works).
    k : int, default 15
        In [1, n_samples - 1].
    rows : array of int, optional
        The samples scored (default: all). Their neighbours are still searched among all samples, so
        the rate over a random subset is an unbiased estimate of the whole one: at 60,000 x 512 an exact
        search of every sample takes about 40 s on 2 cores, of 10,000 a sixth of that.

    Returns
    -------
    dict
        ``rate``: mean |kNN_D(i) & kNN_2D(i)| / k over lists of k OTHER samples, in [0, 1] (1 = every
        neighbourhood kept). ``legacy``: the original DVI/TimeVis count ("nn_train[e]['15']"): lists of
        size k that contain the sample itself plus its k - 1 nearest others, so the value lies in
        [1, k] and a random layout still scores at least 1. Here the sample is always counted, even
        when an exact duplicate would have pushed it out of the original's list.
    """
    owner = "neighbor_preservation"
    high, low = _check_pair(high, low, owner, min_rows=2)
    k = check_int(k, "k", owner=owner, low=1, high=high.shape[0] - 1, high_text="n_samples - 1",
                  fix="Choose a smaller k.")
    if rows is None:
        high_neighbors, _ = nearest_neighbors(high, k, exact=True)  # judged against the true neighbours
        low_neighbors, _ = nearest_neighbors(low, k)
    else:
        rows = _checked_rows(rows, high.shape[0], owner)
        high_neighbors = _others(exact_knn(high, k + 1, queries=high[rows])[0], rows)
        low_neighbors = _others(nearest_neighbors_between(low[rows], low, k + 1)[0], rows)
    rate = shared_neighbours(high_neighbors, low_neighbors).mean() / k
    legacy = 1.0 + shared_neighbours(high_neighbors[:, : k - 1], low_neighbors[:, : k - 1]).mean()
    return {"legacy": float(legacy), "rate": float(rate)}


def _checked_rows(rows, n_samples: int, owner: str) -> np.ndarray:
    """``rows`` as distinct int64 indices into n_samples samples, or a DataError naming it."""
    array = np.asarray(rows)
    if (array.ndim != 1 or len(array) == 0 or not np.issubdtype(array.dtype, np.integer)
            or array.min() < 0 or array.max() >= n_samples or len(np.unique(array)) != len(array)):
        raise argument_error("rows", owner, f"be distinct sample indices in [0, {n_samples - 1}]",
                             f"{array.dtype} of shape {array.shape}", "Pass e.g. rng.choice(n_samples, m, replace=False).")
    return array.astype(np.int64)


def _others(found: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """k + 1 neighbours of each of ``rows`` (itself usually among them) -> its k nearest OTHER samples."""
    own = found == rows[:, None]
    last = ~own.any(axis=1)  # a duplicate pushed the sample itself out of its list: drop the farthest
    own[last, -1] = True
    return found[~own].reshape(len(found), found.shape[1] - 1)


def _predicted_classes(predicted, predicted_round_trip, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate two prediction arrays; logits or probabilities, shape (n, C), become argmax classes."""
    pair = []
    for name, value in (("predicted", predicted), ("predicted_round_trip", predicted_round_trip)):
        array = np.asarray(value)
        if array.ndim not in (1, 2) or array.shape[0] == 0:
            raise argument_error(name, owner, "be class indices, shape (n_samples,), or logits, shape "
                                 "(n_samples, n_classes), with n_samples >= 1", f"shape {array.shape}")
        pair.append(array.argmax(axis=1) if array.ndim == 2 else array)
    if pair[0].shape != pair[1].shape:
        raise argument_error("predicted_round_trip", owner,
                             f"describe the same {pair[0].shape[0]} samples as predicted",
                             f"{pair[1].shape[0]} samples",
                             "Compute both on the same samples (x and Dec(Enc(x))).")
    return pair[0], pair[1]


def prediction_preserving_rate(predicted, predicted_round_trip) -> float:
    """PPR: share of samples whose class survives the round trip, argmax g(x) == argmax g(Dec(Enc(x))).

    This is what makes territories trustworthy: a point drawn in a region of the map is classified
    there as the subject model classifies the point itself.

    Parameters
    ----------
    predicted : array, shape (n_samples,) or (n_samples, n_classes)
        Classes (or logits) of the representations.
    predicted_round_trip : array, same shape as ``predicted``
        Classes (or logits) of the reconstructed representations.

    Returns
    -------
    float in [0, 1]
    """
    first, second = _predicted_classes(predicted, predicted_round_trip, "prediction_preserving_rate")
    return float(np.mean(first == second))


def vis_errors(predicted, predicted_round_trip) -> int:
    """Number of samples whose class does NOT survive the round trip (``vis_error_train/test``).

    Parameters are as in :func:`prediction_preserving_rate`.

    Returns
    -------
    int in [0, n_samples]
    """
    first, second = _predicted_classes(predicted, predicted_round_trip, "vis_errors")
    return int(np.count_nonzero(first != second))


def trustworthiness(high, low, k: int = 15) -> float:
    """scikit-learn's trustworthiness: penalises 2-D neighbours that are far apart in D.

    It builds the full (n_samples, n_samples) distance matrix, so memory grows as n_samples^2:
    subsample large sets (10,000 samples need about 1.6 GB).

    Parameters
    ----------
    high : array, shape (n_samples, D)
    low : array, shape (n_samples, 2)
    k : int, default 15
        In [1, (n_samples - 1) // 2]: scikit-learn requires k < n_samples / 2.

    Returns
    -------
    float in [0, 1]
    """
    from sklearn.manifold import trustworthiness as sklearn_trustworthiness  # heavy import, rarely needed

    high, low = _check_pair(high, low, "trustworthiness", min_rows=3)
    k = check_int(k, "k", owner="trustworthiness", low=1, high=(high.shape[0] - 1) // 2,
                  high_text="(n_samples - 1) // 2",
                  fix="scikit-learn's trustworthiness needs k < n_samples / 2; choose a smaller k.")
    return float(sklearn_trustworthiness(high, low, n_neighbors=k))


def boundary_preservation(high, low, boundary_high, boundary_low, k: int = 15) -> float:
    """``b_train/test``: do samples keep their k nearest boundary points when projected to 2-D?

    A visualization that keeps these makes the distance of a point to a decision boundary readable
    off the map. (The original reported the mean count; this is the rate, count / k.)

    Parameters
    ----------
    high : array, shape (n_samples, D)
    low : array, shape (n_samples, 2)
        Embedding of ``high``.
    boundary_high : array, shape (n_boundary, D)
        Boundary points (ALGORITHMS.md section 7).
    boundary_low : array, shape (n_boundary, 2)
        Their embedding.
    k : int, default 15
        In [1, n_boundary].

    Returns
    -------
    float in [0, 1]
        Mean over samples of |kNB_D(i) & kNB_2D(i)| / k.
    """
    owner = "boundary_preservation"
    high, low = _check_pair(high, low, owner)
    boundary_high, boundary_low = _check_pair(boundary_high, boundary_low, owner, ("boundary_high", "boundary_low"))
    for points, boundary, names in ((high, boundary_high, ("high", "boundary_high")),
                                    (low, boundary_low, ("low", "boundary_low"))):
        if points.shape[1] != boundary.shape[1]:
            raise argument_error(names[1], owner, f"have as many columns as {names[0]} ({points.shape[1]})",
                                 f"{boundary.shape[1]} columns",
                                 "Give boundary points in the same space as the samples.")
    k = check_int(k, "k", owner=owner, low=1, high=boundary_high.shape[0], high_text="n_boundary",
                  fix="Choose a smaller k or generate more boundary points.")
    high_neighbors, _ = nearest_neighbors_between(high, boundary_high, k)
    low_neighbors, _ = nearest_neighbors_between(low, boundary_low, k)
    return float(shared_neighbours(high_neighbors, low_neighbors).mean() / k)


# -- temporal figures ------------------------------------------------------------------------------
def _check_sequences(high_seq, low_seq, min_epochs: int, owner: str) -> tuple[list, list, int]:
    """Validate per-epoch sequences without stacking them (they may be large memory maps)."""
    sequences = []
    for name, sequence in (("high_seq", high_seq), ("low_seq", low_seq)):
        epochs = ([epoch if hasattr(epoch, "shape") and hasattr(epoch, "ndim") else np.asarray(epoch) for epoch in sequence]
                  if not isinstance(sequence, np.ndarray) else list(sequence))  # arrays, memory maps, EpochRows: as given
        if len(epochs) < min_epochs:
            raise argument_error(name, owner, f"hold at least {min_epochs} epochs", f"{len(epochs)}",
                                 "Pass one array per epoch.")
        shape = np.shape(epochs[0])
        for index, epoch in enumerate(epochs):
            if np.ndim(epoch) != 2 or np.shape(epoch) != shape or shape[0] == 0:
                raise argument_error(name, owner, "hold 2-D arrays of one shape (n_samples, dim), n_samples >= 1",
                                     f"shape {np.shape(epoch)} at epoch {index}, {shape} at epoch 0",
                                     "Every epoch must hold the same samples.")
        sequences.append(epochs)
    high_epochs, low_epochs = sequences
    if len(high_epochs) != len(low_epochs) or high_epochs[0].shape[0] != low_epochs[0].shape[0]:
        raise argument_error("low_seq", owner, "match high_seq in epochs x samples "
                             f"({len(high_epochs)} x {high_epochs[0].shape[0]})",
                             f"{len(low_epochs)} x {low_epochs[0].shape[0]}",
                             "Embed the same samples of the same epochs.")
    return high_epochs, low_epochs, len(high_epochs)


def _epoch_distances(epochs: list, start: int, stop: int, name: str, owner: str) -> np.ndarray:
    """Distances between the epochs of samples start..stop-1, shape (stop - start, n_epochs, n_epochs).

    Uses the Gram matrix of each sample's trajectory in float64 (one batched BLAS product), so the
    cost is that of reading the block once; the (epochs, epochs, samples, D) difference tensor is
    never built.
    """
    block = np.stack([np.asarray(epoch[start:stop], dtype=np.float64) for epoch in epochs], axis=1)
    bad = np.flatnonzero(~np.isfinite(block).all(axis=(1, 2)))
    if bad.size:
        raise argument_error(name, owner, "hold finite numbers", f"NaN or infinity at sample {start + bad[0]}",
                             "Drop or repair that sample in every epoch.")
    squared_norms = np.einsum("sed,sed->se", block, block)
    gram = block @ block.transpose(0, 2, 1)
    squared = squared_norms[:, :, None] + squared_norms[:, None, :] - 2.0 * gram
    return np.sqrt(np.maximum(squared, 0.0))


def _sample_blocks(high_epochs: list, low_epochs: list, owner: str):
    """Yield (high, low) epoch-distance blocks, shape (block, n_epochs, n_epochs), bounded in memory."""
    n_samples, n_epochs = high_epochs[0].shape[0], len(high_epochs)
    width = max(high_epochs[0].shape[1], low_epochs[0].shape[1], n_epochs)
    block = max(1, _CHUNK_BYTES // (8 * n_epochs * width))
    for start in range(0, n_samples, block):
        stop = min(start + block, n_samples)
        yield (_epoch_distances(high_epochs, start, stop, "high_seq", owner),
               _epoch_distances(low_epochs, start, stop, "low_seq", owner))


def temporal_neighbor_preservation(high_seq, low_seq, k: int = 5) -> float:
    """TNN: are the epochs where a sample sat closest to its current place the same in D and in 2-D?

    For every sample and every epoch e, the other epochs are ranked by the distance of the sample's
    representation (or embedding) from its epoch-e one; the k nearest epochs in D and in 2-D are
    compared. A faithful animation moves a point most when its representation moves most.

    Parameters
    ----------
    high_seq : sequence of arrays, each shape (n_samples, D)
        Representations per epoch (a list of arrays or memory maps, or one array (n_epochs, n_samples, D)).
    low_seq : sequence of arrays, each shape (n_samples, 2)
        Embeddings of the same samples per epoch.
    k : int, default 5
        Nearest epochs compared, >= 1; capped at n_epochs - 1.

    Returns
    -------
    float in [0, 1]
        Mean over samples and epochs of |top-k_D & top-k_2D| / k. (The original reported the count.)
    """
    owner = "temporal_neighbor_preservation"
    high_epochs, low_epochs, n_epochs = _check_sequences(high_seq, low_seq, 2, owner)
    k = check_int(k, "k", owner=owner, low=1, fix="It is how many nearest epochs to compare, e.g. 5.")
    k = min(k, n_epochs - 1)
    others = ~np.eye(n_epochs, dtype=bool)
    shared = 0
    for high_block, low_block in _sample_blocks(high_epochs, low_epochs, owner):
        rankings = []
        for distances in (high_block, low_block):
            distances[:, ~others] = np.inf  # an epoch is not its own neighbour
            rankings.append(np.argsort(distances, axis=2, kind="stable")[:, :, :k].reshape(-1, k))
        shared += int(shared_neighbours(*rankings).sum())
    return shared / (high_epochs[0].shape[0] * n_epochs * k)


def temporal_ranking_correlation(high_seq, low_seq) -> float:
    """TLR: Spearman correlation of a sample's distances to its other epochs, in D versus in 2-D.

    Computed for every sample and every epoch e over the n_epochs - 1 other epochs, then averaged.
    Pass the epochs of one stage of training: across stages the distances are dominated by the stage.

    Parameters
    ----------
    high_seq : sequence of arrays, each shape (n_samples, D)
        Representations per epoch, at least 3 epochs.
    low_seq : sequence of arrays, each shape (n_samples, 2)
        Embeddings of the same samples per epoch.

    Returns
    -------
    float in [-1, 1]
        Mean correlation (ties get average ranks). Cases where either side has all distances equal
        (e.g. a sample that never moves in 2-D) have no correlation and are left out; NaN if all are.
    """
    owner = "temporal_ranking_correlation"
    high_epochs, low_epochs, n_epochs = _check_sequences(high_seq, low_seq, 3, owner)
    others = ~np.eye(n_epochs, dtype=bool)
    total, count = 0.0, 0
    for high_block, low_block in _sample_blocks(high_epochs, low_epochs, owner):
        ranks = []
        for distances in (high_block, low_block):
            kept = distances[:, others].reshape(-1, n_epochs - 1)  # rows: (sample, epoch e)
            centred = scipy.stats.rankdata(kept, axis=1)
            ranks.append(centred - centred.mean(axis=1, keepdims=True))
        norm = np.sqrt((ranks[0] ** 2).sum(axis=1) * (ranks[1] ** 2).sum(axis=1))
        defined = norm > 0
        total += float(((ranks[0] * ranks[1]).sum(axis=1)[defined] / norm[defined]).sum())
        count += int(defined.sum())
    return total / count if count else float("nan")
