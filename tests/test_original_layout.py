"""The original-layout reader: it computes what the original tools computed, runs the folder's code
only when trusted, caches the extraction outside the data folder, and names the file at fault for
every bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from original_fixture import NET, make_original_layout
from ttv_core import DataError, TrustRequiredError, load_dynamics
from ttv_core.data.original_layout import OriginalDynamics, is_original_layout


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return make_original_layout(tmp_path / "run")


def _open(folder: Path, cache_dir: Path) -> OriginalDynamics:
    return OriginalDynamics(folder, location=str(folder), trust_code=True, cache_dir=cache_dir)


def _subject(folder: Path, epoch: int) -> torch.nn.Module:
    """The epoch's subject model built by hand, independently of the reader."""
    namespace: dict = {}
    exec(compile((folder / "Model" / "model.py").read_text(), "model.py", "exec"), namespace)
    model = namespace[NET]()
    model.load_state_dict(torch.load(folder / "Model" / f"Epoch_{epoch}" / "subject_model.pth", weights_only=True))
    return model.eval()


def _split_data(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    name = {"train": ("Training_data", "training"), "test": ("Testing_data", "testing")}[split]
    data = torch.load(folder / name[0] / f"{name[1]}_dataset_data.pth", weights_only=True)
    labels = torch.load(folder / name[0] / f"{name[1]}_dataset_label.pth", weights_only=True)
    return data, labels


def _index(folder: Path, epoch: int, name: str = "index.json") -> list[int]:
    return json.loads((folder / "Model" / f"Epoch_{epoch}" / name).read_text())


def _edit_config(folder: Path, edit) -> Path:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    edit(config["DVI"])
    path.write_text(json.dumps(config))
    return path


def _save_state(folder: Path, epoch: int, state: dict) -> Path:
    path = folder / "Model" / f"Epoch_{epoch}" / "subject_model.pth"
    torch.save(state, path)
    return path


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


# -- reading a good folder ----------------------------------------------------------------------
@pytest.mark.parametrize("split, index_file", [("train", "index.json"), ("test", "test_index.json")])
def test_representations_are_feature_of_the_indexed_inputs(folder, cache_dir, split, index_file):
    dynamics = load_dynamics(folder, trust_code=True, cache_dir=cache_dir)
    assert isinstance(dynamics, OriginalDynamics) and dynamics.source_kind == "original"
    assert (dynamics.epochs, dynamics.dim, dynamics.n_train, dynamics.n_test) == ((1, 2, 3), 8, 60, 20)
    data, labels = _split_data(folder, split)
    assert len(data) > len(_index(folder, 2, index_file))  # the stored set is bigger: the index matters
    index = _index(folder, 2, index_file)
    with torch.no_grad():
        expected = _subject(folder, 2).feature(data[index]).numpy()
    got = dynamics.representations(2, split)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(dynamics.labels(split), labels[index].numpy())


def test_epochs_differ_and_the_model_learns(folder, cache_dir):
    dynamics = _open(folder, cache_dir)
    accuracy = [(dynamics.head(e).predict(dynamics.representations(e)) == dynamics.labels()).mean() for e in (1, 3)]
    assert accuracy[1] > accuracy[0]
    assert len({dynamics.fingerprint(e) for e in dynamics.epochs}) == 3


def test_head_is_the_models_prediction(folder, cache_dir):
    dynamics = _open(folder, cache_dir)
    representations = np.asarray(dynamics.representations(3))
    with torch.no_grad():
        expected = _subject(folder, 3).prediction(torch.from_numpy(representations.copy())).numpy()
    head = dynamics.head(3)
    assert (head.dim, head.n_classes) == (8, 3)
    np.testing.assert_allclose(head(representations), expected, rtol=1e-5, atol=1e-6)
    assert dynamics.validate() is dynamics


def test_without_index_files_every_sample_is_used(tmp_path, cache_dir):
    folder = make_original_layout(tmp_path / "run", with_index=False, n_train=30, n_test=12)
    dynamics = _open(folder, cache_dir)
    data, _ = _split_data(folder, "test")
    with torch.no_grad():
        expected = _subject(folder, 1).feature(data).numpy()
    assert (dynamics.n_train, dynamics.n_test) == (30, 12)
    np.testing.assert_allclose(dynamics.representations(1, "test"), expected, rtol=1e-5, atol=1e-6)


def test_noisy_label_files_are_ignored(folder, cache_dir):
    (folder / "index.json").write_text(json.dumps([0, 1, 2]))
    (folder / "old_labels.json").write_text(json.dumps([0, 1, 2]))
    (folder / "new_labels.json").write_text(json.dumps([1, 1, 2]))
    assert _open(folder, cache_dir).n_train == 60


def test_thumbnails_follow_the_index(tmp_path, folder, cache_dir):
    dynamics = _open(folder, cache_dir)
    index = _index(folder, 1)
    assert dynamics.has_thumbnails
    for i in (0, 7, 59):
        assert dynamics.thumbnail(i) == (folder / "sprites" / f"{index[i]}.png").read_bytes()
    assert dynamics.thumbnail(0, "test") is None
    bare = _open(make_original_layout(tmp_path / "bare", with_sprites=False), cache_dir)
    assert not bare.has_thumbnails and bare.thumbnail(0) is None


# -- trust ------------------------------------------------------------------------------------------
def test_refuses_without_trust_and_runs_no_code(tmp_path, folder, cache_dir):
    marker = tmp_path / "model-code-ran"
    with open(folder / "Model" / "model.py", "a") as handle:
        handle.write(f"\nimport pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n")
    with pytest.raises(TrustRequiredError, match="--trust-code") as info:
        load_dynamics(folder, cache_dir=cache_dir)
    assert "model.py" in str(info.value) and "trust_code=True" in str(info.value)
    assert not marker.exists()
    _open(folder, cache_dir)
    assert marker.exists()  # the marker does work: trusting runs the code


# -- cache and the data folder --------------------------------------------------------------------
def test_extraction_is_cached_and_not_repeated(folder, cache_dir, monkeypatch):
    first = _open(folder, cache_dir)
    before = {(e, s): np.array(first.representations(e, s)) for e in first.epochs for s in ("train", "test")}
    cached = sorted(cache_dir.glob("original/*/epoch_*_*.npy"))
    assert len(cached) == 6

    second = _open(folder, cache_dir)
    model_class = type(second.head(1).module.model)

    def fail(self, x):
        raise RuntimeError("feature must not run again")

    monkeypatch.setattr(model_class, "feature", fail)
    for (epoch, split), array in before.items():
        np.testing.assert_array_equal(second.representations(epoch, split), array)
    next(p for p in cached if p.name == "epoch_3_train.npy").unlink()
    with pytest.raises(DataError, match="feature must not run again"):  # the patch would have caught a re-run
        second.representations(3, "train")


def test_cache_key_follows_the_checkpoint(folder, cache_dir):
    first = _open(folder, cache_dir)
    epoch3 = np.array(first.representations(3))
    old_key = first.fingerprint(1)
    first.representations(1)
    _save_state(folder, 1, torch.load(folder / "Model" / "Epoch_3" / "subject_model.pth", weights_only=True))
    second = _open(folder, cache_dir)
    assert second.fingerprint(1) != old_key
    np.testing.assert_array_equal(second.representations(1), epoch3)


def test_writes_nothing_into_the_data_folder(folder, cache_dir, monkeypatch):
    monkeypatch.setattr("sys.dont_write_bytecode", False)  # as for most users: imports would write __pycache__
    before = _listing(folder)
    dynamics = _open(folder, cache_dir).validate()
    dynamics.thumbnail(3)
    dynamics.fingerprint(2)
    assert _listing(folder) == before
    assert not list(folder.rglob("__pycache__"))


# -- bad input: one test each -----------------------------------------------------------------------
def test_missing_config_is_not_an_original_layout(folder, cache_dir):
    (folder / "config.json").unlink()
    assert not is_original_layout(folder)
    with pytest.raises(DataError, match=r'config\.json with a "DVI" section'):
        load_dynamics(folder, trust_code=True, cache_dir=cache_dir)
    with pytest.raises(DataError, match=re.escape(str(folder / "config.json")) + ": missing"):
        _open(folder, cache_dir)


def test_malformed_config(folder, cache_dir):
    (folder / "config.json").write_text('{"DVI": {"CLASSES": [')
    assert is_original_layout(folder)
    with pytest.raises(DataError, match=re.escape(str(folder / "config.json")) + ": not readable JSON"):
        load_dynamics(folder, trust_code=True, cache_dir=cache_dir)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda dvi: dvi.pop("CLASSES"), "DVI.CLASSES"),
        (lambda dvi: dvi.update(CLASSES="abc"), "DVI.CLASSES"),
        (lambda dvi: dvi.pop("EPOCH_END"), "DVI.EPOCH_END"),
        (lambda dvi: dvi.update(EPOCH_PERIOD=0), "EPOCH_PERIOD"),
        (lambda dvi: dvi["TRAINING"].pop("NET"), "DVI.TRAINING.NET"),
        (lambda dvi: dvi.clear(), "DVI"),
    ],
    ids=["no-classes", "classes-not-a-list", "no-epoch-end", "zero-period", "no-net", "empty-dvi"],
)
def test_config_field_problems_name_the_field(folder, cache_dir, edit, field):
    path = _edit_config(folder, edit)
    with pytest.raises(DataError, match=re.escape(str(path))) as info:
        _open(folder, cache_dir)
    assert field in str(info.value)


