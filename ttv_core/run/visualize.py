"""A run's time-travelling visualization: one 2-D map per epoch, memoized, with territories and figures.

:class:`Visualization` is what the command line, the dashboard and notebooks use::

    viz = Visualization(dynamics, "proxy").fit(on_epoch_end=print)
    viz.results_[12].embeddings["train"]       # (n_train, 2)
    viz.territory(12).png()                    # the coloured background, in viz.extent_
    viz.figures(12)["ppr_train"]

Epoch e's map is warm-started from epoch e-1's (and anchored to it by DVI's temporal loss), so the
animation does not jump, rotate or mirror. The epochs fall into *stretches* of ``stretch_epochs``
(:func:`~ttv_core.run.chain.chain_basis`): a stretch's first epoch (a *keyframe*) starts from the keyframe one stretch
earlier instead, so asking for epoch 190 computes the keyframes 1, 21, ..., 181 and epochs 182-190,
not all 190; a stretch's epochs head for the next keyframe's map (:func:`~ttv_core.run.chain.landing_of`),
and once the keyframes are there the stretches are independent of each other.
A result is a pure function of (data, method, config, epoch).
Every result is stored in the cache (:mod:`ttv_core.run.store`) under a key that includes the key of
the result it started from, so a killed run resumes where it stopped and a finished one recomputes
nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from ..config import Runtime, VisConfig
from ..data.dynamics import SPLITS, TrainingDynamics
from ..errors import ConfigError
from ..fit.graph import nearest_neighbors
from .store import ResultStore, result_key
from ..fit.model import Visualizer
from ..devices import resolve_device
from ..fit.train import cpu_threads
from ..canvas import Extent, epoch_windows, extent_of
from ..draw.territory import Territory, render_territory
from .results import EpochProgress, EpochResult
from .chain import (chain_basis, chain_of, epoch_key, is_keyframe_index, is_long_step, landing_of, landing_share,
                    neighbourhood_kept)

METHODS = ("proxy", "al", "umap")
SLIM = "/slim"  # a result's key + this: the result without its model, for slim reads (Visualization.fit)
EPOCH_STATES = ("cached", "computed")


@dataclass
class Visualization:
    """Fits, stores and renders one method's maps over a run's epochs.

    Parameters
    ----------
    dynamics : TrainingDynamics
    method : {"proxy", "al", "umap"}
    config : VisConfig
        What the maps are fitted with: part of every result's key.
    cache_dir : str or Path, optional
    runtime : Runtime
        Where fits run (device, CPU threads): never part of a key, so it can change without recomputing.
    """

    dynamics: TrainingDynamics
    method: str = "proxy"
    config: VisConfig = field(default_factory=VisConfig)
    cache_dir: Any = None
    runtime: Runtime = field(default_factory=Runtime)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"The 'method' parameter must be one of {METHODS}. Got {self.method!r} instead.")
        self.store = ResultStore(self.cache_dir)

    # -- fitting ---------------------------------------------------------------------------------
    def fit(
        self,
        epochs: list[int] | None = None,
        *,
        on_epoch_start: Callable[[int], None] | None = None,
        on_epoch_end: Callable[[EpochProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        compute: bool = True,
        on_pass_end: Callable[[int, dict[str, float]], None] | None = None,
        start: EpochResult | list[EpochResult] | None = None,
        slim: bool = False,
    ) -> "Visualization":
        """Compute (or read) the maps of ``epochs`` (default: all); returns self.

        Sets ``epochs_`` (what was asked), ``results_`` (epoch -> EpochResult, for every epoch
        computed on the way), ``missing_`` (asked epochs not in ``results_``), ``extent_`` (one square
        holding all asked epochs' maps), ``windows_`` / ``whole_`` (frames, see :meth:`window`), ``cancelled_`` and ``keys_`` (the cache keys of every
        result read or computed, the chained proxy maps of "al" included) and ``chained_keys_`` (epoch
        -> the key of its chained map: the proxy map under "al", the map itself otherwise).

        ``should_stop()`` is polled during training; an epoch cut short is neither kept nor stored.
        With ``compute=False`` nothing is trained: the maps already in the cache are read, up to the
        first epoch that is not there (the dashboard's views use this while a background job fills the
        cache). ``start``: keyframes' chained results at hand, one or a list (a worker fitting one stretch,
        :mod:`ttv_core.run.fanout`, gets the keyframes it starts from and lands on): the chain walks back
        to them instead of to the first epoch. With ``slim``, ``results_`` keep each epoch's embeddings only,
        and the model and trust map are read back from the cache when a territory, frame or figure needs
        them (a view of a long, large run: at 60,000 samples a result is 1.9 MB, its embeddings 0.56 MB).
        """
        if self.config.graph.n_neighbors >= self.dynamics.n_train:
            raise ConfigError(f"The 'n_neighbors' parameter ({self.config.graph.n_neighbors}) must be below the run's "
                              f"{self.dynamics.n_train} training samples. Use --n-neighbors / VisConfig.of(n_neighbors=...) "
                              f"of at most {self.dynamics.n_train - 1}.")
        asked = sorted(self.dynamics.check_epoch(e) for e in (epochs or self.dynamics.epochs))
        given = {r.epoch: r for r in ([] if start is None else [start] if isinstance(start, EpochResult) else start)}
        chain = chain_of(list(self.dynamics.epochs), asked, self.config.layout.stretch_epochs, tuple(given),
                         lands=self.method != "umap")
        self.epochs_, self.results_, self.cancelled_, self.keys_, self.chained_keys_ = asked, {}, False, set(), {}
        stop = should_stop or (lambda: False)
        self._on_pass_end = on_pass_end or (lambda epoch, losses: None)  # (epoch, a training pass's losses)
        self._knn_memo: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._slim, self._unlanded = slim, False
        with cpu_threads(resolve_device(self.runtime.device), self.runtime.cpu_threads):
            self._fit_chain(chain, given, stop, on_epoch_start, on_epoch_end, compute)
            self._keep_prefix(asked, compute)
            if not compute and self.config.layout.stretch_epochs and not set(asked) <= set(self.results_):
                self._read_unlanded(chain, given, asked)
        self.missing_ = [e for e in asked if e not in self.results_]
        self._extent = None  # extent_, computed when asked (at 200 epochs x 60,000 samples: 1.5 s)
        self.windows_, self.whole_ = epoch_windows({e: self.results_[e].embeddings.values() for e in asked
                                                    if e in self.results_})
        return self

    @property
    def extent_(self) -> Extent | None:
        """One square holding the train maps of every asked epoch with a map (None for none); see :meth:`fit`."""
        if getattr(self, "_extent", None) is None:
            if not hasattr(self, "results_"):
                raise ConfigError("This Visualization is not fitted yet; call fit first.")
            done = [self.results_[e].embeddings["train"] for e in self.epochs_ if e in self.results_]
            self._extent = extent_of(done) if done else None
        return self._extent

    def _keep_prefix(self, asked: list[int], compute: bool) -> None:
        """Views expect a prefix of the asked epochs: after a gap in a read-only or cancelled fit, keyframes wait."""
        gap = min((e for e in asked if e not in self.results_), default=None)
        if gap is not None and (not compute or self.cancelled_):
            self.results_ = {e: result for e, result in self.results_.items() if e < gap}

    def _read_unlanded(self, chain, given, asked: list[int]) -> None:
        """A read-only fit's second look, for a run that grew: its last stretch was fitted before the keyframe
        after it existed, without landing, and is being refitted to land on it. Until that is done, the maps
        from before (valid maps of the same chain) are shown where they reach further."""
        landed = self.results_, self.keys_, self.chained_keys_
        self.results_, self.keys_, self.chained_keys_, self._unlanded = {}, set(), {}, True
        self._fit_chain(sorted(chain), given, lambda: False, None, None, False)  # in run order: no keyframe ahead
        self._keep_prefix(asked, False)
        self._unlanded = False
        if len(set(asked) & set(self.results_)) <= len(set(asked) & set(landed[0])):  # the asked epochs shown
            self.results_, self.keys_, self.chained_keys_ = landed

    def _fit_chain(self, chain, given, stop, on_epoch_start, on_epoch_end, compute) -> None:
        """Read or compute the chained results of ``chain`` in order (see :meth:`fit`)."""
        run_epochs, stretch = list(self.dynamics.epochs), self.config.layout.stretch_epochs
        chained_results: dict[int, EpochResult] = dict(given)  # the chained result (proxy for "proxy" and "al") by epoch
        for index, epoch in enumerate(chain, start=1):  # keyframes first (chain_of)
            basis = chain_basis(run_epochs.index(epoch), stretch)  # the umap baseline's maps are aligned, never landed:
            landing = None if self.method == "umap" or self._unlanded else landing_of(run_epochs.index(epoch), stretch,
                                                                                     len(run_epochs))
            previous = None if basis is None else chained_results[run_epochs[basis]]
            lands_on = None if landing is None else chained_results[run_epochs[landing]]
            if stop():
                self.cancelled_ = True
                break
            if on_epoch_start is not None:
                on_epoch_start(epoch)
            start = time.perf_counter()
            chained, cached = self._stored(epoch, "umap" if self.method == "umap" else "proxy", previous,
                                           lambda: self._fit_chained(epoch, previous, stop, lands_on), stop, compute,
                                           landing=lands_on)
            result = chained
            if chained is not None and self.method == "al":
                result, cached_al = self._stored(epoch, "al", chained, lambda: self._fit_active(epoch, chained, stop),
                                                 stop, compute)
                cached = cached and cached_al
            if result is None:  # cancelled mid-epoch (nothing of it was kept), or not cached in a read-only fit
                self.cancelled_ = compute
                break
            self.results_[epoch] = replace(result, state=None, trust_map=None) if self._slim else result
            chained_results[epoch], self.chained_keys_[epoch] = chained, chained.key
            for done in [e for e in chained_results if e != epoch and not is_keyframe_index(run_epochs.index(e), stretch)]:
                del chained_results[done]  # later epochs start from this one or from a keyframe (all kept: ~2 MB each)
            if on_epoch_end is not None:
                status = "cached" if cached else "computed"
                on_epoch_end(EpochProgress(epoch, index, len(chain), status, time.perf_counter() - start))

    def _neighbors(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """kNN (indices, distances) of ``epoch``'s training samples, kept for the next epoch.

        Computed once per fitted epoch: the proxy graph uses it, and the next epoch's temporal
        strength compares it with its own (the kNN is the largest cost of a graph on a large run).
        Kept: the last two, and the keyframes of ``epoch``'s stretch (the next keyframe or stretch epoch
        starts from the first, every stretch epoch lands on the second); a cached epoch costs nothing.
        """
        if epoch not in self._knn_memo:
            reps = np.asarray(self.dynamics.representations(epoch))
            self._knn_memo[epoch] = nearest_neighbors(reps, self.config.graph.n_neighbors, seed=self.config.seed)
            run_epochs, stretch = list(self.dynamics.epochs), self.config.layout.stretch_epochs
            index = run_epochs.index(epoch)
            ends = {index - index % stretch if stretch else 0, landing_of(index, stretch, len(run_epochs))}
            keep = {*(run_epochs[i] for i in ends if i is not None), *list(self._knn_memo)[-2:]}
            for old in [e for e in self._knn_memo if e not in keep]:
                del self._knn_memo[old]
        return self._knn_memo[epoch]

    def _landing_share(self, epoch: int, landing: EpochResult) -> np.ndarray:
        """How far each sample of ``epoch`` is drawn towards the keyframe ``landing`` (:func:`~ttv_core.run.chain.landing_share`)."""
        return landing_share(list(self.dynamics.epochs).index(epoch), self.config.layout.stretch_epochs,
                             self._neighbors(epoch)[0], self._neighbors(landing.epoch)[0])

    def _temporal_strength(self, epoch: int, previous: EpochResult | None) -> np.ndarray | None:
        """DVI's weight of the temporal loss for ``epoch``, per sample (None without a previous epoch)."""
        if previous is None:
            return None
        return neighbourhood_kept(self._neighbors(previous.epoch)[0], self._neighbors(epoch)[0])

    def _stored(self, epoch: int, method: str, basis: EpochResult | None, compute, stop,
                may_compute: bool = True, landing: EpochResult | None = None) -> tuple[EpochResult | None, bool]:
        """Read or compute one result, keyed with ``basis`` and ``landing`` (the results it starts from, lands on).

        Returns (None, False) for a result cut short by ``stop``, or not cached when not ``may_compute``.
        """
        key = epoch_key(self.dynamics.fingerprint(epoch), epoch, method, self.config, None if basis is None else basis.key,
                        None if landing is None else landing.key)
        if not may_compute:
            result = self._read_slim(key) if self._slim else self.store.get(key)
            if result is not None:
                self.keys_.add(key)
            return result, True

        def computed() -> EpochResult:
            start = time.perf_counter()
            parts = compute()
            return EpochResult(epoch, method, key, seconds=time.perf_counter() - start, **parts)

        result, cached = self.store.get_or_compute(key, computed, store=lambda _: not stop())
        if stop() and not cached:
            return None, False
        if not cached:
            self.store.put(key + SLIM, replace(result, state=None, trust_map=None))
        self.keys_.add(key)
        return result, cached

    def _read_slim(self, key: str) -> EpochResult | None:
        """A stored result without its model, kept beside it (0.56 MB to read at 60,000 samples, not 1.9);
        made from the whole one the first time for a result stored without it (by a worker, or older code)."""
        held = self.store.get(key + SLIM)
        if held is None:
            whole = self.store.get(key)
            if whole is None:
                return None
            held = replace(whole, state=None, trust_map=None)
            self.store.put(key + SLIM, held)
        return held

    def _embed(self, visualizer, epoch: int) -> dict[str, np.ndarray]:
        """Each split's map: the fit's own map of the training samples where it has one (a proxy fit's
        layout, ``embedding_``), the encoder's placement otherwise."""
        fitted = getattr(visualizer, "embedding_", None)
        return {split: fitted if split == "train" and fitted is not None
                else visualizer.transform(np.asarray(self.dynamics.representations(epoch, split))) for split in SPLITS}

    def _fit_chained(self, epoch: int, previous: EpochResult | None, stop, landing: EpochResult | None = None
                     ) -> dict[str, Any]:
        if self.method == "umap":
            return self._fit_umap(epoch, previous)
        from ..fit.proxy import ProxyVisualizer

        index, stretch = list(self.dynamics.epochs).index(epoch), self.config.layout.stretch_epochs
        visualizer = ProxyVisualizer(config=self.config, runtime=self.runtime).fit(
            np.asarray(self.dynamics.representations(epoch)), head=self.dynamics.head(epoch),
            n_classes=self.dynamics.n_classes, previous=None if previous is None else previous.visualizer(),
            temporal_strength=self._temporal_strength(epoch, previous), should_stop=stop,
            on_pass_end=lambda losses: self._on_pass_end(epoch, losses),
            previous_embedding=None if previous is None else previous.embeddings["train"],
            sample_neighbors=self._neighbors(epoch), long_step=is_long_step(index, stretch),
            landing=None if landing is None else landing.embeddings["train"] / np.float32(landing.state["canvas"]["scale"]),
            landing_share=0.0 if landing is None else self._landing_share(epoch, landing),
        )
        return {"embeddings": self._embed(visualizer, epoch), "state": visualizer.state()}

    def _fit_active(self, epoch: int, proxy: EpochResult, stop) -> dict[str, Any]:
        from ..fit.active import ActiveVisualizer
        from ..fit.proxy import ProxyVisualizer

        visualizer = ActiveVisualizer(config=self.config, runtime=self.runtime).fit(
            np.asarray(self.dynamics.representations(epoch)), head=self.dynamics.head(epoch),
            proxy=ProxyVisualizer.from_state(proxy.state), proxy_embedding=proxy.embeddings["train"],
            should_stop=stop, on_pass_end=lambda losses: self._on_pass_end(epoch, losses),
        )
        return {"embeddings": self._embed(visualizer, epoch), "state": visualizer.state(),
                "trust_map": visualizer.trust_map_}

    def _fit_umap(self, epoch: int, previous: EpochResult | None) -> dict[str, Any]:
        from ..fit.baseline import UmapBaseline

        baseline = UmapBaseline(n_neighbors=self.config.graph.n_neighbors, min_dist=self.config.graph.min_dist,
                                spread=self.config.graph.spread, seed=self.config.seed).fit(
            np.asarray(self.dynamics.representations(epoch)),
            previous_embedding=None if previous is None else previous.embeddings["train"],
        )
        test = baseline.transform(np.asarray(self.dynamics.representations(epoch, "test")))
        return {"embeddings": {"train": baseline.embedding_, "test": test}}

    def _held(self, epoch: int) -> EpochResult:
        """``epoch``'s result as ``results_`` holds it (its embeddings and key; slim: nothing more)."""
        if not hasattr(self, "results_"):
            raise ConfigError("This Visualization is not fitted yet; call fit first.")
        epoch = self.dynamics.check_epoch(epoch)
        if epoch not in self.results_:
            raise ConfigError(f"epoch {epoch} was not computed (asked: {self.epochs_}); fit it first.")
        return self.results_[epoch]

    def _result(self, epoch: int) -> EpochResult:
        """``epoch``'s whole result (read back from the cache when the fit was slim)."""
        held = self._held(epoch)
        if not getattr(self, "_slim", False):
            return held
        whole = self.store.get(held.key)
        if whole is None:
            raise ConfigError(f"epoch {epoch}'s map left the cache ({self.store.path}) after it was read; "
                              "open the run again to recompute it.")
        return whole

    def trust_map(self, epoch: int):
        """The trust map of ``epoch`` (a :class:`~ttv_core.fit.active.TrustMap`; None but for al)."""
        return self._result(epoch).trust_map

    def visualizer(self, epoch: int) -> Visualizer | None:
        """The fitted visualizer of ``epoch`` (None for the umap baseline)."""
        return self._result(epoch).visualizer()

    def window(self, epoch: int, follow: bool = True) -> Extent:
        """The animation frame's window at ``epoch``: following its dots, or the whole run's (one aspect
        for both, see :func:`~ttv_core.canvas.frame_windows`)."""
        return self.windows_[epoch] if follow else self.whole_

    def territory(self, epoch: int, *, extent: Extent | None = None) -> Territory | None:
        """The territory image of ``epoch`` in the animation's frame (None for the umap baseline)."""
        held = self._held(epoch)
        if self.method == "umap":  # no inverse
            return None
        frame = extent or self.extent_
        key = result_key("territory", model=held.key, extent=frame.as_list(), config=self.config.key_for("territory"))
        territory, _ = self.store.get_or_compute(key, lambda: render_territory(  # the model is read only to render
            self._result(epoch).visualizer().inverse_transform, self.dynamics.head(epoch), frame,
            self.config.render.resolution, boundary_threshold=self.config.render.boundary_threshold))
        return territory

    def figures(self, epoch: int, *, compute: bool = True) -> dict[str, Any] | None:
        """Faithfulness figures of ``epoch`` (see :func:`ttv_core.evaluate.figures.epoch_figures`).

        With ``compute=False``, only the cache is read: None if they were never computed (a view
        shows what is there at once and leaves the computing to a background job).
        """
        from ..evaluate.figures import epoch_figures

        key = result_key("figures", model=self._held(epoch).key, config=self.config.key_for("figures"))
        if not compute:
            return self.store.get(key)

        def calculate() -> dict[str, Any]:
            result = self._result(epoch)
            visualizer = result.visualizer()
            reps = {split: np.asarray(self.dynamics.representations(epoch, split)) for split in SPLITS}
            return epoch_figures(
                train=reps["train"], test=reps["test"], train_labels=self.dynamics.labels("train"),
                test_labels=self.dynamics.labels("test"), head=self.dynamics.head(epoch),
                embed=visualizer.transform if visualizer else None, embeddings=result.embeddings,
                decode=visualizer.inverse_transform if visualizer else None,
                n_boundary=None if visualizer else 0,  # the baseline cannot place new points
                k=self.config.evaluation.figures_k, rng=np.random.default_rng(self.config.seed),
            )

        figures, _ = self.store.get_or_compute(key, calculate)
        return figures

    def temporal(self) -> dict[str, Any]:
        """The run's temporal figures over the asked epochs with a map (see
        :func:`ttv_core.evaluate.figures.temporal_figures`), of every training sample or, in a large run, of a
        sample of them (:func:`~ttv_core.evaluate.figures.temporal_rows`)."""
        from ..evaluate.figures import EpochRows, temporal_figures, temporal_rows

        epochs, dynamics = [e for e in self.epochs_ if e in self.results_], self.dynamics
        rows = temporal_rows(dynamics.n_train, len(epochs), dynamics.dim, np.random.default_rng(self.config.seed))
        if rows is None:
            return temporal_figures([np.asarray(dynamics.representations(e)) for e in epochs],
                                    [self.results_[e].embeddings["train"] for e in epochs])
        return temporal_figures([EpochRows(lambda e=e: dynamics.representations(e), rows, dynamics.dim) for e in epochs],
                                [self.results_[e].embeddings["train"][rows] for e in epochs])

    def evaluation(self) -> dict[str, Any]:
        """Every asked epoch's figures plus the run's temporal figures, in the original JSON shape."""
        from ..evaluate.figures import to_original_json

        per_epoch = {e: self.figures(e) for e in self.epochs_ if e in self.results_}
        return to_original_json(per_epoch, self.temporal(), k=self.config.evaluation.figures_k)


def load_visualizer(path, method: str, epoch: int, *, cache_dir=None, trust_code: bool = False,
                    config: VisConfig | None = None) -> Visualizer | None:
    """The fitted visualizer of ``epoch`` for the run at ``path``, from the cache or computed now.

    The epochs its map starts from are computed too (once): the keyframes before it and the epochs
    before it in its stretch (see :func:`~ttv_core.run.chain.chain_basis`). Returns None for ``method="umap"``, which has no inverse.
    """
    from ..data.load import load_dynamics

    dynamics = load_dynamics(path, trust_code=trust_code, cache_dir=cache_dir)
    visualization = Visualization(dynamics, method, config or VisConfig(), cache_dir)
    return visualization.fit([epoch]).visualizer(epoch)
