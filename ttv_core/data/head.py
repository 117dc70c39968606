"""The classifier head g_e: representation -> logits, stored as weights plus a declarative spec.

A ttv run never stores code. The head is described by a small JSON spec, a list of layers drawn
from a fixed vocabulary (``linear``, ``relu``, ``batchnorm1d``, ...), and its weights live in an
``.npz`` file read with ``allow_pickle=False``. :func:`spec_from_module` turns the usual PyTorch
heads (an ``nn.Linear``, or an ``nn.Sequential`` of the layers below) into that form;
:func:`module_from_spec` builds the module back. :class:`Head` wraps a module as a numpy callable,
which is what the rest of ttv uses, whatever the source of the run.

Spec example::

    {"layers": [{"op": "linear", "in_features": 128, "out_features": 10, "bias": true}]}

Weights are keyed ``"<layer index>.<parameter>"``, e.g. ``"0.weight"``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..errors import DataError

# op name -> (module class, constructor fields taken from the spec, weight/buffer names)
_LAYERS: dict[str, tuple[type[nn.Module], tuple[str, ...], tuple[str, ...]]] = {
    "linear": (nn.Linear, ("in_features", "out_features", "bias"), ("weight", "bias")),
    "batchnorm1d": (
        nn.BatchNorm1d,
        ("num_features", "eps", "affine"),
        ("weight", "bias", "running_mean", "running_var"),
    ),
    "layernorm": (nn.LayerNorm, ("normalized_shape", "eps", "elementwise_affine"), ("weight", "bias")),
    "relu": (nn.ReLU, (), ()),
    "leaky_relu": (nn.LeakyReLU, ("negative_slope",), ()),
    "gelu": (nn.GELU, ("approximate",), ()),
    "elu": (nn.ELU, ("alpha",), ()),
    "silu": (nn.SiLU, (), ()),
    "tanh": (nn.Tanh, (), ()),
    "sigmoid": (nn.Sigmoid, (), ()),
    "softplus": (nn.Softplus, ("beta", "threshold"), ()),
    "dropout": (nn.Dropout, ("p",), ()),
    "identity": (nn.Identity, (), ()),
    "flatten": (nn.Flatten, ("start_dim", "end_dim"), ()),
}
_OP_OF_CLASS = {cls: op for op, (cls, _, _) in _LAYERS.items()}


def _layer_fields(module: nn.Module, op: str) -> dict[str, Any]:
    """The constructor arguments of ``module`` as JSON-friendly values."""
    fields: dict[str, Any] = {"op": op}
    for name in _LAYERS[op][1]:
        if name == "bias":
            value: Any = module.bias is not None  # type: ignore[union-attr]
        elif name == "normalized_shape":
            value = list(module.normalized_shape)  # type: ignore[union-attr]
        else:
            value = getattr(module, name)
        fields[name] = value
    return fields


def spec_from_module(module: nn.Module) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Describe a head module as ``(spec, weights)``.

    Parameters
    ----------
    module : torch.nn.Module
        An ``nn.Sequential`` of supported layers, or one supported layer (usually ``nn.Linear``).

    Returns
    -------
    spec : dict
        JSON-serialisable description, ``{"layers": [...]}``.
    weights : dict of str to ndarray
        Parameters and buffers as float32 arrays, keyed ``"<layer index>.<name>"``.

    Raises
    ------
    DataError
        If a layer is not in the supported vocabulary; the message names it and the options.
    """
    layers = list(module) if isinstance(module, nn.Sequential) else [module]
    spec_layers: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    for index, layer in enumerate(layers):
        op = _OP_OF_CLASS.get(type(layer))
        if op is None:
            raise DataError(
                f"The head's layer {index} is a {type(layer).__name__}, which ttv cannot store as data. "
                f"Supported layers: {', '.join(sorted(_LAYERS))}. Pass the classifier's last layers "
                "(e.g. model.fc) as the head, or record logits-free and add the head later."
            )
        spec_layers.append(_layer_fields(layer, op))
        for name in _LAYERS[op][2]:
            tensor = getattr(layer, name, None)
            if tensor is not None:
                weights[f"{index}.{name}"] = tensor.detach().to("cpu", torch.float32).numpy().copy()
    return {"layers": spec_layers}, weights