SECRET = "hf_SuperSecretTokenValue1234567890"


@pytest.mark.parametrize("edit, field", [
    (lambda dvi: dvi.update(EPOCH_START=SECRET), "DVI.EPOCH_START"),
    (lambda dvi: dvi["TRAINING"].update(NET=SECRET + " x"), "DVI.TRAINING.NET"),
    (lambda dvi: dvi.update(EPOCH_NAME="../../" + SECRET), "DVI.EPOCH_NAME"),
    (lambda dvi: dvi.update(CLASSES={"token": SECRET}), "DVI.CLASSES"),
])
def test_a_config_value_is_never_echoed_beyond_a_short_excerpt(folder, cache_dir, edit, field):
    _edit_config(folder, edit)
    with pytest.raises(DataError) as info:
        _open(folder, cache_dir)
    assert field in str(info.value) and SECRET not in str(info.value) and SECRET[12:20] not in str(info.value)


def test_epoch_without_checkpoint(folder, cache_dir):
    missing = folder / "Model" / "Epoch_2" / "subject_model.pth"
    missing.unlink()
    with pytest.raises(DataError, match=re.escape(str(missing)) + ": missing.*epoch 2"):
        _open(folder, cache_dir)


def test_missing_data_file(folder, cache_dir):
    missing = folder / "Testing_data" / "testing_dataset_label.pth"
    missing.unlink()
    with pytest.raises(DataError, match=re.escape(str(missing)) + ": missing"):
        _open(folder, cache_dir)


