"""Reading from the Hugging Face Hub, fully offline, against a hand-made hub cache (see conftest.py)."""

import shutil

import pytest

from helpers import make_small_run
from ttv_core import DataError, load_dynamics
from ttv_core.data.hub import HubReference, parse_reference

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _publish(hub_cache, repo_id, tree):
    """Lay out `tree` (a folder) as the cached snapshot of dataset `repo_id` at the `main` revision."""
    storage = hub_cache / f"datasets--{repo_id.replace('/', '--')}"
    snapshot = storage / "snapshots" / COMMIT
    if storage.exists():
        shutil.rmtree(storage)
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    shutil.copytree(tree, snapshot)
    return snapshot


def test_reads_a_cached_repo_offline(tmp_path, hub_cache):
    run = make_small_run(tmp_path / "build" / "run")
    _publish(hub_cache, "alice/digits-run", tmp_path / "build")
    dynamics = load_dynamics("hf://alice/digits-run/run")
    assert dynamics.epochs == (1, 2, 3) and dynamics.location == "hf://alice/digits-run/run"
    assert dynamics.fingerprint(2) == load_dynamics(run).fingerprint(2)
    assert load_dynamics(f"hf://datasets/alice/digits-run@{COMMIT}/run").n_train == 30


def test_bare_repo_id_and_root_level_run(tmp_path, hub_cache):
    make_small_run(tmp_path / "run")
    _publish(hub_cache, "bob/root-run", tmp_path / "run")
    assert load_dynamics("bob/root-run").dim == 4


def test_missing_repo_offline_is_a_clear_error():
    with pytest.raises(DataError, match="not in the local Hugging Face cache"):
        load_dynamics("hf://nobody/nothing-here")


def test_missing_subfolder_is_a_clear_error(tmp_path, hub_cache):
    make_small_run(tmp_path / "run")
    _publish(hub_cache, "carol/run", tmp_path / "run")
    with pytest.raises(DataError, match="has no folder 'cifar10'"):
        load_dynamics("hf://carol/run/cifar10")


def test_parse_reference():
    assert parse_reference("hf://a/b@v1.0/x/y") == HubReference("a/b", "v1.0", "x/y")
    assert str(parse_reference("hf://datasets/a/b")) == "hf://a/b"
    with pytest.raises(DataError, match="not a Hugging Face dataset reference"):
        parse_reference("hf://just-a-name")
