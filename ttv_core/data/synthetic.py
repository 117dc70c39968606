"""A synthetic training run whose events are known in advance, recorded in ttv's format in seconds.

The built-in demo is a real run but a short, easy one (20 epochs of digits). ttv's chain of maps must
stay faithful over long runs whose representations change in every way a real training's do, so
benchmarks and tests need such a run without training a network for an hour. This one is built from
clusters whose fate over training is scripted:

- every class is a few sub-clusters; each sub-cluster is a low-dimensional sheet (a Gaussian in
  :data:`LATENT_DIM` dimensions, placed in D by a random basis of its own) plus a little isotropic
  noise. That is local structure, as real features have, so neighbour preservation means something;
- early representations are organised by the input: the same kind of clusters, but class-blind, so
  classes are mixed and the head is near chance. Over training the class-made structure takes over
  (classes separate), the noise shrinks and the class centres wander (drift);
- in some classes one sub-cluster tears in two half-way through;
- one pair of classes starts merged and separates late; another pair starts apart, merges, then
  splits again (the hard case: the head has to unlearn and relearn it);
- a few training samples are mislabelled: they start in their true class's cluster and are pulled
  into their label's cluster late in training (memorisation); mislabelled test samples stay put;
- each sample's place in its sheet, and its noise, move slowly (an AR(1) walk per sample), so
  samples keep their identity from epoch to epoch (temporal figures) and still move.

The head is an ``nn.Linear(dim, n_classes)`` fitted after every epoch by a few L-BFGS steps of
softmax regression on that epoch's training representations and labels, warm from the previous
epoch's weights: a real classifier of those representations, whose accuracy rises as the classes
separate and dips while the hard pair is merged.

Time is measured as training progress t in [0, 1] (first to last epoch): a run with fewer epochs is
the same training sampled more coarsely. The run records itself through :class:`ttv_core.Recorder`,
like any user's training would.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits
from torch import nn

from . import runformat
from .._checks import check_field, check_int, check_real, parameter_error
from ..config import MAX_HIDDEN, MAX_SEED
from .._io import sha256_bytes
from ..cachedir import resolve_cache_dir
from ..errors import ConfigError
from .recorder import Recorder

GENERATOR_VERSION = 1  # part of the cache key: bump when a change makes the same config give other data
LATENT_DIM = 4  # intrinsic dimension of each sub-cluster's sheet: structure a 2-D map can keep
CLASS_SCALE = 8.0  # typical distance of a cluster centre from the origin
SUBCLUSTER_SCALE = 3.0  # typical distance of a sub-cluster from its centre
DRIFT_SCALE = 3.0  # how far class centres wander over the run
SPLIT_DISTANCE = 4.0  # how far apart the two halves of a torn sub-cluster end up
NOISE_START, NOISE_END = 0.6, 0.25  # norm of a sample's isotropic noise (in D) at the first / last epoch
CLASS_SHARE_START = 0.1  # class-made share at the first epoch (rest: the input's); 0.3 left epoch 1 at 89 % test acc
MEMORY_TIME = 3.0  # a sample's walk forgets its place after ~3 runs: 100 epochs keep ~0.92 of a kNN list a step
HARD_PAIR = (0, 1)  # start apart, merge at t = 0.15-0.35, stay merged, split again at t = 0.5-0.75
LATE_PAIR = (2, 3)  # start merged, separate at t = 0.35-0.7 (only with 4 classes or more)
MAX_SAMPLES = 1_000_000  # per split: a large real run is 60,000
MAX_EPOCH_FLOATS = 2**28  # one epoch's representations in memory at most (1 GiB of float32)
HEAD_L2 = 1e-3  # ridge on the head's weights: keeps softmax regression bounded on separable epochs


@dataclass(frozen=True)
class SyntheticConfig:
    """The synthetic run's size and randomness. Defaults: a long run the size of the demo's."""

    n_train: int = 2000  # about the demo's 1,437: benchmarks of a 100-epoch chain stay within minutes
    n_test: int = 500  # a quarter of the training samples, as in most held-out splits
    dim: int = 32  # representation dimension; cost of ttv's fit barely depends on it
    n_classes: int = 10  # as CIFAR-10 and the demo; the scripted events need 4 classes or more
    epochs: int = 100  # long enough for drift along the chain to show (issue 9 asks for ~100)
    seed: int = 0  # the one source of randomness: clusters, samples, walks, mislabelled samples
    subclusters: int = 3  # per class: local structure inside a class, and something to tear apart
    label_noise: float = 0.02  # share of mislabelled samples (train and test): accuracy stays below 1
    head_steps: int = 5  # L-BFGS steps per epoch: the head lags the representations, as a real one does

    def __post_init__(self) -> None:
        check_field(self, "n_classes", check_int, low=2, high=100)
        check_field(self, "subclusters", check_int, low=1, high=100)
        minimum = 2 * self.n_classes * self.subclusters
        check_field(self, "n_train", check_int, low=minimum, high=MAX_SAMPLES,
                    fix=f"Every sub-cluster needs samples: at least 2 x n_classes x subclusters = {minimum}.")
        check_field(self, "n_test", check_int, low=1, high=MAX_SAMPLES)
        check_field(self, "dim", check_int, low=2, high=MAX_HIDDEN)
        size = (self.n_train + self.n_test) * self.dim
        if size > MAX_EPOCH_FLOATS:
            raise parameter_error("dim", "SyntheticConfig", f"keep (n_train + n_test) x dim within {MAX_EPOCH_FLOATS:,}"
                                  f" floats (1 GiB an epoch), not {size:,}", self.dim, "Lower dim or the sample counts.")
        check_field(self, "epochs", check_int, low=1, high=1000)
        check_field(self, "seed", check_int, low=0, high=MAX_SEED)
        check_field(self, "label_noise", check_real, low=0.0, high=0.5, high_open=True)
        check_field(self, "head_steps", check_int, low=1, high=1000)

    def key(self) -> str:
        """Short digest of the config and the generator's version, naming the cached run it produces."""
        document = {"generator": GENERATOR_VERSION, **dataclasses.asdict(self)}
        return sha256_bytes(json.dumps(document, sort_keys=True).encode())[:12]

    def events(self) -> dict:
        """Which classes and sub-clusters the scripted events touch (kept in the run's meta)."""
        return {
            "merge_then_split": list(HARD_PAIR),
            "merged_at_start": list(LATE_PAIR) if self.n_classes >= 4 else [],
            "torn_subclusters": [[c, 0] for c in _torn_classes(self.n_classes)],
        }


