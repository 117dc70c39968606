"""Bad inputs, as a suite (issue 13): every damaged run gets one line naming the file and exit status 2 from
the command line, an error (not a traceback) in the dashboard, and nothing in the user's folder changes."""

import hashlib
import json

import numpy as np
import pytest

from helpers import make_small_run, open_app
from ttv_core.run.cli import main as cli

EPOCH = "epochs/epoch_0002"


def _json(path, change):
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _array(path, change):
    array = np.load(path)
    change(array)
    np.save(path, array)


def _head(path, change):
    with np.load(path) as archive:
        weights = {key: archive[key] for key in archive.files}
    change(weights)
    np.savez(path, **weights)


CASES = {
    "nan-head-weight": (f"{EPOCH}/head.npz", lambda p: _head(p, lambda w: w["0.weight"].__setitem__((0, 0), np.nan)), "NaN"),
    "inf-head-bias": (f"{EPOCH}/head.npz", lambda p: _head(p, lambda w: w["0.bias"].__setitem__(0, np.inf)), "NaN or infinity"),
    "head-narrower-than-classes": ("ttv_run.json", lambda p: _json(p, lambda m: m.update(classes=list("abcd"))), "4 classes"),
    "truncated-head": (f"{EPOCH}/head.npz", lambda p: p.write_bytes(p.read_bytes()[:50]), "not a readable .npz"),
    "epoch-json-of-another-epoch": (f"{EPOCH}/epoch.json", lambda p: _json(p, lambda e: e.update(epoch=7)), "says epoch 7"),
    "nan-representation": (f"{EPOCH}/train.npy", lambda p: _array(p, lambda a: a.__setitem__((4, 0), np.nan)), "NaN or infinite"),
    "huge-representation": (f"{EPOCH}/test.npy", lambda p: _array(p, lambda a: a.__setitem__((1, 1), 3e38)), "reach 3e+38"),
    "wrong-shape": (f"{EPOCH}/train.npy", lambda p: np.save(p, np.zeros((29, 4), np.float32)), "expected (30, 4)"),
    "float64-representation": (f"{EPOCH}/train.npy", lambda p: np.save(p, np.zeros((30, 4))), "must be float32"),
    "garbage-manifest": ("ttv_run.json", lambda p: p.write_text("{not json"), "ttv_run.json"),
    "missing-head": (f"{EPOCH}/head.npz", lambda p: p.unlink(), "head.npz: missing"),
}


def _tree(folder) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(params=sorted(CASES))
def damaged(request, tmp_path):
    relative, damage, words = CASES[request.param]
    run = make_small_run(tmp_path / "run")
    damage(run / relative)
    return run, relative.split("/")[-1], words


def test_the_command_line_names_the_file_in_one_line_and_changes_nothing(damaged, capsys, tmp_path):
    run, name, words = damaged
    name = "head.npz" if words == "4 classes" else name  # the head is what disagrees with the class list
    before = _tree(run)
    status = cli(["info", str(run), "--cache-dir", str(tmp_path / "cache")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and error.startswith("error: ") and len(error.splitlines()) == 1, error
    assert name in error and words in error, error
    assert _tree(run) == before


def test_the_dashboard_shows_an_error_not_a_traceback(damaged):
    run, name, words = damaged
    name = "head.npz" if words == "4 classes" else name
    before = _tree(run)
    shown = []
    for page in ("overview", "territories", "samples"):
        at = open_app(page, run=str(run))
        assert not at.exception, [e.value for e in at.exception]
        shown += [error.value for error in at.error]
    assert shown and any(name in text.replace("\\", "") for text in shown), shown  # (Markdown-escaped as text)
    assert _tree(run) == before
