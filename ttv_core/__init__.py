"""ttv: a time-travelling visualizer for deep-learning training.

The compute core. It reads a classifier's training dynamics (:func:`load_dynamics`), records them
from a user's own training loop (:class:`Recorder`), builds a built-in demo run (:func:`make_demo`),
evaluates the subject model (:func:`evaluate_subject`), and turns every epoch into a 2-D map with
territories and faithfulness figures (:class:`Visualization`, :func:`load_visualizer`). It never
imports Streamlit: the dashboard sits on top of it.
"""

__version__ = "0.1.0"

from .data.dynamics import TrainingDynamics
from .data.load import load_dynamics
from .errors import ConfigError, DataError, TrustRequiredError, TTVError
from .data.head import Head
from .data.recorder import Recorder, collect_features
from .data.demo import DemoConfig, ensure_demo, make_demo
from .evaluate.subject import evaluate_subject
from .config import VisConfig
from .run.visualize import METHODS, Visualization, load_visualizer

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
    "VisConfig",
    "METHODS",
    "Visualization",
    "load_visualizer",
    "TTVError",
    "DataError",
    "ConfigError",
    "TrustRequiredError",
]