def module_from_spec(spec: dict[str, Any], weights: dict[str, np.ndarray], *, where: str = "head") -> nn.Module:
    """Build the head module from its spec and weights, in eval mode, on the CPU.

    ``where`` names the source (a file path) in error messages.
    """
    layers_spec = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers_spec, list) or not layers_spec:
        raise DataError(f"{where}: the head spec must be an object with a non-empty 'layers' list; got {spec!r}.")
    layers: list[nn.Module] = []
    expected: set[str] = set()
    for index, layer_spec in enumerate(layers_spec):
        op = layer_spec.get("op") if isinstance(layer_spec, dict) else None
        if op not in _LAYERS:
            raise DataError(
                f"{where}: head layer {index} has op {op!r}; supported ops are {', '.join(sorted(_LAYERS))}."
            )
        cls, field_names, tensor_names = _LAYERS[op]
        kwargs = {name: layer_spec[name] for name in field_names if name in layer_spec}
        try:
            layer = cls(**kwargs)
        except (TypeError, ValueError) as error:
            raise DataError(f"{where}: head layer {index} ({op}) has invalid fields {kwargs}: {error}") from None
        for name in tensor_names:
            current = getattr(layer, name, None)
            if current is None:
                continue
            key = f"{index}.{name}"
            expected.add(key)
            if key not in weights:
                raise DataError(f"{where}: the weights lack {key!r}, needed by head layer {index} ({op}).")
            value = np.asarray(weights[key])
            if tuple(value.shape) != tuple(current.shape):
                raise DataError(
                    f"{where}: weight {key!r} has shape {tuple(value.shape)}, but layer {index} ({op}) "
                    f"needs {tuple(current.shape)}."
                )
            if not np.isfinite(value).all():
                bad = int(np.size(value) - np.isfinite(value).sum())
                raise DataError(
                    f"{where}: weight {key!r} holds NaN or infinity ({bad} of {value.size} values). The classifier "
                    "diverged at this epoch or the file is damaged; re-record it or leave this epoch out."
                )
            current.data.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))
        layers.append(layer)
    unexpected = sorted(set(weights) - expected)
    if unexpected:
        raise DataError(f"{where}: the weights hold entries no head layer uses: {', '.join(unexpected)}.")
    return nn.Sequential(*layers).eval()


class Head:
    """The classifier head of one epoch as a function of numpy arrays.

    Parameters
    ----------
    module : torch.nn.Module
        Maps a float32 tensor of shape (n_samples, dim) to logits of shape (n_samples, n_classes).
        Put in eval mode; never trained here.
    dim : int
        Representation dimension the head expects.
    n_classes : int
        Number of logits the head returns (one per class of the run).
    where : str
        The head's source (a file), named when its output is not one finite logit per class.
    """

    def __init__(self, module: nn.Module | Callable[[torch.Tensor], torch.Tensor], *, dim: int, n_classes: int,
                 where: str = "the head"):
        self.module = module.eval() if isinstance(module, nn.Module) else module
        self.dim = int(dim)
        self.n_classes = int(n_classes)
        self.where = where
        self._device = torch.device("cpu")

    def to(self, device: str | torch.device) -> "Head":
        """Move the head to ``device`` (e.g. ``"cuda"``); returns self for chaining."""
        self._device = torch.device(device)
        if isinstance(self.module, nn.Module):
            self.module.to(self._device)
        return self

    @torch.no_grad()
    def logits_tensor(self, representations: torch.Tensor) -> torch.Tensor:
        """Logits for a tensor already on the head's device (no copies, for the compute core).

        Raises DataError naming the head's source when they are not one finite logit per class: a
        head that disagrees with the class list, or weights that diverged, would give silently
        wrong predictions."""
        logits = self.module(representations)
        shape = tuple(getattr(logits, "shape", ()))
        if len(shape) != 2 or shape[1] != self.n_classes or shape[0] != representations.shape[0]:
            raise DataError(
                f"{self.where}: the head returns logits of shape {shape} for {representations.shape[0]} samples, "
                f"but the run has {self.n_classes} classes: expected ({representations.shape[0]}, {self.n_classes}). "
                "The class list and the head disagree; fix whichever is wrong and record the run again."
            )
        if not bool(torch.isfinite(logits).all()):
            raise DataError(
                f"{self.where}: the head returns NaN or infinite logits for finite representations. Its "
                "weights diverged at this epoch or are damaged; re-record it or leave this epoch out."
            )
        return logits

    def __call__(self, representations: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
        """Logits of shape (n_samples, n_classes), float32, computed in batches of ``batch_size`` rows."""
        representations = np.asarray(representations)
        if representations.ndim != 2 or representations.shape[1] != self.dim:
            raise ValueError(
                f"The head expects representations of shape (n_samples, {self.dim}); got {representations.shape}."
            )
        out = np.empty((representations.shape[0], self.n_classes), dtype=np.float32)
        for start in range(0, representations.shape[0], batch_size):
            block = torch.from_numpy(np.array(representations[start : start + batch_size], np.float32))  # copy: may be a read-only memmap
            logits = self.logits_tensor(block.to(self._device))
            out[start : start + batch_size] = logits.to("cpu", torch.float32).numpy()
        return out

    def predict(self, representations: np.ndarray) -> np.ndarray:
        """Predicted class of each row, shape (n_samples,), int64."""
        return self(representations).argmax(axis=1).astype(np.int64)
