"""Aligning consecutive epochs' 2-D maps: orthogonal Procrustes between two embeddings of the same samples.

A 2-D map is only defined up to rotation, reflection and translation (and, for umap, scale): two
epochs fitted independently may show the same picture turned or mirrored, and an animation of them
spins or flips although nothing moved. This module measures that freedom and removes it:

- :func:`best_rotation` finds the orthogonal map (optionally scaled) that puts one embedding onto
  another with the least squared error, and reports its angle and whether it mirrors;
- :func:`align_to` applies it, without mirroring unless asked, so an independently fitted epoch
  (the umap baseline, :mod:`ttv_core.fit.baseline`) lands where the previous one was;
- :func:`flip_report` lists the alignments between consecutive epochs: a visualizer that keeps its
  map still shows angles near 0 and no reflection.

Convention: an :class:`Alignment` maps ``current`` onto ``previous``. Its ``matrix`` acts on column
vectors (``matrix @ p``), so a pure rotation by ``theta`` is ``[[cos, -sin], [sin, cos]]``; if
``current`` is ``previous`` turned by +30 degrees, the alignment turns it back, by -30 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from .._checks import argument_error, check_points, parameter_error

_RANK_TOLERANCE = 1e-12  # a singular value below this share of the largest counts as zero (collinear points)


@dataclass(frozen=True, eq=False)
class Alignment:
    """A similarity transform ``p -> scale * matrix @ p + translation`` of 2-D points.

    Attributes
    ----------
    angle_degrees : float
        Angle of the rotation part, in (-180, 180]. A reflection is ``rotation(angle) @ diag(1, -1)``:
        the angle is that of the rotation applied after mirroring the y axis.
    reflection : bool
        Whether the map mirrors (``det(matrix) < 0``).
    matrix : array of float64, shape (2, 2)
        Orthogonal, for column vectors (read-only).
    scale : float
        Uniform scale; 1.0 unless a scale was fitted.
    translation : array of float64, shape (2,)
        Added after rotating and scaling (read-only).
    """

    angle_degrees: float
    reflection: bool
    matrix: np.ndarray
    scale: float
    translation: np.ndarray

    def apply(self, points: Any) -> np.ndarray:
        """The transformed points, shape (n_points, 2); float32 input stays float32.

        Parameters
        ----------
        points : array, shape (n_points, 2)
        """
        points = check_points(points, "points", owner="Alignment.apply", dim=2)
        moved = self.scale * (points.astype(np.float64) @ self.matrix.T) + self.translation
        return moved.astype(points.dtype, copy=False)


def _check_flag(value: Any, name: str, owner: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise parameter_error(name, owner, "be a bool", value)
    return bool(value)


def _check_pair(previous: Any, current: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Both embeddings as float64 arrays of the same shape (n_samples, 2)."""
    previous = check_points(previous, "previous", owner=owner, dim=2)
    current = check_points(current, "current", owner=owner, dim=2)
    if current.shape != previous.shape:
        raise argument_error("current", owner, f"have the shape of previous {previous.shape}",
                             f"shape {current.shape}", "Both must embed the same samples, in the same order.")
    return previous.astype(np.float64), current.astype(np.float64)


def _make_alignment(matrix: np.ndarray, scale: float, translation: np.ndarray) -> Alignment:
    angle = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    if angle <= -180.0:  # atan2 may return -pi; the interval is (-180, 180]
        angle += 360.0
    matrix, translation = np.array(matrix, dtype=np.float64), np.array(translation, dtype=np.float64)
    matrix.setflags(write=False)
    translation.setflags(write=False)
    return Alignment(angle_degrees=float(angle), reflection=bool(np.linalg.det(matrix) < 0), matrix=matrix,
                     scale=float(scale), translation=translation)


