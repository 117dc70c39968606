"""Test-wide settings: no network, and every cache in a throw-away folder.

The Hugging Face Hub client reads HF_HUB_OFFLINE and HF_HUB_CACHE when it is first imported, so they
are set here, before any test module imports it. No test may touch the network or the user's caches.
"""

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_ROOT = Path(tempfile.mkdtemp(prefix="ttv-tests-"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_CACHE"] = str(_SESSION_ROOT / "hf-hub-cache")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["TTV_CACHE_DIR"] = str(_SESSION_ROOT / "ttv-cache")
os.environ["TTV_TRAIN_DEMO"] = "0"  # AppTests open the demo: only the tests of unasked training turn it on


@pytest.fixture(scope="session")
def hub_cache() -> Path:
    """The offline Hugging Face cache folder every test shares (tests add repos to it)."""
    path = Path(os.environ["HF_HUB_CACHE"])
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def demo_run() -> Path:
    """The built-in demo, built once per test session (a few seconds). Treat it as read-only."""
    from ttv_core import ensure_demo

    return ensure_demo()


@pytest.fixture()
def cache_dir(tmp_path: Path) -> Path:
    """A fresh ttv cache folder for one test."""
    path = tmp_path / "cache"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory, demo_run) -> Path:
    """The demo's first 4 epochs cut to 300 training and 100 test samples: real dynamics, quick to fit."""
    import ttv_core

    demo = ttv_core.load_dynamics(demo_run)
    path = tmp_path_factory.mktemp("runs") / "small-demo"
    recorder = ttv_core.Recorder(path, classes=demo.classes, train_labels=demo.labels("train")[:300],
                                 test_labels=demo.labels("test")[:100])
    for epoch in (1, 2, 3, 4):
        recorder.log_epoch(epoch, train=demo.representations(epoch)[:300], test=demo.representations(epoch, "test")[:100],
                           head=demo.head(epoch).module)
    recorder.close()
    return path


@pytest.fixture(scope="session")
def mapped_run(small_demo) -> Path:
    """``small_demo`` with every method's maps of all 4 epochs in the session's cache, under
    ``helpers.VIEW_CONFIG``: what the dashboard's views show without training."""
    import ttv_core
    from helpers import VIEW_CONFIG

    dynamics = ttv_core.load_dynamics(small_demo)
    for method in ttv_core.METHODS:
        ttv_core.Visualization(dynamics, method, VIEW_CONFIG).fit()
    return small_demo


@pytest.fixture()
def registry():
    """A job registry of the dashboard's own (not the server's), shut down after the test."""
    from ttv_core.app.jobs import JobRegistry

    registry = JobRegistry()
    yield registry
    registry.shutdown()
