"""Configuration of the visualization models: one frozen, typed dataclass, validated once.

Each default carries the reason it was chosen. Widgets and command-line flags take their defaults
from here, never from literals of their own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class VisConfig:
    """How a visualization model (encoder R^D -> R^2, decoder R^2 -> R^D) is built and trained."""

    # -- graph ---------------------------------------------------------------------------------
    n_neighbors: int = 15  # UMAP's default; also the k of the NN-preservation figures
    min_dist: float = 0.1  # UMAP's default: tight but not collapsed clusters
    spread: float = 1.0  # UMAP's default; with min_dist gives the curve (a, b) ~ (1.577, 0.895)
    negative_sample_rate: int = 5  # negatives per positive edge, as in UMAP and the original
    # -- model ---------------------------------------------------------------------------------
    hidden: int = 256  # width of the hidden layers; the original's, invertible enough for high PPR
    n_hidden_layers: int = 4  # the original's depth (D -> h -> h -> h -> h -> 2)
    # -- losses --------------------------------------------------------------------------------
    lambda_reconstruction: float = 1.0  # weight of ||x - Dec(Enc(x))||^2, the original's lambda1
    lambda_temporal: float = 0.3  # DVI's lambda2: keep the map still where neighbourhoods are
    # -- optimisation --------------------------------------------------------------------------
    learning_rate: float = 0.01  # the original's Adam rate
    weight_decay: float = 1e-5  # the original's
    batch_size: int = 2000  # positive edges per step, the original's
    max_passes: int = 20  # the original's cap on passes over the sampled edges
    patience: int = 3  # stop after this many passes without min_improvement
    min_improvement: float = 5e-3  # relative loss improvement that counts as progress
    # -- territory -----------------------------------------------------------------------------
    resolution: int = 200  # territory grid cells per side: sharp at dashboard size, cheap to decode
    boundary_threshold: float = 0.15  # confidence margin below which a cell is drawn as boundary
    # -- execution -----------------------------------------------------------------------------
    seed: int = 0  # the one source of randomness: initialisation, edge sampling, negatives
    device: str = "auto"  # "auto" uses CUDA when present, else the CPU

    def __post_init__(self) -> None:
        check_int(self, "n_neighbors", 2)
        check_real(self, "min_dist", 0.0, None, low_open=False)
        check_real(self, "spread", 0.0, None)
        check_int(self, "negative_sample_rate", 1)
        check_int(self, "hidden", 2)
        check_int(self, "n_hidden_layers", 1)
        check_real(self, "lambda_reconstruction", 0.0, None, low_open=False)
        check_real(self, "lambda_temporal", 0.0, None, low_open=False)
        check_real(self, "learning_rate", 0.0, None)
        check_real(self, "weight_decay", 0.0, None, low_open=False)
        check_int(self, "batch_size", 1)
        check_int(self, "max_passes", 1)
        check_int(self, "patience", 1)
        check_real(self, "min_improvement", 0.0, None, low_open=False)
        check_int(self, "resolution", 2)
        check_real(self, "boundary_threshold", 0.0, 1.0, low_open=False)
        check_int(self, "seed", 0)
        if self.min_dist > self.spread:
            raise ConfigError(
                f"The 'min_dist' parameter of VisConfig must not exceed 'spread' ({self.spread}). "
                f"Got {self.min_dist} instead."
            )
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise ConfigError(
                f"The 'device' parameter of VisConfig must be one of {DEVICES} or 'cuda:<index>'. "
                f"Got {self.device!r} instead."
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Canonical JSON of every field, for cache keys (field order fixed, defaults included)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes: Any) -> "VisConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def check_int(config: Any, name: str, minimum: int) -> None:
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"The {name!r} parameter of {type(config).__name__} must be an int in the range "
            f"[{minimum}, inf). Got {value!r} instead."
        )


def check_real(config: Any, name: str, low: float, high: float | None, *, low_open: bool = True) -> None:
    value = getattr(config, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        ok = (value > low if low_open else value >= low) and (high is None or value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {'inf)' if high is None else f'{high}]'}"
        raise ConfigError(
            f"The {name!r} parameter of {type(config).__name__} must be a float in the range {interval}. "
            f"Got {value!r} instead."
        )
