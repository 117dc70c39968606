"""Argument checks shared by the whole core: one rule per check, one message shape everywhere.

Every message has scikit-learn's shape and names the parameter, its owner (the function or class
that took it), the rule, what came instead and, where one helps, the fix::

    The 'k' parameter of neighbor_preservation must be an int in the range [1, 99] (n_samples - 1).
    Got 0 instead. Choose a smaller k.

A bad scalar *parameter* raises :class:`~ttv_core.errors.ConfigError`; a bad array *argument* (wrong
shape or dtype, NaN) raises :class:`~ttv_core.errors.DataError`, and its message describes the array
(its shape, the first bad row) instead of printing it. Both are ValueErrors.

Numbers: bools are never ints or floats (``True`` is almost always a mistake for a count); numpy
scalars are accepted and come back as Python ``int`` / ``float``, so they can go into JSON and keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from .errors import ConfigError, DataError

_MAX_SHOWN_COLUMNS = 8  # a bad row is printed in the message when it is this short (2-D points, logits)
_MAX_REPR = 80  # characters of a bad value echoed in a message


def _requirement(rule: str, got: str, fix: str) -> str:
    return f"must {rule}. Got {got} instead. {fix}".rstrip()


def _message(name: str, kind: str, owner: str, rule: str, got: str, fix: str) -> str:
    return f"The {name!r} {kind} of {owner} {_requirement(rule, got, fix)}"


def parameter_error(name: str, owner: str, rule: str, value: Any, fix: str = "") -> ConfigError:
    """A ConfigError for a bad scalar parameter; ``rule`` follows "must" (e.g. "be one of ('a', 'b')").

    The error keeps ``parameter`` (``name``) and ``requirement`` (the message after the subject), so a
    caller that knows the setting by another name (a command-line flag) can say it that way.
    """
    shown = repr(value)
    if len(shown) > _MAX_REPR:
        shown = shown[: _MAX_REPR - 3] + "..."
    error = ConfigError(_message(name, "parameter", owner, rule, shown, fix))
    error.parameter, error.requirement = name, _requirement(rule, shown, fix)
    return error


def argument_error(name: str, owner: str, rule: str, got: str, fix: str = "") -> DataError:
    """A DataError for a bad array argument; ``got`` describes it (e.g. "shape (5,)")."""
    return DataError(_message(name, "argument", owner, rule, got, fix))


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool, high_text: str | None) -> str:
    """``[low, high]`` with open ends as ``(`` / ``)``; a missing bound is infinite (always open)."""
    left = "(-inf" if low is None else f"{'(' if low_open else '['}{low}"
    right = "inf)" if high is None else f"{high}{')' if high_open else ']'}"
    return f"{left}, {right}" + (f" ({high_text})" if high_text else "")


def check_int(value: Any, name: str, *, owner: str, low: int, high: int | None = None,
              high_text: str | None = None, fix: str = "") -> int:
    """``value`` as an int in ``[low, high]`` (``high=None``: no upper bound), or a ConfigError.

    ``high_text`` says where a computed bound comes from, e.g. ``"n_samples - 1"``.
    """
    ok = isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))
    if not ok or value < low or (high is not None and value > high):
        rule = f"be an int in the range {_interval(low, high, False, False, high_text)}"
        raise parameter_error(name, owner, rule, value, fix)
    return int(value)


def check_real(value: Any, name: str, *, owner: str, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False, high_text: str | None = None,
               fix: str = "") -> float:
    """``value`` as a finite float in the interval (closed ends unless ``*_open``), or a ConfigError.

    A missing bound is infinite; NaN and infinities are always refused. Ints are accepted.
    """
    ok = isinstance(value, Real) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        rule = f"be a float in the range {_interval(low, high, low_open, high_open, high_text)}"
        raise parameter_error(name, owner, rule, value, fix)
    return float(value)


def check_rng(value: Any, name: str, *, owner: str) -> np.random.Generator:
    """``value`` if it is a numpy Generator (the one source of randomness), else a ConfigError."""
    if not isinstance(value, np.random.Generator):
        raise parameter_error(name, owner, "be a numpy.random.Generator", value, "Use np.random.default_rng(seed).")
    return value


def check_points(value: Any, name: str, *, owner: str, dim: int | None = None, min_rows: int = 1) -> np.ndarray:
    """``value`` as a finite 2-D float array, shape (n_samples, dim), or a DataError.

    Floating input keeps its dtype (float32 stays float32, no copy); integers become float64.
    ``dim=None`` accepts any number of columns >= 1 (representations); ``dim=2`` is for 2-D points.
    A non-finite value is reported by its first row.
    """
    array = np.asarray(value)
    columns = "n_features" if dim is None else dim
    if array.ndim != 2 or array.shape[1] == 0 or (dim is not None and array.shape[1] != dim):
        fix = "Stack one row per sample, e.g. x.reshape(len(x), -1)." if dim is None else ""
        raise argument_error(name, owner, f"be a 2-D array of shape (n_samples, {columns})",
                             f"shape {array.shape}", fix)
    if array.shape[0] < min_rows:
        raise argument_error(name, owner, f"hold at least {min_rows} row(s)", f"{array.shape[0]}",
                             "Give more samples.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise argument_error(name, owner, "hold real numbers", f"dtype {array.dtype}",
                             "Convert it with astype(float).")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if bad.size:
        row = f"row {bad[0]}" + (f" = {array[bad[0]].tolist()}" if array.shape[1] <= _MAX_SHOWN_COLUMNS else "")
        raise argument_error(name, owner, "hold finite numbers", f"NaN or infinity in {bad.size} row(s), first {row}",
                             "Drop or repair those rows.")
    return array


def check_classes(value: Any, name: str, *, owner: str, n_classes: int) -> np.ndarray:
    """``value`` as a 1-D int64 array of class indices in ``[0, n_classes)``, or a DataError."""
    array = np.asarray(value)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise argument_error(name, owner, "be a 1-D array of class indices",
                             f"shape {array.shape}, dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise argument_error(name, owner, f"lie in [0, {n_classes}) (n_classes)",
                             f"values in [{array.min()}, {array.max()}]", "Pass the classifier's n_classes.")
    return array.astype(np.int64)


def check_field(config: Any, name: str, check: Callable[..., Any], **rule: Any) -> None:
    """Check field ``name`` of a frozen dataclass with ``check`` and store the normalised value.

    The owner in the message is the class name. Storing ``check``'s result makes a numpy int an
    ``int`` and an int given for a float field a ``float``, so equal configs have equal keys.
    """
    value = check(getattr(config, name), name, owner=type(config).__name__, **rule)
    object.__setattr__(config, name, value)
