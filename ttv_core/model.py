"""The visualization model: an MLP autoencoder between a representation space R^D and the canvas R^2.

:class:`VisModel` is the torch module (encoder and decoder). :class:`Visualizer` is the estimator a
user holds: ``transform`` maps representations to 2-D points, ``inverse_transform`` maps 2-D points
(e.g. a territory grid) back to representations that the classifier head can judge. Training lives
in :mod:`ttv_core.train`; this module only defines and applies the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .config import VisConfig


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when present, else the CPU; anything else as given (never a fixed index)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        from .errors import ConfigError

        raise ConfigError(f"device {device!r} was asked for, but PyTorch sees no CUDA GPU; use device='auto' or 'cpu'.")
    return torch.device(device)


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them and a linear output."""
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VisModel(nn.Module):
    """Encoder D -> h x n_hidden_layers -> 2 and the mirrored decoder 2 -> h ... -> D."""

    def __init__(self, dim: int, hidden: int, n_hidden_layers: int):
        super().__init__()
        widths = [hidden] * n_hidden_layers
        self.encoder = _mlp([dim, *widths, 2])
        self.decoder = _mlp([2, *widths, dim])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)


class NotFittedError(ValueError, AttributeError):
    """Raised when a visualizer is used before it was fitted (sklearn's convention)."""


class Visualizer:
    """A fitted (or to-be-fitted) 2-D map of one epoch's representations, with its inverse.

    Parameters
    ----------
    config : VisConfig
        Architecture and training settings. Stored as given; never changed by fitting.

    Attributes
    ----------
    model_ : VisModel
        The trained encoder/decoder, on the CPU unless moved.
    dim_ : int
        Representation dimension seen in fit.
    history_ : list of dict
        One entry per training pass (losses), as recorded by the trainer.
    """

    def __init__(self, *, config: VisConfig = VisConfig()):
        self.config = config

    # -- construction ------------------------------------------------------------------------
    def _new_model(self, dim: int) -> VisModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return VisModel(dim, self.config.hidden, self.config.n_hidden_layers)

    def _set_fitted(self, model: VisModel, history: list[dict[str, float]]) -> "Visualizer":
        self.model_ = model.eval()
        self.dim_ = int(model.encoder[0].in_features)
        self.history_ = list(history)
        return self

    def _check_fitted(self) -> VisModel:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")
        return model

    # -- application ---------------------------------------------------------------------------
    @torch.no_grad()
    def _apply(self, part: nn.Module, values: np.ndarray, n_in: int, batch_size: int) -> np.ndarray:
        values = np.asarray(values)
        if values.ndim != 2 or values.shape[1] != n_in:
            raise ValueError(f"Expected an array of shape (n_samples, {n_in}); got {values.shape}.")
        device = next(part.parameters()).device
        blocks = []
        for start in range(0, values.shape[0], batch_size):
            block = torch.from_numpy(np.array(values[start : start + batch_size], dtype=np.float32))
            blocks.append(part(block.to(device)).to("cpu").numpy())
        n_out = part[-1].out_features
        return np.concatenate(blocks) if blocks else np.zeros((0, n_out), np.float32)

    def transform(self, representations: np.ndarray, *, batch_size: int = 16384) -> np.ndarray:
        """2-D positions of the rows of ``representations``, shape (n_samples, 2), float32."""
        model = self._check_fitted()
        return self._apply(model.encoder, representations, self.dim_, batch_size)

    def inverse_transform(self, points: np.ndarray, *, batch_size: int = 16384) -> np.ndarray:
        """Representations decoded from 2-D ``points``, shape (n_points, dim), float32."""
        model = self._check_fitted()
        return self._apply(model.decoder, points, 2, batch_size)

    # -- persistence (the bytes; files are written by the cache module) -------------------------
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the fitted visualizer: config, weights as arrays, history."""
        model = self._check_fitted()
        return {
            "config": self.config.to_dict(),
            "dim": self.dim_,
            "weights": {k: v.detach().to("cpu").numpy() for k, v in model.state_dict().items()},
            "history": self.history_,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Visualizer":
        """Rebuild a fitted visualizer from :meth:`state`'s output."""
        visualizer = cls(config=VisConfig(**state["config"]))
        model = VisModel(int(state["dim"]), visualizer.config.hidden, visualizer.config.n_hidden_layers)
        model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state["weights"].items()})
        return visualizer._set_fitted(model, state["history"])
