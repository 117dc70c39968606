"""Which map each epoch's map starts from: the chain over a run's epochs, in stretches.

Epoch e's map is warm-started from epoch e-1's, except at a keyframe (every ``stretch_epochs``-th
epoch), which starts from the keyframe before it. A stretch's epochs also *land* on the next keyframe
(:func:`landing_of`): each is drawn a little further towards that keyframe's map, so the stretch ends
where the next one starts. The keyframes are therefore fitted first (:func:`chain_of`), and then
every stretch depends on its two keyframes only. Everything here counts positions in the run's epoch
list (a run may record epochs 2, 4, 6, ...), never epoch numbers.

Each map is stored under :func:`epoch_key`, which includes the keys of the maps it starts from and
lands on, so :func:`mapped_through` can tell which maps the cache holds by computing keys, without
reading a map.
"""

from __future__ import annotations

import numpy as np

from ..fit.knn import shared_neighbours
from .store import result_key


def chain_basis(index: int, stretch_epochs: int) -> int | None:
    """Index (among the run's epochs) of the result the ``index``-th epoch's map starts from; None for the first.

    The epoch before, except at a keyframe (every ``stretch_epochs``-th epoch; 0: never), which starts
    from the keyframe before it: the keyframes form a chain of their own with steps of ``stretch_epochs``,
    so a stretch starts near where the one before it ended (rather than from a map of the run's start),
    and any epoch is at most ``index // stretch_epochs + stretch_epochs`` fits past the first.
    """
    if index == 0:
        return None
    return index - stretch_epochs if is_keyframe_index(index, stretch_epochs) else index - 1


def is_keyframe_index(index: int, stretch_epochs: int) -> bool:
    """Whether the ``index``-th epoch of the run starts a stretch (the first epoch always does)."""
    return index == 0 or bool(stretch_epochs) and index % stretch_epochs == 0


def is_long_step(index: int, stretch_epochs: int) -> bool:
    """Whether the ``index``-th epoch's map starts from a keyframe a whole stretch back (a stretch past the first)."""
    return index > 0 and is_keyframe_index(index, stretch_epochs)


def landing_of(index: int, stretch_epochs: int, n_epochs: int) -> int | None:
    """Index of the keyframe the ``index``-th epoch's stretch lands on (the next one); None for a keyframe,
    for one chain (``stretch_epochs`` 0) and in the run's last stretch, which has no keyframe after it."""
    if not stretch_epochs or is_keyframe_index(index, stretch_epochs):
        return None
    following = index - index % stretch_epochs + stretch_epochs
    return following if following < n_epochs else None


def landing_share(index: int, stretch_epochs: int, neighbors=None, landing_neighbors=None) -> float | np.ndarray:
    """How far the ``index``-th epoch is drawn towards the keyframe its stretch lands on: its place in the
    stretch, from 1 / ``stretch_epochs`` after a keyframe to (K - 1) / K before the next one; given the kNN
    indices of both epochs (n_samples, k), times each sample's share of neighbours in common with the
    keyframe, shape (n_samples,). Early in a stretch that changes much, a map drawn to the keyframe's
    arrangement as a whole lost neighbours the epoch still had (40-epoch synthetic run, stretches of 10,
    epoch 6: NN ratio 0.82 x umap-learn's, 0.97 in one chain)."""
    share = (index % stretch_epochs) / stretch_epochs if stretch_epochs else 0.0
    return share if neighbors is None else share * neighbourhood_kept(neighbors, landing_neighbors)


