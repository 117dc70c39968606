"""Small builders shared by tests."""

import os
import threading
import time
from pathlib import Path

import numpy as np
from torch import nn

from ttv_core import Recorder
from ttv_core.config import VisConfig

import ttv_core
from ttv_core.app import page_path as page_script

# The installed package's main script (what `ttv app` runs); the browser test runs the repository root's.
APP = str(Path(ttv_core.__file__).parent / "app" / "streamlit_app.py")
# Small and quick maps for dashboard tests (the ``mapped_run`` fixture trains these).
VIEW_CONFIG = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=2, warm_max_passes=2, resolution=24)


def open_app(page: str | None = None, *, view_config: VisConfig | None = None, **query_params: str):
    """The dashboard in an AppTest, run once with ``query_params`` (and on ``page``, e.g. "train", see
    :func:`page`); ``view_config`` is put in the session as the configuration last trained."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query_params)
    if view_config is not None:
        at.session_state["view_config"] = view_config
    at.run()
    if page is not None:
        at.switch_page(page_script(page)).run()
    return at


def make_small_run(path: Path, *, epochs=(1, 2, 3), n_train=30, n_test=10, dim=4, n_classes=3, seed=0) -> Path:
    """A ttv run of random (but finite, well-formed) representations, built in milliseconds."""
    rng = np.random.default_rng(seed)
    recorder = Recorder(
        path,
        classes=[f"class {c}" for c in range(n_classes)],
        train_labels=np.arange(n_train) % n_classes,
        test_labels=np.arange(n_test) % n_classes,
        head=nn.Linear(dim, n_classes),
    )
    for epoch in epochs:
        recorder.log_epoch(
            epoch,
            train=rng.normal(size=(n_train, dim)).astype(np.float32),
            test=rng.normal(size=(n_test, dim)).astype(np.float32),
        )
    return Path(path)


def gaussian_blobs(n_classes: int, *, scale: float, per_class: int = 60, dim: int = 12, seed: int = 0):
    """Gaussian blobs in ``dim``-D (centres drawn with std ``scale``: 6 well apart, 3 overlapping) and a
    linear head scoring each blob by closeness to its centre. Returns (points, labels, head)."""
    import torch

    from ttv_core.data.head import Head

    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=scale, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    points = (centres[labels] + rng.normal(size=(len(labels), dim))).astype(np.float32)
    linear = nn.Linear(dim, n_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(centres).float())
        linear.bias.copy_(torch.from_numpy(-0.5 * (centres**2).sum(1)).float())
    return points, labels, Head(linear, dim=dim, n_classes=n_classes)


class GatedStore:
    """A result store that holds every computation until released: a job caught mid-way, deterministically."""

    def __init__(self, store):
        self.store, self.entered, self.release = store, threading.Event(), threading.Event()

    def get(self, key, default=None):
        return self.store.get(key, default=default)

    def get_or_compute(self, key, compute, **options):
        self.entered.set()
        self.release.wait(10)
        return self.store.get_or_compute(key, compute, **options)


def wait_for(job, timeout=30.0):
    """Poll a background job (``ttv_core.app.jobs``) until it is no longer queued or running, or ``timeout``."""
    deadline = time.time() + timeout
    while job.active and time.time() < deadline:
        time.sleep(0.02)
    return job


from ttv_core.data.runformat import RunDynamics  # noqa: E402


class DyingRun(RunDynamics):
    """A ttv run whose process dies (exit status 3, no exception, no message) when epoch 2 is read: a
    stand-in for a fit that crashes its interpreter (a segfault, the OOM killer). Picklable, so a fit in
    a worker process dies there."""

    def representations(self, epoch: int, split: str = "train"):
        if epoch == 2:
            os._exit(3)
        return super().representations(epoch, split)


def leader_with_a_child(pid_file: str) -> None:
    """A spawned process's body: lead a process group (as a fit's worker does), start a long child, wait."""
    import os
    import subprocess

    os.setsid()
    child = subprocess.Popen(["sleep", "60"])
    Path(pid_file).write_text(str(child.pid))
    child.wait()
