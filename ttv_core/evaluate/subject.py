"""Subject-model evaluation: how well the classifier itself does at each epoch."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..data.dynamics import SPLITS, TrainingDynamics


def accuracy(dynamics: TrainingDynamics, epoch: int, split: str) -> float | None:
    """Share of ``split`` samples the head classifies correctly at ``epoch`` (None without samples)."""
    labels = dynamics.labels(split)
    if labels.size == 0:
        return None
    predicted = dynamics.head(epoch).predict(dynamics.representations(epoch, split))
    return float(np.mean(predicted == labels))


def evaluate_subject(
    dynamics: TrainingDynamics,
    *,
    epochs: list[int] | None = None,
    on_epoch_end: Callable[[int, dict[str, float | None]], None] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Train and test accuracy of the subject model per epoch.

    Returns the original tool's JSON shape, epochs as string keys::

        {"train_acc": {"1": 0.52, ...}, "test_acc": {"1": 0.49, ...}}

    ``on_epoch_end(epoch, {"train_acc": ..., "test_acc": ...})`` is called after each epoch.
    """
    result: dict[str, dict[str, float | None]] = {"train_acc": {}, "test_acc": {}}
    for epoch in epochs if epochs is not None else dynamics.epochs:
        epoch = dynamics.check_epoch(epoch)
        figures = {f"{split}_acc": accuracy(dynamics, epoch, split) for split in SPLITS}
        for key, value in figures.items():
            result[key][str(epoch)] = value
        if on_epoch_end is not None:
            on_epoch_end(epoch, figures)
    return result
