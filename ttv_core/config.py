"""Configuration: what a map is fitted with (:class:`VisConfig`, in sections) and where it runs (:class:`Runtime`).

Both are frozen, typed dataclasses validated once; each default carries the reason it was chosen, and
widgets and command-line flags take their defaults from here, never from literals of their own.

:class:`VisConfig` holds everything that changes a result, grouped by the stage that reads it (graph,
layout, model, train, active, render, evaluation, plus the seed). A cached result's key holds exactly
the sections that result reads (:meth:`VisConfig.key_for`), so redrawing territories never refits a
map and the umap baseline ignores the proxy's settings. :class:`Runtime` holds how a fit is executed
(device, CPU threads): it never enters a key, so moving a fit from the GPU to the CPU recomputes nothing.
Field names are unique across sections, so ``config.replace(n_neighbors=30)`` and the flag
``--n-neighbors`` need no section name.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ._checks import check_field, check_int, check_real, parameter_error
from .canvas import MAX_RESOLUTION
from .devices import DEVICES

BACKENDS = ("loky", "dask", "ray", "sequential")  # joblib backends a run's stretches can fan out to

# Upper bounds of the size-like settings: generous for real use, small enough that a typo (an extra zero or
# three) is refused with a message instead of allocating gigabytes or running for days.
MAX_NEIGHBOURS = 200  # neighbours per sample (graph and figures): umap's documented range is 2-100
MAX_EPOCHS = 5000  # UMAP layout epochs: umap uses 200 (large data) to 500 (small)
MAX_PASSES = 1000  # stage 2 passes: 12x the default; each pass of 60,000 samples takes ~3.5 s
MAX_BATCH = 65_536  # samples or edges per step: 65x the default; activations grow with batch x hidden
MAX_HIDDEN = 4096  # units per hidden layer
MAX_LAYERS = 16  # hidden layers
MAX_WEIGHTS = 2**27  # ~ 2 x n_hidden_layers x hidden**2 (encoder and decoder): 134 million, 2 GiB to train in
# float32 (weights, gradients and Adam's two moments)
MAX_PROBE_RESOLUTION = 1000  # probe cells per side: every probe near a sample is decoded to R^D at once (about
# 190,000 x D floats at 1000, 0.4 GB for D = 512)
MAX_NEW_VERTICES = 100_000  # probe vertices added per pass: 100x the default
MAX_SEED = 2**32 - 1  # numpy's legacy RandomState (umap) takes seeds below 2**32
MAX_WORKERS = 1024  # CPU threads or stretches at once


@dataclass(frozen=True)
class GraphConfig:
    """UMAP's neighbourhood graph and its low-dimensional curve: all the umap baseline reads (with the seed)."""

    n_neighbors: int = 15  # UMAP's default; also the k of the NN-preservation figures
    min_dist: float = 0.6  # demo: the encoder fits an evenly spread layout better (NN 0.51 vs 0.44 at 0.1)
    spread: float = 1.0  # UMAP's default; with min_dist gives the curve (a, b) ~ (1.577, 0.895)

    def __post_init__(self) -> None:
        check_field(self, "n_neighbors", check_int, low=2, high=MAX_NEIGHBOURS)
        check_field(self, "spread", check_real, low=0.0, low_open=True)
        check_field(self, "min_dist", check_real, low=0.0, high=self.spread, high_text="spread")


