"""The synthetic run: deterministic, well-formed, a real classifier that learns, and the scripted events happen."""

from dataclasses import replace

import numpy as np
import pytest
from torch import nn

from ttv_core import evaluate_subject, load_dynamics

from ttv_core.data import runformat
from ttv_core.data.synthetic import HARD_PAIR, LATE_PAIR, SyntheticConfig, ensure_synthetic, make_synthetic

SMALL = SyntheticConfig(n_train=240, n_test=60, dim=8, n_classes=6, epochs=21, subclusters=2)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return make_synthetic(tmp_path_factory.mktemp("synthetic") / "run", config=SMALL)


def test_same_seed_same_run_other_seed_other_run(tmp_path, small_run):
    config = replace(SMALL, epochs=3)
    first = load_dynamics(make_synthetic(tmp_path / "a", config=config))
    again = load_dynamics(make_synthetic(tmp_path / "b", config=config))
    other = load_dynamics(make_synthetic(tmp_path / "c", config=replace(config, seed=1)))
    for epoch in (1, 3):
        np.testing.assert_array_equal(first.representations(epoch), again.representations(epoch))
        assert first.fingerprint(epoch) == again.fingerprint(epoch)
    assert not np.array_equal(first.representations(3), other.representations(3))
    # a shorter run is the same training sampled more coarsely: its first epoch is the long run's
    np.testing.assert_array_equal(first.representations(1), load_dynamics(small_run).representations(1))


def test_run_loads_validates_and_has_the_configured_shapes(small_run):
    dynamics = load_dynamics(small_run).validate()
    assert dynamics.epochs == tuple(range(1, 22))
    assert (dynamics.n_train, dynamics.n_test, dynamics.dim, dynamics.n_classes) == (240, 60, 8, 6)
    assert dynamics.representations(5).dtype == np.float32
    assert [type(layer) for layer in dynamics.head(5).module] == [nn.Linear]  # the head is one linear layer
    assert np.bincount(dynamics.labels("train"), minlength=6).min() >= 30  # classes are balanced but for noise
    meta = runformat.read_manifest(small_run)["meta"]
    assert meta["synthetic_config"]["seed"] == 0 and meta["events"]["merge_then_split"] == list(HARD_PAIR)


def test_accuracy_rises_and_the_head_classifies_the_representations(small_run):
    accuracy = evaluate_subject(load_dynamics(small_run))
    train, test = ([accuracy[split][str(e)] for e in range(1, 22)] for split in ("train_acc", "test_acc"))
    assert train[0] < 0.7 and test[0] < 0.7, (train[0], test[0])
    assert train[-1] > 0.95 and test[-1] > 0.85, (train[-1], test[-1])
    assert np.mean(test[-5:]) > np.mean(test[:5]) + 0.25, test


def _class_distance(dynamics, epoch: int, pair) -> float:
    x, labels = dynamics.representations(epoch), dynamics.labels()
    return float(np.linalg.norm(x[labels == pair[0]].mean(axis=0) - x[labels == pair[1]].mean(axis=0)))


def test_scripted_merges_and_splits_happen(small_run):
    dynamics = load_dynamics(small_run)
    reference = (4, 5)  # a pair with no event of its own

    def relative(epoch, pair):
        return _class_distance(dynamics, epoch, pair) / _class_distance(dynamics, epoch, reference)

    # the hard pair: apart at first, merged at t = 0.45 (epoch 10 of 21), apart again at the end
    assert relative(10, HARD_PAIR) < 0.3 * min(relative(1, HARD_PAIR), relative(21, HARD_PAIR))
    # the late pair: merged until t = 0.35 (epoch 7: classes are half-way apart already), apart at the end
    assert relative(7, LATE_PAIR) < 0.3 * relative(21, LATE_PAIR)


def test_ensure_synthetic_builds_once_and_reuses(tmp_path):
    config = SyntheticConfig(n_train=40, n_test=10, dim=4, n_classes=4, epochs=2, subclusters=1)
    path = ensure_synthetic(tmp_path, config=config)
    stamp = (path / runformat.MANIFEST).stat().st_mtime_ns
    assert ensure_synthetic(tmp_path, config=config) == path
    assert (path / runformat.MANIFEST).stat().st_mtime_ns == stamp
    assert ensure_synthetic(tmp_path, config=replace(config, seed=2)) != path
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no staging left behind


@pytest.mark.parametrize("field, value, rule", [
    ("n_train", 11, r"range \[12, 1000000\]"),  # 2 x 6 classes x 1 sub-cluster
    ("n_test", 0, r"range \[1, 1000000\]"),
    ("dim", 1, r"range \[2, 4096\]"),
    ("n_classes", 1, r"range \[2, 100\]"),
    ("epochs", 0, r"range \[1, 1000\]"),
    ("seed", -1, r"range \[0, 4294967295\]"),
    ("subclusters", 0, r"range \[1, 100\]"),
    ("n_train", 2_000_000, r"range \[12, 1000000\]"),  # the upper bounds: nothing absurd is allocated
    ("dim", 4000, r"keep \(n_train \+ n_test\) x dim within 268,435,456 floats \(1 GiB an epoch\), not"),
    ("epochs", 10**6, r"range \[1, 1000\]"),
    ("label_noise", 0.5, r"range \[0.0, 0.5\)"),
    ("head_steps", True, "int"),
])
def test_invalid_config_names_the_field(field, value, rule):
    base = {"n_train": 100, "n_classes": 6, "subclusters": 1, **({"n_train": 100_000} if field == "dim" else {})}
    with pytest.raises(ValueError, match=rf"'{field}' parameter of SyntheticConfig must .*{rule}"):
        SyntheticConfig(**{**base, field: value})


def test_until_records_the_start_of_the_same_run(tmp_path, small_run):
    start = load_dynamics(make_synthetic(tmp_path / "start", config=SMALL, until=4))
    assert start.epochs == (1, 2, 3, 4)
    whole = load_dynamics(small_run)
    for epoch in (1, 4):
        np.testing.assert_array_equal(start.representations(epoch), whole.representations(epoch))
    with pytest.raises(ValueError, match="until"):
        make_synthetic(tmp_path / "late", config=SMALL, until=SMALL.epochs + 1)


def test_only_records_chosen_epochs_of_the_same_run(tmp_path, small_run):
    some = load_dynamics(make_synthetic(tmp_path / "some", config=SMALL, only=[1, 5, 6]))
    assert some.epochs == (1, 5, 6)
    whole = load_dynamics(small_run)
    np.testing.assert_array_equal(some.representations(6, "test"), whole.representations(6, "test"))
    np.testing.assert_array_equal(some.head(5)(some.representations(5)), whole.head(5)(whole.representations(5)))
    with pytest.raises(ValueError, match="only"):
        make_synthetic(tmp_path / "late", config=SMALL, only=[SMALL.epochs + 1])
    with pytest.raises(ValueError, match="not both"):
        make_synthetic(tmp_path / "both", config=SMALL, until=3, only=[1, 2])
