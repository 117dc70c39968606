"""Layer 2, fit: one epoch's representations -> a 2-D map (encoder) and back (decoder).

- :mod:`.graph`: kNN, fuzzy simplicial sets and the UMAP edge weights.
- :mod:`.model`: the visualization model (:class:`Visualizer`: transform / inverse_transform).
- :mod:`.train`: the layout optimisation and the encoder/decoder training loop.
- :mod:`.proxy`: TrustVis proxy training (cold and warm-started from the previous epoch).
- :mod:`.active`: its active-learning refinement and the trust map.
- :mod:`.baseline`: umap-learn per epoch, aligned to the epoch before.
- :mod:`.alignment`: rotations and reflections between maps.
"""