@dataclass(frozen=True)
class LayoutConfig:
    """Stage 1: the proxies, their training graph and their free 2-D layout, cold or warm from the epoch before."""

    proxy_min_split: int = 500  # the original's: clusters this large may be split again by 2-means
    proxy_dunn_threshold: float = 1.0  # the original's: split while the halves' Dunn index is below 1
    cross_class_weight: float = 0.1  # cross-class edges keep this share; demo: 1.0 let test PPR fall to 0.92
    graph_epochs: int = 10  # the original's S_N_EPOCHS: edges weaker than max(w) / graph_epochs are dropped
    negative_sample_rate: int = 5  # negatives per positive edge, as in UMAP and the original
    layout_epochs: int = 200  # stage 1 (cold): UMAP epochs of free 2-D positions; 120 lost NN and PPR
    warm_layout_epochs: int = 50  # stage 1 (warm, from the previous map): 100 gave the same NN for +25 % time
    warm_layout_rate: float = 0.25  # stage 1's first rate when warm (cold: 1.0); 0.5 lost NN 0.012, moved more
    keyframe_below: float = 0.7  # a warm epoch keeping fewer of its neighbourhoods is laid out afresh: never
    # on the demo (>= 0.80 kept) or the synthetic run (>= 0.88); a run rescaled between epochs (0.53-0.66
    # kept) held NN 0.70-0.84 so, 0.17-0.39 warm
    stretch_epochs: int = 20  # random access: every this many epochs a keyframe starts from the keyframe before
    # it (warm, a long step), so opening epoch e computes the keyframes and e's stretch (epoch 190 of 200: 19
    # fits, not 190), stretches can be fitted in parallel, and each stretch heads for the next keyframe
    # (run.chain.landing_share). 100-epoch synthetic run, one chain (0) / 10 / 20: trustworthiness worst -0.029 /
    # -0.013 / -0.011 against umap-learn's, NN ratio min 0.806 each, TNN 0.543 / 0.471 / 0.521; a stretch's
    # start moves the dots 0.03 of the map's size, an epoch inside up to 0.08-0.12 (bench_chain)
    canvas_growth: float = 0.33  # the map grows as the representations' spread ** this (demo: 18x -> 2.6x):
    # their expansion shows (TNN 0.66 -> 0.75) while early epochs still fill the frame; 0 keeps one size

    def __post_init__(self) -> None:
        check_field(self, "proxy_min_split", check_int, low=2)
        check_field(self, "proxy_dunn_threshold", check_real, low=0.0)
        check_field(self, "cross_class_weight", check_real, low=0.0, high=1.0)
        check_field(self, "graph_epochs", check_int, low=1)
        check_field(self, "negative_sample_rate", check_int, low=1, high=100)  # negatives per edge, per step
        check_field(self, "layout_epochs", check_int, low=0, high=MAX_EPOCHS)
        check_field(self, "warm_layout_epochs", check_int, low=0, high=MAX_EPOCHS)
        check_field(self, "warm_layout_rate", check_real, low=0.0, low_open=True)
        check_field(self, "keyframe_below", check_real, low=0.0, high=1.0)
        check_field(self, "canvas_growth", check_real, low=0.0, high=1.0)
        check_field(self, "stretch_epochs", check_int, low=0)


@dataclass(frozen=True)
class ModelConfig:
    """The visualization model: an MLP encoder R^D -> R^2 and its decoder back."""

    hidden: int = 96  # demo: 128 gained NN 0.008 for ~30 % more time; PPR equal
    n_hidden_layers: int = 4  # demo: 3 lost NN 0.024 (0.487 vs 0.511) for 3 % less time

    def __post_init__(self) -> None:
        check_field(self, "hidden", check_int, low=2, high=MAX_HIDDEN)
        check_field(self, "n_hidden_layers", check_int, low=1, high=MAX_LAYERS)
        weights = 2 * self.n_hidden_layers * self.hidden**2
        if weights > MAX_WEIGHTS:
            rule = (f"keep 2 x n_hidden_layers x hidden**2 within {MAX_WEIGHTS:,} weights (2 GiB to train), "
                    f"not {weights:,} with n_hidden_layers={self.n_hidden_layers}")
            raise parameter_error("hidden", "ModelConfig", rule, self.hidden, "Lower hidden or n_hidden_layers.")


