"""Evaluation of a fitted visualization: one epoch's map turned into its faithfulness figures.

:func:`epoch_figures` measures one epoch (accuracy of the subject model, neighbour, boundary and
prediction preservation, trustworthiness), :func:`temporal_figures` a whole run (TNN, TLR), and
:func:`to_original_json` lays both out as the original tools' evaluation file (ALGORITHMS.md
section 8), so that scripts written for DVI / TimeVis / DeepDebugger output keep working. The
formulas are in :mod:`ttv_core.evaluate.metrics`; this module decides what to measure on which points.

The JSON shape (epochs and k as strings; every value a float, an int or null)::

    {
      "train_acc":             {"<e>": acc},          "test_acc":       {"<e>": acc},
      "nn_train":              {"<e>": {"<k>": legacy count incl. self, in [1, k]}},  "nn_test": ...,
      "ppr_train":             {"<e>": rate},         "ppr_test":       {"<e>": rate},
      "vis_error_train":       {"<e>": count},        "vis_error_test": {"<e>": count},
      "b_train":               {"<e>": {"<k>": rate in [0, 1]}},                      "b_test": ...,
      "nn_rate_train":         {"<e>": {"<k>": rate in [0, 1]}},                      "nn_rate_test": ...,
      "trustworthiness_train": {"<e>": {"<k>": value in [0, 1]}},            "trustworthiness_test": ...,
      "temporal":              {"tnn": rate, "tlr": correlation, "k": epochs compared by tnn}
    }

The first ten keys are the original's; the others are new. Figures that depend on k are nested
under it, as the original did for ``nn`` and ``b``. ``b_*`` is a rate, as in
:func:`ttv_core.evaluate.metrics.boundary_preservation`: multiply by k to compare with the original's count.
A figure that cannot be computed (no test split, a split smaller than k allows, no decoder, too
few epochs) is null rather than an error.

:func:`reference_figures` gives the yardstick a map is judged against: umap-learn's figures of the
same epoch, fitted on that epoch alone and memoized, for runs where the user never trained the
umap baseline.

Sizes: the neighbour figures use exact kNN, as the original's did, of every sample up to
:data:`NN_MAX_SAMPLES` and of that many drawn with the caller's generator past it (their neighbours
are still searched among all samples); trustworthiness builds n x n matrices and is computed on at
most :data:`TRUSTWORTHINESS_MAX_SAMPLES` samples drawn the same way. The temporal figures hold every
epoch's representations of the samples they score: past :data:`TEMPORAL_MAX_BYTES` they score a sample
(:func:`temporal_rows`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import metrics
from .._checks import (
    argument_error,
    check_classes,
    check_int,
    check_points,
    check_rng,
    parameter_error,
)
from .boundary import boundary_points
from ..data.dynamics import SPLITS
from ..run.store import ResultStore, result_key

if TYPE_CHECKING:
    from ..config import VisConfig
    from ..data.dynamics import TrainingDynamics

NN_MAX_SAMPLES = 10_000  # scored samples: the rate's standard error is then about 0.002; at 60,000 x 512 the
# figures took 11 s in all where the neighbours of every sample took 51 s alone (2 busy cores)
TRUSTWORTHINESS_MAX_SAMPLES = 5_000  # sklearn builds n x n float64 matrices: ~0.2 GB each at 5,000 samples
BOUNDARY_SHARE = 0.1  # default boundary points per training sample (DVI generated about this many)
BOUNDARY_MAX = 1_000  # cap on the default: enough for a stable k = 15 overlap, cheap to bisect and embed
BOUNDARY_PER_K = 4  # floor of the default, in units of k: with only k points every overlap is trivially k
TEMPORAL_K = 5  # epochs compared by TNN, the original's "top 5"
TEMPORAL_MAX_BYTES = 256 * 2**20  # representations TNN and TLR read (every epoch's rows of the samples they
# score): past it they score a sample of the training samples, read block by block (EpochRows). A 60,000 x
# 512 run's 200 epochs read whole were 24.6 GB resident (`ttv proxy`'s evaluation, the Metrics page's job)
TEMPORAL_MIN_SAMPLES = 1_000  # the sample's floor: demo, 8 draws each, TNN / TLR standard deviation 0.002 /
# 0.002 at 1,000 samples, 0.003 / 0.005 at 500
# Largest run whose umap-learn reference a page may fit unasked, to judge one epoch's map: umap-learn maps
# 5,000 samples in a few seconds on one core (plus 10-15 s to compile numba, once per process), and up to
# this size trustworthiness is exact (TRUSTWORTHINESS_MAX_SAMPLES). The demo has 1,437.
REFERENCE_MAX_TRAIN = 5_000

PER_SPLIT = ("acc", "nn", "nn_rate", "ppr", "vis_error", "b", "trustworthiness")  # figures of one split


def figure_key(figure: str, split: str) -> str:
    """Key of a split's figure, in the original's spelling: ``train_acc`` but ``nn_train``."""
    return f"{split}_acc" if figure == "acc" else f"{figure}_{split}"


FIGURE_KEYS = tuple(figure_key(figure, split) for figure in PER_SPLIT for split in SPLITS)  # epoch_figures, in order
FLAT_KEYS = tuple(figure_key(figure, split) for figure in ("acc", "ppr", "vis_error") for split in SPLITS)
BY_K_KEYS = tuple(figure_key(figure, split) for figure in ("nn", "nn_rate", "b", "trustworthiness") for split in SPLITS)
ORIGINAL_KEYS = ("train_acc", "test_acc", "nn_train", "nn_test", "ppr_train", "ppr_test",
                 "vis_error_train", "vis_error_test", "b_train", "b_test")
JSON_KEYS = ORIGINAL_KEYS + ("nn_rate_train", "nn_rate_test", "trustworthiness_train",
                             "trustworthiness_test", "temporal")


def _plain(value: Any) -> float | int | None:
    """A JSON-safe Python number: numpy scalars become float / int, NaN and infinities None."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def default_n_boundary(n_train: int, k: int) -> int:
    """Boundary points generated when ``n_boundary`` is None: 10 % of the training samples, at least
    4 k (small runs still get a meaningful boundary figure) and at most :data:`BOUNDARY_MAX`."""
    return min(BOUNDARY_MAX, max(BOUNDARY_PER_K * k, int(BOUNDARY_SHARE * n_train)))


