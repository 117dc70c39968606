"""Reader of the original DeepVisualInsight / TimeVis "training dynamics" folder layout.

People already hold such folders (locally or as Hub datasets), so ttv reads them as they are. This
layout stores no representations, only the subject model as Python source, one ``state_dict`` per
epoch and the raw inputs. Representations are *computed* (``model.feature(x)``), which runs code that
came with the data: ttv does so only with ``trust_code=True``, and keeps the result in its own cache
(never in the data folder, which may be a read-only Hub snapshot), keyed by the content of every
file the result depends on. Layout::

    config.json                             "DVI": CLASSES, EPOCH_START/END/PERIOD, TRAINING.NET
    Model/model.py                          class TRAINING.NET with feature(x) and prediction(h)
    Model/Epoch_<n>/subject_model.pth       state_dict after epoch n
    Model/Epoch_<n>/index.json              optional: training samples used (same at every epoch)
    Model/Epoch_<n>/test_index.json         optional: test samples used
    Training_data/training_dataset_{data,label}.pth, Testing_data/testing_dataset_{data,label}.pth
    sprites/<i>.png                         optional thumbnail of training sample i

Traps of the original code avoided here: the test subset is applied once (not twice), checkpoints
load with ``strict=True`` and ``weights_only=True``, and no device is hard-coded.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._io import atomic_write_bytes, npy_bytes, sha256_bytes
from ..cachedir import file_digest, resolve_cache_dir
from .dynamics import SPLITS, TrainingDynamics
from ..errors import DataError, TrustRequiredError
from .head import Head
from ..devices import resolve_device
from .model_code import (PredictionHead, import_model_code, load_checkpoint, load_tensor, one_line, read_index,
                         require_file)

CONFIG = "config.json"
MODEL_CODE = "Model/model.py"
CHECKPOINT = "subject_model.pth"
DATA_FILES = {  # split -> (inputs, labels), relative to the folder
    "train": ("Training_data/training_dataset_data.pth", "Training_data/training_dataset_label.pth"),
    "test": ("Testing_data/testing_dataset_data.pth", "Testing_data/testing_dataset_label.pth"),
}
INDEX_FILES = {"train": "index.json", "test": "test_index.json"}
BATCH_SIZE = 1000  # rows per feature() call: bounds memory for ResNet-sized models, few Python round trips
_EXTRACTION_VERSION = 1  # bump when extraction changes what it computes: old cache entries stop matching
_TRUST_HINT = (
    "pass trust_code=True in Python or --trust-code on the command line (the dashboard has a checkbox for "
    "it). Only do so if you trust where the folder came from."
)


def is_original_layout(folder: str | Path) -> bool:
    """True if ``folder`` has a ``config.json`` (even a malformed one: the reader then says what is wrong)."""
    return (Path(folder) / CONFIG).is_file()


@dataclass(frozen=True)
class OriginalConfig:
    """The fields of ``config.json`` that ttv needs; everything else in the file is ignored."""

    classes: tuple[str, ...]
    epochs: tuple[int, ...]
    net: str
    epoch_name: str  # prefix of the epoch folders, "Epoch" unless config.json says otherwise


def _excerpt(value: Any, limit: int = 12) -> str:
    """A value read from a file, for a message: its kind and at most ``limit`` printable characters (a
    config file may hold secrets; a hosted server must not echo them back)."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'list'} of {len(value)} entries"
    text = "".join(c if c.isprintable() else "?" for c in str(value))
    shown = text if len(text) <= limit else text[:limit] + "…"
    return f"a text ({len(text)} characters) {shown!r}" if isinstance(value, str) else f"{type(value).__name__} {shown}"


def _config_field(section: dict, name: str, path: Path, kind: type, rule: str) -> Any:
    value = section.get(name.rsplit(".", 1)[-1])
    if not isinstance(value, kind) or isinstance(value, bool):
        got = "nothing (the field is missing)" if value is None else _excerpt(value)
        raise DataError(
            f"{path}: field DVI.{name} must be {rule}; got {got}. Add or fix it in config.json."
        )
    return value


