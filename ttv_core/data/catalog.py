"""What runs a folder holds, found by reading manifests only: the dashboard's Datasets page lists these.

:func:`scan` walks the data roots a server's operator configured and describes every run it finds
without opening it: a ttv run from its ``ttv_run.json`` (and the names of its epoch folders), an
original-layout folder from its ``config.json``. No dataset code is imported, no array is read, so
listing a hundred runs takes milliseconds. A folder that looks like a run but cannot be read (a
damaged manifest, a config.json without its DVI section, a folder this process may not read) is
listed as *broken*, with the reason; a folder that holds no run is walked into, up to
``max_depth`` levels, and left out if nothing is found.

Nothing outside the roots is listed: a symbolic link that leads out of every root is skipped, and
each folder is visited once (a link back up would loop).
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from .original_layout import CONFIG, read_config
from .runformat import EPOCHS_DIR, MANIFEST, read_manifest

KINDS = ("ttv", "original", "broken")
MAX_DEPTH = 3  # folder levels walked below a root: room for groups (root/lab/project/run), never the whole disk
LIMIT = 2000  # folders described at most per scan: a root holding more lists the first ones
THUMBNAIL_BYTES = 256_000  # a sprite file larger than this is not a thumbnail: left out of the strip
THUMBNAIL_PIXELS = 512 * 512  # nor one that decodes to more pixels (a small file can hold a huge image)
_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")
# Folders that a run is made of: one without its manifest is a run that lost it, not a group of runs.
_TTV_PARTS, _ORIGINAL_PARTS = ("epochs", "labels"), ("Model", "Training_data")


@dataclass(frozen=True)
class RunListing:
    """One run (or broken run) found under a data root, described from its manifest.

    ``epochs``: the epoch numbers it holds; ``n_train`` / ``n_test``: its samples (an original-layout
    folder's as its config.json states them, None where it does not); ``dim``: the representation's
    width (None for an original-layout folder: its model computes it); ``reason``: why a broken one
    cannot be opened, in words naming the file.
    """

    folder: Path
    root: Path
    kind: str
    name: str
    epochs: tuple[int, ...] = ()
    n_train: int | None = None
    n_test: int | None = None
    dim: int | None = None
    classes: tuple[str, ...] = ()
    thumbnails: bool = False
    reason: str = ""

    @property
    def relative(self) -> str:
        """The folder relative to its root ("." for the root itself), as a visitor may see it."""
        return self.folder.relative_to(self.root).as_posix()

    @property
    def broken(self) -> bool:
        return self.kind == "broken"


def scan(roots, *, max_depth: int = MAX_DEPTH, limit: int = LIMIT) -> list[RunListing]:
    """Every run under ``roots`` (folders), sorted by root then path; see the module docstring."""
    found: list[RunListing] = []
    seen: set[Path] = set()
    resolved = [Path(root).expanduser().resolve() for root in roots]
    for root in resolved:
        _walk(root, root, resolved, 0, max_depth, limit, found, seen)
    return found


def _inside(path: Path, roots: list[Path]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)


def _walk(folder: Path, root: Path, roots: list[Path], depth: int, max_depth: int, limit: int,
          found: list[RunListing], seen: set[Path]) -> None:
    if len(found) >= limit or folder in seen:
        return
    seen.add(folder)
    try:
        entries = sorted((entry for entry in os.scandir(folder) if not entry.name.startswith(".")),
                         key=lambda entry: entry.name)
        names = {entry.name for entry in entries}
        subfolders = [entry for entry in entries if entry.is_dir()]
    except OSError as error:
        found.append(_broken(folder, root, f"cannot be read ({error.strerror or error})."))
        return
    listing = describe(folder, root, names)
    if listing is not None:
        found.append(listing)
        return
    if depth >= max_depth:
        return
    for entry in subfolders:
        path = Path(entry.path)
        if entry.is_symlink():
            path = path.resolve()
            if not _inside(path, roots):
                continue  # a link out of the data root: never listed, never opened
        _walk(path, root if path.is_relative_to(root) else next(r for r in roots if path.is_relative_to(r)),
              roots, depth + 1, max_depth, limit, found, seen)


def describe(folder: Path, root: Path, names: set[str] | None = None) -> RunListing | None:
    """``folder`` as a run listing (broken ones included), or None if it holds no run (``names``: its
    entries, when the caller has listed them already)."""
    names = set(os.listdir(folder)) if names is None else names
    try:
        if MANIFEST in names:
            return _ttv(folder, root)
        if CONFIG in names:
            return _original(folder, root)
    except DataError as error:
        return _broken(folder, root, _without_folder(str(error), folder))
    except OSError as error:
        return _broken(folder, root, f"cannot be read ({error.strerror or error}).")
    if any(part in names for part in _TTV_PARTS) and (folder / "labels").is_dir():
        return _broken(folder, root, f"has labels/ but no {MANIFEST}: the run's manifest is missing (a recording "
                                     "that never wrote its header, or a copy without it). Record the run again.")
    if all(part in names for part in _ORIGINAL_PARTS):
        return _broken(folder, root, f"has Model/ and Training_data/ but no {CONFIG}: an original-layout folder "
                                     "needs it (with a DVI section) to be read.")
    return None


def _without_folder(message: str, folder: Path) -> str:
    """A reader's message with the folder's server path left out (the card already names the run)."""
    return message.replace(f"{folder}{os.sep}", "").replace(str(folder), "the folder")


def _broken(folder: Path, root: Path, reason: str) -> RunListing:
    return RunListing(folder, root, "broken", folder.name or str(folder), reason=reason)


def _ttv(folder: Path, root: Path) -> RunListing:
    manifest = read_manifest(folder)
    epochs = []
    epochs_root = folder / EPOCHS_DIR
    if epochs_root.is_dir():
        with os.scandir(epochs_root) as entries:
            epochs = sorted(int(match.group(1)) for entry in entries
                            if (match := _EPOCH_DIR.match(entry.name)) and entry.is_dir())
    return RunListing(folder, root, "ttv", str(manifest.get("name") or folder.name), tuple(epochs),
                      _count(manifest.get("n_train")), _count(manifest.get("n_test")), manifest["dim"],
                      tuple(str(name) for name in manifest["classes"]), "train" in manifest.get("thumbnails", []))


def _original(folder: Path, root: Path) -> RunListing:
    config = read_config(folder)  # checks the fields; raises DataError naming the one that is wrong
    training = json.loads((folder / CONFIG).read_text(encoding="utf-8"))["DVI"].get("TRAINING", {})
    return RunListing(folder, root, "original", folder.name, config.epochs, _count(training.get("train_num")),
                      _count(training.get("test_num")), None, config.classes, (folder / "sprites").is_dir())


def _count(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def thumbnail_strip(listing: RunListing, count: int = 8, size: int = 28) -> bytes | None:
    """One PNG of up to ``count`` training-sample thumbnails of a listed run side by side, ``size`` pixels
    square each, one sample per class first: read from ``thumbnails/train.npy`` (memory-mapped) or an
    original layout's ``sprites/<i>.png``. None where the run has none or they cannot be read: a strip is
    decoration, never an error."""
    from PIL import Image

    if not listing.thumbnails or listing.broken:
        return None
    try:
        if listing.kind == "original":
            pictures = [_sprite(listing.folder / "sprites" / f"{i}.png") for i in range(count)]
        else:
            images = np.load(listing.folder / "thumbnails" / "train.npy", mmap_mode="r", allow_pickle=False)
            picked = _one_per_class(listing.folder / "labels" / "train.npy", len(images), count)
            pictures = [Image.fromarray(np.ascontiguousarray(images[i])) for i in picked]
        pictures = [picture for picture in pictures if picture is not None]
        if not pictures:
            return None
        gap = 2
        strip = Image.new("RGB", (len(pictures) * (size + gap) - gap, size), "white")
        for index, picture in enumerate(pictures):
            strip.paste(picture.convert("RGB").resize((size, size), Image.Resampling.NEAREST if max(picture.size) <= size
                                                      else Image.Resampling.LANCZOS), (index * (size + gap), 0))
    except (OSError, ValueError, EOFError, TypeError, IndexError):
        return None
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG")
    return buffer.getvalue()


def _sprite(path: Path):
    """A sprite file as an image, or None when it is missing, too large or not an image."""
    from PIL import Image

    try:
        if not path.is_file() or path.stat().st_size > THUMBNAIL_BYTES:
            return None
        picture = Image.open(path)
        return picture if picture.size[0] * picture.size[1] <= THUMBNAIL_PIXELS else None
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _one_per_class(labels_path: Path, n: int, count: int) -> list[int]:
    """The first sample of each class, then the first samples, ``count`` at most."""
    try:
        labels = np.load(labels_path, mmap_mode="r", allow_pickle=False)[: max(n, 0)]
        _, first = np.unique(np.asarray(labels), return_index=True)
    except (OSError, ValueError, EOFError):
        first = np.zeros(0, int)
    chosen = [int(i) for i in sorted(first)[:count]]
    return chosen + [i for i in range(n) if i not in chosen][: count - len(chosen)]
