"""Fitting a run's stretches in parallel, on local processes or a cluster (joblib backends).

A chain's stretches (:func:`~ttv_core.run.chain.chain_basis`) depend on their keyframe only, so
once the keyframes' chain is fitted (one fit every ``stretch_epochs`` epochs, here) the stretches can
be fitted side by side. :func:`fit_parallel` does so through ``joblib.Parallel`` under the backend the
user picks:

- ``"loky"`` (default): local worker processes;
- ``"dask"``: a Dask cluster, ``scheduler="tcp://host:8786"`` (needs ``pip install ttv[dask]``);
- ``"ray"``: a Ray cluster, where Ray is installed (``ray.init`` reads ``RAY_ADDRESS``);
- ``"sequential"``: in this process, one after the other (what the other backends must equal).

Workers need no shared disk: a task sent to a cluster carries its stretch's data (:class:`EpochSlice`:
the arrays of those epochs, their heads and fingerprints; local processes read the run from disk),
and every task gets its keyframe's map, fits in a cache of its own in a temporary folder, and returns
the new results; the driver alone writes the user's cache.
A result is a pure function of its key, so every backend stores the same maps (on CPUs, with one
thread per fit; tests/test_fanout.py compares a ``LocalCluster``'s with this process's).
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from ..config import Runtime, VisConfig
from ..data.dynamics import SPLITS, TrainingDynamics
from ..data.head import Head
from ..errors import ConfigError
from .store import ResultStore
from .chain import chain_of, is_keyframe_index, landing_of, unmapped
from .visualize import EpochResult, Visualization

SCHEDULER_TIMEOUT = 30  # seconds to reach a Dask scheduler before giving up with a message


class EpochSlice(TrainingDynamics):
    """Some epochs of a run, held in memory: what one worker needs to fit a stretch, picklable.

    ``epochs`` stays the whole run's (a chain's stretches are counted in it); representations, heads
    and fingerprints exist for the held epochs only. Build one with :meth:`of`.
    """

    source_kind = "slice"

    def __init__(self, *, location: str, classes, epochs, dim: int, train_labels, test_labels,
                 arrays: dict[tuple[int, str], np.ndarray], heads: dict[int, Head], fingerprints: dict[int, str]):
        super().__init__(location=location, classes=classes, epochs=epochs, dim=dim, train_labels=train_labels,
                         test_labels=test_labels)
        self._arrays, self._heads, self._fingerprints = arrays, heads, fingerprints
        self._checked = set(arrays)  # checked by the run they came from

    @classmethod
    def of(cls, dynamics: TrainingDynamics, epochs: list[int]) -> "EpochSlice":
        """``dynamics``' data of ``epochs`` (both splits), read into memory."""
        return cls(location=dynamics.location, classes=dynamics.classes, epochs=dynamics.epochs, dim=dynamics.dim,
                   train_labels=dynamics.labels("train"), test_labels=dynamics.labels("test"),
                   arrays={(e, split): np.array(dynamics.representations(e, split)) for e in epochs for split in SPLITS},
                   heads={e: dynamics.head(e) for e in epochs}, fingerprints={e: dynamics.fingerprint(e) for e in epochs})

    def _held(self, epoch: int) -> int:
        if epoch not in self._heads:
            raise ConfigError(f"{self.location}: epoch {epoch} is not in this slice (it holds {sorted(self._heads)}).")
        return epoch

    def _read_representations(self, epoch: int, split: str) -> np.ndarray:
        return self._arrays[(self._held(epoch), split)]

    def head(self, epoch: int) -> Head:
        return self._heads[self._held(epoch)]

    def fingerprint(self, epoch: int) -> str:
        return self._fingerprints[self._held(epoch)]


def stretches_of(run_epochs: list[int], asked: list[int], stretch_epochs: int) -> list[tuple[int, list[int]]]:
    """The epochs ``asked`` needs, other than keyframes, grouped by stretch: (its keyframe, its epochs in order)."""
    groups: dict[int, list[int]] = {}
    for epoch in chain_of(run_epochs, asked, stretch_epochs):
        index = run_epochs.index(epoch)
        if not is_keyframe_index(index, stretch_epochs):
            keyframe = index - index % stretch_epochs if stretch_epochs else 0  # 0: one stretch, from the first epoch
            groups.setdefault(run_epochs[keyframe], []).append(epoch)
    return sorted(groups.items())


def fit_stretch(data: EpochSlice, method: str, config: VisConfig, runtime: Runtime,
                start: EpochResult | list[EpochResult], epochs: list[int]) -> dict[str, Any]:
    """Fit ``epochs`` (one stretch) on a worker, given ``start``, the chained maps of the keyframe it starts
    from and of the one it lands on (if any): returns {cache key: result} of what it computed."""
    with tempfile.TemporaryDirectory(prefix="ttv-stretch-") as folder, ResultStore(folder) as store:
        Visualization(data, method, config, folder, runtime).fit(epochs, start=start)
        return {key: store.get(key) for key in store.keys()}