def _mapped(function: Callable, points: np.ndarray, name: str, owner: str, dim: int | None) -> np.ndarray:
    """``function(points)`` checked to be finite, one row per point, ``dim`` columns (None: any)."""
    result = check_points(function(points), name, owner=owner, dim=dim, min_rows=0)
    if result.shape[0] != points.shape[0]:
        raise argument_error(name, owner, f"return one row per input row ({points.shape[0]})",
                             f"{result.shape[0]} rows", "Check the visualizer's transform / inverse_transform.")
    return result


def _logits(head: Callable, points: np.ndarray, owner: str) -> np.ndarray:
    """``head(points)`` checked to be logits of shape (n, n_classes)."""
    logits = np.asarray(head(points))
    if logits.ndim != 2 or logits.shape[0] != points.shape[0] or logits.shape[1] < 1:
        raise argument_error("head", owner, f"return logits of shape ({points.shape[0]}, n_classes)",
                             f"shape {logits.shape}", "Pass the epoch's Head.")
    return logits


def _trustworthiness(high: np.ndarray, low: np.ndarray, k: int, rng: np.random.Generator) -> float | None:
    """Trustworthiness on at most TRUSTWORTHINESS_MAX_SAMPLES rows (drawn with ``rng``); None if k is too large."""
    n = high.shape[0]
    if n > TRUSTWORTHINESS_MAX_SAMPLES:
        rows = np.sort(rng.choice(n, size=TRUSTWORTHINESS_MAX_SAMPLES, replace=False))
        high, low, n = high[rows], low[rows], TRUSTWORTHINESS_MAX_SAMPLES
    return metrics.trustworthiness(high, low, k) if k <= (n - 1) // 2 else None


