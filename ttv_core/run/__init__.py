"""Layer 5, run: the epoch chain and what it leaves on disk.

- :mod:`.visualize`: :class:`Visualization`, which drives the warm-started chain over the epochs.
- :mod:`.store`: the result store (per-epoch results on disk, one computation per key across processes).
- :mod:`.export`: results in the original tool's file layout.
- :mod:`.cli`: the ``ttv`` command line.
"""