@dataclass(frozen=True)
class TrainConfig:
    """Stage 2: fitting the encoder and decoder to the layout, and the losses."""

    lambda_reconstruction: float = 1.0  # weight of ||x - Dec(Enc(x))||^2, the original's lambda1
    lambda_temporal: float = 0.6  # DVI's lambda2: a spring on each sample's layout position, times the share of its
    # neighbours kept; demo, 20 epochs: 0.3 / 0.6 / 1.0 gave TNN 0.70 / 0.73 / 0.77 and epoch-3 NN 0.81x / 0.81x / 0.80x
    lambda_prediction: float = 1.0  # keep the head's verdict on Dec(Enc(x)) equal to that on x: aims at PPR
    learning_rate: float = 0.02  # peak Adam rate (warm-up, cosine decay); demo: 0.01 lost NN 0.01
    weight_decay: float = 1e-5  # the original's
    batch_size: int = 1000  # edges per step of UMAP-loss training (refinement); half the original's 2000
    edge_samples_per_pass: float = 1.0  # edges sampled per pass, in units of the graph's total weight
    max_passes: int = 80  # stage 2 passes (cold); demo NN 0.489 / 0.511 / 0.522 at 60 / 80 / 100 passes
    passes_reference: int = 10_000  # past this many graph vertices, stage 2's passes shrink as
    # sqrt(passes_reference / n): steps then grow as sqrt(n), not n (60,000 x 512: 33 cold passes in 136 s,
    # not 80 in 282 s)
    lr_decay_passes: int = 0  # divide the rate by 10 every this many passes; 0 = never, the cosine
    # decay anneals already (the original's x0.1 every 4 passes stalled short runs: PPR 0.87 vs 0.94)
    patience: int = 3  # UMAP-loss training stops after this many passes without min_improvement
    min_improvement: float = 5e-3  # relative loss improvement that counts as progress
    vertex_batch_size: int = 192  # stage 2 vertices per step; demo: 256 lost NN 0.013 at equal passes
    warm_max_passes: int = 50  # stage 2 passes when warm (half once settled: proxy.stage2_passes); demo, epoch 3: NN
    # 0.426 / 0.458 at 20 / 50 passes
    warm_learning_rate: float = 0.005  # stage 2's peak rate when warm: 0.02 first kicked the fitted model off
    # (position loss x7 over the first passes); demo, epoch 11, 20 passes: NN 0.480 / 0.505 / 0.518 at 0.02 / 0.01 / 0.005
    warmup_share: float = 0.1  # share of steps the rate rises over; demo: none lost NN 0.056
    decoder_share: float = 0.5  # stage 2 batch share the decoder sees; demo: 1.0 same PPR, ~25 % more time

    def __post_init__(self) -> None:
        check_field(self, "lambda_reconstruction", check_real, low=0.0)
        check_field(self, "lambda_temporal", check_real, low=0.0)
        check_field(self, "lambda_prediction", check_real, low=0.0)
        check_field(self, "learning_rate", check_real, low=0.0, low_open=True)
        check_field(self, "weight_decay", check_real, low=0.0)
        check_field(self, "batch_size", check_int, low=1, high=MAX_BATCH)
        check_field(self, "edge_samples_per_pass", check_real, low=0.0, low_open=True, high=10.0)  # a pass's edges are
        # drawn at once: 10 x a 60,000-sample graph's weight is ~4.5 million edges
        check_field(self, "max_passes", check_int, low=1, high=MAX_PASSES)
        check_field(self, "passes_reference", check_int, low=1)
        check_field(self, "lr_decay_passes", check_int, low=0)
        check_field(self, "patience", check_int, low=1)
        check_field(self, "min_improvement", check_real, low=0.0)
        check_field(self, "vertex_batch_size", check_int, low=1, high=MAX_BATCH)
        check_field(self, "warm_max_passes", check_int, low=1, high=MAX_PASSES)
        check_field(self, "warm_learning_rate", check_real, low=0.0, low_open=True)
        check_field(self, "warmup_share", check_real, low=0.0, high=1.0)
        check_field(self, "decoder_share", check_real, low=0.0, high=1.0, low_open=True)


