"""Layer 3, evaluate: how far a map can be trusted, and how the classifier itself did.

- :mod:`.metrics`: the faithfulness measures (neighbour preservation, PPR, trustworthiness, temporal).
- :mod:`.figures`: an epoch's and a run's figures, under the original tool's key names, memoized.
- :mod:`.boundary`: boundary samples between two predicted classes (and the softmax, once).
- :mod:`.predictions`: the classifier's predictions per epoch and split, memoized.
- :mod:`.subject`: the subject model's accuracy per epoch (``eval-subject``).
"""
