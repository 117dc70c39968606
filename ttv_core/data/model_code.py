"""Loading what an original-layout folder ships: tensors, checkpoints and the model's Python code.

Everything here runs or unpickles data that came from someone else, so it is kept in one place
with the safeguards visible: ``torch.load(weights_only=True)``, strict state_dict loading, and
``model.py`` imported as a fresh, uniquely named module that is never put on ``sys.path`` and never
leaves a ``__pycache__`` in the data folder. Callers must have checked ``trust_code`` first.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import itertools
import json
import re
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError

_MODULE_COUNTER = itertools.count()
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # terminal colours and bold that torch puts in messages
_UNSAFE_GLOBAL = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")
# torch's advice that ttv does not give: loading with weights_only=False would run code from the file
_TORCH_ADVICE = ("weights_only", "trust", "two options", "safe_globals", "file an issue", "documentation", "https://")
MAX_REASON = 240  # characters of a library's own message quoted in ours


def one_line(text: str, limit: int = MAX_REASON) -> str:
    """``text`` without terminal escapes, on one line, cut at a word boundary with "..." past ``limit``."""
    text = " ".join(_ANSI_ESCAPE.sub("", text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 3]
    if " " in cut and not text[limit - 3].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:(") + "..."


def _load_failure(error: Exception) -> str:
    """Why ``torch.load`` refused a file, in words for the user: the class a pickled object needs, or torch's
    message without its advice to load with ``weights_only=False`` (which would let the file run code)."""
    text = _ANSI_ESCAPE.sub("", str(error))
    unsafe = _UNSAFE_GLOBAL.search(text)
    if unsafe:
        return f"it holds a pickled Python object ({unsafe.group(1)}), not only tensors"
    if "Weights only load failed" in text:
        detail = text.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler error:" in text else ""
        detail = one_line(detail.split("Check the documentation", 1)[0], 80)
        return "it is not a file of tensors written by torch.save" + (f" ({detail})" if detail else "")
    sentences = re.split(r"(?<=[.!?])\s+|\n+", text.strip())
    kept = [part for part in sentences if part and not any(word in part.lower() for word in _TORCH_ADVICE)]
    return one_line(" ".join(kept), MAX_REASON) or type(error).__name__


# -- reading files ------------------------------------------------------------------------------
def require_file(path: Path, why: str) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: missing. {why}")
    return path


def torch_load(path: Path, what: str) -> Any:
    """``torch.load`` with ``weights_only=True`` (data must not run code), memory-mapped where possible."""
    require_file(path, f"The original layout needs {what} here.")
    try:
        with warnings.catch_warnings():  # "Detected pickle protocol 4": two lines of torch's on every plain pickle
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            try:
                return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as error:  # files from torch.save's legacy format cannot be memory-mapped
                if "mmap" not in str(error):
                    raise
                return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types on damaged or unsafe files; all are input errors
        raise DataError(
            f"{path}: cannot read {what}: {_load_failure(error)}. ttv loads .pth files with weights_only=True, "
            "which never runs code from the file, so they must hold tensors or a state_dict; re-save it with "
            "torch.save(tensor) or torch.save(model.state_dict())."
        ) from None


def load_tensor(path: Path, what: str) -> torch.Tensor:
    value = torch_load(path, what)
    if not isinstance(value, torch.Tensor) or value.ndim < 1:
        raise DataError(f"{path}: expected a torch tensor of {what}; got {type(value).__name__}.")
    return value


def read_index(path: Path, n_samples: int, data_file: Path) -> np.ndarray:
    """The sample indices listed in ``path``, shape (n_used,), int64, each in 0..n_samples-1."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not readable JSON ({error}); it must be a list of sample indices.") from None
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise DataError(f"{path}: must be a JSON list of integer sample indices.")
    index = np.asarray(values, dtype=np.int64).reshape(-1)
    bad = index[(index < 0) | (index >= n_samples)]
    if bad.size:
        raise DataError(
            f"{path}: index {int(bad[0])} is out of range ({bad.size} such); {data_file} holds {n_samples} "
            f"samples, so indices must lie in 0..{n_samples - 1}. The index file belongs to other data."
        )
    return index


# -- running the model code -----------------------------------------------------------------------
class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles the source every time: never writes ``__pycache__`` into the (maybe read-only) data
    folder, and never runs a stale ``.pyc`` that does not match the ``model.py`` we fingerprinted."""

    def get_code(self, fullname: str):
        return self.source_to_code(self.get_data(self.path), self.path)


def import_model_code(path: Path) -> ModuleType:
    """Execute ``model.py`` as a fresh module with a unique name (never on ``sys.path``)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_ttv_original_model_{digest}_{next(_MODULE_COUNTER)}"
    spec = importlib.util.spec_from_file_location(name, path, loader=_SourceOnlyLoader(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined there (dataclasses, pickling) look their module up here
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:
        sys.modules.pop(name, None)
        raise DataError(
            f"{path}: running it failed with {type(error).__name__}: {one_line(str(error))}. Fix the model code; ttv "
            "imports it as a standalone module (its folder is not on sys.path)."
        ) from None
    return module


def load_checkpoint(model: nn.Module, path: Path) -> None:
    """Load a state_dict strictly: a key mismatch would silently leave layers at random init."""
    state = torch_load(path, "the subject model's state_dict")
    if not isinstance(state, dict):
        raise DataError(f"{path}: expected a state_dict (a dict of tensors); got {type(state).__name__}.")
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        from_parallel = unexpected and all(str(key).startswith("module.") for key in unexpected)
        hint = " (the 'module.' prefix means it was saved from DataParallel)" if from_parallel else ""
        raise DataError(
            f"{path}: does not match the model class: {len(missing)} missing key(s) {missing[:5]}, "
            f"{len(unexpected)} unexpected key(s) {unexpected[:5]}{hint}. The checkpoint belongs to another "
            "model; fix DVI.TRAINING.NET in config.json or Model/model.py."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise DataError(f"{path}: does not fit the model class: {one_line(str(error), 600)}") from None


class PredictionHead(nn.Module):
    """Exposes the subject model's ``prediction(h)`` as ``forward``, the shape :class:`Head` calls.

    ``feature_shape`` is one sample's shape as ``feature(x)`` returned it, e.g. (2, 64): ttv's rows of 128
    values are given back to ``prediction`` in that shape.
    """

    def __init__(self, model: nn.Module, where: str, feature_shape: tuple[int, ...] = ()):
        super().__init__()
        self.model = model
        self.where = where
        self.feature_shape = tuple(feature_shape)

    def forward(self, representations: torch.Tensor) -> torch.Tensor:
        if len(self.feature_shape) > 1:
            representations = representations.reshape(len(representations), *self.feature_shape)
        try:
            return self.model.prediction(representations)
        except Exception as error:
            raise DataError(f"{self.where}: prediction(h) failed: {type(error).__name__}: {one_line(str(error))}") from None