def test_model_without_the_named_class(folder, cache_dir):
    _edit_config(folder, lambda dvi: dvi["TRAINING"].update(NET="ResNet18"))
    with pytest.raises(DataError, match=r"has no class 'ResNet18' \(named by config.json DVI.TRAINING.NET\)") as info:
        _open(folder, cache_dir)
    assert "model.py" in str(info.value) and "TinyNet" in str(info.value)


def test_model_code_raising_at_import(folder, cache_dir):
    with open(folder / "Model" / "model.py", "a") as handle:
        handle.write("\nraise RuntimeError('boom from the model code')\n")
    with pytest.raises(DataError, match=re.escape(str(folder / "Model" / "model.py")) + ".*boom from the model code"):
        _open(folder, cache_dir)


def test_checkpoint_with_mismatched_keys(folder, cache_dir):
    state = _subject(folder, 2).state_dict()
    state["encoder.w"] = state.pop("encoder.weight")
    path = _save_state(folder, 2, state)
    dynamics = _open(folder, cache_dir)  # checkpoints load lazily: epoch 1 is fine
    for read in (lambda: dynamics.representations(2), lambda: dynamics.head(2)):
        with pytest.raises(DataError, match=re.escape(str(path))) as info:
            read()
        assert "'encoder.weight'" in str(info.value) and "'encoder.w'" in str(info.value)


def test_checkpoint_that_is_not_a_state_dict_is_refused_unpickled(folder, cache_dir):
    path = _save_state(folder, 1, {"model": torch.nn.Linear(2, 2)})  # a pickled module: weights_only refuses it
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*weights_only=True"):
        _open(folder, cache_dir)


@pytest.mark.parametrize("payload", [
    {"model": torch.nn.Linear(2, 2)},  # a pickled module inside a dict
    __import__("collections").OrderedDict(step=__import__("fractions").Fraction(1, 3)),  # any other class
])
def test_a_pickled_object_checkpoint_gets_one_clean_line(folder, cache_dir, payload):
    path = _save_state(folder, 1, payload)
    with pytest.raises(DataError) as info:
        _open(folder, cache_dir)
    message = str(info.value)
    assert message.startswith(f"{path}: cannot read the subject model's state_dict: it holds a pickled Python object (")
    assert "\x1b" not in message and "\n" not in message  # no terminal bold, one line
    assert "weights_only=False" not in message and "will likely succeed" not in message  # never torch's advice
    assert message.endswith("torch.save(model.state_dict()).")  # whole, not cut mid-word


def test_long_library_messages_are_cut_at_a_word_boundary():
    from ttv_core.data.model_code import one_line

    text = "\x1b[1mdo those steps only if you trust\x1b[0m the source\n\t" + "representation " * 40
    short = one_line(text, 60)
    assert short == "do those steps only if you trust the source..."  # not "... source representatio..."
    assert one_line("x" * 100, 20) == "x" * 17 + "..."  # one long word: cut, but still marked


