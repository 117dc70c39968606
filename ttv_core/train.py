"""Training a visualization model on a weighted graph (ALGORITHMS.md section 3).

The loop is short on purpose (minGPT's ``Trainer.run``): each *pass* samples edges in proportion to
their weight, and every step of a pass pulls the 2-D images of an edge's two ends together (UMAP's
cross-entropy, with in-batch negatives pushed apart), reconstructs both ends through the decoder,
keeps the head's verdict on the reconstruction equal to its verdict on the original (the
prediction-preserving term, which aims at PPR directly), and, when the model was warm-started from
the previous epoch, keeps its weights near that epoch's (DVI's temporal term). Progress leaves the
loop through ``on_pass_end``; a caller stops it by returning True from ``should_stop``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .config import VisConfig
from .graph import find_ab_params, sample_edges
from .model import VisModel

_CLAMP = 1e-4  # the original's clamp of q, keeps log() finite


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


@dataclass(frozen=True)
class TemporalAnchor:
    """Where the previous epoch's model stood, and how strongly to stay near it.

    ``strength`` is DVI's mean neighbourhood preservation between the two epochs, in [0, 1]: the
    more each sample's high-dimensional neighbours stayed the same, the less the map may move.
    """

    parameters: tuple[torch.Tensor, ...]
    strength: float


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


def temporal_loss(model: nn.Module, anchor: TemporalAnchor) -> torch.Tensor:
    """Squared distance of the weights from the previous epoch's, scaled by the anchor's strength."""
    total = sum(((p - q) ** 2).sum() for p, q in zip(model.parameters(), anchor.parameters))
    return anchor.strength * total


@dataclass
class Trainer:
    """Fits a :class:`VisModel` to a :class:`TrainingGraph` under a :class:`VisConfig`.

    ``head`` (the classifier head as a torch module) enables the prediction-preserving term;
    ``anchor`` enables the temporal term.
    """

    config: VisConfig
    device: torch.device
    head: nn.Module | None = None
    anchor: TemporalAnchor | None = None
    on_pass_end: Callable[[dict[str, float]], None] | None = None
    should_stop: Callable[[], bool] | None = None

    def run(self, model: VisModel, graph: TrainingGraph, *, learning_rate: float | None = None,
            max_passes: int | None = None) -> list[dict[str, float]]:
        """Train ``model`` in place; returns one dict of mean losses per pass."""
        config, rng = self.config, np.random.default_rng(self.config.seed)
        generator = torch.Generator().manual_seed(self.config.seed)
        a, b = find_ab_params(config.spread, config.min_dist)
        vertices = torch.from_numpy(np.ascontiguousarray(graph.vertices, np.float32)).to(self.device)
        model.to(self.device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate or config.learning_rate,
                                     weight_decay=config.weight_decay)
        decay = config.lr_decay_passes
        schedule = torch.optim.lr_scheduler.StepLR(optimizer, step_size=decay, gamma=0.1) if decay else None
        n_samples = max(config.batch_size, int(round(config.edge_samples_per_pass * graph.weights.sum())))
        history: list[dict[str, float]] = []
        for pass_index in range(max_passes or config.max_passes):
            start, totals = time.perf_counter(), {}
            picked = sample_edges(graph.weights, n_samples, rng)
            for batch in np.array_split(picked, max(1, len(picked) // config.batch_size)):
                losses = self._step(model, vertices, graph.heads[batch], graph.tails[batch], a, b, generator)
                optimizer.zero_grad(set_to_none=True)
                losses["loss"].backward()
                optimizer.step()
                for name, value in losses.items():
                    totals[name] = totals.get(name, 0.0) + float(value.detach()) * len(batch) / len(picked)
            if schedule is not None:
                schedule.step()
            history.append({"pass": pass_index, **totals, "seconds": time.perf_counter() - start})
            if self.on_pass_end is not None:
                self.on_pass_end(history[-1])
            if _converged(history, config) or (self.should_stop is not None and self.should_stop()):
                break
        model.eval()
        return history

    def _step(self, model, vertices, heads, tails, a, b, generator) -> dict[str, torch.Tensor]:
        config = self.config
        # A batch's edges touch far fewer distinct vertices than 2 x edges: encode each once, then gather.
        touched, positions = np.unique(np.concatenate([heads, tails]), return_inverse=True)
        x = vertices[torch.from_numpy(touched).to(self.device)]
        z, reconstructed = model(x)
        ends = torch.from_numpy(positions).to(self.device)
        z_from, z_to = z[ends[: len(heads)]], z[ends[len(heads) :]]
        losses = {"umap": umap_loss(z_from, z_to, a=a, b=b, negative_rate=config.negative_sample_rate,
                                    generator=generator)}
        losses["reconstruction"] = nn.functional.mse_loss(reconstructed, x)
        total = losses["umap"] + config.lambda_reconstruction * losses["reconstruction"]
        if self.head is not None and config.lambda_prediction > 0:
            losses["prediction"] = prediction_loss(self.head, x, reconstructed)
            total = total + config.lambda_prediction * losses["prediction"]
        if self.anchor is not None and config.lambda_temporal > 0:
            losses["temporal"] = temporal_loss(model, self.anchor)
            total = total + config.lambda_temporal * losses["temporal"]
        losses["loss"] = total
        return losses


def _converged(history: list[dict[str, float]], config: VisConfig) -> bool:
    """True after ``patience`` passes in a row that improved the loss by less than ``min_improvement``."""
    if len(history) <= config.patience:
        return False
    recent = [entry["loss"] for entry in history[-(config.patience + 1):]]
    gains = [(before - after) / max(abs(before), 1e-12) for before, after in zip(recent[:-1], recent[1:])]
    return all(gain < config.min_improvement for gain in gains)
