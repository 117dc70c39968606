"""ttv: a time-travelling visualizer for deep-learning training.

The compute core. It reads a classifier's training dynamics (:func:`load_dynamics`), records them
from a user's own training loop (:class:`Recorder`), builds a built-in demo run (:func:`make_demo`)
and evaluates the subject model (:func:`evaluate_subject`). It never imports Streamlit: the
dashboard sits on top of it.
"""

__version__ = "0.1.0"

from .dynamics import TrainingDynamics, load_dynamics
from .errors import ConfigError, DataError, TrustRequiredError, TTVError
from .head import Head
from .recorder import Recorder, collect_features
from .demo import DemoConfig, ensure_demo, make_demo
from .subject import evaluate_subject

__all__ = [
    "__version__",
    "TrainingDynamics",
    "load_dynamics",
    "Head",
    "Recorder",
    "collect_features",
    "DemoConfig",
    "make_demo",
    "ensure_demo",
    "evaluate_subject",
    "TTVError",
    "DataError",
    "ConfigError",
    "TrustRequiredError",
]
