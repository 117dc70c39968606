"""Samples worth a look: queries, training events, Data Maps and neighbourhoods, on plain arrays.

The dashboard's Samples page asks these questions of one split's per-epoch predictions
(:class:`~ttv_core.predictions.PredictionHistory`) and of the 2-D maps (epoch -> positions, shape
(n_samples, 2)); a notebook can ask them too::

    history = prediction_history(dynamics, "train")
    query(history, 12, labels=[3], flipped=True)          # 3s whose prediction changed at epoch 12
    events(history, {e: viz.results_[e].embeddings["train"] for e in viz.results_}, 12)
    data_map(history).likely_mislabelled()                # least confident first
    neighbours(dynamics.representations(12), viz.results_[12].embeddings["train"], index=7, k=15).overlap

Data Maps (Swayamdipta et al., 2020, "Dataset Cartography") place each sample by the mean over
epochs of the probability the classifier gives its *label* (confidence) and by that probability's
standard deviation (variability). Samples learned early and kept are easy; samples the model keeps
changing its mind about are ambiguous; samples it never learns are hard, and a hard sample the model
consistently puts in one other class is the classic mislabelled one.

Every threshold is a named constant below, with its reason, and a keyword argument of the function
that uses it. Arguments are checked (:mod:`ttv_core._checks`): a bad parameter raises
:class:`~ttv_core.errors.ConfigError`, a bad array :class:`~ttv_core.errors.DataError`, with a message
that names the argument and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._checks import argument_error, check_int, check_points, check_real, parameter_error
from .graph import nearest_neighbors_between
from .metrics import _check_pair
from .predictions import PredictionHistory

CONFIDENCE_CHANGE = 0.3  # change of the label's probability in one epoch worth reporting: a third of the
# scale, well above the few points a learned sample drifts per epoch, so only real jumps are listed
MOVEMENT_Z = 3.5  # robust z-score of a 2-D displacement above which it is unusual: Iglewicz & Hoaglin's
# (1993) outlier cut-off for the median/MAD z-score, which one sample's big jump cannot inflate
MAD_TO_STD = 1.4826  # the median absolute deviation times this estimates the std of normal data
MEAN_AD_TO_STD = 1.2533  # and the mean absolute deviation times this
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


# -- events -----------------------------------------------------------------------------------------
def robust_z(values) -> np.ndarray:
    """Median/MAD z-score of each value, float64: how many robust standard deviations above the median.

    Unlike the mean and std, the median and MAD barely move when a few values are huge, so those
    few stand out. When more than half the values are equal (MAD 0, e.g. most samples did not move)
    the mean absolute deviation scales instead; all equal, every score is 0.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    centre = np.median(values)
    deviation = np.abs(values - centre)
    spread = MAD_TO_STD * np.median(deviation)
    if spread == 0:
        spread = MEAN_AD_TO_STD * deviation.mean()
    return (values - centre) / spread if spread > 0 else np.zeros_like(values)


@dataclass(frozen=True, eq=False)
class EpochEvents:
    """What happened to each sample of one split between ``previous`` and ``epoch``.

    Arrays are per sample, shape (n_samples,). ``previous`` is None at the first epoch (no event
    can happen there). ``displacement`` and ``movement_score`` are None when either epoch has no map.
    """

    epoch: int
    previous: int | None
    predicted_before: np.ndarray
    predicted_after: np.ndarray
    probability_change: np.ndarray  # of the labelled class, after - before
    displacement: np.ndarray | None  # 2-D distance moved
    movement_score: np.ndarray | None  # robust_z(displacement)
    flipped: np.ndarray  # bool: the prediction changed
    probability_jump: np.ndarray  # bool: |probability_change| >= the threshold
    moved: np.ndarray  # bool: movement_score > the threshold (all False without maps)

    @property
    def samples(self) -> np.ndarray:
        """Indices of the samples with at least one event, ascending."""
        return np.flatnonzero(self.flipped | self.probability_jump | self.moved)


def _displacement(embeddings_by_epoch: Mapping[int, np.ndarray], before: int, after: int, n_samples: int):
    """Per-sample 2-D distance moved between two epochs' maps, or None when either map is missing."""
    if before not in embeddings_by_epoch or after not in embeddings_by_epoch:
        return None
    pair = [check_points(embeddings_by_epoch[e], f"embeddings_by_epoch[{e}]", owner="events", dim=2, min_rows=0)
            for e in (before, after)]
    for e, points in zip((before, after), pair):
        if points.shape[0] != n_samples:
            raise argument_error(f"embeddings_by_epoch[{e}]", "events", f"hold one row per sample ({n_samples})",
                                 f"{points.shape[0]} rows", "Pass the map of the history's split.")
    return np.linalg.norm(pair[1].astype(np.float64) - pair[0], axis=1)


def events(history: PredictionHistory, embeddings_by_epoch: Mapping[int, np.ndarray] | None, epoch: int, *,
           confidence_change: float = CONFIDENCE_CHANGE, movement_z: float = MOVEMENT_Z) -> EpochEvents:
    """Training events of ``epoch`` against the epoch before it in the history.

    A *flip* is a changed prediction; a *probability jump* a change of the labelled class's probability
    of at least ``confidence_change`` (up: learned, down: forgotten); a *large movement* a 2-D
    displacement whose :func:`robust_z` among all samples' exceeds ``movement_z``, which needs the maps
    of both epochs in ``embeddings_by_epoch`` (epoch -> shape (n_samples, 2)).
    """
    owner = "events"
    row = history.row(epoch, owner=owner)
    confidence_change = check_real(confidence_change, "confidence_change", owner=owner, low=0.0, high=1.0,
                                   low_open=True, fix="Use e.g. 0.3.")
    movement_z = check_real(movement_z, "movement_z", owner=owner, low=0.0, fix="Use e.g. 3.5.")
    before = max(row - 1, 0)
    change = (history.true_probability[row] - history.true_probability[before]).astype(np.float64)
    moved = None if row == 0 else _displacement(embeddings_by_epoch or {}, history.epochs[before],
                                                 history.epochs[row], history.labels.size)
    score = None if moved is None else robust_z(moved)
    return EpochEvents(
        epoch=history.epochs[row], previous=history.epochs[before] if row else None,
        predicted_before=history.predicted[before].astype(np.int64),
        predicted_after=history.predicted[row].astype(np.int64), probability_change=change,
        displacement=moved, movement_score=score, flipped=history.predicted[row] != history.predicted[before],
        probability_jump=np.abs(change) >= confidence_change,
        moved=np.zeros(history.labels.size, bool) if score is None else score > movement_z,
    )


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
