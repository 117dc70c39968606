"""Layer 1, data: what a classifier's training left behind, read without running its code unless allowed.

- :mod:`.dynamics`: :class:`TrainingDynamics`, the one interface the rest of ttv reads (representations
  per epoch and split, the head, labels, classes, thumbnails).
- :mod:`.load`: :func:`load_dynamics`, which picks the reader for a folder or an ``hf://`` reference.
- :mod:`.runformat`: ttv's own run folder; :mod:`.recorder` writes it from a training loop.
- :mod:`.original_layout` and :mod:`.model_code`: the original DVI/TimeVis folders (code behind a trust gate).
- :mod:`.hub`: dataset repositories on the Hugging Face Hub.
- :mod:`.head`: the classifier's last layers, stored as weights and a layer list, never as code.
- :mod:`.demo` and :mod:`.synthetic`: the built-in demo and a synthetic long run for benchmarks.
"""
