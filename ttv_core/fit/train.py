"""Training a visualization model on a weighted graph (ALGORITHMS.md section 3).

Two schemes share one short loop (minGPT's ``Trainer.run``):

* **two-stage** (what :class:`~ttv_core.fit.proxy.ProxyVisualizer` uses): :func:`optimize_layout` first
  runs UMAP's own optimisation of free 2-D positions of the graph's vertices, all edges of an epoch
  at once in torch (cheap: 2 numbers per vertex); then every step of :meth:`Trainer.run` with
  ``layout=`` regresses the encoder onto the positions of a batch of vertices, reconstructs the
  vertices from their positions through the decoder and keeps the head's verdict on the reconstruction (the prediction-preserving
  term, which aims at PPR directly). Regression is a far easier problem for an MLP than UMAP's loss,
  so the model reaches a faithful map in a fraction of the steps.
* **parametric** (no ``layout``): each step samples edges in proportion to their weight and pulls the
  2-D images of an edge's two ends together with UMAP's cross-entropy (in-batch negatives pushed
  apart), plus the same reconstruction and prediction terms. Active-learning refinement uses it.

A warm start's temporal term (DVI's) acts on the layout: :func:`optimize_layout`'s spring holds each
vertex near where the previous epoch's map put it. Progress leaves the loop through
``on_pass_end``; a caller stops it by returning True from ``should_stop``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch import nn

from ..config import VisConfig
from .graph import find_ab_params, nearest_neighbors, sample_edges
from .model import VisModel

_CLAMP = 1e-4  # the original's clamp of q, keeps log() finite
_LAYOUT_SIZE = 10.0  # half-width of the initial layout, as umap-learn scales its spectral initialisation
_GRADIENT_CLIP = 4.0  # umap-learn's clip of each edge's gradient, keeps early epochs stable
_REPULSION_EPSILON = 1e-3  # umap-learn's guard against dividing by a zero distance
DIVERGED = 10.0  # a stage-2 pass whose position loss is this many times the best so far has diverged


@dataclass(frozen=True)
class TrainingGraph:
    """The vertices a visualization model learns from and the weighted edges between them.

    Attributes
    ----------
    vertices : ndarray, shape (n_vertices, dim), float32
    heads, tails : ndarray, shape (n_edges,), int64
        Indices into ``vertices``; both directions of an edge are listed.
    weights : ndarray, shape (n_edges,), float32
        Fuzzy membership of each edge, in (0, 1].
    """

    vertices: np.ndarray
    heads: np.ndarray
    tails: np.ndarray
    weights: np.ndarray


def umap_loss(z_from: torch.Tensor, z_to: torch.Tensor, *, a: float, b: float, negative_rate: int,
              generator: torch.Generator) -> torch.Tensor:
    """UMAP's binary cross-entropy between edge membership (1) and low-dimensional similarity.

    Each positive pair (z_from[i], z_to[i]) gets ``negative_rate`` negatives: z_from[i] paired with
    z_to at random positions of the same batch, target 0.
    """
    n = z_from.shape[0]
    shuffle = torch.randint(0, n, (negative_rate * n,), generator=generator).to(z_from.device)
    negatives_from = z_from.repeat(negative_rate, 1)
    distances = torch.cat([(z_from - z_to).norm(dim=1), (negatives_from - z_to[shuffle]).norm(dim=1)])
    similarity = 1.0 / (1.0 + a * distances.pow(2 * b))
    target = torch.cat([torch.ones(n, device=z_from.device), torch.zeros(negative_rate * n, device=z_from.device)])
    attract = -target * torch.log(similarity.clamp(_CLAMP, 1.0))
    repel = -(1 - target) * torch.log((1 - similarity).clamp(_CLAMP, 1.0))
    return (attract + repel).mean()


def prediction_loss(head: nn.Module, original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """KL divergence from the head's class distribution on ``original`` to that on ``reconstructed``."""
    with torch.no_grad():
        target = torch.log_softmax(head(original), dim=1)
    return nn.functional.kl_div(torch.log_softmax(head(reconstructed), dim=1), target, log_target=True,
                                reduction="batchmean")


_flush_depth = [0]  # cpu_threads blocks open that flush denormals (they nest: the chain, a fit, its stages)


