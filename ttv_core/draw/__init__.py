"""Layer 4, draw: maps to pictures.

- :mod:`.territory`: the classifier's decision territories over the canvas, the class palette, the extent.
- :mod:`.points`: samples as dots (fill by class, ring for misclassified) on an image.
- :mod:`.frames`: one epoch's whole frame: territory, trust hatching and dots.
"""
