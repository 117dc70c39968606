"""The built-in demo: a small classifier trained on scikit-learn's bundled digits, recorded by ttv.

It needs no download and runs in seconds on two CPU cores. It is a real training run: an MLP learns
the 8x8 digits with plain SGD and a small learning rate, so the first epochs' representations are
poorly separated and the last ones well separated, which is what makes the animation worth watching.
The demo records itself through :class:`ttv_core.Recorder`, like any user's training would.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import runformat
from .._checks import check_field, check_int, check_real
from ..config import MAX_BATCH, MAX_HIDDEN, MAX_SEED
from .._io import sha256_bytes
from ..cachedir import resolve_cache_dir
from .recorder import Recorder


@dataclass(frozen=True)
class DemoConfig:
    """How the demo classifier is trained. Defaults give a visible journey from mixed to separated."""

    epochs: int = 20  # long enough to reach ~97 % test accuracy, short enough to run in seconds
    seed: int = 0  # the one source of randomness: split, initialisation and batch order
    hidden: int = 256  # width of the first hidden layer
    dim: int = 64  # representation dimension (the second hidden layer, what ttv visualises)
    learning_rate: float = 0.01  # small on purpose: epoch 1 is still far from separated
    batch_size: int = 64  # ~23 SGD steps per epoch on 1,437 training images
    test_fraction: float = 0.2  # 360 of the 1,797 digits are held out as the test set

    def __post_init__(self) -> None:
        check_field(self, "epochs", check_int, low=1, high=1000)  # each epoch is recorded: 1,797 x dim floats
        check_field(self, "seed", check_int, low=0, high=MAX_SEED)
        check_field(self, "hidden", check_int, low=2, high=MAX_HIDDEN)
        check_field(self, "dim", check_int, low=2, high=MAX_HIDDEN)
        check_field(self, "learning_rate", check_real, low=0.0, high=10.0, low_open=True)
        check_field(self, "batch_size", check_int, low=1, high=MAX_BATCH)
        check_field(self, "test_fraction", check_real, low=0.0, high=0.9, low_open=True)

    def key(self) -> str:
        """Short digest of the config, naming the cached demo run it produces."""
        return sha256_bytes(json.dumps(dataclasses.asdict(self), sort_keys=True).encode())[:12]


class _DigitsNet(nn.Module):
    def __init__(self, config: DemoConfig, n_inputs: int, n_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Linear(n_inputs, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.dim), nn.ReLU()
        )
        self.fc = nn.Linear(config.dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _digits(config: DemoConfig):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    inputs = (digits.data / 16.0).astype(np.float32)
    images = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    index = np.arange(len(inputs))
    train_index, test_index = train_test_split(
        index, test_size=config.test_fraction, random_state=config.seed, stratify=digits.target
    )
    return inputs, digits.target.astype(np.int64), images, train_index, test_index


def make_demo(
    out: str | os.PathLike,
    *,
    config: DemoConfig = DemoConfig(),
    mode: str = "new",
    on_epoch_end: Callable[[int, dict[str, float]], None] | None = None,
) -> Path:
    """Train the demo classifier and record its dynamics in ttv's format under ``out``.

    Parameters
    ----------
    out : str or Path
        Folder to create (see :class:`Recorder` for ``mode``).
    config : DemoConfig
        Training settings; the same config gives the same run, bit for bit on one machine.
    on_epoch_end : callable, optional
        Called as ``on_epoch_end(epoch, {"loss": ..., "test_acc": ...})`` after each epoch.

    Returns
    -------
    Path
        The run folder.
    """
    inputs, labels, images, train_index, test_index = _digits(config)
    x_train, x_test = torch.from_numpy(inputs[train_index]), torch.from_numpy(inputs[test_index])
    y_train = torch.from_numpy(labels[train_index])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = _DigitsNet(config, inputs.shape[1], 10)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.learning_rate, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    recorder = Recorder(
        out,
        classes=[str(d) for d in range(10)],
        train_labels=labels[train_index],
        test_labels=labels[test_index],
        head=model.fc,
        train_thumbnails=images[train_index],
        test_thumbnails=images[test_index],
        name="digits demo",
        meta={"demo_config": dataclasses.asdict(config), "dataset": "sklearn.datasets.load_digits",
              "train_index": train_index.tolist(), "test_index": test_index.tolist()},
        mode=mode,
    )
    for epoch in range(1, config.epochs + 1):
        model.train()
        total = 0.0
        for batch in torch.randperm(len(x_train), generator=generator).split(config.batch_size):
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        model.eval()
        with torch.no_grad():
            train_features, test_features = model.features(x_train), model.features(x_test)
            test_acc = float((model.fc(test_features).argmax(1).numpy() == labels[test_index]).mean())
        figures = {"loss": total / len(x_train), "test_acc": test_acc}
        recorder.log_epoch(epoch, train=train_features, test=test_features, metrics=figures)
        if on_epoch_end is not None:
            on_epoch_end(epoch, figures)
    return Path(out)


def demo_path(cache_dir: str | os.PathLike | None = None, *, config: DemoConfig = DemoConfig()) -> Path:
    """Where :func:`ensure_demo` keeps the demo run for ``config`` (built or not: nothing is made here)."""
    return resolve_cache_dir(cache_dir) / "demo" / f"digits-{config.key()}"


def ensure_demo(cache_dir: str | os.PathLike | None = None, *, config: DemoConfig = DemoConfig()) -> Path:
    """The demo run for ``config`` in the cache, built on first use (a few seconds) and reused after.

    Built in a temporary folder and renamed into place, so two processes asking at once never see
    half a run; the loser of that race simply uses the winner's run.
    """
    return runformat.build_once(demo_path(cache_dir, config=config), lambda folder: make_demo(folder, config=config))
