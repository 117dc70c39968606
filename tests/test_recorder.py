"""The recorder writes ttv's run format; RunDynamics reads it back."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ttv_core import DataError, Recorder, collect_features, load_dynamics
from ttv_core.data.head import module_from_spec, spec_from_module
from ttv_core.data.runformat import RunDynamics

CLASSES = ["a", "b", "c"]


def _tiny_training(path, *, epochs=3, mode="new", crash_after=None, head=None):
    """A real (tiny) training loop with the recorder dropped in, as a user would write it."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=generator)
    y = torch.arange(40) % 3
    x_test, y_test = x[:12] + 0.1, y[:12]
    torch.manual_seed(0)
    features = nn.Sequential(nn.Linear(5, 4), nn.ReLU())
    head = head if head is not None else nn.Linear(4, 3)
    optimizer = torch.optim.SGD([*features.parameters(), *head.parameters()], lr=0.5)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=False)
    with Recorder(path, classes=CLASSES, train_labels=y, test_labels=y_test, head=head, mode=mode) as recorder:
        for epoch in range(1, epochs + 1):
            loss = nn.functional.cross_entropy(head(features(x)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if crash_after is not None and epoch > crash_after:
                raise RuntimeError("simulated crash")
            recorder.log_epoch(
                epoch, train=collect_features(features, loader), test=features(x_test), metrics={"loss": loss.item()}
            )
    return features, head, x, y


def test_round_trip(tmp_path):
    features, head, x, y = _tiny_training(tmp_path / "run")
    dynamics = load_dynamics(tmp_path / "run")
    assert isinstance(dynamics, RunDynamics)
    assert dynamics.epochs == (1, 2, 3)
    assert (dynamics.n_train, dynamics.n_test, dynamics.dim, dynamics.classes) == (40, 12, 4, tuple(CLASSES))
    np.testing.assert_array_equal(dynamics.labels("train"), y.numpy())
    last = dynamics.representations(3)
    assert last.dtype == np.float32 and last.shape == (40, 4)
    assert isinstance(last, np.memmap), "representations should be memory-mapped, not loaded"
    with torch.no_grad():
        np.testing.assert_allclose(last, features(x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(dynamics.head(3)(last), head(torch.from_numpy(np.array(last))).numpy(), rtol=1e-5)
    assert not np.allclose(dynamics.representations(1), last), "epochs must differ after training steps"
    assert dynamics.epoch_info(2)["metrics"]["loss"] > 0
    dynamics.validate()


def test_crash_keeps_finished_epochs_and_resume_continues(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        _tiny_training(tmp_path / "run", epochs=5, crash_after=2)
    assert load_dynamics(tmp_path / "run").epochs == (1, 2)
    assert not [p for p in (tmp_path / "run" / "epochs").iterdir() if p.name.startswith(".")], "no temp leftovers"
    with pytest.raises(DataError, match="epoch 1 is already recorded"):
        _tiny_training(tmp_path / "run", epochs=3, mode="resume")
    assert load_dynamics(tmp_path / "run").epochs == (1, 2)


def test_interrupted_epoch_write_leaves_no_partial_epoch(tmp_path, monkeypatch):
    _tiny_training(tmp_path / "run", epochs=1)
    import ttv_core.data.runformat as runformat

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(runformat.np, "savez", broken_savez)
    recorder = Recorder(tmp_path / "run", classes=CLASSES, train_labels=np.arange(40) % 3,
                        test_labels=np.arange(12) % 3, head=nn.Linear(4, 3), mode="resume")
    with pytest.raises(OSError, match="disk full"):
        recorder.log_epoch(2, train=np.zeros((40, 4)), test=np.zeros((12, 4)))
    assert sorted(p.name for p in (tmp_path / "run" / "epochs").iterdir()) == ["epoch_0001"]


def test_refuses_to_write_into_foreign_or_existing_folders(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    with pytest.raises(DataError, match="not a ttv run"):
        Recorder(foreign, classes=CLASSES, train_labels=[0], head=nn.Linear(2, 3), mode="overwrite")
    assert (foreign / "notes.txt").read_text() == "precious"
    _tiny_training(tmp_path / "run", epochs=1)
    with pytest.raises(DataError, match="already holds a ttv run"):
        _tiny_training(tmp_path / "run", epochs=1)
    _tiny_training(tmp_path / "run", epochs=2, mode="overwrite")
    assert load_dynamics(tmp_path / "run").epochs == (1, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"train": np.zeros((39, 4))}, r"shape \(40, dim\)"),
        ({"train": np.full((40, 4), np.nan)}, "NaN"),
        ({"train": np.zeros((40, 4)), "test": None}, "test representations are missing"),
    ],
)
def test_log_epoch_rejects_bad_arrays(tmp_path, kwargs, message):
    recorder = Recorder(tmp_path / "run", classes=CLASSES, train_labels=np.arange(40) % 3,
                        test_labels=np.arange(12) % 3, head=nn.Linear(4, 3))
    kwargs.setdefault("test", np.zeros((12, 4)))
    with pytest.raises(DataError, match=message):
        recorder.log_epoch(1, **kwargs)


def test_labels_out_of_range_are_rejected(tmp_path):
    with pytest.raises(DataError, match=r"0\.\.2"):
        Recorder(tmp_path / "run", classes=CLASSES, train_labels=[0, 1, 3], head=nn.Linear(2, 3))


def test_collect_features_refuses_a_shuffling_loader():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(4, 2)), shuffle=True)
    with pytest.raises(ValueError, match="shuffle=False"):
        collect_features(nn.Identity(), loader)


def test_collect_features_says_when_it_flattens_and_refuses_mixed_samples():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.zeros(6, 2, 3)), batch_size=3)
    with pytest.warns(UserWarning, match=r"returns shape \(n, 2, 3\); ttv flattens it to \(n, 6\)"):
        assert collect_features(nn.Identity(), loader).shape == (6, 6)
    with pytest.raises(DataError, match=r"returned shape \(2, 3, 3\) for a batch of 3"):
        collect_features(lambda x: x.transpose(0, 1), loader)


def test_head_spec_round_trip_matches_torch():
    torch.manual_seed(1)
    head = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.GELU(), nn.Dropout(0.3), nn.Linear(8, 4)).eval()
    head[1].running_mean.uniform_()
    spec, weights = spec_from_module(head)
    json.dumps(spec)  # the spec is plain data
    rebuilt = module_from_spec(json.loads(json.dumps(spec)), weights)
    x = torch.randn(5, 6)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), head(x))


def test_head_spec_rejects_unknown_layers_by_name():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(DataError, match="layer 1 is a Custom"):
        spec_from_module(nn.Sequential(nn.Linear(2, 2), Custom()))
