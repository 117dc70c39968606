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