@contextlib.contextmanager
def cpu_threads(device: torch.device, n_threads: int) -> Iterator[None]:
    """Run torch, BLAS and OpenMP on ``n_threads`` CPU threads inside the block, with denormal floats
    flushed to zero, then restore.

    ``0``, or a GPU, leaves the thread counts as they are: there the CPU side (k-means, kNN) gets the
    machine's cores, and torch's CPU threads hardly work.
    Training steps here are tiny (a few hundred rows): a second thread saves little and, on a busy
    machine, waits for its time slice at every operation (demo, 2 shared cores: one fit took 2.8 s
    on 1 thread and 40-65 s on torch's default 2). scikit-learn's k-means (OpenMP) on the demo's
    1,437 x 64 took 0.60 s on 2 busy cores and 0.02 s on one. The settings are process-wide, hence
    the restore.

    Denormals: late in a fit, the model's gradients and Adam's moments reach sub-normal magnitudes,
    which a CPU computes with microcode up to 100x slower: a 10,000 x 512 fit's passes went from 0.17 s
    to 0.83 s half-way through. Flushed to zero, they stay at 0.17 s; the values lost are below 1e-38.
    """
    flushed = device.type == "cpu" and torch.set_flush_denormal(True)
    _flush_depth[0] += flushed
    try:
        if n_threads <= 0 or device.type != "cpu":
            yield
            return
        from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

        before = torch.get_num_threads()
        with threadpool_limits(n_threads):
            if n_threads != before:
                torch.set_num_threads(n_threads)
            try:
                yield
            finally:
                if n_threads != before:
                    torch.set_num_threads(before)
    finally:
        _flush_depth[0] -= flushed
        if flushed and not _flush_depth[0]:  # the outermost block: back to torch's default
            torch.set_flush_denormal(False)


