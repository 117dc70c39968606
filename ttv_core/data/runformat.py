"""ttv's own run format: a folder of self-describing, memory-mappable per-epoch arrays.

Layout (format version 1; documented for users in ``docs/FORMAT.md``)::

    RUN/
      ttv_run.json                  manifest: format, version, classes, sizes, head spec, digests
      labels/train.npy, test.npy    int64 class index per sample
      thumbnails/train.npy, ...     optional uint8 images, shape (n, h, w) or (n, h, w, 3)
      epochs/epoch_0001/            one folder per epoch, complete or absent
        train.npy, test.npy         float32 representations, shape (n, dim)
        head.npz                    head weights (no pickle), see ttv_core.data.head
        epoch.json                  epoch number, content digests, user metrics

Cache keys (:meth:`RunDynamics.fingerprint`) come from the files' content, not from what a manifest
says: each file's SHA-256 is taken from the record only while the file still has the size and
modification time recorded with it, and is computed (once, remembered in the cache folder) otherwise.
An edited file, or a run recorded without digests, never gets another run's results.

An epoch folder is written under a temporary name and renamed into place, so a crash mid-epoch
leaves no partial epoch behind and every finished epoch stays readable. Readers memory-map the
arrays: a 60,000 x 512 x 200-epoch run never has to sit in memory at once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._io import atomic_write_bytes, atomic_write_json, npy_bytes, sha256_array, sha256_bytes, sha256_file
from ..cachedir import file_digest
from .dynamics import SPLITS, TrainingDynamics, png_bytes
from ..errors import DataError
from .head import Head, module_from_spec

FORMAT_NAME = "ttv-run"
FORMAT_VERSION = 1
MANIFEST = "ttv_run.json"
EPOCHS_DIR = "epochs"
_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def epoch_dirname(epoch: int) -> str:
    return f"epoch_{int(epoch):04d}"


def weights_digest(weights: dict[str, np.ndarray]) -> str:
    """Digest of a head's weights (names, dtypes, shapes, values): a .npz file's bytes also hold the
    time it was written, so the same weights saved twice must still give the same key."""
    return sha256_bytes(json.dumps({key: sha256_array(np.asarray(value)) for key, value in sorted(weights.items())}).encode())


def file_record(path: Path, digest: str | None = None) -> dict[str, Any]:
    """What a reader needs to trust ``path``'s digest without reading it again: the digest of its bytes
    (computed when not given), its size and its modification time."""
    stat = path.stat()
    return {"sha256": digest or sha256_file(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_run(folder: str | os.PathLike) -> bool:
    """True if ``folder`` holds a ttv run manifest."""
    return (Path(folder) / MANIFEST).is_file()


def build_once(target: Path, build: Callable[[Path], Any]) -> Path:
    """The run at ``target``, made by ``build(folder)`` on first use and reused after.

    Built in a temporary folder beside ``target`` and renamed into place, so two processes asking at
    once never see half a run; the loser of that race simply uses the winner's run.
    """
    target = Path(target)
    if is_run(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(staging / "run")
        try:
            os.replace(staging / "run", target)
        except OSError:
            if not is_run(target):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _load_npy(path: Path, *, mmap: bool) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: missing. The run is incomplete; re-record this epoch or delete its folder.")
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(
            f"{path}: not a readable .npy file ({error}). It is damaged or truncated; re-record it."
        ) from None


def read_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``ttv_run.json``; raises DataError naming the field that is wrong."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path}: not readable JSON ({error}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise DataError(f"{path}: not a ttv run manifest (its 'format' field must be {FORMAT_NAME!r}).")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise DataError(
            f"{path}: format_version {version!r}, but this ttv reads version {FORMAT_VERSION}. "
            "Upgrade ttv (pip install -U ...) to read newer runs."
        )
    for field, kind in (("classes", list), ("dim", int), ("head", dict)):
        if not isinstance(manifest.get(field), kind):
            raise DataError(f"{path}: field {field!r} must be a {kind.__name__}; got {manifest.get(field)!r}.")
    return manifest


# -- writing ----------------------------------------------------------------------------------
def write_header(
    folder: Path,
    *,
    classes: list[str],
    dim: int,
    head_spec: dict[str, Any],
    labels: dict[str, np.ndarray],
    thumbnails: dict[str, np.ndarray],
    name: str,
    meta: dict[str, Any],
) -> None:
    """Write labels, thumbnails and the manifest (last, so a run exists only once it is whole)."""
    digests, files = {}, {}
    for split in SPLITS:
        data = npy_bytes(labels[split].astype(np.int64))
        atomic_write_bytes(folder / "labels" / f"{split}.npy", data)
        digests[f"labels/{split}.npy"] = sha256_bytes(data)
        files[f"labels/{split}.npy"] = file_record(folder / "labels" / f"{split}.npy", digests[f"labels/{split}.npy"])
    for split, images in thumbnails.items():
        atomic_write_bytes(folder / "thumbnails" / f"{split}.npy", npy_bytes(images))
    from .. import __version__

    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "ttv_version": __version__,
        "classes": list(classes),
        "n_train": int(len(labels["train"])),
        "n_test": int(len(labels["test"])),
        "dim": int(dim),
        "head": head_spec,
        "thumbnails": sorted(thumbnails),
        "digests": digests,
        "files": files,
        "meta": meta,
    }
    atomic_write_json(folder / MANIFEST, manifest)


def write_epoch(
    folder: Path,
    epoch: int,
    *,
    representations: dict[str, np.ndarray],
    head_weights: dict[str, np.ndarray],
    metrics: dict[str, Any],
    overwrite: bool = False,
) -> Path:
    """Write one epoch atomically: into a temporary folder, then renamed to ``epochs/epoch_<e>``."""
    epochs_root = folder / EPOCHS_DIR
    epochs_root.mkdir(parents=True, exist_ok=True)
    target = epochs_root / epoch_dirname(epoch)
    if target.exists() and not overwrite:
        raise DataError(f"{target}: epoch {epoch} is already recorded; pass overwrite=True to replace it.")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=epochs_root))
    try:
        digests = {}
        for split in SPLITS:
            array = np.ascontiguousarray(representations[split], dtype=np.float32)
            data = npy_bytes(array)
            (staging / f"{split}.npy").write_bytes(data)
            digests[f"{split}.npy"] = sha256_bytes(data)
        np.savez(staging / "head.npz", **head_weights)
        digests["head.npz"] = weights_digest(head_weights)
        # Renaming the folder into place keeps the files' modification times: the records stay valid.
        files = {name: file_record(staging / name, digest) for name, digest in digests.items()}
        (staging / "epoch.json").write_text(
            json.dumps({"epoch": int(epoch), "digests": digests, "files": files, "metrics": metrics}, indent=2) + "\n"
        )
        if target.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=epochs_root))
            os.replace(target, trash / target.name)
            os.replace(staging, target)
            shutil.rmtree(trash)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


# -- reading ----------------------------------------------------------------------------------
class RunDynamics(TrainingDynamics):
    """Training dynamics stored in ttv's run format (see the module docstring)."""

    source_kind = "ttv"

    def __init__(self, folder: str | os.PathLike, *, location: str | None = None, cache_dir=None):
        self.folder = Path(folder)
        self.cache_dir = cache_dir  # where computed file digests are remembered
        self._digests: dict[tuple[str, int, int], str] = {}
        self.manifest = read_manifest(self.folder)
        labels = {split: _load_npy(self.folder / "labels" / f"{split}.npy", mmap=False) for split in SPLITS}
        super().__init__(
            location=location or str(folder),
            classes=self.manifest["classes"],
            epochs=self._scan_epochs(),
            dim=self.manifest["dim"],
            train_labels=labels["train"],
            test_labels=labels["test"],
        )
        self._thumbnails: dict[str, np.ndarray] = {}

    def _scan_epochs(self) -> list[int]:
        root = self.folder / EPOCHS_DIR
        if not root.is_dir():
            return []
        epochs = []
        for entry in root.iterdir():
            match = _EPOCH_DIR.match(entry.name)
            if match and entry.is_dir():
                if not (entry / "epoch.json").is_file():
                    raise DataError(f"{entry}: epoch folder without epoch.json; it is damaged. Delete it or re-record.")
                epochs.append(int(match.group(1)))
                self._epoch_json(entry / "epoch.json", epochs[-1])
        return epochs

    def _epoch_dir(self, epoch: int) -> Path:
        return self.folder / EPOCHS_DIR / epoch_dirname(epoch)

    def _representation_where(self, epoch: int, split: str) -> str:
        return str(self._epoch_dir(epoch) / f"{split}.npy")

    def _read_representations(self, epoch: int, split: str) -> np.ndarray:
        return _load_npy(self._epoch_dir(epoch) / f"{split}.npy", mmap=True)

    def epoch_info(self, epoch: int) -> dict[str, Any]:
        """The epoch's ``epoch.json``: its digests and the metrics the recorder was given."""
        epoch = self.check_epoch(epoch)
        return self._epoch_json(self._epoch_dir(epoch) / "epoch.json", epoch)

    @staticmethod
    def _epoch_json(path: Path, epoch: int) -> dict[str, Any]:
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise DataError(f"{path}: not readable JSON ({error}).") from None
        if not isinstance(info, dict) or info.get("epoch") != epoch:
            said = info.get("epoch") if isinstance(info, dict) else info
            raise DataError(f"{path}: says epoch {str(said)[:40]!s}, but its folder is epoch {epoch}'s. The folder "
                            "was renamed or copied into place by hand; rename it back or re-record this epoch.")
        return info

    def head(self, epoch: int) -> Head:
        path = self._epoch_dir(self.check_epoch(epoch)) / "head.npz"
        if not path.is_file():
            raise DataError(f"{path}: missing; the epoch has no head weights. Re-record this epoch.")
        module = module_from_spec(self.manifest["head"], self._head_weights(path), where=str(path))
        return Head(module, dim=self.dim, n_classes=self.n_classes, where=str(path))

    @staticmethod
    def _head_weights(path: Path) -> dict[str, np.ndarray]:
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise DataError(f"{path}: not a readable .npz file ({error}); it is damaged or was cut short. "
                            "Re-record this epoch.") from None

    def fingerprint(self, epoch: int) -> str:
        """SHA-256 over the content of every file ``epoch``'s results read (labels, representations, head)
        and the manifest fields ttv uses; see the module docstring for how file digests are trusted."""
        epoch = self.check_epoch(epoch)
        info = self.epoch_info(epoch)  # read each time, like the files' sizes and times: a file edited while
        labels = {name: self._content(self.folder / name, self.manifest.get("files"))  # a server runs counts
                  for name in ("labels/train.npy", "labels/test.npy")}
        folder = self._epoch_dir(epoch)
        files = {name: self._content(folder / name, info.get("files")) for name in ("train.npy", "test.npy")}
        files["head.npz"] = self._content(folder / "head.npz", info.get("files"),
                                          lambda path: weights_digest(self._head_weights(path)))
        essentials = {
            "classes": self.manifest["classes"],
            "dim": self.manifest["dim"],
            "head": self.manifest["head"],
            "labels": labels,
            "epoch": files,
        }
        return sha256_bytes(json.dumps(essentials, sort_keys=True).encode())

    def _content(self, path: Path, records: Any, compute: Callable[[Path], str] | None = None) -> str:
        """SHA-256 of ``path``'s bytes (or ``compute(path)``): the recorded one while the file is as
        recorded, else computed."""
        try:
            stat = path.stat()
        except OSError:
            raise DataError(f"{path}: missing or unreadable; this run is incomplete. Re-record it.") from None
        record = records.get(path.name if path.parent.name != "labels" else f"labels/{path.name}") \
            if isinstance(records, dict) else None
        if (isinstance(record, dict) and isinstance(record.get("sha256"), str) and record.get("size") == stat.st_size
                and record.get("mtime_ns") == stat.st_mtime_ns):
            return record["sha256"]
        if compute is None and path.is_symlink():
            # A Hugging Face snapshot links each large (LFS) file to blobs/<the SHA-256 of its bytes>, the
            # name the Hub gave it: a published 25 GB run opens without hashing its arrays again.
            blob = path.resolve()
            if blob.parent.name == "blobs" and _SHA256.fullmatch(blob.name):
                return blob.name
        seen = (str(path), stat.st_size, stat.st_mtime_ns)  # computed once per version of the file
        if seen not in self._digests:
            self._digests[seen] = compute(path) if compute else file_digest(path, self.cache_dir)
        return self._digests[seen]

    @property
    def has_thumbnails(self) -> bool:
        return "train" in self.manifest.get("thumbnails", [])

    def _labels_where(self, split: str) -> str:
        return str(self.folder / "labels" / f"{split}.npy")

    def _thumbnail(self, index: int, split: str) -> bytes | None:
        if split not in self.manifest.get("thumbnails", []):
            return None
        if split not in self._thumbnails:
            self._thumbnails[split] = _load_npy(self.folder / "thumbnails" / f"{split}.npy", mmap=True)
        return png_bytes(np.asarray(self._thumbnails[split][index]))

    def summary(self) -> dict[str, Any]:
        return {**super().summary(), "name": self.manifest.get("name", ""), "format_version": FORMAT_VERSION}
