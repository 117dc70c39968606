"""A tiny but real folder in the original DeepVisualInsight layout, for tests of every reader of it.

:func:`make_original_layout` trains a small model for a few epochs and writes exactly what the
original tools wrote (``config.json``, ``Model/model.py``, per-epoch ``subject_model.pth`` and
``index.json``, the data tensors, sprites), so tests of the reader, the Hub and the CLI exercise the
same files a user would have. Other test modules import it: keep its signature stable.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

NET = "TinyNet"
CLASSES = ("circle", "square", "triangle")

MODEL_SOURCE = '''"""Subject model of the ttv test fixture: a one-layer MLP over 1x4x4 inputs."""
import torch
from torch import nn

DIM = {dim}


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(16, DIM)
        self.classifier = nn.Linear(DIM, {n_classes})

    def feature(self, x):
        return torch.relu(self.encoder(x.reshape(len(x), -1)))

    def prediction(self, h):
        return self.classifier(h)

    def forward(self, x):
        return self.prediction(self.feature(x))
'''


def _config(epochs: tuple[int, ...], n_train: int, n_test: int) -> dict:
    period = epochs[1] - epochs[0] if len(epochs) > 1 else 1
    if period < 1 or list(epochs) != list(range(epochs[0], epochs[-1] + 1, period)):
        raise ValueError(f"epochs must be evenly spaced and ascending (config.json has a period); got {epochs}.")
    return {"DVI": {
        "SETTING": "normal",
        "CLASSES": list(CLASSES),
        "DATASET": "ttv-fixture",
        "GPU": "0",
        "EPOCH_START": epochs[0], "EPOCH_END": epochs[-1], "EPOCH_PERIOD": period,
        "TRAINING": {"NET": NET, "num_class": len(CLASSES), "train_num": n_train, "test_num": n_test},
        "VISUALIZATION": {"N_NEIGHBORS": 15, "RESOLUTION": 300},
    }}


def _samples(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Class prototypes plus noise, shape (n, 1, 4, 4) float32, and labels, shape (n,) int64."""
    prototypes = torch.rand(len(CLASSES), 1, 4, 4, generator=torch.Generator().manual_seed(99))
    labels = torch.randint(0, len(CLASSES), (n,), generator=generator)
    noise = 0.35 * torch.randn(n, 1, 4, 4, generator=generator)
    return (prototypes[labels] + noise).float(), labels.long()


def _subset(n_pool: int, n_used: int, generator: torch.Generator) -> list[int]:
    """A shuffled subset of 0..n_pool-1: applying it twice would pick other samples (or fail)."""
    return torch.randperm(n_pool, generator=generator)[:n_used].tolist()


def make_original_layout(
    root: Path,
    *,
    n_train: int = 60,
    n_test: int = 20,
    epochs: tuple[int, ...] = (1, 2, 3),
    dim: int = 8,
    with_sprites: bool = True,
    with_index: bool = True,
    seed: int = 0,
) -> Path:
    """Write an original-layout folder at ``root`` (created if needed) and return ``root``.

    Parameters
    ----------
    root : Path
        The folder to fill; becomes the CONTENT_PATH holding ``config.json``.
    n_train, n_test : int
        Samples a reader should show per split. With ``with_index`` the stored data sets are larger
        (1.5x train, +10 test) and ``index.json`` / ``test_index.json`` pick these many, shuffled.
    epochs : tuple of int
        Epoch numbers, evenly spaced (config.json stores START, END and PERIOD).
    dim : int
        Width of ``TinyNet.feature``: representations have shape (n_samples, dim).
    with_sprites : bool
        Write ``sprites/<i>.png`` (a 4x4 grey image) for every stored training sample.
    with_index : bool
        Write the per-epoch index files; without them every stored sample is used.
    seed : int
        Seeds data and training: the same arguments give the same files.

    Notes
    -----
    The model is ``TinyNet`` (config.json ``DVI.TRAINING.NET``): ``feature`` is Linear(16, dim) + ReLU
    over the flattened 1x4x4 input, ``prediction`` is Linear(dim, 3). Each epoch's checkpoint is the
    state after a few more SGD steps, so checkpoints (and accuracy) differ between epochs.
    """
    root = Path(root)
    epochs = tuple(int(e) for e in epochs)
    config = _config(epochs, n_train, n_test)
    generator = torch.Generator().manual_seed(seed)
    n_train_pool = n_train + n_train // 2 if with_index else n_train
    n_test_pool = n_test + 10 if with_index else n_test
    train = _samples(n_train_pool, generator)
    test = _samples(n_test_pool, generator)
    index = {"index.json": _subset(n_train_pool, n_train, generator),
             "test_index.json": _subset(n_test_pool, n_test, generator)}

    (root / "Model").mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config, indent=4))
    source = MODEL_SOURCE.format(dim=int(dim), n_classes=len(CLASSES))
    (root / "Model" / "model.py").write_text(source)
    for folder, prefix, (x, y) in (("Training_data", "training", train), ("Testing_data", "testing", test)):
        (root / folder).mkdir(exist_ok=True)
        torch.save(x, root / folder / f"{prefix}_dataset_data.pth")
        torch.save(y, root / folder / f"{prefix}_dataset_label.pth")
    _train_and_save(root, source, train, index if with_index else None, epochs, seed)
    if with_sprites:
        (root / "sprites").mkdir(exist_ok=True)
        for i, image in enumerate(train[0][:, 0].numpy()):
            pixels = (np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "sprites" / f"{i}.png")
    return root


def _train_and_save(root: Path, source: str, train, index: dict | None, epochs: tuple[int, ...], seed: int) -> None:
    """A few SGD steps per epoch on the indexed training samples; save each epoch's state_dict."""
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)
    torch.manual_seed(seed)
    model = namespace[NET]()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    used = index["index.json"] if index else slice(None)
    x, y = train[0][used], train[1][used]
    for epoch in epochs:
        for _ in range(3):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        epoch_dir = root / "Model" / f"Epoch_{epoch}"
        epoch_dir.mkdir(exist_ok=True)
        torch.save(model.state_dict(), epoch_dir / "subject_model.pth")
        for name, values in (index or {}).items():
            (epoch_dir / name).write_text(json.dumps(values))
