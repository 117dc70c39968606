"""What a chain's fit yields per epoch: the map (:class:`EpochResult`, what the cache stores) and the
progress report that ``Visualization.fit``'s ``on_epoch_end`` receives (:class:`EpochProgress`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fit.model import Visualizer


@dataclass(frozen=True)
class EpochResult:
    """One epoch's map.

    Attributes
    ----------
    embeddings : dict
        ``"train"`` / ``"test"`` -> 2-D positions, shape (n_samples, 2), float32.
    state : dict or None
        The fitted visualizer (:meth:`Visualizer.state`); None for the umap baseline (no inverse).
    trust_map : object or None
        For ``"al"``: the probe cells that fail the round trip before and after refinement.
    seconds : float
        Compute time when it was computed (not when it was read from the cache).
    """

    epoch: int
    method: str
    key: str
    embeddings: dict[str, np.ndarray]
    state: dict[str, Any] | None = None
    trust_map: Any = None
    seconds: float = 0.0

    def visualizer(self) -> Visualizer | None:
        return None if self.state is None else Visualizer.from_state(self.state)


@dataclass(frozen=True)
class EpochProgress:
    """What ``on_epoch_end`` receives: which epoch, how far along, and whether it came from the cache."""

    epoch: int
    index: int  # 1-based position among the epochs being computed
    total: int
    status: str  # "cached" or "computed"
    seconds: float