@dataclass(frozen=True)
class ActiveConfig:
    """The active-learning refinement of method "al" (only its maps read this)."""

    probe_resolution: int = 400  # the original's; 200 finds fewer probes to add, fixes less (demo e3: .941 vs .952)
    probe_radius: float = 0.02  # probe cells lie within this share of the side of a sample (13-19 % of cells, demo)
    al_max_passes: int = 3  # demo: passes 4-5 gained <= 0.012 of preserved share for up to 2x the refining time
    al_patience: int = 2  # stop after this many passes in a row without a kept (better) model
    al_learning_rate_factor: float = 0.01  # refining rate; the original's x0.1 lost samples' PPR, no pass kept (demo)
    max_new_vertices: int = 1000  # new probe vertices per pass at most: bounds its cost; 2000 fixed ~0.004 more
    al_ppr_tolerance: float = 0.005  # a pass lowering the samples' PPR by more is not kept: trust the data first

    def __post_init__(self) -> None:
        check_field(self, "probe_resolution", check_int, low=2, high=MAX_PROBE_RESOLUTION)
        check_field(self, "probe_radius", check_real, low=0.0, low_open=True)
        check_field(self, "al_max_passes", check_int, low=1, high=100)  # each pass refits: 3 is the default
        check_field(self, "al_patience", check_int, low=1, high=100)
        check_field(self, "al_learning_rate_factor", check_real, low=0.0, low_open=True)
        check_field(self, "max_new_vertices", check_int, low=1, high=MAX_NEW_VERTICES)
        check_field(self, "al_ppr_tolerance", check_real, low=0.0, high=1.0)


@dataclass(frozen=True)
class RenderConfig:
    """Drawing a fitted map's territory (keyed apart from the map: redrawing refits nothing)."""

    resolution: int = 200  # territory grid cells per side: sharp at dashboard size, cheap to decode
    boundary_threshold: float = 0.15  # confidence margin below which a cell is drawn as boundary

    def __post_init__(self) -> None:
        check_field(self, "resolution", check_int, low=2, high=MAX_RESOLUTION, fix="200 is sharp at dashboard size.")
        check_field(self, "boundary_threshold", check_real, low=0.0, high=1.0)


@dataclass(frozen=True)
class EvaluationConfig:
    """The faithfulness figures: what "near" means when a map's neighbourhoods are compared with the data's."""

    figures_k: int = 15  # neighbours compared per sample (no self), as the original's NN figures; kept apart from the
    # graph's n_neighbors so that tuning the fit does not move the yardstick it is judged by

    def __post_init__(self) -> None:
        check_field(self, "figures_k", check_int, low=1, high=MAX_NEIGHBOURS)


