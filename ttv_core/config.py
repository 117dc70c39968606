"""Configuration of the visualization models: one frozen, typed dataclass, validated once.

Each default carries the reason it was chosen. Widgets and command-line flags take their defaults
from here, never from literals of their own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from ._checks import check_field, check_int, check_real, parameter_error

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
    hidden: int = 128  # hidden width; on the demo 128 x 3 reached higher PPR than the original's 256 x 4
    n_hidden_layers: int = 3  # at the same time budget (it trains ~2x faster on a CPU), so more steps fit
    # -- proxies -------------------------------------------------------------------------------
    proxy_min_split: int = 500  # the original's: clusters this large may be split again by 2-means
    proxy_dunn_threshold: float = 1.0  # the original's: split while the halves' Dunn index is below 1
    # -- losses --------------------------------------------------------------------------------
    lambda_reconstruction: float = 1.0  # weight of ||x - Dec(Enc(x))||^2, the original's lambda1
    lambda_temporal: float = 0.3  # DVI's lambda2: keep the map still where neighbourhoods are
    lambda_prediction: float = 1.0  # keep the head's verdict on Dec(Enc(x)) equal to that on x: aims at PPR
    # -- optimisation --------------------------------------------------------------------------
    learning_rate: float = 0.01  # the original's Adam rate
    weight_decay: float = 1e-5  # the original's
    batch_size: int = 1000  # positive edges per step; half the original's 2000: more steps, same work
    edge_samples_per_pass: float = 1.0  # edges sampled per pass, in units of the graph's total weight
    graph_epochs: int = 10  # the original's S_N_EPOCHS: edges weaker than max(w) / graph_epochs are dropped
    max_passes: int = 10  # on the demo, loss and PPR level off by about pass 8
    lr_decay_passes: int = 0  # divide the rate by 10 every this many passes; 0 = never (the original's
    # x0.1 every 4 passes stalled short runs: PPR 0.87 vs 0.94 on the demo at equal time)
    patience: int = 3  # stop after this many passes without min_improvement
    min_improvement: float = 5e-3  # relative loss improvement that counts as progress
    # -- territory -----------------------------------------------------------------------------
    resolution: int = 200  # territory grid cells per side: sharp at dashboard size, cheap to decode
    boundary_threshold: float = 0.15  # confidence margin below which a cell is drawn as boundary
    # -- execution -----------------------------------------------------------------------------
    seed: int = 0  # the one source of randomness: initialisation, edge sampling, negatives
    device: str = "auto"  # "auto" uses CUDA when present, else the CPU

    def __post_init__(self) -> None:
        check_field(self, "n_neighbors", check_int, low=2)
        check_field(self, "spread", check_real, low=0.0, low_open=True)
        check_field(self, "min_dist", check_real, low=0.0, high=self.spread, high_text="spread")
        check_field(self, "negative_sample_rate", check_int, low=1)
        check_field(self, "hidden", check_int, low=2)
        check_field(self, "n_hidden_layers", check_int, low=1)
        check_field(self, "proxy_min_split", check_int, low=2)
        check_field(self, "proxy_dunn_threshold", check_real, low=0.0)
        check_field(self, "lambda_reconstruction", check_real, low=0.0)
        check_field(self, "lambda_temporal", check_real, low=0.0)
        check_field(self, "lambda_prediction", check_real, low=0.0)
        check_field(self, "learning_rate", check_real, low=0.0, low_open=True)
        check_field(self, "weight_decay", check_real, low=0.0)
        check_field(self, "batch_size", check_int, low=1)
        check_field(self, "edge_samples_per_pass", check_real, low=0.0, low_open=True)
        check_field(self, "graph_epochs", check_int, low=1)
        check_field(self, "max_passes", check_int, low=1)
        check_field(self, "lr_decay_passes", check_int, low=0)
        check_field(self, "patience", check_int, low=1)
        check_field(self, "min_improvement", check_real, low=0.0)
        check_field(self, "resolution", check_int, low=2)
        check_field(self, "boundary_threshold", check_real, low=0.0, high=1.0)
        check_field(self, "seed", check_int, low=0)
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise parameter_error("device", "VisConfig", f"be one of {DEVICES} or 'cuda:<index>'", self.device)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Canonical JSON of every field, for cache keys (field order fixed, defaults included)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes: Any) -> "VisConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

