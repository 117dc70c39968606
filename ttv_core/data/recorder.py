"""Record training dynamics from your own PyTorch training loop.

Example::

    from ttv_core import Recorder, collect_features

    with Recorder("runs/my-run", classes=class_names, train_labels=y_train, test_labels=y_test,
                  head=model.fc) as recorder:
        for epoch in range(1, n_epochs + 1):
            train_one_epoch(model, train_loader)
            recorder.log_epoch(
                epoch,
                train=collect_features(model.features, train_eval_loader),  # loader with shuffle=False
                test=collect_features(model.features, test_loader),
                metrics={"loss": last_loss},
            )

Each ``log_epoch`` writes its epoch atomically, so a training that crashes keeps every finished epoch.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch
from torch import nn

from . import runformat
from ..errors import ConfigError, DataError
from .head import spec_from_module

_MODES = ("new", "resume", "overwrite")


def _as_numpy(values: Any, what: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu").numpy()
    try:
        return np.asarray(values)
    except (TypeError, ValueError) as error:
        raise DataError(f"{what}: cannot be read as an array ({error}).") from None


def _as_thumbnails(images: Any, n: int, what: str) -> np.ndarray:
    """uint8 images, shape (n, h, w) or (n, h, w, 3|4); floats are taken to lie in [0, 1]."""
    array = _as_numpy(images, what)
    if array.ndim == 4 and array.shape[1] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = np.moveaxis(array, 1, -1)  # channels-first (torch) to channels-last
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (3, 4) or array.shape[0] != n or (array.ndim == 4 and array.shape[-1] not in (3, 4)):
        raise DataError(f"{what}: expected {n} images of shape (h, w) or (h, w, 3|4); got array shape {array.shape}.")
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return array


class Recorder:
    """Write a run in ttv's format, one epoch at a time.

    Parameters
    ----------
    path : str or Path
        Folder of the run. Created if missing.
    classes : list of str
        Class names, indexed by label.
    train_labels, test_labels : array-like of int
        Labels of the samples whose representations each epoch will log, in the same order every
        epoch. ``test_labels`` may be omitted when there is no test set.
    head : torch.nn.Module, optional
        The classifier head (representation -> logits), e.g. ``model.fc``. Its weights are copied at
        every ``log_epoch``; a head can also be passed per epoch.
    train_thumbnails, test_thumbnails : array-like, optional
        Small images per sample (uint8, or floats in [0, 1]), shown in the dashboard.
    name : str, optional
        A human-readable name of the run.
    meta : dict, optional
        Anything JSON-serialisable you want to keep with the run (hyper-parameters, ...).
    mode : {"new", "resume", "overwrite"}, default "new"
        ``"new"`` refuses a folder that already holds files. ``"resume"`` adds epochs to an existing
        run with the same classes and labels (e.g. after a crash). ``"overwrite"`` replaces an existing
        ttv run; it never deletes a folder that is not a ttv run.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        classes: list[str] | tuple[str, ...],
        train_labels: Any,
        test_labels: Any = None,
        head: nn.Module | None = None,
        train_thumbnails: Any = None,
        test_thumbnails: Any = None,
        name: str | None = None,
        meta: dict[str, Any] | None = None,
        mode: str = "new",
    ):
        if mode not in _MODES:
            raise ConfigError(f"mode must be one of {_MODES}; got {mode!r}.")
        self.path = Path(path)
        self.classes = [str(c) for c in classes]
        self.head = head
        self.name = name or self.path.name
        self.meta = dict(meta or {})
        self.mode = mode
        self._labels = {
            "train": _as_numpy(train_labels, "train_labels").astype(np.int64).reshape(-1),
            "test": (
                np.zeros(0, np.int64) if test_labels is None else _as_numpy(test_labels, "test_labels").astype(np.int64)
            ).reshape(-1),
        }
        for split, labels in self._labels.items():
            if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise DataError(
                    f"{split}_labels: values must lie in 0..{len(self.classes) - 1} ({len(self.classes)} classes); "
                    f"got {int(labels.min())}..{int(labels.max())}."
                )
        self._thumbnails = {}
        for split, images in (("train", train_thumbnails), ("test", test_thumbnails)):
            if images is not None:
                self._thumbnails[split] = _as_thumbnails(images, len(self._labels[split]), f"{split}_thumbnails")
        self._spec: dict[str, Any] | None = None
        self._dim: int | None = None
        self._prepare_folder()

    # -- folder handling ----------------------------------------------------------------------
    def _prepare_folder(self) -> None:
        path = self.path
        if path.exists() and not path.is_dir():
            raise DataError(f"{path}: exists and is a file; the recorder needs a folder.")
        existing = path.is_dir() and any(path.iterdir())
        if not existing:
            path.mkdir(parents=True, exist_ok=True)
            return
        if not runformat.is_run(path):
            raise DataError(
                f"{path}: the folder already holds files and is not a ttv run; ttv will not write into it. "
                "Choose an empty or new folder."
            )
        if self.mode == "new":
            raise DataError(
                f"{path}: already holds a ttv run. Use mode='resume' to add epochs to it, or mode='overwrite' "
                "to replace it."
            )
        if self.mode == "overwrite":
            for child in (runformat.MANIFEST, "labels", "thumbnails", runformat.EPOCHS_DIR):
                target = path / child
                if target.is_dir():
                    import shutil

                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
            return
        manifest = runformat.read_manifest(path)
        if manifest["classes"] != self.classes:
            raise DataError(f"{path}: cannot resume: the run's classes {manifest['classes']} differ from {self.classes}.")
        for split, labels in self._labels.items():
            stored = np.load(path / "labels" / f"{split}.npy", allow_pickle=False)
            if not np.array_equal(stored, labels):
                raise DataError(f"{path}: cannot resume: the stored {split} labels differ from the ones given.")
        self._spec, self._dim = manifest["head"], manifest["dim"]

    # -- recording ----------------------------------------------------------------------------
    def log_epoch(
        self,
        epoch: int,
        *,
        train: Any,
        test: Any = None,
        head: nn.Module | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Path:
        """Write one epoch: representations of every train (and test) sample, and the head's weights.

        Parameters
        ----------
        epoch : int
            Epoch number (any non-negative integer; usually 1, 2, ...).
        train, test : array-like, shape (n_samples, dim)
            Representations (numpy arrays or tensors) in the order of the labels.
        head : torch.nn.Module, optional
            This epoch's head; defaults to the recorder's ``head``.
        metrics : dict, optional
            JSON-serialisable numbers to keep with the epoch (loss, learning rate, ...).

        Returns
        -------
        Path
            The epoch's folder.
        """
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ConfigError(f"epoch must be a non-negative integer; got {epoch!r}.")
        head = head if head is not None else self.head
        if head is None:
            raise ConfigError("log_epoch needs the classifier head: pass head= here or to Recorder(...).")
        representations = {"train": self._check_split(train, "train", epoch), "test": None}
        if test is None and len(self._labels["test"]):
            raise DataError(f"epoch {epoch}: test representations are missing, but test_labels were given.")
        representations["test"] = (
            self._check_split(test, "test", epoch)
            if test is not None
            else np.zeros((0, representations["train"].shape[1]), np.float32)
        )
        spec, weights = spec_from_module(head)
        if self._spec is None:
            self._spec, self._dim = spec, representations["train"].shape[1]
            runformat.write_header(
                self.path,
                classes=self.classes,
                dim=self._dim,
                head_spec=spec,
                labels=self._labels,
                thumbnails=self._thumbnails,
                name=self.name,
                meta=self.meta,
            )
        elif spec != self._spec:
            raise DataError(f"epoch {epoch}: the head's layers differ from the first epoch's; keep one architecture.")
        return runformat.write_epoch(
            self.path,
            int(epoch),
            representations=representations,
            head_weights=weights,
            metrics=dict(metrics or {}),
            overwrite=self.mode == "overwrite",
        )

    def _check_split(self, values: Any, split: str, epoch: int) -> np.ndarray:
        array = _as_numpy(values, f"epoch {epoch} {split}").astype(np.float32, copy=False)
        n = len(self._labels[split])
        if array.ndim != 2 or array.shape[0] != n:
            raise DataError(
                f"epoch {epoch}: {split} representations must have shape ({n}, dim), one row per label; "
                f"got {array.shape}."
            )
        if self._dim is not None and array.shape[1] != self._dim:
            raise DataError(f"epoch {epoch}: {split} representations have dim {array.shape[1]}; earlier epochs had {self._dim}.")
        if not np.isfinite(array).all():
            raise DataError(f"epoch {epoch}: {split} representations contain NaN or inf; the model may have diverged.")
        return array

    def close(self) -> None:
        """Nothing to flush (every epoch is written when logged); here for symmetry with ``with``."""

    def __enter__(self) -> "Recorder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@torch.no_grad()
def collect_features(
    feature_fn: Callable[[torch.Tensor], torch.Tensor],
    loader: Iterable[Any],
    *,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Run ``feature_fn`` over every batch of ``loader`` and stack the results.

    Parameters
    ----------
    feature_fn : callable
        Maps a batch of inputs to representations, e.g. ``model.features`` or a ``lambda``. If it
        is a module or a bound method of one, that module is put in eval mode for the pass and
        restored afterwards (batch norm and dropout must not change the representations).
    loader : iterable
        Yields input batches, or ``(inputs, ...)`` tuples. It must not shuffle: the rows must come
        in the same order every epoch.
    device : str or torch.device, optional
        Where to move each batch before calling ``feature_fn``.

    Returns
    -------
    ndarray, shape (n_samples, dim), float32
    """
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, torch.utils.data.RandomSampler):
        raise ConfigError("collect_features: the loader shuffles; use a DataLoader with shuffle=False.")
    owner = feature_fn if isinstance(feature_fn, nn.Module) else getattr(feature_fn, "__self__", None)
    was_training = owner.training if isinstance(owner, nn.Module) else None
    if isinstance(owner, nn.Module):
        owner.eval()
    try:
        blocks = []
        for batch in loader:
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            if device is not None:
                inputs = inputs.to(device)
            out = feature_fn(inputs)
            if out.ndim == 0 or out.shape[0] != len(inputs):
                raise DataError(f"collect_features: feature_fn returned shape {tuple(out.shape)} for a batch of "
                                f"{len(inputs)}; it must return one representation per sample, shape (batch, ...).")
            if out.ndim > 2 and not blocks:  # said once, on the first batch
                width = math.prod(out.shape[1:])
                warnings.warn(f"collect_features: feature_fn returns shape (n, {', '.join(map(str, out.shape[1:]))}); "
                              f"ttv flattens it to (n, {width}), so the run's head must take rows of {width} values.",
                              stacklevel=3)
            blocks.append(out.reshape(out.shape[0], -1).to("cpu", torch.float32).numpy())
    finally:
        if isinstance(owner, nn.Module) and was_training:
            owner.train()
    if not blocks:
        raise DataError("collect_features: the loader yielded no batches.")
    return np.concatenate(blocks)