def _split_figures(high: np.ndarray, labels, split: str, *, head: Callable, embed: Callable | None,
                   embedding: np.ndarray | None, decode: Callable | None, k: int, boundary: tuple | None,
                   rng: np.random.Generator) -> dict[str, Any]:
    """The per-split figures of :func:`epoch_figures`, keyed by figure name (``"nn"``, ``"ppr"``, ...)."""
    owner = "epoch_figures"
    figures: dict[str, Any] = dict.fromkeys(PER_SPLIT)
    labels = np.asarray(labels)
    if labels.shape != (high.shape[0],):
        raise argument_error(f"{split}_labels", owner, f"hold one class index per {split} sample ({high.shape[0]})",
                             f"shape {labels.shape}", "Pass the labels of exactly these samples.")
    if high.shape[0] == 0:
        return figures
    logits = _logits(head, high, owner)
    labels = check_classes(labels, f"{split}_labels", owner=owner, n_classes=logits.shape[1])
    predicted = logits.argmax(axis=1)
    figures["acc"] = float(np.mean(predicted == labels))
    if embedding is None:
        low = _mapped(embed, high, f"embed({split})", owner, dim=2)
    else:
        low = check_points(embedding, f"embeddings[{split!r}]", owner=owner, dim=2)
        if low.shape[0] != high.shape[0]:
            raise argument_error(f"embeddings[{split!r}]", owner, f"hold one row per {split} sample ({high.shape[0]})",
                                 f"{low.shape[0]} rows", "Pass the embedding of exactly these samples.")
    if k <= high.shape[0] - 1:
        n = high.shape[0]
        rows = np.sort(rng.choice(n, size=NN_MAX_SAMPLES, replace=False)) if n > NN_MAX_SAMPLES else None
        preservation = metrics.neighbor_preservation(high, low, k, rows=rows)
        figures["nn"], figures["nn_rate"] = preservation["legacy"], preservation["rate"]
    if decode is not None:
        reconstructed = _mapped(decode, low, f"decode({split})", owner, dim=high.shape[1])
        round_trip = _logits(head, reconstructed, owner).argmax(axis=1)
        figures["ppr"] = metrics.prediction_preserving_rate(predicted, round_trip)
        figures["vis_error"] = metrics.vis_errors(predicted, round_trip)
    if boundary is not None:
        figures["b"] = metrics.boundary_preservation(high, low, *boundary, k)
    figures["trustworthiness"] = _trustworthiness(high, low, k, rng)
    return figures


def _check_test(test, dim: int, owner: str) -> np.ndarray:
    """The test representations, shape (m, dim); an empty split of any 2-D or 1-D shape becomes (0, dim)."""
    array = np.asarray(test)
    if array.ndim in (1, 2) and array.shape[0] == 0:
        return np.empty((0, dim), dtype=np.float32)
    return check_points(array, "test", owner=owner, dim=dim)


