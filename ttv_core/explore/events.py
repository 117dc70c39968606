"""Training events of one epoch: predictions that flipped, confidence that jumped, dots that moved unusually."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._checks import argument_error, check_points, check_real
from ..evaluate.predictions import PredictionHistory

CONFIDENCE_CHANGE = 0.3  # change of the label's probability in one epoch worth reporting: a third of the
# scale, well above the few points a learned sample drifts per epoch, so only real jumps are listed
MOVEMENT_Z = 3.5  # robust z-score of a 2-D displacement above which it is unusual: Iglewicz & Hoaglin's
# (1993) outlier cut-off for the median/MAD z-score, which one sample's big jump cannot inflate
MAD_TO_STD = 1.4826  # the median absolute deviation times this estimates the std of normal data
MEAN_AD_TO_STD = 1.2533  # and the mean absolute deviation times this


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


