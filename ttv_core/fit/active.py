"""Active-learning refinement, TrustVis's "proxy + AL" method (ALGORITHMS.md section 5).

The proxy model's territories can lie: a grid cell decoded to a representation x_g = Dec(cell) may be
classified one way, while the same x_g sent round the map, Dec(Enc(x_g)), is classified another.
Such a cell is *untrustworthy*. Refinement probes the map where the data lives, adds the
untrustworthy probes to the training graph as extra vertices linked to their nearest training
samples, and trains a few more passes at a lower learning rate, so the model learns to keep those
probes' classes through the round trip.

Decisions:

- The probes x_g are decoded ONCE, by the proxy model, and stay fixed: refinement is judged on the
  same points before and after (:class:`TrustMap`), so the comparison is fair.
- Probe vertices are appended AFTER the proxy graph's vertices (proxies 0..p-1, samples p..p+n-1,
  probes p+n..); their only edges join them to training samples. A probe added in one pass stays in
  the graph for the next ones, so the probes already fixed do not fail again; each pass adds at most
  ``max_new_vertices`` new ones.
- The proxy-ball split of section 5.3: a probe inside the ball (centre, radius) of a proxy other than
  the root (whose ball holds every sample) lies where the data lies in D; one outside every ball is the
  decoder's extrapolation. When more probes fail than ``max_new_vertices`` allows, the inside ones are
  taken first: the map must be right where the data is. (On the demo, whose clusters are too small to
  be split, 98-100 % of the probes lie inside a ball, so the split changes nothing there.)
- The model returned is the best one seen: fewest failing probes, among the passes that lower the
  training samples' PPR by at most ``al_ppr_tolerance``. A pass that makes the map worse is not kept;
  with nothing to fix (or a stop request before the first pass) it is the proxy model's copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse
import torch
from scipy.spatial import cKDTree
from torch import nn

from .._checks import argument_error, check_points
from ..errors import ConfigError
from .graph import fuzzy_membership, fuzzy_union, nearest_neighbors_between, training_edges
from ..data.head import Head
from .model import NotFittedError, VisModel, Visualizer
from ..devices import resolve_device
from .proxy import Proxies, ProxyVisualizer, hierarchical_proxies, proxy_graph
from ..canvas import Extent, extent_of, grid_points
from .train import Trainer, TrainingGraph

_BATCH = 4096  # rows sent round the map at a time: cache-sized blocks ran 2x faster than 16384 on a CPU


@dataclass(frozen=True, eq=False)
class TrustMap:
    """Where the map's territory can be trusted, on the probe grid, before and after refinement.

    Arrays are (resolution, resolution) booleans in image order (row 0 at ``extent.y_max``, as
    :func:`~ttv_core.canvas.grid_points`), made read-only. Both verdicts are on the SAME probes:
    the proxy model's decoding of the probe cells.

    Attributes
    ----------
    extent : Extent
        The probe grid's window (the proxy embedding's extent).
    resolution : int
    probe_mask : ndarray of bool, shape (resolution, resolution)
        Cells near a training sample's 2-D position: the probes.
    untrustworthy_before, untrustworthy_after : ndarray of bool, shape (resolution, resolution)
        Probe cells whose class does not survive the round trip, under the proxy model and under the
        refined model; always False outside ``probe_mask``.
    """

    extent: Extent
    resolution: int
    probe_mask: np.ndarray
    untrustworthy_before: np.ndarray
    untrustworthy_after: np.ndarray

    def __post_init__(self) -> None:
        shape = (self.resolution, self.resolution)
        for name in ("probe_mask", "untrustworthy_before", "untrustworthy_after"):
            array = getattr(self, name)
            if array.shape != shape or array.dtype != np.bool_:
                raise argument_error(name, "TrustMap", f"be a bool array of shape {shape}",
                                     f"{array.dtype} of shape {array.shape}")
            if name != "probe_mask" and (array & ~self.probe_mask).any():
                raise argument_error(name, "TrustMap", "be False outside probe_mask", "a True non-probe cell")
            array.setflags(write=False)

    @property
    def n_probes(self) -> int:
        return int(self.probe_mask.sum())

    def _preserved(self, untrustworthy: np.ndarray) -> float:
        return 1.0 - float(untrustworthy.sum()) / self.n_probes if self.n_probes else float("nan")

    @property
    def preserved_before(self) -> float:
        """Share of probe cells whose class survives the proxy model's round trip (NaN without probes)."""
        return self._preserved(self.untrustworthy_before)

    @property
    def preserved_after(self) -> float:
        """Share of probe cells whose class survives the refined model's round trip."""
        return self._preserved(self.untrustworthy_after)


