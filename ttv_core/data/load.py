"""Opening training dynamics: :func:`load_dynamics` picks the reader for a folder or an ``hf://`` reference.

It sits apart from :mod:`ttv_core.data.dynamics` (the interface every reader implements) so that the
readers import the interface and this module imports the readers, with no import circle.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from . import hub, original_layout, runformat
from .dynamics import TrainingDynamics


def load_dynamics(
    path: str | Path,
    *,
    trust_code: bool = False,
    cache_dir: str | Path | None = None,
    device: str | None = None,
) -> TrainingDynamics:
    """Open training dynamics from a ttv run folder, an original-layout folder or the Hugging Face Hub.

    Parameters
    ----------
    path : str or Path
        A local folder, or ``hf://owner/name[@revision][/subfolder]`` for a dataset repository on the
        Hub (a bare ``owner/name`` also works when no local folder has that name).
    trust_code : bool, default False
        Original-layout folders ship their model as Python code (``Model/model.py``); ttv runs it
        only when this is True. ttv runs never contain code.
    cache_dir : str or Path, optional
        Where derived data (e.g. representations extracted from an original-layout folder) is kept;
        see :func:`ttv_core.cachedir.resolve_cache_dir`.
    device : str, optional
        Where an original-layout model extracts representations ("cpu", "cuda"); default: the GPU if
        there is one.

    Raises
    ------
    DataError
        The folder is missing or is no known layout; the message says which files were expected.
    TrustRequiredError
        The source is an original-layout folder and ``trust_code`` is False.
    """
    text = str(path)
    local = Path(text).expanduser()
    if hub.is_hub_reference(text) and not local.exists():
        folder = hub.fetch(text)
        return _open_folder(folder, location=text, trust_code=trust_code, cache_dir=cache_dir, device=device)
    if not local.exists():
        raise DataError(
            f"{text}: no such folder. Give a ttv run folder, an original-layout folder (with config.json), "
            "or a Hugging Face dataset as hf://owner/name."
        )
    if not local.is_dir():
        raise DataError(f"{text}: is a file; training dynamics are a folder (ttv run or original layout).")
    return _open_folder(local, location=text, trust_code=trust_code, cache_dir=cache_dir, device=device)


def _open_folder(folder: Path, *, location: str, trust_code: bool, cache_dir, device) -> TrainingDynamics:
    if runformat.is_run(folder):
        return runformat.RunDynamics(folder, location=location, cache_dir=cache_dir)
    if original_layout.is_original_layout(folder):
        return original_layout.OriginalDynamics(
            folder, location=location, trust_code=trust_code, cache_dir=cache_dir, device=device
        )
    raise DataError(
        f"{location}: not a training-dynamics folder. Expected either {runformat.MANIFEST} (a ttv run, "
        "e.g. from `ttv demo` or ttv_core.Recorder) or config.json with a \"DVI\" section "
        "(the original DeepVisualInsight layout)."
    )