def epoch_figures(*, train, test, train_labels, test_labels, head: Callable, embed: Callable | None,
                  decode: Callable | None = None, embeddings: Mapping[str, np.ndarray] | None = None,
                  k: int = 15, n_boundary: int | None = None,
                  rng: np.random.Generator) -> dict[str, float | int | None]:
    """Faithfulness figures of one epoch's map (ALGORITHMS.md section 8).

    Parameters
    ----------
    train : array, shape (n_train, D)
        The epoch's training representations (a memory map is fine; it is read, never copied
        except where a float conversion is needed).
    test : array, shape (n_test, D)
        Test representations; ``n_test`` may be 0 (all test figures are then None).
    train_labels, test_labels : array of int, shape (n_train,) / (n_test,)
        True classes, for the accuracies.
    head : callable, (n, D) -> logits (n, n_classes)
        The epoch's classifier head g_e, e.g. a :class:`~ttv_core.data.head.Head`.
    embed : callable, (n, D) -> (n, 2)
        The visualizer's transform. It is called once per split on the arrays given, and once on
        the boundary points (new points): an embedding that can only look up known samples (the
        umap baseline) must be used with ``n_boundary=0``. May be None when ``embeddings`` holds
        both splits and ``n_boundary=0``.
    decode : callable, (n, 2) -> (n, D), optional
        The visualizer's inverse transform; None (a visualizer without one) makes ``ppr_*`` and
        ``vis_error_*`` None.
    k : int, default 15
        Neighbours compared, >= 1. A split where k is too large for a figure gets None for it:
        nn needs k < n, trustworthiness k <= (n - 1) // 2, boundary k < the boundary points made.
    embeddings : mapping, optional
        ``"train"`` / ``"test"`` -> the 2-D positions already computed for those splits, shape
        (n, 2); used instead of calling ``embed`` on them (a fitted run has them stored).
    n_boundary : int, optional
        Boundary points to generate from the training representations (:func:`~ttv_core.evaluate.boundary.
        boundary_points`); default :func:`default_n_boundary`. 0 skips the boundary figure.
    rng : numpy.random.Generator
        Draws the boundary points, then for each split (train, then test) the samples the neighbour
        figure scores and the trustworthiness subsample: the same seed gives the same figures.

    Returns
    -------
    dict
        Plain Python numbers or None, keys ``train_acc``, ``test_acc``, ``nn_train``, ``nn_test``
        (legacy count incl. self, in [1, k]), ``nn_rate_train``, ``nn_rate_test`` (in [0, 1]),
        ``ppr_train``, ``ppr_test``, ``vis_error_train``, ``vis_error_test`` (ints),
        ``b_train``, ``b_test`` (rates), ``trustworthiness_train``, ``trustworthiness_test``, ``k``.
    """
    owner = "epoch_figures"
    k = check_int(k, "k", owner=owner, low=1, fix="The original tools used 15.")
    rng = check_rng(rng, "rng", owner=owner)
    embeddings = dict(embeddings or {})
    for name, function in (("head", head), ("embed", embed), ("decode", decode)):
        if not callable(function) and not (name != "head" and function is None):
            raise parameter_error(name, owner, "be callable" + ("" if name == "head" else " or None"), function)
    train = check_points(train, "train", owner=owner)
    test = _check_test(test, train.shape[1], owner)
    if n_boundary is None:
        n_boundary = default_n_boundary(train.shape[0], k)
    n_boundary = check_int(n_boundary, "n_boundary", owner=owner, low=0, fix="Pass 0 to skip the boundary figure.")
    if embed is None and (n_boundary > 0 or not {"train", "test"} <= set(embeddings)):
        raise parameter_error("embed", owner, "be callable unless embeddings holds both splits and n_boundary=0",
                              embed, "Pass the visualizer's transform.")
    if n_boundary > 0 and np.asarray(head(train[:1])).shape[-1] < 2:
        n_boundary = 0  # one class: the classifier has no decision boundary, so no boundary figure (None)
    boundary_high, _ = boundary_points(train, head, n_boundary, rng=rng)
    boundary = None
    if boundary_high.shape[0] > k:  # with k points or fewer every sample would keep all of them
        boundary = (boundary_high, _mapped(embed, boundary_high, "embed(boundary points)", owner, dim=2))
    figures: dict[str, Any] = {}
    for split, high, labels in (("train", train, train_labels), ("test", test, test_labels)):
        for figure, value in _split_figures(high, labels, split, head=head, embed=embed,
                                            embedding=embeddings.get(split), decode=decode, k=k,
                                            boundary=boundary, rng=rng).items():
            figures[figure_key(figure, split)] = _plain(value)
    return {**{key: figures[key] for key in FIGURE_KEYS}, "k": k}  # in the documented order


class EpochRows:
    """One epoch's representations of the samples ``rows``, read from ``read()`` (a memory map opened anew)
    only when sliced, shape (len(rows), dim): the temporal figures read them block by block, and nothing
    stays held between blocks."""

    ndim = 2

    def __init__(self, read: Callable[[], np.ndarray], rows: np.ndarray, dim: int):
        self._read, self._rows, self.shape = read, rows, (len(rows), dim)

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self._read()[self._rows[index]])  # fancy indexing copies the rows already