def initial_layout(vertices: np.ndarray) -> np.ndarray:
    """The vertices' first two principal components, scaled to [-10, 10]: a deterministic start.

    On the demo it served as well as umap-learn's spectral initialisation (trustworthiness 0.990 vs
    0.989 after 200 epochs) at a fraction of the cost and without eigensolver failures on
    disconnected graphs. Returns float32, shape (n_vertices, 2).
    """
    centred = np.asarray(vertices, np.float64) - np.mean(vertices, axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    layout = np.zeros((len(centred), 2))
    layout[:, : min(2, centred.shape[1])] = centred @ vectors[:, ::-1][:, :2]  # 1-D data: second axis 0
    layout *= np.where(layout[np.abs(layout).argmax(0), [0, 1]] < 0, -1.0, 1.0)  # fix the signs
    return (layout / max(np.abs(layout).max(), 1e-12) * _LAYOUT_SIZE).astype(np.float32)


def optimize_layout(graph: TrainingGraph, initial: np.ndarray, *, n_epochs: int, a: float, b: float,
                    negative_rate: int, seed: int, device: torch.device, learning_rate: float = 1.0,
                    anchor_strength: float = 0.0, n_threads: int = 1) -> np.ndarray:
    """UMAP's optimisation of free 2-D positions, every edge of an epoch at once (stage 1).

    As umap-learn: an edge of weight w is used every max(w) / w epochs, both ends move, each use draws
    ``negative_rate`` negatives uniformly from all vertices (only the edge's head moves away), each
    gradient is clipped to [-4, 4] and the rate falls linearly from ``learning_rate`` to 0. Unlike it,
    an epoch's updates are summed and applied together, which vectorises; on the demo that reached
    umap-learn's trustworthiness (0.99) in ~200 epochs.

    Parameters
    ----------
    graph : TrainingGraph
    initial : ndarray, shape (n_vertices, 2)
        Starting positions (:func:`initial_layout`, or the previous epoch's map for a warm start).
    n_epochs : int
    a, b : float
        The low-dimensional similarity q(d) = 1 / (1 + a d^(2b)) (:func:`~ttv_core.fit.graph.find_ab_params`).
    negative_rate : int
    seed : int
        Source of the negatives: same seed, same layout (on the CPU; CUDA sums in varying order).
    device : torch.device
    learning_rate : float, default 1.0
        umap-learn's initial rate; smaller values refine a warm start instead of rebuilding it.
    anchor_strength : float or ndarray of shape (n_vertices,), default 0.0
        A spring pulling each vertex back to its ``initial`` position, this much per unit of distance
        and of rate: a warm start's temporal term (``lambda_temporal`` x each vertex's temporal strength).
    n_threads : int, default 1
        CPU threads (:func:`cpu_threads`).

    Returns
    -------
    ndarray, shape (n_vertices, 2), float32
    """
    generator = torch.Generator(device=device).manual_seed(seed)
    positions = torch.tensor(np.asarray(initial, np.float32), device=device)
    heads, tails = (torch.from_numpy(graph.heads).to(device), torch.from_numpy(graph.tails).to(device))
    rate = torch.from_numpy(graph.weights / graph.weights.max()).to(device)
    spring = np.broadcast_to(np.asarray(anchor_strength, np.float32), (len(positions),))
    anchored = bool(spring.any())
    spring = torch.from_numpy(np.array(spring, np.float32)).to(device)[:, None]
    with cpu_threads(device, n_threads):
        home = positions.clone()
        for epoch in range(n_epochs):
            alpha = learning_rate * (1.0 - epoch / n_epochs)
            active = torch.floor((epoch + 1) * rate) > torch.floor(epoch * rate)
            head, tail = heads[active], tails[active]
            step = torch.zeros_like(positions)
            at_head = positions.index_select(0, head)  # ~2.5x faster than positions[head] on a CPU
            difference = at_head - positions.index_select(0, tail)
            squared = (difference * difference).sum(1, keepdim=True)
            attraction = -2.0 * a * b * squared.clamp_min(1e-12).pow(b - 1.0) / (1.0 + a * squared.pow(b))
            together = (attraction * difference).clamp(-_GRADIENT_CLIP, _GRADIENT_CLIP) * alpha
            step.index_add_(0, head, together).index_add_(0, tail, -together)
            other = torch.randint(0, len(positions), (negative_rate * len(head),), generator=generator,
                                  device=device)
            difference = at_head.repeat(negative_rate, 1) - positions.index_select(0, other)
            squared = (difference * difference).sum(1, keepdim=True)
            repulsion = 2.0 * b / ((_REPULSION_EPSILON + squared) * (1.0 + a * squared.pow(b)))
            push = (repulsion * difference).clamp(-_GRADIENT_CLIP, _GRADIENT_CLIP) * alpha
            step.index_add_(0, head.repeat(negative_rate), push)
            if anchored:
                step -= alpha * spring * (positions - home)
            positions += step
    return positions.cpu().numpy()


def position_weights(layout: np.ndarray, k: int) -> np.ndarray:
    """Weight of each vertex in the regression onto ``layout``: 1 / r^2, r its k-th neighbour's distance.

    A position error matters relative to the gaps between neighbours: where the layout is dense, a
    small error already swaps neighbours. Weighting by the inverse squared local scale makes the
    regression care about relative error; on the demo it raised the NN rate of the fitted encoder
    from 0.50 to 0.53 at equal steps. Normalised to mean 1; capped at 10 so duplicates cannot dominate.
    Returns float32, shape (n_vertices,).
    """
    _, distances = nearest_neighbors(layout, min(k, len(layout) - 1))
    inverse = 1.0 / np.maximum(distances[:, -1].astype(np.float64), 1e-6) ** 2
    inverse /= inverse.mean()
    return np.minimum(inverse, 10.0).astype(np.float32)


@dataclass
class Trainer:
    """Fits a :class:`VisModel` to a :class:`TrainingGraph` under a :class:`VisConfig`.

    ``head`` (the classifier head as a torch module) enables the prediction-preserving term.
    """

    config: VisConfig
    device: torch.device
    head: nn.Module | None = None
    on_pass_end: Callable[[dict[str, float]], None] | None = None
    should_stop: Callable[[], bool] | None = None
    n_threads: int = 1  # CPU threads (see cpu_threads; ignored on a GPU)

    def run(self, model: VisModel, graph: TrainingGraph, *, learning_rate: float | None = None,
            max_passes: int | None = None, layout: np.ndarray | None = None) -> list[dict[str, float]]:
        """Train ``model`` in place; returns one dict of mean losses per pass.

        Without ``layout`` a pass samples edges by weight (``edge_samples_per_pass``) and applies
        UMAP's loss, ``batch_size`` edges a step. With ``layout``, shape (n_vertices, 2), a pass visits
        every vertex once, ``vertex_batch_size`` a step, and regresses the encoder onto its position.
        The rate warms up over ``warmup_share`` of the planned steps, then decays to 0 (cosine). The
        early stop (``patience``) applies to UMAP's loss only: with ``layout`` the loss is dominated by
        the reconstruction, which levels off long before the positions do.
        """
        config, rng = self.config, np.random.default_rng(self.config.seed)
        vertices = torch.from_numpy(np.ascontiguousarray(graph.vertices, np.float32)).to(self.device)
        if layout is None:
            a, b = find_ab_params(config.graph.spread, config.graph.min_dist)
            generator = torch.Generator().manual_seed(config.seed)
            step = functools.partial(self._edge_step, graph=graph, a=a, b=b, generator=generator)
        else:
            weights = position_weights(layout, config.graph.n_neighbors)
            targets = (torch.from_numpy(np.asarray(layout, np.float32)), torch.from_numpy(weights))
            step = functools.partial(self._vertex_step, targets=tuple(t.to(self.device) for t in targets))
        model.to(self.device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate or config.train.learning_rate,
                                     weight_decay=config.train.weight_decay, fused=True)  # fused: 4x cheaper on a CPU
        n_passes = max_passes or config.train.max_passes
        schedule = _schedule(optimizer, n_passes, self._steps_per_pass(graph, layout is not None), config)
        history: list[dict[str, float]] = []
        rollback = _Rollback(model, optimizer, schedule) if layout is not None else None
        with cpu_threads(self.device, self.n_threads):
            for pass_index in range(n_passes):
                start, totals, batches = time.perf_counter(), {}, self._batches(graph, layout is not None, rng)
                for batch in batches:
                    losses = step(model, vertices, batch)
                    optimizer.zero_grad(set_to_none=True)
                    losses["loss"].backward()
                    optimizer.step()
                    schedule.step()
                    for name, value in losses.items():
                        totals[name] = totals.get(name, 0.0) + float(value.detach()) / len(batches)
                history.append({"pass": pass_index, **totals, "seconds": time.perf_counter() - start})
                if rollback is not None and rollback.diverged(totals["position"]):
                    history[-1]["rolled_back"] = 1.0
                if self.on_pass_end is not None:
                    self.on_pass_end(history[-1])
                converged = layout is None and _converged(history, config)
                if converged or (self.should_stop is not None and self.should_stop()):
                    break
        model.eval()
        return history

    def _steps_per_pass(self, graph: TrainingGraph, layout_mode: bool) -> int:
        config = self.config
        if not layout_mode:
            return max(1, max(config.train.batch_size, int(round(config.train.edge_samples_per_pass * graph.weights.sum())))
                       // config.train.batch_size)
        return max(1, -(-len(graph.vertices) // config.train.vertex_batch_size))

    def _batches(self, graph: TrainingGraph, layout_mode: bool, rng: np.random.Generator) -> list[np.ndarray]:
        """One pass's batches: edge indices drawn by weight, or all vertices in a random order."""
        config = self.config
        if not layout_mode:
            n_samples = max(config.train.batch_size, int(round(config.train.edge_samples_per_pass * graph.weights.sum())))
            return np.array_split(sample_edges(graph.weights, n_samples, rng), self._steps_per_pass(graph, False))
        return np.array_split(rng.permutation(len(graph.vertices)), self._steps_per_pass(graph, True))

    def _edge_step(self, model, vertices, batch, *, graph, a, b, generator) -> dict[str, torch.Tensor]:
        config, heads, tails = self.config, graph.heads[batch], graph.tails[batch]
        # A batch's edges touch far fewer distinct vertices than 2 x edges: encode each once, then gather.
        touched, positions = np.unique(np.concatenate([heads, tails]), return_inverse=True)
        x = vertices[torch.from_numpy(touched).to(self.device)]
        z, reconstructed = model(x)
        ends = torch.from_numpy(positions).to(self.device)
        z_from, z_to = z[ends[: len(heads)]], z[ends[len(heads) :]]
        losses = {"umap": umap_loss(z_from, z_to, a=a, b=b, negative_rate=config.layout.negative_sample_rate,
                                    generator=generator)}
        return self._add_common(losses, losses["umap"], model, x, reconstructed)

    def _vertex_step(self, model, vertices, batch, *, targets) -> dict[str, torch.Tensor]:
        layout, weights = targets
        batch = torch.from_numpy(batch).to(self.device)
        x = vertices[batch]
        z = model.encoder(x)
        error = ((z - layout[batch]) / model.encoder.output_scale) ** 2
        losses = {"position": (error.sum(1) * weights[batch]).mean()}
        total = losses["position"]
        # The decoder learns from the layout's positions, on a share of the (randomly ordered) batch: they
        # are where the map shows the samples (ProxyVisualizer.embedding_), so Dec(position) is what the
        # territory under a dot shows. Before, it learnt from the encoder's moving output; at 60,000 x 512
        # the layout decoded this way keeps the head's verdict on 0.91-0.97 of the samples (epochs 1-3)
        # where the encoder's output decoded the old way kept 0.84-0.96.
        n = max(1, round(len(batch) * self.config.train.decoder_share))
        return self._add_common(losses, total, model, x[:n], model.decoder(layout[batch[:n]]))

    def _add_common(self, losses, total, model, x, reconstructed) -> dict[str, torch.Tensor]:
        """Reconstruction (in the model's standard units) and prediction terms; the total."""
        config = self.config
        scale = model.decoder.output_scale
        losses["reconstruction"] = (((reconstructed - x) / scale) ** 2).mean()
        total = total + config.train.lambda_reconstruction * losses["reconstruction"]
        if self.head is not None and config.train.lambda_prediction > 0:
            losses["prediction"] = prediction_loss(self.head, x, reconstructed)
            total = total + config.train.lambda_prediction * losses["prediction"]
        losses["loss"] = total
        return losses


class _Rollback:
    """The best model so far of a regression onto a layout, and the way back to it when training diverges.

    At Adam's peak rate, a stage-2 fit can blow up: on the first epochs of a 60,000 x 512 synthetic
    run the position loss went 0.002 -> 0.499 in one pass (every ReLU dead, the encoder a constant)
    and the map never recovered (NN rate 0.0). A smaller rate avoids it on that run but costs detail
    on others, and clipping the gradient's norm still left a smaller bump. So instead: keep a copy of
    the best model and optimiser (a few hundred KB), and when a pass's position loss exceeds
    :data:`DIVERGED` times the best, go back to them and halve the rate for the rest of the fit.
    """

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, schedule) -> None:
        self.model, self.optimizer, self.schedule = model, optimizer, schedule
        self.best, self.saved = math.inf, None

    def diverged(self, loss: float) -> bool:
        """Record a pass's mean position loss; True if it diverged (and the best state is back)."""
        if loss <= self.best:
            self.best = loss
            self.saved = ({name: value.detach().clone() for name, value in self.model.state_dict().items()},
                          copy.deepcopy(self.optimizer.state_dict()))
            return False
        if loss <= DIVERGED * self.best or self.saved is None:  # a NaN loss compares False: diverged
            return False
        self.model.load_state_dict(self.saved[0])
        self.optimizer.load_state_dict(self.saved[1])
        self.schedule.base_lrs = [rate / 2 for rate in self.schedule.base_lrs]
        return True


def _schedule(optimizer, n_passes: int, steps_per_pass: int, config: VisConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup_share`` of the steps, cosine decay to 0; x0.1 every ``lr_decay_passes``."""
    n_steps = n_passes * steps_per_pass
    warmup = max(1, int(round(config.train.warmup_share * n_steps)))

    def factor(step: int) -> float:
        decay = 0.1 ** (step // (config.train.lr_decay_passes * steps_per_pass)) if config.train.lr_decay_passes else 1.0
        cosine = 0.5 * (1.0 + math.cos(math.pi * min(step, n_steps) / n_steps))
        return min(1.0, (step + 1) / warmup) * cosine * decay

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _converged(history: list[dict[str, float]], config: VisConfig) -> bool:
    """True after ``patience`` passes in a row that improved the loss by less than ``min_improvement``."""
    if len(history) <= config.train.patience:
        return False
    recent = [entry["loss"] for entry in history[-(config.train.patience + 1):]]
    gains = [(before - after) / max(abs(before), 1e-12) for before, after in zip(recent[:-1], recent[1:])]
    return all(gain < config.train.min_improvement for gain in gains)
