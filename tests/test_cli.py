"""The command line: commands work, and every bad input ends in one clear line, never a traceback."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import make_small_run
from ttv_core.run.cli import main


def _run_error(capsys, argv):
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_help_lists_commands():
    done = subprocess.run([sys.executable, "-m", "ttv_core", "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "info", "eval-subject"):
        assert command in done.stdout


def test_demo_then_info_and_eval_subject(tmp_path, capsys):
    out = tmp_path / "demo-run"
    assert main(["demo", "--out", str(out), "--epochs", "3"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary | {"epochs": None} == summary | {
        "source": "ttv", "n_train": 1437, "n_test": 360, "dim": 64, "n_classes": 10, "epochs": None
    }
    assert summary["epochs"] == [1, 2, 3]
    target = tmp_path / "eval.json"
    assert main(["eval-subject", str(out), "--out", str(target)]) == 0
    capsys.readouterr()
    figures = json.loads(target.read_text())
    assert set(figures) == {"train_acc", "test_acc"} and set(figures["test_acc"]) == {"1", "2", "3"}
    assert figures["test_acc"]["3"] > figures["test_acc"]["1"]
    err = _run_error(capsys, ["eval-subject", str(out), "--out", str(target)])
    assert "--overwrite" in err
    err = _run_error(capsys, ["demo", "--out", str(out), "--epochs", "3"])
    assert "--overwrite" in err


@pytest.fixture()
def run(tmp_path):
    return make_small_run(tmp_path / "run")


def _npy(path, array):
    with open(path, "wb") as handle:
        np.save(handle, array)


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda run: (run / "ttv_run.json").write_text("{not json"), "ttv_run.json: not readable JSON"),
        (lambda run: (run / "ttv_run.json").write_text('{"format": "ttv-run", "format_version": 9}'), "format_version 9"),
        (lambda run: _npy(run / "epochs/epoch_0002/train.npy", np.zeros((30, 5), np.float32)), r"epoch_0002/train.npy: .*shape \(30, 5\)"),
        (lambda run: _npy(run / "epochs/epoch_0003/test.npy", np.zeros((9, 4), np.float32)), r"epoch_0003/test.npy: .*shape"),
        (lambda run: _npy(run / "labels/train.npy", np.full(30, 7)), r"outside 0\.\.2"),
        (lambda run: _npy(run / "epochs/epoch_0002/train.npy", np.full((30, 4), np.nan, np.float32)), "NaN"),
        (lambda run: _npy(run / "epochs/epoch_0001/test.npy", np.full((10, 4), np.inf, np.float32)), "infinite"),
        (lambda run: (run / "epochs/epoch_0002/train.npy").write_bytes(b"garbage"), "train.npy: not a readable .npy"),
        (lambda run: (run / "epochs/epoch_0002/head.npz").unlink(), "head.npz: missing"),
        (lambda run: (run / "epochs/epoch_0001/train.npy").unlink(), "train.npy: missing"),
    ],
    ids=["malformed-manifest", "future-version", "dim-mismatch", "count-mismatch", "labels-out-of-range",
         "nan", "inf", "unreadable-npy", "missing-head", "missing-array"],
)
def test_info_reports_damaged_runs(run, capsys, damage, expected):
    damage(run)
    err = _run_error(capsys, ["info", str(run)])
    assert __import__("re").search(expected, err), err


def test_info_reports_missing_and_unknown_folders(tmp_path, capsys):
    assert "no such folder" in _run_error(capsys, ["info", str(tmp_path / "nowhere")])
    (tmp_path / "empty").mkdir()
    err = _run_error(capsys, ["info", str(tmp_path / "empty")])
    assert "not a training-dynamics folder" in err and "config.json" in err


def test_quick_info_skips_the_array_scan(run, capsys):
    _npy(run / "epochs/epoch_0002/train.npy", np.full((30, 4), np.nan, np.float32))
    assert main(["info", str(run), "--quick"]) == 0


def test_unusable_cache_folder_is_a_clear_error(tmp_path, monkeypatch):
    from ttv_core import ConfigError
    from ttv_core.cachedir import resolve_cache_dir

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot use this cache folder.*--cache-dir"):
        resolve_cache_dir(blocker / "cache")
    monkeypatch.setenv("TTV_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(ConfigError, match="TTV_CACHE_DIR environment variable"):
        resolve_cache_dir()


def test_info_on_an_original_layout_needs_trust_code(tmp_path, capsys):
    from original_fixture import make_original_layout

    folder = make_original_layout(tmp_path / "dvi")
    err = _run_error(capsys, ["info", str(folder), "--cache-dir", str(tmp_path / "cache")])
    assert "--trust-code" in err and "model.py" in err
    assert main(["info", str(folder), "--trust-code", "--cache-dir", str(tmp_path / "cache")]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["source"], summary["n_train"], summary["n_epochs"]) == ("original", 60, 3)


def test_thumbnail_index_is_checked(run):
    from ttv_core import ConfigError, load_dynamics

    dynamics = load_dynamics(run)
    with pytest.raises(ConfigError, match=r"0\.\.29"):
        dynamics.thumbnail(30)
    assert dynamics.thumbnail(0) is None  # this run has no thumbnails


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-GPU message")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    from original_fixture import make_original_layout

    folder = make_original_layout(tmp_path / "dvi")
    err = _run_error(capsys, ["proxy", str(folder), "--trust-code", "--device", "cuda", "--cache-dir", str(tmp_path / "c")])
    assert "no CUDA GPU" in err


def test_an_absurd_resolution_is_refused_in_one_line_before_anything_is_allocated(run, tmp_path, capsys):
    import tracemalloc

    out, cache = tmp_path / "out", tmp_path / "cache"
    tracemalloc.start()
    try:
        err = _run_error(capsys, ["proxy", str(run), "--resolution", "40000", "--out", str(out), "--cache-dir", str(cache)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err == "error: --resolution must be an int in the range [2, 2000]. Got 40000 instead. 200 is sharp at dashboard size."
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB allocated"  # 40,000**2 cell centres would be 11.9 GiB
    assert not out.exists() and not cache.exists()  # nothing opened, written or created


@pytest.mark.parametrize("argv, expected", [
    (["proxy", "RUN", "--n-neighbors", "5000"], "--n-neighbors must be an int in the range [2, 200]. Got 5000 instead."),
    (["umap", "RUN", "--seed", str(2**40)], f"--seed must be an int in the range [0, {2**32 - 1}]. Got {2**40} instead."),
    (["al", "RUN", "--probe-resolution", "9000"], "--probe-resolution must be an int in the range [2, 1000]."),
    (["export", "RUN", "--out", "OUT", "--hidden", "100000"], "--hidden must be an int in the range [2, 4096]."),
    (["proxy", "RUN", "--jobs", "100000"], "--jobs must be an int in the range [0, 1024]."),
    (["demo", "--out", "OUT", "--epochs", "1000000"], "--epochs must be an int in the range [1, 1000]."),
    (["app", "--port", "70000"], "--port 70000: a port is a number from 1 to 65535"),
])
def test_settings_out_of_range_name_their_flag(run, tmp_path, capsys, argv, expected):
    argv = [str(run) if a == "RUN" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    err = _run_error(capsys, argv)
    assert err.startswith("error: " + expected), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout", ["original", "ttv"])
def test_export_of_a_refused_run_leaves_no_out_folder(tmp_path, capsys, layout):
    from original_fixture import make_original_layout

    folder = make_original_layout(tmp_path / "dvi")  # refused: its model.py needs --trust-code
    out = tmp_path / "exported"
    err = _run_error(capsys, ["export", str(folder), "--layout", layout, "--out", str(out),
                              "--cache-dir", str(tmp_path / "cache")])
    assert "--trust-code" in err and not out.exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")  # a folder holding files is still refused up front
    assert "--overwrite" in _run_error(capsys, ["export", str(folder), "--out", str(tmp_path / "busy")])
