"""Which map each epoch's map starts from: the chain over a run's epochs, in stretches.

Epoch e's map is warm-started from epoch e-1's, except at a keyframe (every ``stretch_epochs``-th
epoch), which starts from the keyframe before it. Everything here counts positions in the run's
epoch list (a run may record epochs 2, 4, 6, ...), never epoch numbers.

Each map is stored under :func:`epoch_key`, which includes the key of the map it starts from, so
:func:`mapped_through` can tell which maps the cache holds by computing keys, without reading a map.
"""

from __future__ import annotations

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


def chain_of(run_epochs: list[int], asked: list[int], stretch_epochs: int, known: tuple[int, ...] = ()) -> list[int]:
    """The epochs whose maps ``asked`` needs, in an order where each comes after its basis (ascending);
    the walk back stops at the ``known`` epochs (results at hand), which are not listed."""
    position = {epoch: index for index, epoch in enumerate(run_epochs)}
    needed: set[int] = set()
    for epoch in asked:
        index = position[epoch]
        while index is not None and run_epochs[index] not in needed and run_epochs[index] not in known:
            needed.add(run_epochs[index])
            index = chain_basis(index, stretch_epochs)
    return sorted(needed)


def epoch_key(fingerprint: str, epoch: int, method: str, config, basis_key: str | None) -> str:
    """The cache key of ``method``'s map of ``epoch`` (data ``fingerprint``) with ``config`` (a VisConfig),
    started from the result stored under ``basis_key`` (None for a chain's first epoch)."""
    return result_key("epoch", method=method, data=fingerprint, epoch=epoch, config=config.key_for(method),
                      basis=basis_key)


def mapped_through(dynamics, method: str, config, store) -> int | None:
    """The last epoch up to which ``store`` holds every map of ``method`` (with ``config``): what a
    read-only :meth:`Visualization.fit` would find; None for none. Only keys are computed and looked up
    (one fingerprint per epoch, from recorded digests), never a map read: cheap enough for a list of runs."""
    epochs, stretch = list(dynamics.epochs), config.layout.stretch_epochs
    chained_method = "umap" if method == "umap" else "proxy"
    chained: dict[int, str] = {}
    last = None
    for index, epoch in enumerate(epochs):
        basis = chain_basis(index, stretch)
        fingerprint = dynamics.fingerprint(epoch)
        key = epoch_key(fingerprint, epoch, chained_method, config, None if basis is None else chained[basis])
        if key not in store or (method == "al" and epoch_key(fingerprint, epoch, "al", config, key) not in store):
            break
        chained[index], last = key, epoch
    return last
