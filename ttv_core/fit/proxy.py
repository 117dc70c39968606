"""Proxy training, TrustVis's "proxy only" method (ALGORITHMS.md section 4).

A few hundred *proxies*, the centres of a hierarchical k-means tree over the epoch's representations,
join the training samples as extra graph vertices. Linked to the samples and to each other, they
anchor the layout's global structure (where each class sits relative to the others), which a kNN
graph over the samples alone only knows locally. That makes the map steadier across seeds and
epochs and lets training converge in fewer passes.

Vertex order in the graph: proxies first (0 .. p-1), then samples (p .. p+n-1). The original code
forgot that offset for one edge set, joining the wrong vertices; :func:`proxy_graph` applies it once,
in one place, and a test checks it.
"""

from __future__ import annotations

import copy
import math
from typing import Callable

import numpy as np
import scipy.sparse
import torch

from .proxies import Proxies, hierarchical_proxies
from .graph import (
    find_ab_params,
    fuzzy_membership,
    fuzzy_simplicial_set,
    fuzzy_union,
    nearest_neighbors_between,
    training_edges,
)
from .._checks import argument_error, check_points
from .alignment import best_rotation
from ..data.head import Head
from ..config import VisConfig
from .model import Visualizer
from ..devices import resolve_device
from .train import Trainer, TrainingGraph, cpu_threads, initial_layout, optimize_layout

SETTLED_SHARE = 0.9  # neighbourhoods kept (mean share) from which an epoch counts as settled: stage2_passes


def proxy_graph(samples: np.ndarray, proxies: np.ndarray, *, k: int, n_epochs: int,
                sample_neighbors: tuple[np.ndarray, np.ndarray] | None = None) -> TrainingGraph:
    """The training graph over proxies (vertices 0..p-1) and samples (vertices p..p+n-1).

    Edges: UMAP's fuzzy kNN graph among the samples; a fuzzy kNN graph among the proxies; and every
    proxy linked to its k nearest samples (fuzzy memberships, symmetrised). A sample's link to its
    nearest other sample, which the original added separately, is already in the sample graph with
    membership 1. ``sample_neighbors``: the samples' kNN, ``nearest_neighbors(samples, k)``, when
    the caller has it already.
    """
    n_proxies, n_samples = len(proxies), len(samples)
    k = min(k, n_samples - 1)
    if sample_neighbors is not None and sample_neighbors[0].shape != (n_samples, k):
        sample_neighbors = None  # for another k: compute the right one
    among_samples = fuzzy_simplicial_set(samples, k, neighbors=sample_neighbors)
    among_proxies = (
        fuzzy_simplicial_set(proxies, min(k, n_proxies - 1))
        if n_proxies >= 3
        else scipy.sparse.csr_matrix((n_proxies, n_proxies), dtype=np.float32)
    )
    indices, distances = nearest_neighbors_between(proxies, samples, k)
    proxy_to_sample = fuzzy_membership(indices, distances, n_vertices=n_samples, bipartite=True)
    directed = scipy.sparse.bmat([[among_proxies, proxy_to_sample], [None, among_samples]], format="csr")
    heads, tails, weights = training_edges(fuzzy_union(directed), n_epochs)
    vertices = np.concatenate([proxies, samples]).astype(np.float32)
    return TrainingGraph(vertices, heads, tails, weights)


def weaken_cross_class_edges(graph: TrainingGraph, classes: np.ndarray, factor: float) -> TrainingGraph:
    """``graph`` with every edge between vertices of different predicted class scaled by ``factor``.

    A map of a classifier is read by its territories: a point drawn among points of another predicted
    class round-trips to that class (PPR fails there, mostly on test points). Weakening, not cutting,
    these edges (umap-learn's supervised mode cuts them to exp(-5)) keeps classes apart in 2-D while
    the neighbourhoods that cross a decision boundary still pull. ``classes``: shape (n_vertices,).
    """
    crossing = classes[graph.heads] != classes[graph.tails]
    weights = np.where(crossing, graph.weights * np.float32(factor), graph.weights).astype(np.float32)
    return TrainingGraph(graph.vertices, graph.heads, graph.tails, weights)