def neighbourhood_kept(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """DVI's temporal strength per sample: the share of its kNN (in D) kept from one epoch to the next.

    ``previous``, ``current``: kNN indices, shape (n_samples, k). Returns shape (n_samples,), in [0, 1].
    """
    return shared_neighbours(previous, current) / previous.shape[1]


def chain_of(run_epochs: list[int], asked: list[int], stretch_epochs: int, known: tuple[int, ...] = (), *,
             lands: bool = True) -> list[int]:
    """The epochs whose maps ``asked`` needs, each after the maps it starts from and lands on (``lands``:
    False for the umap baseline, which never lands): the keyframes first, then the others, both ascending.
    The walk back stops at the ``known`` epochs (results at hand), which are not listed."""
    position = {epoch: index for index, epoch in enumerate(run_epochs)}
    needed: set[int] = set()

    def walk(index: int | None) -> None:
        while index is not None and run_epochs[index] not in needed and run_epochs[index] not in known:
            needed.add(run_epochs[index])
            walk(landing_of(index, stretch_epochs, len(run_epochs)) if lands else None)
            index = chain_basis(index, stretch_epochs)

    for epoch in asked:
        walk(position[epoch])
    return sorted(needed, key=lambda epoch: (not is_keyframe_index(position[epoch], stretch_epochs), position[epoch]))


def epoch_key(fingerprint: str, epoch: int, method: str, config, basis_key: str | None,
              landing_key: str | None = None) -> str:
    """The cache key of ``method``'s map of ``epoch`` (data ``fingerprint``) with ``config`` (a VisConfig),
    started from the result stored under ``basis_key`` (None for a chain's first epoch) and landing on the
    one under ``landing_key`` (None: no keyframe to land on)."""
    landing = {} if landing_key is None else {"landing": landing_key}
    return result_key("epoch", method=method, data=fingerprint, epoch=epoch, config=config.key_for(method),
                      basis=basis_key, **landing)


def _stored(dynamics, method: str, config, store):
    """``stored(index)``: whether ``store`` holds the map of the run's ``index``-th epoch (for "al", its
    refinement too), from keys alone: one fingerprint per epoch (from recorded digests), never a map read."""
    epochs, stretch = list(dynamics.epochs), config.layout.stretch_epochs
    chained_method = "umap" if method == "umap" else "proxy"
    chained: dict[int, str] = {}

    def key_of(index: int) -> str:  # keys of the maps it starts from and lands on first
        pending = []  # back along the chain to a key at hand, in a loop: one chain of 1,000 epochs is no recursion
        while index is not None and index not in chained:
            pending.append(index)
            index = chain_basis(index, stretch)
        for at in reversed(pending):
            basis = chain_basis(at, stretch)
            landing = landing_of(at, stretch, len(epochs)) if chained_method == "proxy" else None
            chained[at] = epoch_key(dynamics.fingerprint(epochs[at]), epochs[at], chained_method, config,
                                    None if basis is None else chained[basis],
                                    None if landing is None else key_of(landing))  # a keyframe: its own loop
        return chained[pending[0]] if pending else chained[index]

    def stored(index: int) -> bool:
        key = key_of(index)
        return key in store and (method != "al" or epoch_key(dynamics.fingerprint(epochs[index]), epochs[index], "al",
                                                             config, key) in store)

    return stored


def mapped_through(dynamics, method: str, config, store) -> int | None:
    """The last epoch up to which ``store`` holds every map of ``method`` (with ``config``): what a
    read-only :meth:`Visualization.fit` would find; None for none. Only keys are computed and looked up,
    never a map read: cheap enough for a list of runs."""
    stored, last = _stored(dynamics, method, config, store), None
    for index, epoch in enumerate(dynamics.epochs):
        if not stored(index):
            break
        last = epoch
    return last


def unmapped(dynamics, method: str, config, store, asked: list[int]) -> list[int]:
    """The epochs whose maps fitting ``asked`` computes: those of its chain (:func:`chain_of`, with the keyframe
    a stretch lands on, which may lie past ``asked``) that ``store`` lacks, in the order they are fitted."""
    stored, epochs = _stored(dynamics, method, config, store), list(dynamics.epochs)
    chain = chain_of(epochs, asked, config.layout.stretch_epochs, lands=method != "umap")
    return [epoch for epoch in chain if not stored(epochs.index(epoch))]
