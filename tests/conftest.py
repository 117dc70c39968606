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
