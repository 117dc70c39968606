"""Training dynamics: what a classifier's training left behind, one epoch at a time.

:class:`TrainingDynamics` is the one interface the rest of ttv reads. Whatever the source (ttv's own
run folder, the original DVI/TimeVis layout, a Hugging Face dataset repo), it offers per epoch the
training and test representations, shape (n_samples, dim), float32, and the head g_e that maps them
to logits; plus labels, class names and, where the source has them, thumbnails.

:func:`ttv_core.data.load.load_dynamics` picks the right reader for a path or ``hf://`` reference.
"""

from __future__ import annotations

import abc
import io
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from .head import Head

SPLITS = ("train", "test")


def _check_labels(labels: np.ndarray, n_classes: int, where: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"{where}: labels must be a 1-D array of class indices; got shape {labels.shape}.")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise DataError(f"{where}: labels must be whole numbers (class indices); got dtype {labels.dtype}.")
    labels = labels.astype(np.int64, copy=False)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)]
        raise DataError(
            f"{where}: {bad.size} label(s) lie outside 0..{n_classes - 1} (e.g. {int(bad[0])}), but there are "
            f"{n_classes} classes. Fix the labels or list every class in the class names."
        )
    labels = labels.copy()
    labels.setflags(write=False)
    return labels


MAX_MAGNITUDE = 1e15  # representations beyond this overflow float32 squared distances (512 x (1e15)^2 ~ 5e32 < 3.4e38)


