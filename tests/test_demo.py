"""The built-in demo is a real, deterministic training run whose representations separate over time."""

import numpy as np
from sklearn.metrics import silhouette_score

from ttv_core import DemoConfig, evaluate_subject, load_dynamics, make_demo


def test_demo_is_deterministic_for_a_seed(tmp_path):
    config = DemoConfig(epochs=2)
    first = load_dynamics(make_demo(tmp_path / "a", config=config))
    second = load_dynamics(make_demo(tmp_path / "b", config=config))
    other = load_dynamics(make_demo(tmp_path / "c", config=DemoConfig(epochs=2, seed=1)))
    np.testing.assert_array_equal(first.representations(2), second.representations(2))
    assert first.fingerprint(2) == second.fingerprint(2)
    assert not np.array_equal(first.representations(2)[:10], other.representations(2)[:10])


def test_demo_learns_and_separates(demo_run):
    dynamics = load_dynamics(demo_run)
    assert dynamics.epochs == tuple(range(1, 21))
    assert (dynamics.n_train, dynamics.n_test, dynamics.n_classes) == (1437, 360, 10)
    accuracy = evaluate_subject(dynamics)["test_acc"]
    assert accuracy["1"] < 0.5 < 0.9 < accuracy["20"], accuracy
    separation = [silhouette_score(dynamics.representations(e), dynamics.labels()) for e in (1, 20)]
    assert separation[1] > separation[0] + 0.1, separation
    assert dynamics.has_thumbnails and dynamics.thumbnail(0).startswith(b"\x89PNG")
