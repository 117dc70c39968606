"""Samples worth a look: queries, training events, Data Maps and neighbourhoods, on plain arrays.

The dashboard's Samples page asks these questions of one split's per-epoch predictions
(:class:`~ttv_core.evaluate.predictions.PredictionHistory`) and of the 2-D maps (epoch -> positions, shape
(n_samples, 2)); a notebook can ask them too::

    history = prediction_history(dynamics, "train")
    query(history, 12, labels=[3], flipped=True)          # 3s whose prediction changed at epoch 12
    events(history, {e: viz.results_[e].embeddings["train"] for e in viz.results_}, 12)
    data_map(history).likely_mislabelled()                # least confident first
    neighbours(dynamics.representations(12), viz.results_[12].embeddings["train"], index=7, k=15).overlap

Data Maps (Swayamdipta et al., 2020, "Dataset Cartography") place each sample by the mean over
epochs of the probability the classifier gives its *label* (confidence) and by that probability's
standard deviation (variability). Samples learned early and kept are easy; samples the model keeps
changing its mind about are ambiguous; samples it never learns are hard, and a hard sample the model
consistently puts in one other class is the classic mislabelled one.

Every threshold is a named constant below, with its reason, and a keyword argument of the function
that uses it. Arguments are checked (:mod:`ttv_core._checks`): a bad parameter raises
:class:`~ttv_core.errors.ConfigError`, a bad array :class:`~ttv_core.errors.DataError`, with a message
that names the argument and the fix.
"""

from .datamaps import (AMBIGUOUS_VARIABILITY, LEARNED_CONFIDENCE, MISLABELLED_CONFIDENCE, MISLABELLED_CORRECTNESS,
                       MISLABELLED_VARIABILITY, REGIONS, SETTLED_SHARE, DataMap, data_map, settled_epochs)
from .events import CONFIDENCE_CHANGE, MOVEMENT_Z, EpochEvents, events, robust_z
from .neighbours import Neighbourhood, nearest_others, neighbours
from .queries import flipped, history_of, query, trajectory

__all__ = [
    "history_of", "trajectory", "flipped", "query",
    "CONFIDENCE_CHANGE", "MOVEMENT_Z", "EpochEvents", "events", "robust_z",
    "LEARNED_CONFIDENCE", "AMBIGUOUS_VARIABILITY", "MISLABELLED_CONFIDENCE", "MISLABELLED_VARIABILITY",
    "MISLABELLED_CORRECTNESS", "SETTLED_SHARE", "REGIONS", "DataMap", "data_map", "settled_epochs",
    "Neighbourhood", "nearest_others", "neighbours",
]