def best_rotation(previous: Any, current: Any, *, allow_reflection: bool = True,
                  fit_scale: bool = False) -> Alignment:
    """The orthogonal map (and translation) that puts ``current`` onto ``previous`` best.

    Orthogonal Procrustes after centring both sets: with ``A`` = centred current and ``B`` = centred
    previous, the map ``R`` minimising ``||A R^T - B||`` comes from the SVD of ``A^T B``. When the
    points are collinear a rotation fits as well as a reflection; the rotation is then returned.

    Parameters
    ----------
    previous : array, shape (n_samples, 2)
        The reference embedding (e.g. the previous epoch).
    current : array, shape (n_samples, 2)
        The embedding to align: the same samples in the same order.
    allow_reflection : bool, default True
        Whether the map may mirror. True answers "how far apart are the two maps"; False gives the
        best proper rotation, as :func:`align_to` uses.
    fit_scale : bool, default False
        Also fit a uniform scale (umap's maps differ in size between fits). It does not change the
        rotation.

    Returns
    -------
    Alignment
        ``alignment.apply(current)`` is close to ``previous``.
    """
    owner = "best_rotation"
    allow_reflection = _check_flag(allow_reflection, "allow_reflection", owner)
    fit_scale = _check_flag(fit_scale, "fit_scale", owner)
    previous, current = _check_pair(previous, current, owner)
    previous_centre, current_centre = previous.mean(axis=0), current.mean(axis=0)
    source, target = current - current_centre, previous - previous_centre
    u, singular, vt = np.linalg.svd(source.T @ target)
    if singular[0] <= 0:  # one of the sets is a single point: any rotation fits, keep the identity
        u, singular, vt = np.eye(2), np.zeros(2), np.eye(2)
    collinear = singular[1] <= _RANK_TOLERANCE * singular[0]
    if np.linalg.det(u @ vt) < 0 and (not allow_reflection or collinear):
        u[:, -1] *= -1
        singular = singular * np.array([1.0, -1.0])
    row_map = u @ vt  # source @ row_map ~ target
    spread = float((source**2).sum())
    scale = float(singular.sum()) / spread if fit_scale and spread > 0 else 1.0
    translation = previous_centre - scale * (current_centre @ row_map)
    return _make_alignment(row_map.T, scale, translation)


def align_to(previous: Any, current: Any, *, allow_reflection: bool = False) -> np.ndarray:
    """``current`` rotated and translated onto ``previous``, shape (n_samples, 2).

    Removes the spin and drift between independently fitted maps of the same samples while keeping
    each map's own size and shape. No mirroring by default: a mirror image is a different picture,
    and a visualizer whose epochs need one to line up should show it.

    Parameters
    ----------
    previous, current : array, shape (n_samples, 2)
        The same samples in the same order.
    allow_reflection : bool, default False

    Returns
    -------
    array, shape (n_samples, 2)
        In ``current``'s floating dtype (float32 stays float32).
    """
    alignment = best_rotation(previous, current, allow_reflection=allow_reflection)
    return alignment.apply(current)


def flip_report(embeddings: Sequence[Any]) -> list[Alignment]:
    """The best orthogonal alignment of each epoch's map onto the one before it.

    A stable visualizer keeps every ``abs(angle_degrees)`` small and never needs a ``reflection``;
    independently fitted maps show arbitrary angles and flips.

    Parameters
    ----------
    embeddings : sequence of arrays, each shape (n_samples, 2)
        Consecutive epochs' embeddings of the same samples (a 3-D array works too).

    Returns
    -------
    list of Alignment, length ``len(embeddings) - 1``
        Entry ``i`` maps ``embeddings[i + 1]`` onto ``embeddings[i]`` (reflections allowed, no scale).
    """
    owner = "flip_report"
    checked = [check_points(embedding, f"embeddings[{index}]", owner=owner, dim=2)
               for index, embedding in enumerate(embeddings)]
    for index, embedding in enumerate(checked[1:], start=1):
        if embedding.shape != checked[0].shape:
            raise argument_error(f"embeddings[{index}]", owner, f"have the shape of embeddings[0] {checked[0].shape}",
                                 f"shape {embedding.shape}", "Every epoch must embed the same samples.")
    return [best_rotation(previous, current) for previous, current in pairwise(checked)]
