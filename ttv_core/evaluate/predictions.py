"""What the classifier predicted for every sample at every epoch, memoized per epoch.

The dashboard colours points by prediction, marks the misclassified, lists prediction flips and
builds Data Maps (Swayamdipta et al., 2020: mean and spread over epochs of the probability given to
a sample's true label) from this one table::

    history = prediction_history(dynamics, "train")
    history.predicted[history.row(12)]    # predicted class of every training sample at epoch 12
    history.confidence[:, 7]              # sample 7's top-class probability, epoch by epoch

Each epoch is one pass of the head over that epoch's representations; the result is stored in the
cache (:mod:`ttv_core.run.store`) under the epoch's content fingerprint, so it is computed once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from . import boundary
from .._checks import parameter_error
from ..data.dynamics import TrainingDynamics
from ..run.store import ResultStore, result_key


def epoch_predictions(dynamics: TrainingDynamics, epoch: int, split: str = "train") -> dict[str, np.ndarray]:
    """One epoch's ``predicted`` (int16), ``confidence`` and ``true_probability`` (float32) per sample."""
    labels = dynamics.labels(split)
    if labels.size == 0:
        empty = np.empty(0, np.float32)
        return {"predicted": np.empty(0, np.int16), "confidence": empty, "true_probability": empty}
    probabilities = boundary.softmax(dynamics.head(epoch)(dynamics.representations(epoch, split))).astype(np.float32)
    predicted = probabilities.argmax(axis=1)
    return {
        "predicted": predicted.astype(np.int16),
        "confidence": probabilities[np.arange(len(predicted)), predicted],
        "true_probability": probabilities[np.arange(len(labels)), labels],
    }


@dataclass(frozen=True, eq=False)
class PredictionHistory:
    """Per-epoch predictions of one split; arrays are (n_epochs, n_samples), rows in ``epochs`` order.

    Attributes
    ----------
    epochs : tuple of int
    split : {"train", "test"}
    labels : ndarray of int64, shape (n_samples,)
    predicted : ndarray of int16
        The head's top class.
    confidence : ndarray of float32
        Softmax probability of the top class.
    true_probability : ndarray of float32
        Softmax probability of the sample's labelled class (Data Maps' "confidence").
    """

    epochs: tuple[int, ...]
    split: str
    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    true_probability: np.ndarray

    def row(self, epoch: int, *, owner: str = "PredictionHistory.row", name: str = "epoch") -> int:
        """Row of ``epoch`` in the arrays; a ConfigError naming the history's epochs for any other value
        (``owner`` and ``name``: the function and parameter to name in it)."""
        if isinstance(epoch, Integral) and not isinstance(epoch, bool) and int(epoch) in self.epochs:
            return self.epochs.index(int(epoch))
        span = f"{self.epochs[0]}–{self.epochs[-1]}" if self.epochs else "none"
        rule = f"{'hold only' if name == 'epochs' else 'be one of'} the history's epochs ({span})"
        raise parameter_error(name, owner, rule, epoch)

    def take(self, indices) -> "PredictionHistory":
        """The history of the samples ``indices`` only, their columns in that order."""
        chosen = np.asarray(indices, dtype=np.int64)
        return PredictionHistory(self.epochs, self.split, self.labels[chosen], self.predicted[:, chosen],
                                 self.confidence[:, chosen], self.true_probability[:, chosen])

    @property
    def correct(self) -> np.ndarray:
        """Whether each prediction is right, bool (n_epochs, n_samples)."""
        return self.predicted == self.labels[None, :]


def prediction_history(dynamics: TrainingDynamics, split: str = "train", *, epochs: list[int] | None = None,
                       cache_dir=None, samples=None) -> PredictionHistory:
    """Predictions of ``split`` at ``epochs`` (default: every epoch), each epoch read from or put in the cache.

    ``samples``: the indices of the samples to keep, their columns in that order (as :meth:`PredictionHistory.take`,
    without stacking the whole split first: the dashboard's player keeps 6,000 of 70,000 samples over 200 epochs).
    """
    chosen = tuple(dynamics.check_epoch(e) for e in (epochs if epochs is not None else dynamics.epochs))
    labels = np.asarray(dynamics.labels(split), dtype=np.int64)
    columns = slice(None) if samples is None else np.asarray(samples, dtype=np.int64)
    labels = labels[columns]
    with ResultStore(cache_dir) as store:
        rows = [
            store.get_or_compute(
                result_key("predictions", data=dynamics.fingerprint(e), epoch=e, split=split),
                lambda e=e: epoch_predictions(dynamics, e, split),
            )[0]
            for e in chosen
        ]
    stacked = {name: np.stack([row[name][columns] for row in rows]) if rows else np.empty((0, labels.size))
               for name in ("predicted", "confidence", "true_probability")}
    return PredictionHistory(chosen, split, labels, **stacked)
