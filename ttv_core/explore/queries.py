"""Questions about samples at one epoch: one sample's story, its trajectory, and filtered queries."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._checks import argument_error, check_int, check_points, check_real, parameter_error
from ..evaluate.predictions import PredictionHistory


# -- one sample, one epoch -------------------------------------------------------------------------
def _index(value, n_samples: int, owner: str, split: str) -> int:
    if n_samples == 0:
        raise parameter_error("index", owner, f"be a sample of the {split} split, which is empty", value,
                              "Choose the other split.")
    return check_int(value, "index", owner=owner, low=0, high=n_samples - 1, high_text=f"{split} samples - 1",
                     fix="Choose a sample of this split.")


def history_of(history: PredictionHistory, index: int) -> dict[str, np.ndarray]:
    """One sample's story over the epochs: ``epoch``, ``predicted``, ``confidence``, ``true_probability``,
    each of shape (n_epochs,); plus its ``label`` (0-d)."""
    index = _index(index, history.labels.size, "history_of", history.split)
    return {"epoch": np.asarray(history.epochs), "predicted": history.predicted[:, index].astype(np.int64),
            "confidence": history.confidence[:, index], "true_probability": history.true_probability[:, index],
            "label": history.labels[index]}


def trajectory(embeddings_by_epoch: Mapping[int, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    """Where sample ``index`` sits on each epoch's map: epochs, shape (m,), and positions, shape (m, 2).

    Epochs are those with a map, ascending; ``m`` is 0 when there is none.
    """
    epochs = np.array(sorted(embeddings_by_epoch), dtype=np.int64)
    if not epochs.size:
        return epochs, np.empty((0, 2), np.float32)
    maps = [check_points(embeddings_by_epoch[e], f"embeddings_by_epoch[{e}]", owner="trajectory", dim=2)
            for e in epochs]
    index = _index(index, min(len(m) for m in maps), "trajectory", "mapped")
    return epochs, np.stack([m[index] for m in maps])


def flipped(history: PredictionHistory, epoch: int) -> np.ndarray:
    """Whether each sample's prediction at ``epoch`` differs from the epoch before, bool (n_samples,).

    All False at the history's first epoch: there is nothing to flip from.
    """
    row = history.row(epoch, owner="flipped")
    if row == 0:
        return np.zeros(history.labels.size, dtype=bool)
    return history.predicted[row] != history.predicted[row - 1]


# -- query ------------------------------------------------------------------------------------------
def _class_list(value, name: str, owner: str) -> np.ndarray | None:
    """Class indices to keep, or None (no filter) for None or an empty collection."""
    if value is None:
        return None
    array = np.asarray(list(value))
    if array.size == 0:
        return None
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer) or array.min() < 0:
        raise argument_error(name, owner, "be class indices (ints >= 0)", f"{array.tolist()!r}"[:80],
                             "Pass positions in dynamics.classes.")
    return array


def _confidence_range(value, owner: str) -> tuple[float, float]:
    rule, fix = "be a range (low, high) with 0 <= low <= high <= 1", "Give the lower end first."
    try:
        low, high = value
        low = check_real(low, "confidence", owner=owner, low=0.0, high=1.0)
        high = check_real(high, "confidence", owner=owner, low=0.0, high=1.0)
    except (TypeError, ValueError):
        raise parameter_error("confidence", owner, rule, value, fix) from None
    if not low <= high:
        raise parameter_error("confidence", owner, rule, value, fix)
    return low, high


def query(history: PredictionHistory, epoch: int, *, labels=None, predicted=None,
          confidence: tuple[float, float] = (0.0, 1.0), flipped_only: bool | None = None) -> np.ndarray:
    """Samples of the history's split that pass every filter, as ascending indices (int64).

    Parameters
    ----------
    history : PredictionHistory
        One split's predictions; the split filter is the choice of history.
    epoch : int
        The epoch the prediction, confidence and flip filters look at.
    labels, predicted : iterable of int, optional
        Keep samples labelled / predicted (at ``epoch``) as one of these classes; None or empty: any.
    confidence : (low, high), default (0, 1)
        Keep samples whose top-class probability at ``epoch`` lies in [low, high], 0 <= low <= high <= 1.
    flipped_only : bool, optional
        True: only samples whose prediction changed since the epoch before; False: only those whose
        prediction stayed; None: either.
    """
    owner = "query"
    row = history.row(epoch, owner=owner)
    labels, predicted = _class_list(labels, "labels", owner), _class_list(predicted, "predicted", owner)
    low, high = _confidence_range(confidence, owner)
    if flipped_only is not None and not isinstance(flipped_only, (bool, np.bool_)):
        raise parameter_error("flipped_only", owner, "be True, False or None", flipped_only)
    keep = (history.confidence[row] >= low) & (history.confidence[row] <= high)
    if labels is not None:
        keep &= np.isin(history.labels, labels)
    if predicted is not None:
        keep &= np.isin(history.predicted[row], predicted)
    if flipped_only is not None:
        keep &= flipped(history, history.epochs[row]) == bool(flipped_only)
    return np.flatnonzero(keep).astype(np.int64)