@contextmanager
def _backend(backend: str, scheduler: str | None) -> Iterator[None]:
    """joblib's backend for the block: Dask connects to ``scheduler``, Ray registers itself."""
    import joblib

    if backend == "dask":
        try:
            from distributed import Client
        except ImportError as error:
            raise ConfigError("The dask backend needs Dask's distributed scheduler: pip install 'ttv[dask]'.") from error
        try:
            client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError) as error:
            raise ConfigError(f"Could not reach the Dask scheduler at {scheduler!r} ({error}). Start one with "
                              "`dask scheduler` and pass its address, e.g. --scheduler tcp://HOST:8786.") from None
        with client, joblib.parallel_config(backend="dask"):
            yield
    elif backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as error:
            raise ConfigError("The ray backend needs Ray: pip install 'ray[default]'.") from error
        register_ray()
        with joblib.parallel_config(backend="ray"):
            yield
    else:
        with joblib.parallel_config(backend=backend):
            yield


def fit_parallel(visualization: Visualization, epochs: list[int] | None = None, *, on_epoch_end=None,
                 on_stretches=None, on_stretch_end=None, slim: bool = False, on_epoch_start=None, on_pass_end=None,
                 should_stop=None, **runtime: Any) -> Visualization:
    """``visualization.fit(epochs)``, its uncached stretches fitted side by side; returns it, fitted.

    Where they run is ``visualization.runtime``'s ``backend``, ``jobs`` (0: as many as the backend
    has) and ``scheduler``, or ``runtime``'s keywords over them. The keyframes are fitted here; each
    stretch then goes to a worker; their results land in this process's cache, from which the final
    ``fit`` reads everything. ``on_stretches(stretches)`` is called as the stretches (lists of epochs)
    are sent, ``on_stretch_end(epochs)`` as each one's results land. ``slim``: as in ``fit``.
    With ``jobs=1``, or one stretch to fit, all is fitted here, one epoch after the other, as
    ``visualization.fit(epochs, ...)`` does (a worker would only add its start-up). ``on_epoch_start``,
    ``on_pass_end`` and ``should_stop`` (as in ``fit``) apply to what is fitted here: the keyframes, or all.
    """
    import joblib

    settings = visualization.runtime.replace(**runtime)  # checks backend and scheduler
    backend, scheduler, n_jobs = settings.backend, settings.scheduler, settings.jobs or -1
    dynamics, config, stretch_epochs = visualization.dynamics, visualization.config, visualization.config.layout.stretch_epochs
    run_epochs = list(dynamics.epochs)
    asked = sorted(dynamics.check_epoch(e) for e in (epochs or run_epochs))
    # From keys, not a read-only fit: that would count as done a stretch fitted before the keyframe it lands on
    # existed (it shows those maps meanwhile), and it read every map of the run to find out.
    missing = set(unmapped(dynamics, visualization.method, config, visualization.store, asked))
    todo = [(keyframe, stretch) for keyframe, stretch in stretches_of(run_epochs, asked, stretch_epochs)
            if missing.intersection(stretch)]
    here = {"on_epoch_start": on_epoch_start, "on_pass_end": on_pass_end, "should_stop": should_stop}
    if n_jobs == 1 or len(todo) <= 1:
        return visualization.fit(asked, on_epoch_end=on_epoch_end, slim=slim, **here)
    with _backend(backend, scheduler):  # connected first: an unreachable cluster fails before any fit
        keyframes = [e for e in chain_of(run_epochs, asked, stretch_epochs, lands=visualization.method != "umap")
                     if is_keyframe_index(run_epochs.index(e), stretch_epochs)]
        fitted = visualization.fit(keyframes, on_epoch_end=on_epoch_end, slim=True, **here)  # the keyframes' chain, here
        if fitted.cancelled_:
            return fitted
        ends = {keyframe: [keyframe, *_landing(run_epochs, stretch[0], stretch_epochs)] for keyframe, stretch in todo}
        starts = {keyframe: visualization.store.get(fitted.chained_keys_[keyframe]) for keyframe in fitted.chained_keys_}
        tasks = (joblib.delayed(fit_stretch)(_task_data(dynamics, [*ends[keyframe], *stretch], backend),
                                             visualization.method, config, visualization.runtime,
                                             [starts[end] for end in ends[keyframe]], stretch)
                 for keyframe, stretch in todo)
        if on_stretches is not None:
            on_stretches([stretch for _, stretch in todo])
        results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        for (_, stretch), computed in zip(todo, results):
            for key, value in computed.items():
                visualization.store.put(key, value)
            if on_stretch_end is not None:
                on_stretch_end(stretch)
    return visualization.fit(asked, compute=False, slim=slim)


def _landing(run_epochs: list[int], epoch: int, stretch_epochs: int) -> list[int]:
    """The keyframe ``epoch``'s stretch lands on, as a list of zero or one epoch (its worker needs its data too:
    the landing weighs each sample by the neighbours it shares with the keyframe)."""
    landing = landing_of(run_epochs.index(epoch), stretch_epochs, len(run_epochs))
    return [] if landing is None else [run_epochs[landing]]


def _task_data(dynamics: TrainingDynamics, epochs: list[int], backend: str) -> TrainingDynamics:
    """What a task reads its epochs from: on this machine the run itself (it pickles as its folder and
    labels, 0.6 MB at 60,000 samples, and is read memory-mapped), on a cluster an :class:`EpochSlice` of
    them (a stretch of 20 epochs at 60,000 + 10,000 x 512 is 2.9 GB of arrays)."""
    return dynamics if backend in ("loky", "sequential") else EpochSlice.of(dynamics, epochs)
