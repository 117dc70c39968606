"""Data Maps (Swayamdipta et al., 2020): easy, ambiguous and hard samples, and the likely mislabelled ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_real, parameter_error
from ..evaluate.predictions import PredictionHistory

LEARNED_CONFIDENCE = 0.5  # mean probability of the label from which a sample counts as learned: the
# label then outweighs every other class together
AMBIGUOUS_VARIABILITY = 0.2  # std over epochs from which the model keeps changing its mind: a probability
# rising steadily from 0.1 to 0.9 has std ~0.3, one settled near 0.9 after a slow start ~0.1
MISLABELLED_CONFIDENCE = 0.2  # mean probability of the label below which the label is hardly ever believed
MISLABELLED_VARIABILITY = 0.1  # ... and std below which that disbelief is consistent (no late learning)
MISLABELLED_CORRECTNESS = 0.5  # ... and share of right predictions below which another class wins most
# epochs: without it a model unsure about everything (all classes near 1/n) would look mislabelled
SETTLED_SHARE = 0.5  # share of the epochs, the last ones, a Data Map summarises by default. The paper
# fine-tuned pre-trained models, which learn within an epoch; a model trained from scratch spends its
# first epochs learning everything, which makes every sample look variable (demo, training set:
# 1,342 of 1,437 samples ambiguous over all 20 epochs, 4 over the last 10)
REGIONS = ("easy", "ambiguous", "hard")
_NO_ALTERNATIVE = -1


# -- Data Maps --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class DataMap:
    """Data Maps coordinates of one split's samples; arrays are per sample, shape (n_samples,).

    Attributes
    ----------
    confidence : float64
        Mean over epochs of the probability of the labelled class.
    variability : float64
        Its standard deviation over epochs (population std, as in the paper).
    correctness : float64
        Share of epochs whose prediction is the label.
    region : str
        One of :data:`REGIONS`.
    alternative : int64
        The class most often predicted instead of the label; -1 if the prediction was always right.
    mislabelled : bool
        Likely mislabelled: hardly and consistently believed, and another class wins most epochs.
    """

    confidence: np.ndarray
    variability: np.ndarray
    correctness: np.ndarray
    region: np.ndarray
    alternative: np.ndarray
    mislabelled: np.ndarray

    def members(self, region: str) -> np.ndarray:
        """Indices of ``region``'s samples, least confident first."""
        if region not in REGIONS:
            raise parameter_error("region", "DataMap.members", f"be one of {REGIONS}", region)
        return self._least_confident_first(self.region == region)

    def likely_mislabelled(self) -> np.ndarray:
        """Indices of the likely mislabelled samples, least confident first."""
        return self._least_confident_first(self.mislabelled)

    def _least_confident_first(self, mask: np.ndarray) -> np.ndarray:
        chosen = np.flatnonzero(mask)
        return chosen[np.argsort(self.confidence[chosen], kind="stable")]


def _most_frequent_other(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per sample, the most often predicted class that is not its label (ties: the lowest class), or -1."""
    n_samples, n_classes = labels.size, int(max(predicted.max(initial=0), labels.max(initial=0))) + 1
    cells = (np.arange(n_samples) * n_classes + predicted).ravel()  # one (sample, class) cell per epoch
    counts = np.bincount(cells, minlength=n_samples * n_classes).reshape(n_samples, n_classes)
    counts[np.arange(n_samples), labels] = 0
    return np.where(counts.max(axis=1, initial=0) > 0, counts.argmax(axis=1), _NO_ALTERNATIVE)


def settled_epochs(epochs, share: float = SETTLED_SHARE) -> tuple[int, int]:
    """First and last of the epochs a Data Map summarises by default: the last ``share`` of ``epochs``."""
    epochs = sorted(int(e) for e in epochs)
    if not epochs:
        raise parameter_error("epochs", "settled_epochs", "hold at least one epoch", epochs)
    share = check_real(share, "share", owner="settled_epochs", low=0.0, high=1.0, low_open=True, fix="Use e.g. 0.5.")
    return epochs[len(epochs) - max(1, round(share * len(epochs)))], epochs[-1]


def data_map(history: PredictionHistory, *, epochs=None, learned_confidence: float = LEARNED_CONFIDENCE,
             ambiguous_variability: float = AMBIGUOUS_VARIABILITY,
             mislabelled_confidence: float = MISLABELLED_CONFIDENCE,
             mislabelled_variability: float = MISLABELLED_VARIABILITY,
             mislabelled_correctness: float = MISLABELLED_CORRECTNESS) -> DataMap:
    """Data Maps of the history's split (Swayamdipta et al., 2020).

    Regions: *ambiguous* from ``ambiguous_variability`` up; below it *easy* from ``learned_confidence``
    up, else *hard*. Fixed thresholds rather than the paper's thirds of the data: a well-trained run
    then has few hard samples instead of always a third. *Likely mislabelled*: confidence below
    ``mislabelled_confidence``, variability below ``mislabelled_variability`` and correctness below
    ``mislabelled_correctness``: the model consistently believes another class (``alternative``).

    Parameters
    ----------
    history : PredictionHistory
    epochs : iterable of int, optional
        The epochs summarised (default: all of the history's). :func:`settled_epochs` gives the window
        the dashboard starts with.
    learned_confidence, ambiguous_variability, mislabelled_confidence, mislabelled_variability, \
mislabelled_correctness : float in [0, 1]
        Thresholds; see the module constants of the same names in capitals.
    """
    owner = "data_map"
    rules = {"learned_confidence": learned_confidence, "ambiguous_variability": ambiguous_variability,
             "mislabelled_confidence": mislabelled_confidence, "mislabelled_variability": mislabelled_variability,
             "mislabelled_correctness": mislabelled_correctness}
    for name, value in rules.items():
        check_real(value, name, owner=owner, low=0.0, high=1.0)
    rows = [history.row(e, owner=owner, name="epochs") for e in (history.epochs if epochs is None else epochs)]
    if not rows:
        raise parameter_error("epochs", owner, "hold at least one of the history's epochs", epochs)
    probability = history.true_probability[rows].astype(np.float64)
    confidence, variability = probability.mean(axis=0), probability.std(axis=0)
    correctness = history.correct[rows].mean(axis=0)
    ambiguous = variability >= ambiguous_variability
    region = np.where(ambiguous, "ambiguous", np.where(confidence >= learned_confidence, "easy", "hard"))
    mislabelled = ((confidence < mislabelled_confidence) & (variability < mislabelled_variability)
                   & (correctness < mislabelled_correctness))
    alternative = _most_frequent_other(history.predicted[rows].astype(np.int64), history.labels)
    return DataMap(confidence, variability, correctness, region.astype(str), alternative, mislabelled)


