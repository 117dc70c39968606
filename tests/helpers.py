"""Small builders shared by tests."""

from pathlib import Path

import numpy as np
from torch import nn

from ttv_core import Recorder


def make_small_run(path: Path, *, epochs=(1, 2, 3), n_train=30, n_test=10, dim=4, n_classes=3, seed=0) -> Path:
    """A ttv run of random (but finite, well-formed) representations, built in milliseconds."""
    rng = np.random.default_rng(seed)
    recorder = Recorder(
        path,
        classes=[f"class {c}" for c in range(n_classes)],
        train_labels=np.arange(n_train) % n_classes,
        test_labels=np.arange(n_test) % n_classes,
        head=nn.Linear(dim, n_classes),
    )
    for epoch in epochs:
        recorder.log_epoch(
            epoch,
            train=rng.normal(size=(n_train, dim)).astype(np.float32),
            test=rng.normal(size=(n_test, dim)).astype(np.float32),
        )
    return Path(path)


def gaussian_blobs(n_classes: int, *, scale: float, per_class: int = 60, dim: int = 12, seed: int = 0):
    """Gaussian blobs in ``dim``-D (centres drawn with std ``scale``: 6 well apart, 3 overlapping) and a
    linear head scoring each blob by closeness to its centre. Returns (points, labels, head)."""
    import torch

    from ttv_core.head import Head

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=scale, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    points = (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32)
    linear = nn.Linear(dim, n_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(centres).float())
        linear.bias.copy_(torch.from_numpy(-0.5 * (centres**2).sum(1)).float())
    return points, labels, Head(linear, dim=dim, n_classes=n_classes)
