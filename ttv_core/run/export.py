"""Writing a visualization's results to a folder: ttv's own output layout, or the original tool's names.

ttv layout (``ttv proxy PATH --out DIR``)::

    DIR/epoch_<e>/embedding.npy     training samples' 2-D positions, shape (n_train, 2), float32
    DIR/epoch_<e>/embedding_test.npy
    DIR/epoch_<e>/territory.png     the territory image (absent for the umap baseline)
    DIR/epoch_<e>/extent.json       {"x_min", "y_min", "x_max", "y_max"}: where the image lies
    DIR/<method>_eval.json          faithfulness figures, original key names (ttv_core.evaluate.figures)

Original layout (``ttv export PATH --method M --layout original --out DIR``)::

    DIR/Model/Epoch_<e>/embedding.npy, bgimg.png, scale.npy (= [x_min, y_min, x_max, y_max])
    DIR/Model/proxy_eval.json | trustvis_al_eval.json | umap_eval.json, subject_model_eval.json

Files are written atomically. A folder that already holds files is refused unless ``overwrite``;
even then only the files named above are replaced, nothing else in the folder is touched.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_bytes, atomic_write_json, npy_bytes
from ..errors import DataError

EVAL_FILES = {"proxy": "proxy_eval.json", "al": "trustvis_al_eval.json", "umap": "umap_eval.json"}
LAYOUTS = ("ttv", "original")


def check_out(out: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse a file or a non-empty folder ``out`` unless ``overwrite``, creating nothing: called before any
    work is done, so a run refused later (unreadable, untrusted code, bad settings) leaves no empty folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is a file; --out needs a folder.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise DataError(
            f"{out}: already holds files. Pass --overwrite to replace ttv's output files there (nothing else is "
            "touched), or choose another --out."
        )
    return out


def prepare_out(out: str | os.PathLike, overwrite: bool) -> None:
    """:func:`check_out`, then create ``out``: called once there are results to write."""
    check_out(out, overwrite).mkdir(parents=True, exist_ok=True)


def write_results(visualization, out: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write every asked epoch's embedding, territory and extent, and the evaluation JSON, under ``out``."""
    out = Path(out)
    prepare_out(out, overwrite)
    extent = visualization.extent_
    for epoch in visualization.epochs_:
        if epoch not in visualization.results_:
            continue  # cancelled before this epoch
        folder = out / f"epoch_{epoch}"
        result = visualization.results_[epoch]
        atomic_write_bytes(folder / "embedding.npy", npy_bytes(result.embeddings["train"]))
        atomic_write_bytes(folder / "embedding_test.npy", npy_bytes(result.embeddings["test"]))
        territory = visualization.territory(epoch)
        if territory is not None:
            atomic_write_bytes(folder / "territory.png", territory.png())
        atomic_write_json(folder / "extent.json", dict(zip(("x_min", "y_min", "x_max", "y_max"), extent.as_list())))
    atomic_write_json(out / EVAL_FILES[visualization.method], visualization.evaluation())
    return out


def write_original_layout(visualization, out: str | os.PathLike, *, subject: dict[str, Any] | None = None,
                          overwrite: bool = False) -> Path:
    """Write results under the original tool's file names (see the module docstring)."""
    out = Path(out)
    prepare_out(out, overwrite)
    model = out / "Model"
    scale = np.asarray(visualization.extent_.as_list(), dtype=np.float32)
    for epoch in visualization.epochs_:
        if epoch not in visualization.results_:
            continue
        folder = model / f"Epoch_{epoch}"
        atomic_write_bytes(folder / "embedding.npy", npy_bytes(visualization.results_[epoch].embeddings["train"]))
        atomic_write_bytes(folder / "scale.npy", npy_bytes(scale))
        territory = visualization.territory(epoch)
        if territory is not None:
            atomic_write_bytes(folder / "bgimg.png", territory.png())
    atomic_write_json(model / EVAL_FILES[visualization.method], visualization.evaluation())
    if subject is not None:
        atomic_write_json(model / "subject_model_eval.json", subject)
    return out