def temporal_rows(n_samples: int, n_epochs: int, dim: int, rng: np.random.Generator) -> np.ndarray | None:
    """The training samples TNN and TLR score: None (every one) while their representations at ``n_epochs``
    epochs fit in :data:`TEMPORAL_MAX_BYTES`, else as many as fit (at least :data:`TEMPORAL_MIN_SAMPLES`),
    drawn by ``rng``, sorted."""
    fitting = TEMPORAL_MAX_BYTES // max(1, 4 * n_epochs * dim)
    if n_samples <= max(fitting, TEMPORAL_MIN_SAMPLES):
        return None
    return np.sort(rng.choice(n_samples, max(fitting, TEMPORAL_MIN_SAMPLES), replace=False))


def temporal_figures(train_sequence: Sequence, embedding_sequence: Sequence, *, k: int = TEMPORAL_K) -> dict:
    """TNN and TLR of a run: does a point move in 2-D when, and as much as, its representation moves?

    Parameters
    ----------
    train_sequence : sequence of arrays, each shape (n_train, D)
        Training representations of the evaluated epochs, in order.
    embedding_sequence : sequence of arrays, each shape (n_train, 2)
        Their embeddings, same epochs.
    k : int, default 5
        Nearest epochs compared by TNN, >= 1 (capped at n_epochs - 1).

    Returns
    -------
    dict
        ``tnn`` (rate in [0, 1], None below 2 epochs), ``tlr`` (Spearman correlation in [-1, 1],
        None below 3 epochs or when undefined), ``k`` (epochs TNN compared, None below 2 epochs).
        TLR is computed over all the epochs given; pass one stage of training for the original's
        within-stage figure.
    """
    k = check_int(k, "k", owner="temporal_figures", low=1, fix="The original compared the nearest 5 epochs.")
    n_epochs = len(train_sequence)
    if len(embedding_sequence) != n_epochs:
        raise argument_error("embedding_sequence", "temporal_figures", f"hold one embedding per epoch ({n_epochs})",
                             f"{len(embedding_sequence)}", "Embed the same epochs.")
    figures: dict[str, Any] = {"tnn": None, "tlr": None, "k": None}
    if n_epochs >= 2:
        figures["tnn"] = _plain(metrics.temporal_neighbor_preservation(train_sequence, embedding_sequence, k))
        figures["k"] = min(k, n_epochs - 1)
    if n_epochs >= 3:
        figures["tlr"] = _plain(metrics.temporal_ranking_correlation(train_sequence, embedding_sequence))
    return figures


def to_original_json(per_epoch: Mapping[int, Mapping[str, Any]], temporal: Mapping[str, Any] | None = None,
                     *, k: int = 15) -> dict[str, Any]:
    """The original tools' evaluation file as a dict (shape in the module docstring), epochs sorted.

    Parameters
    ----------
    per_epoch : mapping of int to dict
        :func:`epoch_figures` of each epoch. Each must have been computed with this ``k``.
    temporal : dict, optional
        :func:`temporal_figures` of the run; None writes nulls.
    k : int, default 15
        The k the figures were computed with; it becomes the inner key of the k-dependent figures.
    """
    owner = "to_original_json"
    k = check_int(k, "k", owner=owner, low=1)
    result: dict[str, Any] = {key: {} for key in JSON_KEYS}
    for epoch in sorted(per_epoch):
        figures = per_epoch[epoch]
        epoch_key = str(check_int(epoch, "epoch", owner=owner, low=0, fix="Epochs are non-negative ints."))
        missing = [key for key in FIGURE_KEYS if key not in figures]
        if missing:
            raise argument_error("per_epoch", owner, "hold epoch_figures() dicts",
                                 f"epoch {epoch} without {', '.join(missing)}")
        if figures.get("k", k) != k:
            raise argument_error("per_epoch", owner, f"be computed with k = {k}",
                                 f"k = {figures['k']} at epoch {epoch}", "Pass the k the figures used.")
        for key in FLAT_KEYS:
            result[key][epoch_key] = _plain(figures[key])
        for key in BY_K_KEYS:
            result[key][epoch_key] = {str(k): _plain(figures[key])}
    temporal = temporal or {}
    result["temporal"] = {name: _plain(temporal.get(name)) for name in ("tnn", "tlr", "k")}
    return result