@dataclass(frozen=True)
class Runtime:
    """Where and how a fit runs. Never part of a result's key: the same settings give the same map anywhere."""

    device: str = "auto"  # "auto" uses CUDA when present, else the CPU
    cpu_threads: int = 1  # torch, BLAS and OpenMP threads of a fit on a CPU (0: the libraries' own); 2 busy cores: 2.8 s vs 40 s on 2
    jobs: int = 0  # stretches (see LayoutConfig.stretch_epochs) fitted at once, 0: as many as the backend has (every
    # core, every cluster worker); 1: one after the other in this process. A run of one stretch is always fitted here
    backend: str = "loky"  # where stretches run: loky (local processes), dask (needs scheduler), ray, sequential
    scheduler: str = ""  # the Dask scheduler's address, e.g. tcp://host:8786

    def __post_init__(self) -> None:
        check_field(self, "cpu_threads", check_int, low=0, high=MAX_WORKERS)
        check_field(self, "jobs", check_int, low=0, high=MAX_WORKERS)
        if self.backend not in BACKENDS:
            raise parameter_error("backend", "Runtime", f"be one of {BACKENDS}", self.backend)
        if not isinstance(self.scheduler, str):
            raise parameter_error("scheduler", "Runtime", "be an address such as 'tcp://host:8786'", self.scheduler)
        if self.backend == "dask" and not self.scheduler:
            raise parameter_error("scheduler", "Runtime", "be a Dask scheduler's address with backend 'dask'",
                                  self.scheduler, fix="Start one with `dask scheduler` and pass tcp://HOST:8786.")
        if self.device not in DEVICES and not str(self.device).startswith("cuda:"):
            raise parameter_error("device", "Runtime", f"be one of {DEVICES} or 'cuda:<index>'", self.device)

    def replace(self, **changes: Any) -> "Runtime":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class VisConfig:
    """How a visualization model (encoder R^D -> R^2, decoder R^2 -> R^D) is built, trained, drawn and judged.

    Build one with :meth:`of` from field names (``VisConfig.of(n_neighbors=30, hidden=64)``) or with
    sections (``VisConfig(graph=GraphConfig(n_neighbors=30))``); read ``config.graph.n_neighbors``.
    """

    graph: GraphConfig = dataclasses.field(default_factory=GraphConfig)
    layout: LayoutConfig = dataclasses.field(default_factory=LayoutConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    active: ActiveConfig = dataclasses.field(default_factory=ActiveConfig)
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    evaluation: EvaluationConfig = dataclasses.field(default_factory=EvaluationConfig)
    seed: int = 0  # the one source of randomness: initialisation, edge sampling, negatives

    # Which sections each result reads: its key holds exactly these (see key_for).
    READS: ClassVar[dict[str, tuple[str, ...]]] = {
        "proxy": ("graph", "layout", "model", "train", "seed"),
        "al": ("graph", "layout", "model", "train", "active", "seed"),
        "umap": ("graph", "seed"),
        "territory": ("render",),
        "figures": ("evaluation", "seed"),
    }

    def __post_init__(self) -> None:
        for section in self.sections():
            kind = _SECTION_TYPES[section]
            if not isinstance(getattr(self, section), kind):
                raise parameter_error(section, "VisConfig", f"be a {kind.__name__}", getattr(self, section))
        check_field(self, "seed", check_int, low=0, high=MAX_SEED)

    @staticmethod
    def sections() -> tuple[str, ...]:
        return tuple(_SECTION_TYPES)

    @classmethod
    def field_names(cls) -> dict[str, str]:
        """Every setting's name -> the section holding it (``"seed"`` for the seed itself)."""
        names = {field.name: section for section, kind in _SECTION_TYPES.items() for field in dataclasses.fields(kind)}
        return {**names, "seed": "seed"}

    def value(self, name: str) -> Any:
        """A setting by field name (``config.value("n_neighbors")``), wherever its section."""
        section = self.field_names().get(name)
        if section is None:
            raise parameter_error(name, "VisConfig", "be a known setting (see ttv --help)", name)
        return self.seed if section == "seed" else getattr(getattr(self, section), name)

    @classmethod
    def of(cls, **settings: Any) -> "VisConfig":
        """The defaults with some settings changed, by field name (``VisConfig.of(n_neighbors=30)``)."""
        return cls().replace(**settings)

    def replace(self, **changes: Any) -> "VisConfig":
        """A copy with some settings changed, by field name or whole section (validated again)."""
        names = self.field_names()
        by_section: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for name, value in changes.items():
            if name in _SECTION_TYPES or name == "seed":
                top[name] = value
            elif name in names:
                by_section.setdefault(names[name], {})[name] = value
            else:
                raise parameter_error(name, "VisConfig", "be a known setting (see ttv --help)", value)
        for section, values in by_section.items():
            top[section] = dataclasses.replace(top.get(section, getattr(self, section)), **values)
        return dataclasses.replace(self, **top)

    def to_dict(self) -> dict[str, Any]:
        """Nested plain values: ``{"graph": {...}, ..., "seed": 0}``."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "VisConfig":
        """The inverse of :meth:`to_dict`."""
        values = dict(values)
        sections = {name: _SECTION_TYPES[name](**values.pop(name)) for name in list(values) if name in _SECTION_TYPES}
        return cls(**sections, **values)

    def key(self, sections: tuple[str, ...] | None = None) -> str:
        """Canonical JSON of ``sections`` (default: all), for cache keys (sorted, defaults included)."""
        values = self.to_dict()
        return json.dumps({name: values[name] for name in (sections or values)}, sort_keys=True)

    def key_for(self, result: str) -> str:
        """The part of a cache key that ``result`` ("proxy", "al", "umap", "territory", "figures") depends on."""
        return self.key(self.READS[result])


_SECTION_TYPES = {"graph": GraphConfig, "layout": LayoutConfig, "model": ModelConfig, "train": TrainConfig,
                  "active": ActiveConfig, "render": RenderConfig, "evaluation": EvaluationConfig}