def probe_mask(embedding: np.ndarray, extent: Extent, resolution: int, radius: float) -> np.ndarray:
    """Which cells of the ``resolution`` grid over ``extent`` lie within ``radius`` x side of a point.

    Returns bool, shape (resolution * resolution,), in :func:`~ttv_core.canvas.grid_points` order.
    """
    reach = radius * (extent.x_max - extent.x_min)
    distances, _ = cKDTree(np.asarray(embedding, np.float64)).query(grid_points(extent, resolution), k=1,
                                                                    distance_upper_bound=reach)
    return np.isfinite(distances)


def inside_proxy_balls(points: np.ndarray, proxies: Proxies) -> np.ndarray:
    """Whether each point lies in the ball (centre, radius) of a proxy other than the root (index 0).

    The root is the global mean, whose ball holds every sample by construction, so it says nothing.
    Returns bool, shape (n_points,).
    """
    centres, radii = proxies.centres[1:].astype(np.float32), proxies.radii[1:].astype(np.float32)
    inside = np.zeros(len(points), dtype=bool)
    if len(centres) == 0:
        return inside
    squared_centres = (centres**2).sum(1)
    for start in range(0, len(points), _BATCH):
        block = np.asarray(points[start : start + _BATCH], np.float32)
        squared = (block**2).sum(1)[:, None] + squared_centres[None, :] - 2.0 * block @ centres.T
        inside[start : start + len(block)] = (squared <= radii[None, :] ** 2).any(axis=1)
    return inside


def with_probes(graph: TrainingGraph, probes: np.ndarray, *, first_sample: int, n_samples: int, k: int,
                n_epochs: int) -> TrainingGraph:
    """``graph`` with ``probes`` appended as vertices after its own, each linked to its k nearest samples.

    The samples are ``graph.vertices[first_sample : first_sample + n_samples]``. Memberships are
    UMAP's (bipartite rows, one per probe), symmetrised by the fuzzy union; weak edges are dropped
    as in :func:`~ttv_core.fit.graph.training_edges`. Probe i is vertex ``len(graph.vertices) + i``, so
    calling it again on the result appends more probes after these (refinement adds each pass's so).
    """
    n_existing, n_probes = len(graph.vertices), len(probes)
    if n_probes == 0:
        return graph
    samples = graph.vertices[first_sample : first_sample + n_samples]
    indices, distances = nearest_neighbors_between(probes, samples, min(k, n_samples))
    membership = fuzzy_membership(indices, distances, n_vertices=n_samples, bipartite=True).tocoo()
    size = n_existing + n_probes
    directed = scipy.sparse.csr_matrix(
        (membership.data, (membership.row + n_existing, membership.col + first_sample)), shape=(size, size)
    )
    heads, tails, weights = training_edges(fuzzy_union(directed), n_epochs)
    return TrainingGraph(
        np.concatenate([graph.vertices, np.asarray(probes, np.float32)]),
        np.concatenate([graph.heads, heads]),
        np.concatenate([graph.tails, tails]),
        np.concatenate([graph.weights, weights]),
    )


@torch.no_grad()
def round_trip_classes(model: VisModel, head: nn.Module, points: torch.Tensor) -> torch.Tensor:
    """argmax head(Dec(Enc(x))) of each row of ``points`` (a tensor on the model's device), int64."""
    classes = [head(model.decoder(model.encoder(points[s : s + _BATCH]))).argmax(1) for s in
               range(0, len(points), _BATCH)]
    return torch.cat(classes) if classes else torch.zeros(0, dtype=torch.int64, device=points.device)