def umap_reference_figures(*, train, test, train_labels, test_labels, head: Callable, k: int = 15,
                           n_neighbors: int = 15, min_dist: float = 0.1, spread: float = 1.0,
                           seed: int = 0) -> dict[str, float | int | None]:
    """umap-learn's figures of one epoch, fitted on that epoch alone: what a map of it is judged against.

    A cold fit with the umap baseline's settings. The baseline's animation rotates, translates or
    mirrors each such fit onto the previous epoch's map, which changes no distance, so these are
    also the "umap" method's figures of the epoch (``Visualization(..., "umap").figures``), without
    fitting the epochs before it.

    Parameters
    ----------
    train, test, train_labels, test_labels, head, k
        As for :func:`epoch_figures`; ``test`` may have 0 rows.
    n_neighbors, min_dist, spread, seed
        :class:`~ttv_core.fit.baseline.UmapBaseline`'s (``VisConfig``'s fields of the same names).

    Returns
    -------
    dict
        :func:`epoch_figures`' keys; the territory and boundary figures (``ppr_*``, ``vis_error_*``,
        ``b_*``) are None, since umap-learn has no inverse and places no new points.
    """
    from ..fit.baseline import UmapBaseline  # lazy: umap-learn and numba load only when a reference is fitted

    train = check_points(train, "train", owner="umap_reference_figures")
    test = _check_test(test, train.shape[1], "umap_reference_figures")
    baseline = UmapBaseline(n_neighbors=n_neighbors, min_dist=min_dist, spread=spread, seed=seed).fit(train)
    embeddings = {"train": baseline.embedding_, "test": baseline.transform(test)}
    return epoch_figures(train=train, test=test, train_labels=train_labels, test_labels=test_labels, head=head,
                         embed=None, embeddings=embeddings, n_boundary=0, k=k, rng=np.random.default_rng(seed))


def reference_figures(dynamics: TrainingDynamics, epoch: int, config: VisConfig, *, cache_dir=None,
                      compute: bool = True) -> dict[str, float | int | None] | None:
    """:func:`umap_reference_figures` of a run's ``epoch`` under ``config``, computed once and memoized.

    Keyed by the epoch's content and the fields the umap baseline and the figures use, so every
    process (and dashboard session) sharing the cache folder fits it once per epoch and configuration.

    Parameters
    ----------
    dynamics : TrainingDynamics
    epoch : int
    config : VisConfig
        Its ``n_neighbors`` is both umap's and the figures' k, as for the "umap" method.
    cache_dir : str or Path, optional
        See :func:`ttv_core.cachedir.resolve_cache_dir`.
    compute : bool, default True
        False only reads the cache: None if the reference was never computed.
    """
    epoch = dynamics.check_epoch(epoch)
    key = result_key("reference figures", method="umap", data=dynamics.fingerprint(epoch), epoch=epoch,
                     config=config.key_for("umap"), evaluation=config.key_for("figures"))
    with ResultStore(cache_dir) as store:
        if not compute:
            return store.get(key)
        figures, _ = store.get_or_compute(key, lambda: umap_reference_figures(
            train=np.asarray(dynamics.representations(epoch)), test=np.asarray(dynamics.representations(epoch, "test")),
            train_labels=dynamics.labels("train"), test_labels=dynamics.labels("test"), head=dynamics.head(epoch),
            k=config.evaluation.figures_k, n_neighbors=config.graph.n_neighbors, min_dist=config.graph.min_dist, spread=config.graph.spread,
            seed=config.seed))
    return figures
