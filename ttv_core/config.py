"""Configuration of the visualization models: one frozen, typed dataclass, validated once.

Each default carries the reason it was chosen. Widgets and command-line flags take their defaults
from here, never from literals of their own.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from .devices import DEVICES
from ._checks import check_field, check_int, check_real, parameter_error

# Fields that change only how a fitted map is drawn, or only the "al" refinement, and the few the
# umap baseline reads: a cache key holds just the fields its result depends on (fields_used_by).
RENDER_FIELDS = ("resolution", "boundary_threshold")
ACTIVE_FIELDS = ("probe_resolution", "probe_radius", "al_max_passes", "al_patience", "al_learning_rate_factor",
                 "max_new_vertices", "al_ppr_tolerance")
UMAP_FIELDS = ("n_neighbors", "min_dist", "spread", "seed")


@dataclass(frozen=True)
class VisConfig:
    """How a visualization model (encoder R^D -> R^2, decoder R^2 -> R^D) is built and trained."""

    # -- graph ---------------------------------------------------------------------------------
    n_neighbors: int = 15  # UMAP's default; also the k of the NN-preservation figures
    min_dist: float = 0.6  # demo: the encoder fits an evenly spread layout better (NN 0.51 vs 0.44 at 0.1)
    spread: float = 1.0  # UMAP's default; with min_dist gives the curve (a, b) ~ (1.577, 0.895)
    negative_sample_rate: int = 5  # negatives per positive edge, as in UMAP and the original
    # -- model ---------------------------------------------------------------------------------
    hidden: int = 96  # demo: 128 gained NN 0.008 for ~30 % more time; PPR equal
    n_hidden_layers: int = 4  # demo: 3 lost NN 0.024 (0.487 vs 0.511) for 3 % less time
    # -- proxies -------------------------------------------------------------------------------
    proxy_min_split: int = 500  # the original's: clusters this large may be split again by 2-means
    proxy_dunn_threshold: float = 1.0  # the original's: split while the halves' Dunn index is below 1
    # -- losses --------------------------------------------------------------------------------
    lambda_reconstruction: float = 1.0  # weight of ||x - Dec(Enc(x))||^2, the original's lambda1
    lambda_temporal: float = 0.6  # DVI's lambda2: a spring on each sample's layout position, times the share of its
    # neighbours kept; demo, 20 epochs: 0.3 / 0.6 / 1.0 gave TNN 0.70 / 0.73 / 0.77 and epoch-3 NN 0.81x / 0.81x / 0.80x
    lambda_prediction: float = 1.0  # keep the head's verdict on Dec(Enc(x)) equal to that on x: aims at PPR
    # -- optimisation --------------------------------------------------------------------------
    learning_rate: float = 0.02  # peak Adam rate (warm-up, cosine decay); demo: 0.01 lost NN 0.01
    weight_decay: float = 1e-5  # the original's
    batch_size: int = 1000  # edges per step of UMAP-loss training (refinement); half the original's 2000
    edge_samples_per_pass: float = 1.0  # edges sampled per pass, in units of the graph's total weight
    graph_epochs: int = 10  # the original's S_N_EPOCHS: edges weaker than max(w) / graph_epochs are dropped
    max_passes: int = 80  # stage 2 passes (cold); demo NN 0.489 / 0.511 / 0.522 at 60 / 80 / 100 passes
    lr_decay_passes: int = 0  # divide the rate by 10 every this many passes; 0 = never, the cosine
    # decay anneals already (the original's x0.1 every 4 passes stalled short runs: PPR 0.87 vs 0.94)
    patience: int = 3  # UMAP-loss training stops after this many passes without min_improvement
    min_improvement: float = 5e-3  # relative loss improvement that counts as progress
    # -- proxy training (tuning) ---------------------------------------------------------------
    layout_epochs: int = 200  # stage 1 (cold): UMAP epochs of free 2-D positions; 120 lost NN and PPR
    keyframe_below: float = 0.7  # a warm epoch keeping fewer of its neighbourhoods is laid out afresh: never
    # on the demo (>= 0.80 kept) or the synthetic run (>= 0.88); a run rescaled between epochs (0.53-0.66
    # kept) held NN 0.70-0.84 so, 0.17-0.39 warm
    warm_layout_epochs: int = 50  # stage 1 (warm, from the previous map): 100 gave the same NN for +25 % time
    canvas_growth: float = 0.33  # the map grows as the representations' spread ** this (demo: 18x -> 2.6x):
    # their expansion shows (TNN 0.66 -> 0.75) while early epochs still fill the frame; 0 keeps one size
    warm_layout_rate: float = 0.25  # stage 1's first rate when warm (cold: 1.0); 0.5 lost NN 0.012, moved more
    vertex_batch_size: int = 192  # stage 2 vertices per step; demo: 256 lost NN 0.013 at equal passes
    warm_max_passes: int = 50  # stage 2 passes when warm (half once settled: proxy.warm_passes); demo, epoch 3: NN
    # 0.426 / 0.458 at 20 / 50 passes
    warm_learning_rate: float = 0.005  # stage 2's peak rate when warm: 0.02 first kicked the fitted model off
    # (position loss x7 over the first passes); demo, epoch 11, 20 passes: NN 0.480 / 0.505 / 0.518 at 0.02 / 0.01 / 0.005
    warmup_share: float = 0.1  # share of steps the rate rises over; demo: none lost NN 0.056
    cross_class_weight: float = 0.1  # cross-class edges keep this share; demo: 1.0 let test PPR fall to 0.92
    decoder_share: float = 0.5  # stage 2 batch share the decoder sees; demo: 1.0 same PPR, ~25 % more time
    cpu_threads: int = 1  # torch, BLAS and OpenMP threads of a fit on a CPU (0: the libraries' own); 2 busy cores: 2.8 s vs 40 s on 2
    # -- territory -----------------------------------------------------------------------------
    resolution: int = 200  # territory grid cells per side: sharp at dashboard size, cheap to decode
    boundary_threshold: float = 0.15  # confidence margin below which a cell is drawn as boundary
    # -- execution -----------------------------------------------------------------------------
    seed: int = 0  # the one source of randomness: initialisation, edge sampling, negatives
    device: str = "auto"  # "auto" uses CUDA when present, else the CPU
    # -- active learning -----------------------------------------------------------------------
    probe_resolution: int = 400  # the original's; 200 finds fewer probes to add, fixes less (demo e3: .941 vs .952)
    probe_radius: float = 0.02  # probe cells lie within this share of the side of a sample (13-19 % of cells, demo)
    al_max_passes: int = 3  # demo: passes 4-5 gained <= 0.012 of preserved share for up to 2x the refining time
    al_patience: int = 2  # stop after this many passes in a row without a kept (better) model
    al_learning_rate_factor: float = 0.01  # refining rate; the original's x0.1 lost samples' PPR, no pass kept (demo)
    max_new_vertices: int = 1000  # new probe vertices per pass at most: bounds its cost; 2000 fixed ~0.004 more
    al_ppr_tolerance: float = 0.005  # a pass lowering the samples' PPR by more is not kept: trust the data first

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
        check_field(self, "layout_epochs", check_int, low=0)
        check_field(self, "keyframe_below", check_real, low=0.0, high=1.0)
        check_field(self, "warm_layout_epochs", check_int, low=0)
        check_field(self, "canvas_growth", check_real, low=0.0, high=1.0)
        check_field(self, "warm_layout_rate", check_real, low=0.0, low_open=True)
        check_field(self, "vertex_batch_size", check_int, low=1)
        check_field(self, "warm_max_passes", check_int, low=1)
        check_field(self, "warm_learning_rate", check_real, low=0.0, low_open=True)
        check_field(self, "warmup_share", check_real, low=0.0, high=1.0)
        check_field(self, "cross_class_weight", check_real, low=0.0, high=1.0)
        check_field(self, "decoder_share", check_real, low=0.0, high=1.0, low_open=True)
        check_field(self, "cpu_threads", check_int, low=0)
        check_field(self, "resolution", check_int, low=2)
        check_field(self, "boundary_threshold", check_real, low=0.0, high=1.0)
        check_field(self, "seed", check_int, low=0)
        check_field(self, "probe_resolution", check_int, low=2)
        check_field(self, "probe_radius", check_real, low=0.0, low_open=True)
        check_field(self, "al_max_passes", check_int, low=1)
        check_field(self, "al_patience", check_int, low=1)
        check_field(self, "al_learning_rate_factor", check_real, low=0.0, low_open=True)
        check_field(self, "max_new_vertices", check_int, low=1)
        check_field(self, "al_ppr_tolerance", check_real, low=0.0, high=1.0)
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise parameter_error("device", "VisConfig", f"be one of {DEVICES} or 'cuda:<index>'", self.device)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self, fields: tuple[str, ...] | None = None) -> str:
        """Canonical JSON of ``fields`` (default: all), for cache keys (sorted, defaults included)."""
        values = self.to_dict()
        return json.dumps({k: values[k] for k in (fields or values)}, sort_keys=True)

    def fields_used_by(self, method: str) -> tuple[str, ...]:
        """The fields a fitted map of ``method`` depends on (territory drawing is keyed separately)."""
        if method == "umap":
            return UMAP_FIELDS
        skipped = RENDER_FIELDS + (() if method == "al" else ACTIVE_FIELDS)
        return tuple(f.name for f in dataclasses.fields(self) if f.name not in skipped)

    def replace(self, **changes: Any) -> "VisConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