class TrainingDynamics(abc.ABC):
    """Read-only access to one training run's per-epoch representations and heads.

    Subclasses read one kind of source; they implement :meth:`_read_representations`,
    :meth:`head` and :meth:`fingerprint`.

    Attributes
    ----------
    source_kind : str
        ``"ttv"`` or ``"original"``: which format the data is in.
    location : str
        Where the data came from, as the user named it (a path or an ``hf://`` reference).
    classes : tuple of str
        Class names, indexed by label.
    epochs : tuple of int
        The recorded epochs, ascending.
    n_train, n_test, dim : int
        Sample counts per split and representation dimension.
    """

    source_kind: str = "?"

    def __init__(
        self,
        *,
        location: str,
        classes: list[str] | tuple[str, ...],
        epochs: list[int] | tuple[int, ...],
        dim: int,
        train_labels: np.ndarray,
        test_labels: np.ndarray,
    ):
        self.location = str(location)
        self.classes = tuple(str(name) for name in classes)
        if not self.classes:
            raise DataError(f"{location}: the run names no classes.")
        self.epochs = tuple(sorted(int(e) for e in epochs))
        if not self.epochs:
            raise DataError(f"{location}: the run holds no epochs yet.")
        self.dim = int(dim)
        given = {"train": train_labels, "test": test_labels}
        self._labels = {
            split: _check_labels(given[split], len(self.classes), self._labels_where(split)) for split in SPLITS
        }
        self._checked: set[tuple[int, str]] = set()

    # -- sizes and labels -------------------------------------------------------------------
    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return int(self._labels["train"].shape[0])

    @property
    def n_test(self) -> int:
        return int(self._labels["test"].shape[0])

    def labels(self, split: str = "train") -> np.ndarray:
        """Class index of each sample of ``split``, shape (n_samples,), int64, read-only."""
        return self._labels[self._check_split(split)]

    # -- per-epoch data ---------------------------------------------------------------------
    def representations(self, epoch: int, split: str = "train") -> np.ndarray:
        """Representations of ``split`` at ``epoch``, shape (n_samples, dim), float32.

        May be a read-only memory map: copy it before writing. The first access of each
        (epoch, split) checks shape and finiteness and raises :class:`DataError` naming the file.
        """
        epoch = self.check_epoch(epoch)
        split = self._check_split(split)
        array = self._read_representations(epoch, split)
        if (epoch, split) not in self._checked:
            self._check_representations(array, epoch, split)
            self._checked.add((epoch, split))
        return array

    def _check_representations(self, array: np.ndarray, epoch: int, split: str) -> None:
        where = self._representation_where(epoch, split)
        expected = (len(self._labels[split]), self.dim)
        if array.ndim != 2 or tuple(array.shape) != expected:
            raise DataError(
                f"{where}: representations have shape {tuple(array.shape)}, expected {expected} "
                f"({split} samples x dimension, as in the other epochs). Every epoch must hold the same samples "
                "with the same dimension."
            )
        if array.dtype != np.float32:
            raise DataError(f"{where}: representations must be float32; got {array.dtype}.")
        for start in range(0, array.shape[0], 16384):
            block = array[start : start + 16384]
            if not np.isfinite(block).all():
                rows = start + np.flatnonzero(~np.isfinite(block).all(axis=1))
                raise DataError(
                    f"{where}: {rows.size}+ sample(s) have NaN or infinite representations (first: sample "
                    f"{int(rows[0])}). The subject model diverged at this epoch or the file is damaged; "
                    "re-record it or leave this epoch out."
                )
            largest = float(np.abs(block).max()) if block.size else 0.0
            if largest > MAX_MAGNITUDE:
                raise DataError(
                    f"{where}: representations reach {largest:.3g}; ttv computes distances in float32, which "
                    f"overflow beyond about {MAX_MAGNITUDE:.0e}. Scale the features down (e.g. normalise them) "
                    "and record them again."
                )

    def _representation_where(self, epoch: int, split: str) -> str:
        """Where an epoch's representations live, for error messages (subclasses name the file)."""
        return f"{self.location} epoch {epoch} ({split})"

    def _labels_where(self, split: str) -> str:
        """Where a split's labels live, for error messages (subclasses name the file)."""
        return f"{self.location} ({split} labels)"

    @abc.abstractmethod
    def _read_representations(self, epoch: int, split: str) -> np.ndarray:
        """Return the raw (unchecked) float32 representations of one epoch and split."""

    @abc.abstractmethod
    def head(self, epoch: int) -> Head:
        """The classifier head g_e of ``epoch``: representations -> logits."""

    @abc.abstractmethod
    def fingerprint(self, epoch: int) -> str:
        """Content digest of everything ``epoch``'s results depend on, for cache keys."""

    # -- optional extras ----------------------------------------------------------------------
    @property
    def has_thumbnails(self) -> bool:
        return False

    def thumbnail(self, index: int, split: str = "train") -> bytes | None:
        """PNG bytes of sample ``index``'s thumbnail, or None when the source has none for it.

        Raises ConfigError when ``index`` is not a sample of ``split``.
        """
        split = self._check_split(split)
        n_samples = len(self._labels[split])
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n_samples:
            raise ConfigError(f"sample index must be an int in 0..{n_samples - 1} ({split} split); got {index!r}.")
        return self._thumbnail(int(index), split)

    def _thumbnail(self, index: int, split: str) -> bytes | None:
        """Subclasses with thumbnails return one here; ``index`` and ``split`` are already checked."""
        return None

    # -- helpers ------------------------------------------------------------------------------
    def check_epoch(self, epoch: int) -> int:
        """Return ``epoch`` as an int if the run has it, else raise a ConfigError listing what it has."""
        try:
            value = int(epoch)
        except (TypeError, ValueError):
            raise ConfigError(f"epoch must be an integer; got {epoch!r}.") from None
        if value not in self.epochs:
            raise ConfigError(
                f"epoch {value} is not in {self.location}; it has {len(self.epochs)} epochs: "
                f"{_describe_epochs(self.epochs)}."
            )
        return value

    @staticmethod
    def _check_split(split: str) -> str:
        if split not in SPLITS:
            raise ConfigError(f"split must be one of {SPLITS}; got {split!r}.")
        return split

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description of the run (what ``ttv info`` prints)."""
        return {
            "location": self.location,
            "source": self.source_kind,
            "epochs": list(self.epochs),
            "n_epochs": len(self.epochs),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "dim": self.dim,
            "n_classes": self.n_classes,
            "classes": list(self.classes),
            "thumbnails": self.has_thumbnails,
        }

    def validate(self) -> "TrainingDynamics":
        """Read every epoch once and raise :class:`DataError` on the first problem; returns self.

        Checks shapes and finiteness of every representation file and that each head maps the
        representations to one logit per class.
        """
        for epoch in self.epochs:
            probe = [self.representations(epoch, split)[:2] for split in SPLITS]
            rows = np.concatenate(probe)
            if len(rows):
                n_logits = self.head(epoch)(rows).shape[1]
                if n_logits != self.n_classes:
                    raise DataError(
                        f"{self.location} epoch {epoch}: the head returns {n_logits} logits, but the run "
                        f"has {self.n_classes} classes."
                    )
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.location!r}, epochs={_describe_epochs(self.epochs)}, "
            f"n_train={self.n_train}, n_test={self.n_test}, dim={self.dim}, n_classes={self.n_classes})"
        )


def _describe_epochs(epochs: tuple[int, ...]) -> str:
    if len(epochs) > 2 and list(epochs) == list(range(epochs[0], epochs[-1] + 1)):
        return f"{epochs[0]}-{epochs[-1]}"
    if len(epochs) > 8:
        return ", ".join(map(str, epochs[:4])) + ", ..., " + ", ".join(map(str, epochs[-2:]))
    return ", ".join(map(str, epochs))


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 image, shape (h, w) or (h, w, 3|4), as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()