def _checked_chain_inputs(strength, previous_embedding, n_samples: int):
    """``temporal_strength`` and ``previous_embedding`` of :meth:`ProxyVisualizer.fit`, checked.

    Raises DataError naming the argument, its expected shape and what it got.
    """
    owner = "ProxyVisualizer.fit"
    if strength is not None:
        strength = np.asarray(strength, dtype=np.float64)
        if strength.ndim > 1 or (strength.ndim == 1 and len(strength) != n_samples):
            raise argument_error("temporal_strength", owner, f"be one number or one per sample, shape ({n_samples},)",
                                 f"shape {strength.shape}", "Pass each sample's share of its neighbours kept.")
        if not np.all(np.isfinite(strength) & (strength >= 0) & (strength <= 1)):
            raise argument_error("temporal_strength", owner, "lie in [0, 1]",
                                 f"values from {np.nanmin(strength)} to {np.nanmax(strength)}",
                                 "It is a share of neighbours kept.")
    if previous_embedding is not None:
        previous_embedding = check_points(previous_embedding, "previous_embedding", owner=owner, dim=2)
        if len(previous_embedding) != n_samples:
            raise argument_error("previous_embedding", owner, f"have one row per sample, shape ({n_samples}, 2)",
                                 f"shape {previous_embedding.shape}",
                                 "Pass the previous epoch's map of the same samples, in the same order.")
    return strength, previous_embedding


def vertex_strengths(strength: float | np.ndarray | None, n_proxies: int, n_samples: int) -> np.ndarray:
    """The temporal strength of every graph vertex, shape (n_proxies + n_samples,), float32.

    ``strength``: one value for all, or one per sample. Proxies, new k-means centres each epoch, have
    no neighbourhood of their own to keep: they take the samples' mean.
    """
    per_sample = np.broadcast_to(np.asarray(0.0 if strength is None else strength, np.float32), (n_samples,))
    return np.concatenate([np.full(n_proxies, per_sample.mean(), np.float32), per_sample])