def read_config(folder: Path) -> OriginalConfig:
    """Read and check ``config.json``; raises DataError naming the file, the field and the fix."""
    path = folder / CONFIG
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: missing. An original-layout folder needs config.json with a DVI section.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not readable JSON ({error}). Fix the file (it must be one JSON object).") from None
    dvi = document.get("DVI") if isinstance(document, dict) else None
    if not isinstance(dvi, dict):
        raise DataError(
            f"{path}: has no \"DVI\" section, so this is not an original-layout folder. Expected "
            "{\"DVI\": {\"CLASSES\": [...], \"EPOCH_START\": ..., ...}} (or a ttv run with ttv_run.json)."
        )
    classes = _config_field(dvi, "CLASSES", path, list, "a non-empty list of class names")
    if not classes:
        raise DataError(f"{path}: field DVI.CLASSES is empty; list one name per class, in label order.")
    start = _config_field(dvi, "EPOCH_START", path, int, "an integer (the first recorded epoch)")
    end = _config_field(dvi, "EPOCH_END", path, int, "an integer (the last recorded epoch)")
    period = _config_field(dvi, "EPOCH_PERIOD", path, int, "a positive integer (epochs between checkpoints)")
    if period < 1 or end < start:
        raise DataError(
            f"{path}: DVI.EPOCH_START={start}, EPOCH_END={end}, EPOCH_PERIOD={period} name no epochs; "
            "EPOCH_PERIOD must be >= 1 and EPOCH_END >= EPOCH_START."
        )
    training = _config_field(dvi, "TRAINING", path, dict, "an object holding NET")
    net = _config_field(training, "TRAINING.NET", path, str, "the name of the model class in Model/model.py")
    if not net.isidentifier():
        raise DataError(f"{path}: field DVI.TRAINING.NET must be a Python class name; got {_excerpt(net)}. Fix it "
                        "in config.json.")
    epoch_name = dvi.get("EPOCH_NAME", "Epoch")
    if not (isinstance(epoch_name, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", epoch_name)):
        raise DataError(f"{path}: field DVI.EPOCH_NAME must be a folder-name prefix (letters, digits, '_', '-'); "
                        f"got {_excerpt(epoch_name)}. Fix it in config.json or leave it out (\"Epoch\").")
    return OriginalConfig(
        classes=tuple(str(name) for name in classes),
        epochs=tuple(range(start, end + 1, period)),
        net=net,
        epoch_name=epoch_name,
    )


class OriginalDynamics(TrainingDynamics):
    """Training dynamics read from an original-layout folder (see the module docstring).

    Parameters
    ----------
    folder : str or Path
        The folder holding ``config.json``.
    location : str
        How the user named it (a path or ``hf://`` reference), for messages.
    trust_code : bool
        Must be True: reading this layout runs ``Model/model.py``.
    cache_dir : str or Path, optional
        Where extracted representations are kept (:func:`ttv_core.cachedir.resolve_cache_dir`).
    device : str or torch.device, optional
        Where ``feature`` runs during extraction; the GPU when there is one, else the CPU.

    Raises
    ------
    TrustRequiredError
        ``trust_code`` is False; nothing from the folder has been executed or unpickled.
    DataError
        A file is missing or inconsistent; the message names it.
    """

    source_kind = "original"

    def __init__(self, folder, *, location: str, trust_code: bool, cache_dir=None, device=None):
        self._opened_with = (str(folder), location, str(cache_dir) if cache_dir else None,
                             None if device is None else str(device))
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        self.model_code = require_file(self.folder / MODEL_CODE, "It defines the subject model of this folder.")
        for epoch in self.config.epochs:
            why = f"config.json lists epoch {epoch}; add its checkpoint or narrow EPOCH_START..EPOCH_END."
            require_file(self._checkpoint(epoch), why)
        if not trust_code:
            raise TrustRequiredError(
                f"{location}: this folder contains code: reading it runs {self.model_code} (it defines the "
                f"subject model {self.config.net!r}). ttv runs it only when you allow it: {_TRUST_HINT}"
            )
        self.cache_dir = resolve_cache_dir(cache_dir)
        self.device = resolve_device(device or "auto")  # a CUDA request without a GPU is a clear error
        self._inputs: dict[str, torch.Tensor] = {}
        self._index: dict[str, np.ndarray | None] = {}
        labels = {split: self._load_split(split) for split in SPLITS}
        self._module = import_model_code(self.model_code)
        self._new_model()  # a missing or broken class is reported now, not at first use
        self._fingerprints: dict[int, str] = {}
        self.feature_shape: tuple[int, ...] = ()  # one sample's shape as feature(x) returns it, set by the probe
        super().__init__(
            location=location,
            classes=self.config.classes,
            epochs=self.config.epochs,
            dim=self._probe_dim(),
            train_labels=labels["train"],
            test_labels=labels["test"],
        )

    # -- opening --------------------------------------------------------------------------------

    def __reduce__(self):
        """Pickled (e.g. for a fit in a worker process) as how to open it again: the imported model code
        cannot travel, and the permission to run it was given for this folder when it was opened."""
        folder, location, cache_dir, device = self._opened_with
        return _reopen, (folder, location, cache_dir, device)
    def _epoch_dir(self, epoch: int) -> Path:
        return self.folder / "Model" / f"{self.config.epoch_name}_{int(epoch)}"

    def _checkpoint(self, epoch: int) -> Path:
        return self._epoch_dir(epoch) / CHECKPOINT

    def _load_split(self, split: str) -> np.ndarray:
        """Load a split's inputs (kept, memory-mapped) and labels, and apply its index file once.

        Returns the labels of the samples ttv shows, shape (n_samples,).
        """
        data_path, label_path = (self.folder / name for name in DATA_FILES[split])
        inputs = load_tensor(data_path, f"{split} inputs")
        labels = load_tensor(label_path, f"{split} labels")
        if labels.ndim != 1 or len(labels) != len(inputs):
            raise DataError(
                f"{label_path}: holds labels of shape {tuple(labels.shape)}, but {data_path} holds "
                f"{len(inputs)} samples; expected one label per sample, shape ({len(inputs)},)."
            )
        self._inputs[split] = inputs
        self._index[split] = self._common_index(split, len(inputs), data_path)
        labels = labels.numpy()
        return labels if self._index[split] is None else labels[self._index[split]]

    def _common_index(self, split: str, n_samples: int, data_path: Path) -> np.ndarray | None:
        """The index file shared by all epochs (None: all samples); ttv needs the same samples throughout."""
        name = INDEX_FILES[split]
        parsed: dict[str, np.ndarray] = {}  # by file digest: identical files are parsed once
        first: tuple[int, np.ndarray | None] | None = None
        for epoch in self.config.epochs:
            path = self._epoch_dir(epoch) / name
            index = None
            if path.is_file():
                digest = file_digest(path, self.cache_dir)
                if digest not in parsed:
                    parsed[digest] = read_index(path, n_samples, data_path)
                index = parsed[digest]
            if first is None:
                first = (epoch, index)
            elif not _same_samples(first[1], index):
                raise DataError(
                    f"epoch {epoch} uses different {split} samples than epoch {first[0]}: "
                    f"{self._describe_index(epoch, name, index)}; {self._describe_index(first[0], name, first[1])}. "
                    "ttv shows the same samples at every epoch; settings whose sample set changes "
                    "(e.g. active learning) are not supported yet."
                )
        return None if first is None else first[1]

    def _describe_index(self, epoch: int, name: str, index: np.ndarray | None) -> str:
        if index is None:
            return f"{self._epoch_dir(epoch)} has no {name} (all samples)"
        return f"{self._epoch_dir(epoch) / name} lists {len(index)} samples"

    def _new_model(self) -> nn.Module:
        factory = getattr(self._module, self.config.net, None)
        if factory is None:
            module_name = self._module.__name__
            defined = sorted(
                name for name, value in vars(self._module).items()
                if isinstance(value, type) and issubclass(value, nn.Module) and value.__module__ == module_name
            )
            raise DataError(
                f"{self.model_code}: Model/model.py has no class {self.config.net!r} (named by config.json "
                f"DVI.TRAINING.NET). It defines: {', '.join(defined) or 'no nn.Module classes'}. Fix the name in "
                f"{self.folder / CONFIG}."
            )
        try:
            model = factory()
        except Exception as error:
            raise DataError(
                f"{self.model_code}: {self.config.net}() failed: {type(error).__name__}: {error}. The class must "
                "build the model without arguments."
            ) from None
        methods = ("feature", "prediction")
        if not isinstance(model, nn.Module) or not all(callable(getattr(model, name, None)) for name in methods):
            raise DataError(
                f"{self.model_code}: {self.config.net}() must return an nn.Module with methods feature(x) "
                f"(input -> representation) and prediction(h) (representation -> logits); got {type(model).__name__}."
            )
        return model

    def _subject_model(self, epoch: int) -> nn.Module:
        model = self._new_model()
        load_checkpoint(model, self._checkpoint(epoch))
        return model.eval()

    def _probe_dim(self) -> int:
        """Representation width from ONE sample through the first epoch's model (not a full extraction)."""
        split = "train" if self._n_used("train") else "test"
        if not self._n_used(split):
            raise DataError(f"{self.folder}: the training and test sets are both empty.")
        first = self.config.epochs[0]
        features = self._features(self._subject_model(first), split, first, limit=1)
        if len(self.feature_shape) > 1:  # e.g. (2, 64) per sample: the map needs one vector per sample
            shape = ", ".join(map(str, self.feature_shape))
            warnings.warn(f"{self.model_code}: {self.config.net}.feature returns shape (n, {shape}); ttv flattens "
                          f"it to (n, {features.shape[1]}) for the map, and gives prediction(h) the shape (n, {shape}) "
                          "back.", stacklevel=2)
        return int(features.shape[1])

    def _n_used(self, split: str) -> int:
        index = self._index[split]
        return len(self._inputs[split]) if index is None else len(index)

    # -- representations ------------------------------------------------------------------------
    def _features(self, model: nn.Module, split: str, epoch: int, limit: int | None = None) -> np.ndarray:
        """``model.feature`` over the used samples of ``split`` in batches; shape (n_samples, dim), float32."""
        inputs, index = self._inputs[split], self._index[split]
        n_rows = self._n_used(split) if limit is None else min(limit, self._n_used(split))
        model.to(self.device)
        blocks = []
        with torch.no_grad():
            for start in range(0, n_rows, BATCH_SIZE):
                stop = min(start + BATCH_SIZE, n_rows)
                batch = inputs[start:stop] if index is None else inputs[torch.from_numpy(index[start:stop])]
                try:
                    output = model.feature(batch.to(self.device))
                except Exception as error:
                    raise DataError(
                        f"{self.model_code}: {self.config.net}.feature failed on {split} samples {start}..{stop - 1} "
                        f"with the checkpoint {self._checkpoint(epoch)}: {type(error).__name__}: {one_line(str(error))}"
                    ) from None
                blocks.append(self._rows(output, stop - start, split))
        if not blocks:
            return np.empty((0, self.dim), np.float32)
        return np.concatenate(blocks)

    def _rows(self, output: Any, n_rows: int, split: str) -> np.ndarray:
        """``feature``'s output as one row per sample, shape (n_rows, dim), float32. A sample's representation
        of more axes, e.g. (2, 64), is flattened (to 128 values; ``feature_shape`` keeps (2, 64) for the head);
        an output whose first axis is not the samples is refused: flattening it would mix samples."""
        if not isinstance(output, torch.Tensor) or output.ndim < 1 or output.shape[0] != n_rows:
            got = f"shape {tuple(output.shape)}" if isinstance(output, torch.Tensor) else f"a {type(output).__name__}"
            raise DataError(
                f"{self.model_code}: {self.config.net}.feature returned {got} for {n_rows} {split} samples; it must "
                f"return one representation per sample, shape ({n_rows}, dim). Fix feature(x) in Model/model.py."
            )
        self.feature_shape = tuple(int(size) for size in output.shape[1:])
        return output.reshape(n_rows, -1).to("cpu", torch.float32).numpy()

    def _cache_path(self, epoch: int, split: str) -> Path:
        return self.cache_dir / "original" / self.fingerprint(epoch) / f"epoch_{int(epoch)}_{split}.npy"

    def _read_representations(self, epoch: int, split: str) -> np.ndarray:
        """Read the cached extraction, or extract both splits of ``epoch`` once and cache them."""
        path = self._cache_path(epoch, split)
        if not path.is_file():
            model = self._subject_model(epoch)
            for each in SPLITS:
                atomic_write_bytes(self._cache_path(epoch, each), npy_bytes(self._features(model, each, epoch)))
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError, EOFError) as error:
            raise DataError(
                f"{path}: cached representations are damaged ({error}); delete the file to re-extract them."
            ) from None

    def _representation_where(self, epoch: int, split: str) -> str:
        return f"{self._checkpoint(epoch)} ({split} representations from {self.config.net}.feature)"

    # -- heads, fingerprints, thumbnails --------------------------------------------------------
    def head(self, epoch: int) -> Head:
        epoch = self.check_epoch(epoch)
        module = PredictionHead(self._subject_model(epoch), where=f"{self.model_code} at epoch {epoch}",
                                feature_shape=self.feature_shape)
        return Head(module, dim=self.dim, n_classes=self.n_classes, where=f"{self.model_code} at epoch {epoch}")

    def fingerprint(self, epoch: int) -> str:
        """SHA-256 over the content of model.py, the epoch's checkpoint, the data and index files, and the
        config fields ttv reads. Also the key of the extraction cache, so editing any of them re-extracts."""
        epoch = self.check_epoch(epoch)
        if epoch not in self._fingerprints:
            def digest(path: Path) -> str | None:
                return file_digest(path, self.cache_dir) if path.is_file() else None

            files = [MODEL_CODE, *DATA_FILES["train"], *DATA_FILES["test"]]
            essentials = {
                "reader": "original-layout",
                "extraction": _EXTRACTION_VERSION,
                "config": {"classes": list(self.config.classes), "net": self.config.net},
                "files": {name: digest(self.folder / name) for name in files},
                "checkpoint": digest(self._checkpoint(epoch)),
                "index": {name: digest(self._epoch_dir(epoch) / name) for name in INDEX_FILES.values()},
            }
            self._fingerprints[epoch] = sha256_bytes(json.dumps(essentials, sort_keys=True).encode())
        return self._fingerprints[epoch]

    @property
    def has_thumbnails(self) -> bool:
        return (self.folder / "sprites").is_dir()

    def _labels_where(self, split: str) -> str:
        return str(self.folder / DATA_FILES[split][1])

    def _thumbnail(self, index: int, split: str) -> bytes | None:
        """PNG bytes of ``sprites/<i>.png``, where i is the original dataset index of ttv's train sample
        ``index`` (through index.json); None for the test split or a missing sprite."""
        if split != "train":
            return None
        original = int(index) if self._index["train"] is None else int(self._index["train"][int(index)])
        path = self.folder / "sprites" / f"{original}.png"
        return path.read_bytes() if path.is_file() else None

    def summary(self) -> dict[str, Any]:
        name = self.folder.name if self.folder.name else self.location
        return {**super().summary(), "name": name, "net": self.config.net, "model_code": str(self.model_code),
                "feature_shape": list(self.feature_shape)}  # more than one axis: flattened to dim values


def _same_samples(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether two index files select the same samples (None: no file, i.e. every sample)."""
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _reopen(folder: str, location: str, cache_dir: str | None, device: str | None) -> OriginalDynamics:
    return OriginalDynamics(folder, location=location, trust_code=True, cache_dir=cache_dir, device=device)
