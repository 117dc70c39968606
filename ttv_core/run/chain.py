"""Which map each epoch's map starts from: the chain over a run's epochs, in stretches.

Epoch e's map is warm-started from epoch e-1's, except at a keyframe (every ``stretch_epochs``-th
epoch), which starts from the keyframe before it. Everything here counts positions in the run's
epoch list (a run may record epochs 2, 4, 6, ...), never epoch numbers.
"""

from __future__ import annotations


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
