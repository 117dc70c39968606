"""A run's files, not what its records say, decide its results; broken heads and data fail with one line.

Issue 13's "silent wrong results": an edited epoch was reported cached with the old maps, two runs
recorded without digests got each other's maps, a head with NaN weights gave 9.9 % accuracy where the
truth was 65.8 %, a head narrower than the class list raised a numpy broadcast error.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

import ttv_core
from helpers import VIEW_CONFIG, make_small_run
from ttv_core.data import runformat
from ttv_core.errors import DataError

EPOCH = "epochs/epoch_0001"


def edit_json(path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def forget_digests(run) -> None:
    """What a run recorded by hand, or by an older recorder, looks like: no digests, no file records."""
    edit_json(run / "ttv_run.json", lambda m: (m.pop("digests", None), m.pop("files", None)))
    for info in run.glob("epochs/*/epoch.json"):
        edit_json(info, lambda e: (e.pop("digests", None), e.pop("files", None)))


def test_an_edited_epoch_gets_new_maps_not_the_cached_ones(tmp_path):
    run = make_small_run(tmp_path / "run")
    first = ttv_core.load_dynamics(run).fingerprint(1)
    ttv_core.Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG, cache_dir=tmp_path / "cache").fit([1])
    path = run / EPOCH / "train.npy"
    array = np.load(path)
    np.save(path, array[::-1].copy())  # same size and shape, other content; the records still say the old digest
    edited = ttv_core.load_dynamics(run)
    assert edited.fingerprint(1) != first
    seen = []
    ttv_core.Visualization(edited, "proxy", VIEW_CONFIG, cache_dir=tmp_path / "cache").fit(
        [1], on_epoch_end=lambda progress: seen.append(progress.status))
    assert seen == ["computed"]


def test_runs_without_digests_never_share_results_unless_their_files_are_equal(tmp_path):
    one, two = make_small_run(tmp_path / "one", seed=1), make_small_run(tmp_path / "two", seed=2)
    forget_digests(one)
    copy = tmp_path / "copy"
    shutil.copytree(one, copy)
    np.savez(copy / EPOCH / "head.npz", **dict(np.load(one / EPOCH / "head.npz")))  # the same weights saved anew
    for run in (one, two, copy):
        forget_digests(run)
    prints = {name: ttv_core.load_dynamics(run).fingerprint(2) for name, run in (("one", one), ("two", two), ("copy", copy))}
    assert prints["one"] != prints["two"]
    assert prints["one"] == prints["copy"]  # the same content: results are shared, wherever the run lives


def test_a_recorded_run_is_trusted_without_reading_its_files_again(tmp_path, monkeypatch):
    run = make_small_run(tmp_path / "run")
    monkeypatch.setattr(runformat, "file_digest", lambda *a, **k: pytest.fail("a file was hashed again"))
    dynamics = ttv_core.load_dynamics(run)
    assert len({dynamics.fingerprint(e) for e in dynamics.epochs}) == 3


def test_head_weights_with_nan_name_the_file_and_the_weight(tmp_path):
    run = make_small_run(tmp_path / "run")
    path = run / EPOCH / "head.npz"
    with np.load(path) as archive:
        weights = {key: archive[key] for key in archive.files}
    weights["0.weight"][1, 2] = np.nan
    np.savez(path, **weights)
    dynamics = ttv_core.load_dynamics(run)
    with pytest.raises(DataError, match=r"head\.npz: weight '0\.weight' holds NaN or infinity \(1 of 12 values\)"):
        dynamics.validate()
    result = subprocess.run([sys.executable, "-m", "ttv_core", "info", str(run)], capture_output=True, text=True)
    assert result.returncode == 2 and "head.npz: weight '0.weight' holds NaN" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("classes", [[f"c{i}" for i in range(4)], ["only"]])
def test_a_head_that_disagrees_with_the_class_list_is_named(tmp_path, classes):
    run = make_small_run(tmp_path / "run")  # a 3-logit head
    edit_json(run / "ttv_run.json", lambda m: m.update(classes=classes))
    labels = np.zeros(30, np.int64)
    np.save(run / "labels" / "train.npy", labels)
    np.save(run / "labels" / "test.npy", labels[:10])
    dynamics = ttv_core.load_dynamics(run)
    with pytest.raises(DataError, match=rf"head\.npz: the head returns logits of shape \(\d+, 3\) .* the run has {len(classes)} classes"):
        dynamics.validate()


def test_a_truncated_head_file_is_a_clear_error(tmp_path):
    run = make_small_run(tmp_path / "run")
    path = run / EPOCH / "head.npz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(DataError, match=r"head\.npz: not a readable \.npz file .*Re-record this epoch"):
        ttv_core.load_dynamics(run).head(1)


def test_an_epoch_json_of_another_epoch_is_refused(tmp_path):
    run = make_small_run(tmp_path / "run")
    edit_json(run / "epochs" / "epoch_0002" / "epoch.json", lambda e: e.update(epoch=7))
    with pytest.raises(DataError, match=r"epoch_0002/epoch\.json: says epoch 7, but its folder is epoch 2's"):
        ttv_core.load_dynamics(run).fingerprint(2)


def test_huge_representations_are_refused_before_any_distance(tmp_path):
    run = make_small_run(tmp_path / "run")
    path = run / EPOCH / "train.npy"
    array = np.load(path)
    array[3, 1] = 3e38
    np.save(path, array)
    with pytest.raises(DataError, match=r"train\.npy: representations reach 3e\+38; .*Scale the features down"):
        ttv_core.load_dynamics(run).representations(1)


def test_a_hub_snapshot_is_keyed_by_its_blob_names_without_hashing_again(tmp_path, monkeypatch):
    import hashlib
    import os

    run = make_small_run(tmp_path / "run")
    forget_digests(run)  # a snapshot's files never match a record: their times are the download's
    expected = ttv_core.load_dynamics(run).fingerprint(2)
    snapshot, blobs = tmp_path / "hub" / "snapshots" / "abc", tmp_path / "hub" / "blobs"
    blobs.mkdir(parents=True)
    for path in sorted(run.rglob("*")):
        if path.is_file():
            target = snapshot / path.relative_to(run)
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".npy":  # large files: LFS blobs named by their SHA-256
                blob = blobs / hashlib.sha256(path.read_bytes()).hexdigest()
                blob.write_bytes(path.read_bytes())
                os.symlink(blob, target)
            else:
                target.write_bytes(path.read_bytes())
    monkeypatch.setattr(runformat, "file_digest", lambda *a, **k: pytest.fail("an LFS file was hashed again"))
    assert ttv_core.load_dynamics(snapshot).fingerprint(2) == expected