def stage2_passes(config: VisConfig, n_vertices: int, *, warm: bool,
                  strength: float | np.ndarray | None = None) -> int:
    """Stage-2 passes of a fit over ``n_vertices`` graph vertices.

    Cold: ``max_passes``. Warm: ``warm_max_passes`` where the representation changed, half where it
    settled (90 % or more of the neighbourhoods kept, mean over the samples): a settled epoch's layout is
    close to the previous one, which the carried model already fits (demo, epoch 11: NN 0.518 after 20
    passes, 0.527 after 50); early epochs still change and need them all (epoch 3: 0.426 vs 0.458).

    Past ``passes_reference`` vertices, fewer passes, as sqrt(passes_reference / n_vertices): a pass
    over more vertices takes more steps, and the map's detail does not grow with the sample count as
    fast as the count. A 60,000 x 512 epoch, cold: 33 passes in 136 s, 80 in 282 s (whole fit, 2 cores).
    There the encoder keeps NN 0.100 of the layout's 0.176 (once its divergence is rolled back:
    ``train._Rollback``); at 10,000, 0.483 of 0.523.
    """
    settled = warm and strength is not None and float(np.mean(strength)) >= SETTLED_SHARE
    passes = config.train.warm_max_passes if warm else config.train.max_passes
    passes = max(1, passes // 2) if settled else passes
    shrink = min(1.0, math.sqrt(config.train.passes_reference / max(n_vertices, 1)))
    return max(1, int(round(passes * shrink)))


def layout_spread(layout: np.ndarray) -> float:
    """The size of a 2-D layout, shape (n, 2): twice the standard deviation of its centred coordinates.

    The same measure :meth:`~ttv_core.fit.model.VisModel.set_units` takes as the canvas unit.
    """
    layout = np.asarray(layout, np.float64)
    return float(2.0 * (layout - layout.mean(0)).std())


def representation_spread(units_or_points) -> float:
    """Root of the total variance of representations: their overall size, whatever the dimension.

    Takes the points, shape (n, dim), or a model's per-dimension input scales, shape (dim,).
    """
    values = np.asarray(units_or_points, np.float64)
    return float(np.sqrt((values**2).sum() if values.ndim == 1 else values.var(0, ddof=1).sum()))


def unturned(start: np.ndarray, layout: np.ndarray) -> np.ndarray:
    """``layout`` rotated about its centre back onto ``start`` (best proper rotation, never a mirror).

    Stage 1 moves the vertices from where the previous map put them; where much changed (classes
    merging, splitting) the whole picture could turn with the change (synthetic run: 27.6 degrees in
    one epoch). A 2-D map's orientation carries no meaning, so turning it back costs no faithfulness
    and keeps the animation from spinning.
    """
    alignment = best_rotation(start, layout, allow_reflection=False)
    centre = layout.mean(0)
    return ((layout - centre) @ alignment.matrix.T + centre).astype(np.float32)


def is_keyframe(config: VisConfig, strength: float | np.ndarray | None) -> bool:
    """Whether a warm start is laid out afresh: fewer than ``keyframe_below`` of the neighbourhoods kept.

    Where most neighbourhoods changed, the previous map is a poor start: a layout optimised from it
    keeps an arrangement the representation no longer has (a run whose dimensions were rescaled
    between epochs: NN rate 0.92 -> 0.18 in four warm epochs).
    """
    return strength is not None and float(np.mean(strength)) < config.layout.keyframe_below


def placed(start: np.ndarray, layout: np.ndarray, samples_were: np.ndarray | None = None) -> np.ndarray:
    """A fresh ``layout`` turned, mirrored if that fits better, and moved onto where the previous map
    had its samples (``samples_were``, shape (n_samples, 2), the layout's last rows), else onto
    ``start``; shape (n_vertices, 2).

    A fresh layout's orientation and handedness are arbitrary: put where the samples were, the
    keyframe neither spins nor flips the animation.
    """
    if samples_were is None:
        return best_rotation(start, layout, allow_reflection=True).apply(layout)
    alignment = best_rotation(samples_were, layout[len(layout) - len(samples_were):], allow_reflection=True)
    return alignment.apply(layout)


def landing_toward(start: np.ndarray, landing: np.ndarray, share: float | np.ndarray) -> np.ndarray:
    """``start`` (n_vertices, 2) with its samples (the last ``len(landing)`` rows) moved ``share`` (one for all
    or one per sample) of the way to ``landing``, the next keyframe's layout; the proxies, new every epoch,
    where ``start`` has them.

    A stretch is a chain of small steps, a keyframe one long step from the keyframe before, and the two
    never end in quite the same place (40-epoch synthetic run, stretches of 10: the map moved 0.24 of its
    size at a stretch's start, against 0.19 at most inside one). Starting each epoch of a stretch from,
    and anchoring it to (``optimize_layout``), a point ``share`` of the way to where the next keyframe
    has the sample spreads that difference evenly over the stretch.
    """
    moved = np.array(start, np.float32)
    rows = slice(len(moved) - len(landing), None)
    share = np.asarray(share, np.float32)
    moved[rows] += (share[:, None] if share.ndim else share) * (np.asarray(landing, np.float32) - moved[rows])
    return moved


def canvas_of(previous: Visualizer) -> tuple[float, float, float]:
    """(layout size, canvas scale, representation spread) of a fitted visualizer's last fit.

    A model fitted before the canvas was recorded: its layout size is its canvas unit, at scale 1, and
    its input units give the spread.
    """
    model = previous._check_fitted()
    canvas = getattr(previous, "canvas_", None)
    if canvas is not None:
        return float(canvas["layout_size"]), float(canvas["scale"]), float(canvas["spread"])
    return float(model.encoder.output_scale[0]), 1.0, representation_spread(model.encoder.input_scale.numpy())


def resized(layout: np.ndarray, size: float) -> np.ndarray:
    """``layout`` scaled about its centre to :func:`layout_spread` ``size`` (float32, same shape).

    A UMAP layout has no natural scale, and a warm start inherits the scale of the representations
    through the previous encoder: where they grow over training (they usually do), each epoch's map
    came out larger than the last (demo: 2.3x wider at epoch 20 than at epoch 1; a run whose
    representations grow faster blew up to 50x and the layout no longer converged). Held at one
    size, the animation keeps its frame and each layout stays in the range UMAP's curve is tuned to.
    """
    layout = np.asarray(layout, np.float64)
    centre, spread = layout.mean(0), layout_spread(layout)
    if not np.isfinite(size) or size <= 0 or spread <= 0:
        return layout.astype(np.float32)
    return (centre + (layout - centre) * (size / spread)).astype(np.float32)


class ProxyVisualizer(Visualizer):
    """Visualization model of one epoch trained on the proxy graph (method ``"proxy"``).

    Two stages (:mod:`ttv_core.fit.train`): UMAP's optimisation of free 2-D positions of the graph's
    vertices, then the encoder regressed onto those positions, the decoder trained on the positions
    to reconstruct the vertices and keep the head's verdicts. The training samples are shown where
    the layout put them (``embedding_``); the encoder places new points. A warm start begins both stages
    where the previous epoch's map left off, so it needs far fewer epochs and passes; a keyframe
    (:func:`is_keyframe`) is laid out and fitted afresh, then placed where the previous map was.

    Attributes
    ----------
    proxies_ : Proxies
        The proxy tree used for training.
    n_edges_ : int
        Edges of the training graph.
    layout_ : ndarray, shape (n_samples, 2)
        Stage 1's positions of the samples, which the encoder was fitted to, in layout units.
    embedding_ : ndarray, shape (n_samples, 2)
        The map of the training samples: ``layout_`` on the canvas (times ``canvas_["scale"]``), as
        umap-learn's ``embedding_``. ``transform`` places new points (test samples) with the encoder,
        which is within about 1 % of the map's spread of it but loses fine detail on large runs: at
        60,000 x 512 its map keeps NN rate 0.11-0.12, the layout's 0.17 (umap-learn's about 0.2).
    canvas_ : dict
        ``layout_size`` (the chain's one layout size), ``scale`` (the canvas growth so far) and
        ``spread`` (the representations' size): what the next epoch's warm start continues from.
    keyframe_ : bool
        Whether this warm start was laid out afresh (:func:`is_keyframe`).
    """

    def state(self) -> dict:
        """The fitted state plus the proxy tree, so a visualizer rebuilt from the cache keeps it."""
        proxies = getattr(self, "proxies_", None)
        extra = {} if proxies is None else {"proxies": {"centres": proxies.centres, "radii": proxies.radii,
                                                         "sizes": proxies.sizes}}
        if hasattr(self, "keyframe_"):
            extra["keyframe"] = bool(self.keyframe_)
        return {**super().state(), **extra}

    @classmethod
    def from_state(cls, state: dict) -> "ProxyVisualizer":
        visualizer = super().from_state(state)
        if "proxies" in state:
            visualizer.proxies_ = Proxies(**state["proxies"])
        if "keyframe" in state:
            visualizer.keyframe_ = bool(state["keyframe"])
        return visualizer

    def fit(
        self,
        representations: np.ndarray,
        *,
        head: Head | None = None,
        n_classes: int | None = None,
        previous: Visualizer | None = None,
        temporal_strength: float | np.ndarray | None = None,
        previous_embedding: np.ndarray | None = None,
        sample_neighbors: tuple[np.ndarray, np.ndarray] | None = None,
        on_pass_end: Callable[[dict[str, float]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        long_step: bool = False,
        landing: np.ndarray | None = None,
        landing_share: float | np.ndarray = 0.0,
    ) -> "ProxyVisualizer":
        """Fit to one epoch's representations, shape (n_samples, dim); returns self.

        ``head`` enables the prediction-preserving loss and weakens the graph's edges across its
        decisions; ``previous`` (the last epoch's fitted visualizer) warm-starts the layout and the
        model and, with ``temporal_strength`` > 0, anchors the map near the previous one (None: no
        anchor, and never a keyframe, since how much changed is not known): one strength
        for every sample, or one per sample, shape (n_samples,), each in [0, 1] (DVI's share of the
        sample's neighbours kept since the previous epoch: a sample whose neighbourhood changed is
        free to move, one whose neighbourhood held stays). ``previous_embedding``, shape (n_samples, 2):
        where the previous map showed these samples, which a keyframe (:func:`is_keyframe`) is put onto
        (without it, onto where the previous map puts this epoch's representations).
        ``sample_neighbors``: ``graph.nearest_neighbors(representations, n_neighbors)`` if the caller
        computed it already (the chain does, for the temporal strength). ``long_step``: ``previous`` is
        several epochs back (a stretch's start, :func:`ttv_core.run.chain.chain_basis`): the fit stays
        warm however much changed, so the stretch starts where the map was, with a cold fit's layout epochs.
        ``landing``, shape (n_samples, 2): the next keyframe's layout of the samples (its ``layout_``), which
        a warm start's layout starts from and is held to in ``landing_share`` (0 to 1; one for all samples or
        one each) blended with where the previous map puts them, so a stretch ends where the next one starts.
        """
        samples = np.asarray(representations, dtype=np.float32)
        temporal_strength, previous_embedding = _checked_chain_inputs(temporal_strength, previous_embedding,
                                                                      len(samples))
        if landing is not None:
            landing = check_points(landing, "landing", owner="ProxyVisualizer.fit", dim=2)
            if len(landing) != len(samples):
                raise argument_error("landing", "ProxyVisualizer.fit", f"have one row per sample, shape ({len(samples)}, 2)",
                                     f"shape {landing.shape}", "Pass the next keyframe's layout of the same samples.")
            landing_share = np.asarray(landing_share, np.float32)
            if landing_share.shape not in ((), (len(samples),)) or not np.all((landing_share >= 0) & (landing_share <= 1)):
                raise argument_error("landing_share", "ProxyVisualizer.fit", "be one number or one per sample in [0, 1]",
                                     f"shape {landing_share.shape}, values {landing_share.min()} to {landing_share.max()}",
                                     "Pass how far each sample is drawn towards the next keyframe.")
        with cpu_threads(resolve_device(self.runtime.device), self.runtime.cpu_threads):
            return self._fit(samples, head, n_classes, previous, temporal_strength, previous_embedding,
                             sample_neighbors, on_pass_end, should_stop, long_step, landing, landing_share)

    def _fit(self, samples, head, n_classes, previous, temporal_strength, previous_embedding, sample_neighbors,
             on_pass_end, should_stop, long_step=False, landing=None, landing_share=0.0):
        config, warm = self.config, previous is not None
        n_first = n_classes if n_classes is not None else (head.n_classes if head is not None else 10)
        proxies = hierarchical_proxies(samples, n_first, min_split=config.layout.proxy_min_split,
                                       dunn_threshold=config.layout.proxy_dunn_threshold, seed=config.seed)
        graph = proxy_graph(samples, proxies.centres, k=config.graph.n_neighbors, n_epochs=config.layout.graph_epochs,
                            sample_neighbors=sample_neighbors)
        if head is not None and config.layout.cross_class_weight != 1.0:
            graph = weaken_cross_class_edges(graph, head.predict(graph.vertices), config.layout.cross_class_weight)
        device = resolve_device(self.runtime.device)
        trainer = Trainer(config, device, on_pass_end=on_pass_end, should_stop=should_stop,
                          n_threads=self.runtime.cpu_threads)
        if head is not None:
            trainer.head = copy.deepcopy(head.module).to(device).eval().requires_grad_(False)
        # Stage 1: the layout, from where the previous map puts this epoch's vertices on a warm start, at
        # the previous layout's size (see resized). A keyframe (most neighbourhoods changed) is laid out
        # afresh, then put where the previous map was (see keyframe).
        fresh = not warm or (is_keyframe(config, temporal_strength) and not long_step)
        if warm:
            size, canvas, spread = canvas_of(previous)
            start = resized(previous.transform(graph.vertices) / np.float32(canvas), size)  # canvas: scale_canvas
            if landing is not None and not fresh:  # a stretch heads for the next keyframe (landing_toward)
                start = landing_toward(start, landing, landing_share)
        a, b = find_ab_params(config.graph.spread, config.graph.min_dist)
        layout = optimize_layout(
            graph, initial_layout(graph.vertices) if fresh else start, a=a, b=b,
            n_epochs=config.layout.layout_epochs if fresh or long_step else config.layout.warm_layout_epochs,
            negative_rate=config.layout.negative_sample_rate, seed=config.seed, device=device,
            learning_rate=1.0 if fresh else config.layout.warm_layout_rate,
            anchor_strength=0.0 if fresh else config.train.lambda_temporal * vertex_strengths(
                temporal_strength, len(proxies.centres), len(samples)),
            n_threads=self.runtime.cpu_threads,
        )
        if warm:  # one layout size for the whole chain: the canvas units stay put; and no turn (below)
            if fresh:
                was = None if previous_embedding is None else np.asarray(previous_embedding, np.float32) / canvas
                layout = placed(start, layout, was)
            layout = resized(layout if fresh else unturned(start, layout), size)
        # Stage 2: the model, fitted to the layout. A warm start keeps the previous model's function but
        # takes this epoch's units: representations grow and maps spread over training, and a model left
        # in epoch 1's units fitted each later layout worse (demo, epoch 20: NN rate 0.30 vs 0.46 in the
        # layout's units). The temporal term acts in stage 1 only: the layout is already held near the
        # previous map, and pulling the encoder towards the previous positions too only kept it off
        # this layout (demo, epoch 2: NN rate 0.41 with it, 0.45 without; epoch 10 equal).
        vertices, positions = torch.from_numpy(graph.vertices), torch.from_numpy(layout)
        if fresh:
            model = self._new_model(samples.shape[1]).set_units(vertices, positions)
        else:
            model = copy.deepcopy(previous._check_fitted()).scale_canvas(1.0 / canvas)
            model.set_units(vertices, positions, keep_function=True)
        # A long step trains like a cold fit (passes, rate) from the model K epochs back: with a warm fit's,
        # the encoder held the new layout too loosely to place test samples (100-epoch synthetic run, test
        # PPR at keyframes 21 / 41: 0.744 / 0.838 warm, 0.860 / 0.860 so, 0.802 / 0.864 from a new model).
        cold = fresh or long_step
        history = trainer.run(model, graph, layout=layout,
                              max_passes=stage2_passes(config, len(graph.vertices), warm=not cold, strength=temporal_strength),
                              learning_rate=None if cold else config.train.warm_learning_rate)
        # The map shown grows with the representations, damped (canvas_growth): the layout is fitted at
        # one size, then the canvas is scaled (a similarity: no figure but the temporal ones changes).
        spread_now = representation_spread(samples)
        scale = canvas * (spread_now / spread) ** config.layout.canvas_growth if warm else 1.0
        self.canvas_ = {"layout_size": size if warm else layout_spread(layout), "scale": scale, "spread": spread_now}
        model.scale_canvas(scale)
        self.keyframe_ = warm and fresh
        self.proxies_ = proxies
        self.n_edges_ = int(len(graph.weights))
        self.layout_ = layout[len(proxies.centres) :]
        self.embedding_ = self.layout_ * np.float32(scale)  # scale_canvas scales about the origin, as here
        return self._set_fitted(model.to(torch.device("cpu")), history)
