"""The visualization model: an MLP autoencoder between a representation space R^D and the canvas R^2.

:class:`VisModel` is the torch module (encoder and decoder). :class:`Visualizer` is the estimator a
user holds: ``transform`` maps representations to 2-D points, ``inverse_transform`` maps 2-D points
(e.g. a territory grid) back to representations that the classifier head can judge. Training lives
in :mod:`ttv_core.fit.train`; this module only defines and applies the model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import Runtime, VisConfig


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them and a linear output."""
    layers: list[nn.Module] = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ScaledMLP(nn.Sequential):
    """An MLP that works in standard units: ``layers((x - input_shift) / input_scale)``, scaled back by
    ``output_scale`` and shifted by ``output_shift``.

    The units are buffers (saved with the weights, never trained), identity until
    :meth:`VisModel.set_units` sets them from the first epoch's data. With them Adam's steps mean the
    same whatever the scale of the representations or of the canvas (on the demo, standard units
    raised the NN rate reached in a fixed number of steps from 0.38 to 0.43). Indexing and ``len``
    are those of the plain layer stack: ``[0]`` is the first Linear, ``[-1]`` the last.
    """

    def __init__(self, sizes: list[int]):
        super().__init__(*_mlp(sizes))
        self.register_buffer("input_shift", torch.zeros(sizes[0]))
        self.register_buffer("input_scale", torch.ones(sizes[0]))
        self.register_buffer("output_shift", torch.zeros(sizes[-1]))
        self.register_buffer("output_scale", torch.ones(sizes[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward((x - self.input_shift) / self.input_scale) * self.output_scale + self.output_shift

    @torch.no_grad()
    def change_units(self, input_shift: torch.Tensor, input_scale: torch.Tensor, output_shift: torch.Tensor,
                     output_scale: torch.Tensor) -> None:
        """Adopt new units without changing the function: the first and last layers absorb the change.

        A warm start carries a model from one epoch to the next, whose representations (and map) may
        have grown or shifted: in the old units the optimiser would work on badly scaled inputs and
        targets. With u = (x - a) / s the first layer sees u = u' * (s' / s) + (a' - a) / s; the last
        layer's output y (times S, plus c) is rewritten as y' * S' + c'.
        """
        first, last = self[0], self[-1]
        ratio = input_scale / self.input_scale
        first.bias += first.weight @ ((input_shift - self.input_shift) / self.input_scale)
        first.weight *= ratio[None, :]
        last.weight *= (self.output_scale / output_scale)[:, None]
        last.bias.copy_((last.bias * self.output_scale + self.output_shift - output_shift) / output_scale)
        for name, value in zip(_UNITS, (input_shift, input_scale, output_shift, output_scale)):
            getattr(self, name).copy_(value)


_UNITS = ("input_shift", "input_scale", "output_shift", "output_scale")


class VisModel(nn.Module):
    """Encoder D -> h x n_hidden_layers -> 2 and the mirrored decoder 2 -> h ... -> D."""

    def __init__(self, dim: int, hidden: int, n_hidden_layers: int):
        super().__init__()
        widths = [hidden] * n_hidden_layers
        self.encoder = ScaledMLP([dim, *widths, 2])
        self.decoder = ScaledMLP([2, *widths, dim])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)

    @torch.no_grad()
    def scale_canvas(self, factor: float) -> "VisModel":
        """Scale the 2-D canvas about its origin by ``factor``: Enc becomes factor x Enc, and Dec reads
        positions divided by it (a map zoomed, nothing else changed); returns self."""
        for buffer in (self.encoder.output_shift, self.encoder.output_scale, self.decoder.input_shift,
                       self.decoder.input_scale):
            buffer.mul_(float(factor))
        return self

    @torch.no_grad()
    def set_units(self, vertices: torch.Tensor, layout: torch.Tensor, *, keep_function: bool = False) -> "VisModel":
        """Take the units from the data; returns self.

        Representations: per-dimension mean and spread of ``vertices``, shape (n, dim); a dimension
        that hardly varies (a dead ReLU unit) is floored at 1 % of the mean spread so that it is not
        blown up into noise. Canvas: centre and one isotropic spread (twice the standard deviation) of
        ``layout``, shape (n, 2), so that distances keep their meaning.
        """
        mean, spread = vertices.mean(0), vertices.std(0)
        spread = spread.clamp_min(float(spread.mean()) * 1e-2) if float(spread.max()) > 0 else torch.ones_like(mean)
        centre = layout.mean(0)
        canvas = torch.full_like(centre, max(float((layout - centre).std()) * 2.0, 1e-12))
        both = ((self.encoder, (mean, spread, centre, canvas)), (self.decoder, (centre, canvas, mean, spread)))
        for part, units in both:
            if keep_function:
                part.change_units(*units)
            else:
                for name, value in zip(_UNITS, units):
                    getattr(part, name).copy_(value)
        return self


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

    def __init__(self, *, config: VisConfig = VisConfig(), runtime: Runtime = Runtime()):
        self.config, self.runtime = config, runtime

    # -- construction ------------------------------------------------------------------------
    def _new_model(self, dim: int) -> VisModel:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.config.seed)
            return VisModel(dim, self.config.model.hidden, self.config.model.n_hidden_layers)

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
        canvas = getattr(self, "canvas_", None)
        return {
            "config": self.config.to_dict(),
            "dim": self.dim_,
            "weights": {k: v.detach().to("cpu").numpy() for k, v in model.state_dict().items()},
            "history": self.history_,
            **({} if canvas is None else {"canvas": dict(canvas)}),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "Visualizer":
        """Rebuild a fitted visualizer from :meth:`state`'s output."""
        visualizer = cls(config=VisConfig.from_dict(state["config"]))
        model = VisModel(int(state["dim"]), visualizer.config.model.hidden, visualizer.config.model.n_hidden_layers)
        weights = {k: torch.from_numpy(np.asarray(v)) for k, v in state["weights"].items()}
        for key, default in model.state_dict().items():  # states saved before the units existed: identity
            if key.rsplit(".", 1)[-1] in _UNITS:
                weights.setdefault(key, default)
        model.load_state_dict(weights)
        if "canvas" in state:
            visualizer.canvas_ = dict(state["canvas"])
        return visualizer._set_fitted(model, state["history"])