def _torn_classes(n_classes: int) -> list[int]:
    """Classes whose sub-cluster 0 tears in two: every other class past the two scripted pairs."""
    return list(range(4, n_classes, 2))


def _ramp(t: float, start: float, end: float) -> float:
    """0 before ``start``, 1 after ``end``, smooth (smoothstep) in between."""
    x = min(max((t - start) / (end - start), 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True)
class _Geometry:
    """Clusters of sheets: a centre per group, sub-cluster offsets from it, each sheet's basis in D."""

    centres: np.ndarray  # (n_groups, dim)
    offsets: np.ndarray  # (n_groups, subclusters, dim)
    bases: np.ndarray  # (n_groups, subclusters, LATENT_DIM, dim)

    @classmethod
    def draw(cls, n_groups: int, subclusters: int, dim: int, rng: np.random.Generator) -> "_Geometry":
        scale = 1.0 / np.sqrt(dim)  # a random normal vector in D has norm ~1 after it
        return cls(centres=rng.normal(size=(n_groups, dim)) * CLASS_SCALE * scale,
                   offsets=rng.normal(size=(n_groups, subclusters, dim)) * SUBCLUSTER_SCALE * scale,
                   bases=rng.normal(size=(n_groups, subclusters, LATENT_DIM, dim)) * scale)

    def place(self, group: np.ndarray, subcluster: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """Positions of samples given their group, sub-cluster and place in the sheet, shape (n, dim)."""
        sheets = np.einsum("nl,nld->nd", latent, self.bases[group, subcluster])
        return self.centres[group] + self.offsets[group, subcluster] + sheets

    def merged(self, shares: np.ndarray, pairs: list[tuple[int, int]]) -> "_Geometry":
        """Each pair's groups moved by ``shares[group]`` towards their common geometry (1: identical)."""
        parts = [self.centres.copy(), self.offsets.copy(), self.bases.copy()]
        for pair in pairs:
            for part in parts:
                middle = part[list(pair)].mean(axis=0)
                share = shares[list(pair)].reshape((-1,) + (1,) * (part.ndim - 1))
                part[list(pair)] += share * (middle - part[list(pair)])
        return _Geometry(*parts)


@dataclass(frozen=True)
class _Plan:
    """Everything drawn once: the clusters, the samples' places in them, and who is mislabelled.

    Early representations are organised by the input (class-blind groups, as an untrained network's
    features are), later ones by class; the class share grows over training.
    """

    classes: _Geometry  # n_classes groups: what training builds
    inputs: _Geometry  # n_classes groups, assigned at random: what the input alone gives
    drift: np.ndarray  # (2, n_classes, dim) directions of the two drift harmonics of class centres
    split_directions: np.ndarray  # (n_classes, dim) where a torn sub-cluster's halves go
    true_class: np.ndarray  # (n,) the class cluster a sample belongs to; train samples first, then test
    subcluster: np.ndarray  # (n,)
    input_group: np.ndarray  # (n,)
    input_subcluster: np.ndarray  # (n,)
    side: np.ndarray  # (n,) +1 / -1: the half a sample goes to if its sub-cluster tears
    labels: np.ndarray  # (n,) recorded labels: true_class but for the mislabelled samples
    memorised: np.ndarray  # (n,) bool: mislabelled training samples, pulled to their label's cluster


def _plan(config: SyntheticConfig, rng: np.random.Generator) -> _Plan:
    c, s, d = config.n_classes, config.subclusters, config.dim
    n = config.n_train + config.n_test
    true_class = rng.permutation(np.arange(n) % c)
    labels = true_class.copy()
    mislabelled = rng.random(n) < config.label_noise
    labels[mislabelled] = (true_class[mislabelled] + rng.integers(1, c, size=mislabelled.sum())) % c
    return _Plan(
        classes=_Geometry.draw(c, s, d, rng),
        inputs=_Geometry.draw(c, s, d, rng),
        drift=rng.normal(size=(2, c, d)) * DRIFT_SCALE / np.sqrt(d),
        split_directions=rng.normal(size=(c, d)) * SPLIT_DISTANCE / (2 * np.sqrt(d)),
        true_class=true_class,
        subcluster=rng.integers(0, s, size=n),
        input_group=rng.integers(0, c, size=n),
        input_subcluster=rng.integers(0, s, size=n),
        side=rng.choice([-1.0, 1.0], size=n),
        labels=labels,
        memorised=mislabelled & (np.arange(n) < config.n_train),
    )


def merge_shares(n_classes: int, t: float) -> np.ndarray:
    """How merged each class is with its pair at progress ``t``, shape (n_classes,), in [0, 1]."""
    shares = np.zeros(n_classes)
    shares[list(HARD_PAIR)] = _ramp(t, 0.15, 0.35) * (1.0 - _ramp(t, 0.5, 0.75))
    if n_classes >= 4:
        shares[list(LATE_PAIR)] = 1.0 - _ramp(t, 0.35, 0.7)
    return shares


def class_share(t: float) -> float:
    """Weight of the class-made structure against the input's at progress ``t``: training's progress."""
    return CLASS_SHARE_START + (1.0 - CLASS_SHARE_START) * _ramp(t, 0.0, 0.6)


def _class_structure(plan: _Plan, latent: np.ndarray, t: float) -> np.ndarray:
    """The class-made part of every sample's position at progress ``t``, shape (n, dim)."""
    n_classes = len(plan.classes.centres)
    harmonics = np.sin(np.pi * t) * plan.drift[0] + np.sin(2 * np.pi * t) * plan.drift[1]
    pairs = [HARD_PAIR] + ([LATE_PAIR] if n_classes >= 4 else [])
    drifted = dataclasses.replace(plan.classes, centres=plan.classes.centres + harmonics)
    geometry = drifted.merged(merge_shares(n_classes, t), pairs)
    positions = geometry.place(plan.true_class, plan.subcluster, latent)
    pull = _ramp(t, 0.7, 1.0)  # memorisation: the mislabelled samples move to their label's class
    memorised = plan.memorised
    label_centres, true_centres = (geometry.centres[classes[memorised]] for classes in (plan.labels, plan.true_class))
    positions[memorised] += pull * (label_centres - true_centres)
    torn = np.isin(plan.true_class, _torn_classes(n_classes)) & (plan.subcluster == 0)
    positions[torn] += _ramp(t, 0.3, 0.7) * plan.side[torn, None] * plan.split_directions[plan.true_class[torn]]
    return positions


class _Walk:
    """Each sample's place in its sheet and its noise: an AR(1) walk over progress, unit variance."""

    def __init__(self, n: int, dim: int, rng: np.random.Generator):
        self.rng = rng
        self.latent, self.noise = rng.normal(size=(n, LATENT_DIM)), rng.normal(size=(n, dim))

    def step(self, dt: float) -> None:
        keep = np.exp(-dt / MEMORY_TIME)
        fresh = np.sqrt(1.0 - keep**2)
        self.latent = keep * self.latent + fresh * self.rng.normal(size=self.latent.shape)
        self.noise = keep * self.noise + fresh * self.rng.normal(size=self.noise.shape)


def _representations_at(plan: _Plan, walk: _Walk, t: float) -> np.ndarray:
    """Every sample's representation at progress ``t``, shape (n_train + n_test, dim), float32."""
    share = class_share(t)
    made = _class_structure(plan, walk.latent, t)
    given = plan.inputs.place(plan.input_group, plan.input_subcluster, walk.latent)
    noise_norm = NOISE_START + (NOISE_END - NOISE_START) * t
    noise = walk.noise * noise_norm / np.sqrt(walk.noise.shape[1])
    return (share * made + (1.0 - share) * given + noise).astype(np.float32)


def _unpack(flat: np.ndarray, dim: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The head's parameters as one vector (what L-BFGS sees) -> weights (dim, n_classes), biases."""
    return flat[:-n_classes].reshape(dim, n_classes), flat[-n_classes:]


def _logits(flat: np.ndarray, x: np.ndarray, n_classes: int) -> np.ndarray:
    weights, bias = _unpack(flat, x.shape[1], n_classes)
    return x @ weights + bias


def _softmax_loss(flat: np.ndarray, x: np.ndarray, labels: np.ndarray, n_classes: int):
    """Mean cross-entropy of softmax regression (plus HEAD_L2 ridge on the weights) and its gradient."""
    weights = _unpack(flat, x.shape[1], n_classes)[0]
    logits = _logits(flat, x, n_classes)
    logits -= logits.max(axis=1, keepdims=True)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    rows = np.arange(len(x))
    loss = -log_probabilities[rows, labels].mean() + 0.5 * HEAD_L2 * (weights**2).sum()
    residual = np.exp(log_probabilities)
    residual[rows, labels] -= 1.0
    residual /= len(x)
    gradient = np.concatenate([(x.T @ residual + HEAD_L2 * weights).ravel(), residual.sum(axis=0)])
    return loss, gradient


def fit_head(flat: np.ndarray, x: np.ndarray, labels: np.ndarray, n_classes: int,
             steps: int) -> tuple[np.ndarray, float]:
    """``steps`` L-BFGS iterations of softmax regression from ``flat``; returns (new flat, loss).

    ``flat`` holds the weights, shape (dim, n_classes), raveled, then the biases, shape (n_classes,).
    """
    result = minimize(_softmax_loss, flat, args=(x.astype(np.float64), labels, n_classes), jac=True,
                      method="L-BFGS-B", options={"maxiter": steps})
    return result.x, float(result.fun)


def _linear(flat: np.ndarray, dim: int, n_classes: int) -> nn.Linear:
    """The head as the ``nn.Linear(dim, n_classes)`` the recorder stores."""
    weights, bias = _unpack(flat, dim, n_classes)
    head = nn.Linear(dim, n_classes)
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(weights.T.copy()))
        head.bias.copy_(torch.from_numpy(bias.copy()))
    return head


def make_synthetic(out: str | os.PathLike, *, config: SyntheticConfig = SyntheticConfig(), mode: str = "new",
                   until: int | None = None, only: list[int] | None = None) -> Path:
    """Generate the synthetic run for ``config`` and record it in ttv's format under ``out``.

    Parameters
    ----------
    out : str or Path
        Folder to create (see :class:`Recorder` for ``mode``).
    config : SyntheticConfig
        Sizes and seed; the same config gives the same run, bit for bit on one machine.
    mode : {"new", "resume", "overwrite"}, default "new"
    until : int, optional
        Record epochs 1 to ``until`` only: the start of the same run, as a training stopped early
        leaves it (a benchmark of a 200-epoch, 60,000-sample run needs its first epochs in seconds,
        not all 28 GB of it).
    only : list of int, optional
        Record these epochs only (each is still generated from all before it): a run whose middle
        was not kept, for random-access benchmarks (epoch 1 and epochs 181-190 of 200).

    Returns
    -------
    Path
        The run folder. Each epoch's metrics hold the head's ``loss``, ``train_acc`` and ``test_acc``.
    """
    if until is not None and only is not None:
        raise ConfigError("make_synthetic: pass 'until' (epochs 1 to until) or 'only' (chosen epochs), not both.")
    wanted = [until] if until is not None else list(only or [config.epochs])
    for epoch in wanted:
        check_int(epoch, "until" if until is not None else "only", owner="make_synthetic", low=1, high=config.epochs,
                  high_text="config.epochs", fix="Ask for an epoch of the run.")
    kept = set(range(1, max(wanted) + 1)) if only is None else set(only)
    with threadpool_limits(1):  # BLAS on one thread: on 2 busy cores its own threads made the run 24 s, not 3
        return _record(out, config, mode, max(wanted), kept)


def _record(out: str | os.PathLike, config: SyntheticConfig, mode: str, until: int, kept: set[int]) -> Path:
    rng = np.random.default_rng(config.seed)
    plan = _plan(config, rng)
    walk = _Walk(len(plan.labels), config.dim, rng)
    train, test = slice(0, config.n_train), slice(config.n_train, None)
    recorder = Recorder(
        out,
        classes=[f"class {c}" for c in range(config.n_classes)],
        train_labels=plan.labels[train],
        test_labels=plan.labels[test],
        name="synthetic run",
        meta={"synthetic_config": dataclasses.asdict(config), "generator_version": GENERATOR_VERSION,
              "events": config.events(), "mislabelled_train": int(plan.memorised.sum())},
        mode=mode,
    )
    flat = np.zeros(config.dim * config.n_classes + config.n_classes)
    dt = 1.0 / max(config.epochs - 1, 1)
    for epoch in range(1, until + 1):
        if epoch > 1:
            walk.step(dt)
        t = (epoch - 1) * dt
        representations = _representations_at(plan, walk, t)
        flat, loss = fit_head(flat, representations[train], plan.labels[train], config.n_classes, config.head_steps)
        correct = _logits(flat, representations, config.n_classes).argmax(axis=1) == plan.labels
        figures = {"loss": loss, "train_acc": float(correct[train].mean()), "test_acc": float(correct[test].mean())}
        if epoch in kept:
            recorder.log_epoch(epoch, train=representations[train], test=representations[test],
                               head=_linear(flat, config.dim, config.n_classes), metrics=figures)
    return Path(out)


def ensure_synthetic(cache_dir: str | os.PathLike | None = None, *,
                     config: SyntheticConfig = SyntheticConfig()) -> Path:
    """The synthetic run for ``config`` in the cache, generated on first use (seconds) and reused after.

    Generated in a temporary folder and renamed into place (as :func:`ttv_core.ensure_demo` does),
    so two processes asking at once never see half a run.
    """
    target = resolve_cache_dir(cache_dir) / "synthetic" / f"synthetic-{config.key()}"
    return runformat.build_once(target, lambda folder: make_synthetic(folder, config=config))