def choose_probes(failing: np.ndarray, inside: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Up to ``cap`` indices of failing probes: those inside a proxy ball first, each kind drawn at random.

    Returns sorted int64 indices into the probe set.
    """
    chosen: list[np.ndarray] = []
    for kind in (failing & inside, failing & ~inside):
        candidates = np.flatnonzero(kind)
        room = cap - sum(len(c) for c in chosen)
        if room > 0 and len(candidates):
            chosen.append(rng.choice(candidates, size=min(room, len(candidates)), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class _Probes:
    """Points whose class must survive the round trip, with the head's verdict on them (on ``device``)."""

    values: np.ndarray  # (m, D) float32, on the CPU (for the graph)
    points: torch.Tensor  # the same on the device (for the round trip)
    classes: torch.Tensor  # (m,) int64, argmax head(points)

    @classmethod
    @torch.no_grad()
    def of(cls, points: np.ndarray, head: nn.Module, device: torch.device) -> _Probes:
        values = np.ascontiguousarray(points, np.float32)
        tensor = torch.tensor(values, device=device)
        classes = [head(tensor[s : s + _BATCH]).argmax(1) for s in range(0, len(tensor), _BATCH)]
        return cls(values, tensor, torch.cat(classes) if classes else torch.zeros(0, dtype=torch.int64, device=device))

    def failing(self, model: VisModel, head: nn.Module) -> np.ndarray:
        """bool (m,): whose class the round trip through ``model`` changes."""
        return (round_trip_classes(model, head, self.points) != self.classes).cpu().numpy()


class ActiveVisualizer(Visualizer):
    """A proxy model refined where its territory is untrustworthy (method ``"al"``).

    Attributes
    ----------
    model_ : VisModel
        The REFINED model (``transform`` and ``inverse_transform`` use it); the proxy is never changed.
    history_ : list of dict
        One entry per refinement pass: the trainer's mean losses, ``untrustworthy`` (share of probes
        failing after the pass), ``ppr`` (on the training samples), ``added`` (new probe vertices),
        ``added_inside_balls``, ``probe_vertices`` (all probe vertices trained on) and ``kept``
        (whether this pass's model is the best so far).
    embedding_ : ndarray, shape (n_samples, 2)
        The map of the training samples: the proxy's map, each sample moved by as much as refinement
        moved its encoding (so an epoch that kept no refinement pass shows the proxy's map exactly).
    trust_map_ : TrustMap
        The probe grid's verdicts before and after refinement, in the proxy embedding's frame.
    proxies_ : Proxies
        The proxy tree of the graph refinement trained on.
    """

    def fit(
        self,
        representations: np.ndarray,
        *,
        head: Head,
        proxy: ProxyVisualizer,
        proxy_embedding: np.ndarray | None = None,
        on_pass_end: Callable[[dict[str, float]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ActiveVisualizer:
        """Refine a copy of ``proxy``'s model where its territory fails the round trip; returns self.

        Parameters
        ----------
        representations : ndarray, shape (n_samples, dim)
            The epoch's training representations, the ones ``proxy`` was fitted to.
        head : Head
            The epoch's classifier head g_e: it judges every round trip.
        proxy : ProxyVisualizer
            The fitted proxy visualizer of the same epoch (one without ``proxies_``, e.g. from an old cache, is
            fine: its proxy tree is rebuilt from its config). Read only, never changed.
        proxy_embedding : ndarray, shape (n_samples, 2), optional
            The proxy's map of these samples (its ``embedding_``; a stored result's train embedding
            when the proxy was rebuilt from its state). Default: ``proxy.embedding_``, else its encoding.
        on_pass_end : callable, optional
            Receives each :attr:`history_` entry as it is made.
        should_stop : callable, optional
            Polled before each pass; True ends refinement, keeping the best model so far.
        """
        config, resolution = self.config, self.config.active.probe_resolution
        samples = check_points(representations, "representations", owner="ActiveVisualizer.fit",
                               min_rows=2).astype(np.float32, copy=False)
        model = copy.deepcopy(self._check_proxy(proxy, samples, head))
        device = resolve_device(self.runtime.device)
        head_module = copy.deepcopy(head.module).to(device).eval().requires_grad_(False)
        proxies = getattr(proxy, "proxies_", None) or hierarchical_proxies(  # absent after from_state
            samples, head.n_classes, min_split=proxy.config.layout.proxy_min_split,
            dunn_threshold=proxy.config.layout.proxy_dunn_threshold, seed=proxy.config.seed)
        encoded = proxy.transform(samples)
        if proxy_embedding is None:
            proxy_embedding = getattr(proxy, "embedding_", encoded)
        embedding = check_points(proxy_embedding, "proxy_embedding", owner="ActiveVisualizer.fit", dim=2)
        if embedding.shape != encoded.shape:
            raise argument_error("proxy_embedding", "ActiveVisualizer.fit", f"have one row per sample, shape {encoded.shape}",
                                 f"shape {embedding.shape}", "Pass the proxy's map of exactly these samples.")
        extent = extent_of(embedding)
        mask = probe_mask(embedding, extent, resolution, config.active.probe_radius)
        decoded = proxy.inverse_transform(grid_points(extent, resolution)[mask])
        probes, data = _Probes.of(decoded, head_module, device), _Probes.of(samples, head_module, device)
        graph = proxy_graph(samples, proxies.centres, k=config.graph.n_neighbors, n_epochs=config.layout.graph_epochs)
        model.to(device)
        before = probes.failing(model, head_module)
        after, history = self._refine(model, graph, probes, data, inside_proxy_balls(decoded, proxies), before,
                                      head_module, on_pass_end, should_stop, first_sample=len(proxies.centres))

        def image(values: np.ndarray) -> np.ndarray:
            cells = np.zeros(resolution * resolution, dtype=bool)
            cells[mask] = values
            return cells.reshape(resolution, resolution)

        self.trust_map_ = TrustMap(extent, resolution, mask.reshape(resolution, resolution), image(before),
                                   image(after))
        self.proxies_ = proxies
        self._set_fitted(model.to(torch.device("cpu")), history)
        self.embedding_ = (embedding + (self.transform(samples) - encoded)).astype(np.float32)
        return self

    def _check_proxy(self, proxy: ProxyVisualizer, samples: np.ndarray, head: Head) -> VisModel:
        """The proxy's fitted model, after checking that it fits this data, head and architecture."""
        if not isinstance(proxy, Visualizer):
            raise ConfigError("The 'proxy' parameter of ActiveVisualizer.fit must be a fitted ProxyVisualizer. "
                              f"Got {type(proxy).__name__} instead.")
        if getattr(proxy, "model_", None) is None:
            raise NotFittedError("ActiveVisualizer.fit refines a fitted proxy model, but the ProxyVisualizer "
                                 "passed is not fitted. Call ProxyVisualizer(config=...).fit(representations, "
                                 "head=head) on the same epoch first.")
        dim = samples.shape[1]
        if proxy.dim_ != dim or head.dim != dim:
            raise argument_error("representations", "ActiveVisualizer.fit",
                                 f"have the proxy's and the head's dimension ({proxy.dim_}, {head.dim})",
                                 f"dimension {dim}", "Pass the representations of the epoch the proxy was fitted to.")
        expected = VisModel(dim, self.config.model.hidden, self.config.model.n_hidden_layers)
        if [p.shape for p in proxy.model_.parameters()] != [p.shape for p in expected.parameters()]:
            raise ConfigError("ActiveVisualizer's config must give the proxy model's architecture: hidden="
                              f"{proxy.config.model.hidden}, n_hidden_layers={proxy.config.model.n_hidden_layers}. Got hidden="
                              f"{self.config.model.hidden}, n_hidden_layers={self.config.model.n_hidden_layers} instead.")
        return proxy.model_

    def _refine(self, model: VisModel, graph: TrainingGraph, probes: _Probes, data: _Probes, inside: np.ndarray,
                failing: np.ndarray, head: nn.Module, on_pass_end, should_stop, *, first_sample: int):
        """Refinement passes (sections 5.3-5.4), in place on ``model``, which ends as the best one seen.

        A pass's model is kept when it fails fewer probes than the best so far without lowering the
        training samples' PPR by more than ``al_ppr_tolerance``. Returns (its failing probes, history).
        """
        config, rng = self.config, np.random.default_rng(self.config.seed)
        floor = 1.0 - data.failing(model, head).mean() - config.active.al_ppr_tolerance
        best_state, best_failing, history = copy.deepcopy(model.state_dict()), failing, []
        added, stale, n_samples = np.zeros(len(failing), dtype=bool), 0, len(data.values)
        for pass_index in range(config.active.al_max_passes):
            if not failing.any() or (should_stop is not None and should_stop()):
                break
            new = choose_probes(failing & ~added, inside, config.active.max_new_vertices, rng)
            added[new] = True  # probes fixed earlier stay in the graph, so they do not fail again
            graph = with_probes(graph, probes.values[new], first_sample=first_sample, n_samples=n_samples,
                                k=config.graph.n_neighbors, n_epochs=config.layout.graph_epochs)
            trainer = Trainer(config.replace(seed=config.seed + pass_index + 1), next(model.parameters()).device,
                              head=head, n_threads=self.runtime.cpu_threads)
            losses = trainer.run(model, graph, learning_rate=config.train.learning_rate * config.active.al_learning_rate_factor,
                                 max_passes=1)[0]
            failing, ppr = probes.failing(model, head), 1.0 - float(data.failing(model, head).mean())
            kept = bool(ppr >= floor and failing.sum() < best_failing.sum())
            history.append({**losses, "pass": pass_index, "untrustworthy": float(failing.mean()), "ppr": ppr,
                            "added": len(new), "added_inside_balls": int(inside[new].sum()),
                            "probe_vertices": int(added.sum()), "kept": kept})
            if on_pass_end is not None:
                on_pass_end(history[-1])
            stale = 0 if kept else stale + 1
            if kept:
                best_state, best_failing = copy.deepcopy(model.state_dict()), failing
            elif stale >= config.active.al_patience:
                break
        model.load_state_dict(best_state)
        return best_failing, history
