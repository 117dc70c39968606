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
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DataError

_MODULE_COUNTER = itertools.count()


# -- reading files ------------------------------------------------------------------------------
def require_file(path: Path, why: str) -> Path:
    if not path.is_file():
        raise DataError(f"{path}: missing. {why}")
    return path


def torch_load(path: Path, what: str) -> Any:
    """``torch.load`` with ``weights_only=True`` (data must not run code), memory-mapped where possible."""
    require_file(path, f"The original layout needs {what} here.")
    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as error:  # files from torch.save's legacy format cannot be memory-mapped
            if "mmap" not in str(error):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types on damaged or unsafe files; all are input errors
        first_line = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise DataError(
            f"{path}: cannot read {what} ({first_line}). ttv loads .pth files with weights_only=True, so they "
            "must hold tensors or a state_dict, not pickled objects; re-save with torch.save(tensor or "
            "model.state_dict())."
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
            f"{path}: running it failed with {type(error).__name__}: {error}. Fix the model code; ttv "
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
        raise DataError(f"{path}: does not fit the model class: {str(error).strip()[:600]}") from None


class PredictionHead(nn.Module):
    """Exposes the subject model's ``prediction(h)`` as ``forward``, the shape :class:`Head` calls."""

    def __init__(self, model: nn.Module, where: str):
        super().__init__()
        self.model = model
        self.where = where

    def forward(self, representations: torch.Tensor) -> torch.Tensor:
        try:
            return self.model.prediction(representations)
        except Exception as error:
            raise DataError(f"{self.where}: prediction(h) failed: {type(error).__name__}: {error}") from None