SHAPED_MODEL = '''
class ShapedNet(TinyNet):
    """Gives each sample a (2, DIM // 2) representation, and its prediction needs that shape back."""

    def feature(self, x):
        return super().feature(x).reshape(len(x), 2, DIM // 2)

    def prediction(self, h):
        return self.classifier(torch.cat([h[:, 0], h[:, 1]], dim=1))


class SwappedNet(ShapedNet):
    def feature(self, x):
        return super().feature(x).transpose(0, 1)  # samples on the second axis
'''


def test_representations_of_more_axes_are_flattened_with_a_warning(folder, cache_dir, capsys):
    from ttv_core.run.cli import main

    with open(folder / "Model" / "model.py", "a") as handle:
        handle.write(SHAPED_MODEL)
    _edit_config(folder, lambda dvi: dvi["TRAINING"].update(NET="ShapedNet"))
    said = "ShapedNet.feature returns shape (n, 2, 4); ttv flattens it to (n, 8) for the map, and gives prediction(h)"
    with pytest.warns(UserWarning, match=re.escape(said)):
        dynamics = _open(folder, cache_dir)
    assert dynamics.dim == 8 and dynamics.summary()["feature_shape"] == [2, 4]
    representations = np.asarray(dynamics.representations(3))
    plain = _subject(folder, 3)  # TinyNet: the same weights, flat representations
    inputs = _split_data(folder, "train")[0][_index(folder, 3)]
    with torch.no_grad():
        np.testing.assert_allclose(representations, plain.feature(inputs).numpy(), rtol=1e-6)
        expected = plain.prediction(torch.from_numpy(representations.copy())).numpy()
    np.testing.assert_allclose(dynamics.head(3)(representations), expected, rtol=1e-5, atol=1e-6)
    assert main(["info", str(folder), "--trust-code", "--quick", "--cache-dir", str(cache_dir)]) == 0
    shown = [line for line in capsys.readouterr().err.splitlines() if line]  # the command line: one line
    assert shown == [f"warning: {folder / 'Model' / 'model.py'}: {said} the shape (n, 2, 4) back."]

    _edit_config(folder, lambda dvi: dvi["TRAINING"].update(NET="SwappedNet"))
    with pytest.raises(DataError, match=r"SwappedNet.feature returned shape \(2, 1, 4\) for 1 train samples; it must "
                                        r"return one representation per sample, shape \(1, dim\)"):
        _open(folder, cache_dir)


def test_labels_out_of_range(folder, cache_dir):
    data, labels = _split_data(folder, "train")
    labels[_index(folder, 1)[5]] = 7
    torch.save(labels, folder / "Training_data" / "training_dataset_label.pth")
    with pytest.raises(DataError, match=r"training_dataset_label.pth: .*outside 0\.\.2"):
        _open(folder, cache_dir)


def test_index_out_of_range(folder, cache_dir):
    path = folder / "Model" / "Epoch_1" / "index.json"
    path.write_text(json.dumps(_index(folder, 1) + [500]))
    with pytest.raises(DataError, match=re.escape(str(path)) + ": index 500 is out of range"):
        _open(folder, cache_dir)


def test_index_differs_between_epochs(folder, cache_dir):
    path = folder / "Model" / "Epoch_3" / "index.json"
    path.write_text(json.dumps(_index(folder, 3)[:-1]))
    with pytest.raises(DataError, match="epoch 3 uses different train samples than epoch 1") as info:
        _open(folder, cache_dir)
    assert str(path) in str(info.value)


ELASTIC_MODEL = '''
class ElasticNet(TinyNet):
    """Sizes its layers from the checkpoint, so strict loading accepts any width."""

    def load_state_dict(self, state_dict, strict=True, assign=False):
        width = state_dict["encoder.weight"].shape[0]
        self.encoder, self.classifier = nn.Linear(16, width), nn.Linear(width, 3)
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
'''


def test_representation_width_differs_between_epochs(folder, cache_dir):
    with open(folder / "Model" / "model.py", "a") as handle:
        handle.write(ELASTIC_MODEL)
    _edit_config(folder, lambda dvi: dvi["TRAINING"].update(NET="ElasticNet"))
    narrow = {"encoder.weight": torch.randn(5, 16), "encoder.bias": torch.zeros(5),
              "classifier.weight": torch.randn(3, 5), "classifier.bias": torch.zeros(3)}
    path = _save_state(folder, 2, narrow)
    dynamics = _open(folder, cache_dir)
    assert dynamics.dim == 8
    with pytest.raises(DataError, match=re.escape(str(path)) + r".*shape \(60, 5\), expected \(60, 8\)"):
        dynamics.representations(2)


def test_nan_representations(folder, cache_dir):
    state = _subject(folder, 2).state_dict()
    state["encoder.weight"][0, :] = float("nan")
    path = _save_state(folder, 2, state)
    dynamics = _open(folder, cache_dir)
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*NaN"):
        dynamics.representations(2)
