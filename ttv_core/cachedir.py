"""Where ttv keeps what it derives from the user's data, and content digests of large files.

Nothing is ever written into the user's data folder (a Hub snapshot is read-only anyway): derived
data lives under one cache folder, chosen by :func:`resolve_cache_dir`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from ._io import atomic_write_bytes, sha256_file
from .errors import ConfigError

ENV_VAR = "TTV_CACHE_DIR"


def default_cache_dir() -> Path:
    """The per-user cache folder of this platform (``~/.cache/ttv`` on Linux)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "ttv" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ttv"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ttv"


def resolve_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder to use: ``cache_dir`` if given, else ``$TTV_CACHE_DIR``, else the per-user default."""
    if cache_dir:
        origin = "--cache-dir / cache_dir="
    elif os.environ.get(ENV_VAR):
        origin = f"the {ENV_VAR} environment variable"
    else:
        origin = "the default cache folder"
    path = Path(cache_dir or os.environ.get(ENV_VAR) or default_cache_dir()).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError("not writable")
    except OSError as error:
        raise ConfigError(
            f"{path}: ttv cannot use this cache folder ({error}); it comes from {origin}. "
            f"Point {ENV_VAR} or --cache-dir at a writable folder."
        ) from None
    return path


def file_digest(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 of a file's content, remembered per (path, size, mtime) so large files are read once."""
    path = Path(path).resolve()
    stat = path.stat()
    key = hashlib.sha256(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()
    memo = resolve_cache_dir(cache_dir) / "file-digests" / key
    try:
        return memo.read_text().strip()
    except OSError:
        pass
    digest = sha256_file(path)
    atomic_write_bytes(memo, digest.encode())
    return digest
