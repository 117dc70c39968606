"""Per-epoch predictions: what the head says for every sample, computed once per epoch."""

import numpy as np
import pytest

import ttv_core
from helpers import make_small_run
from ttv_core.evaluate import predictions
from ttv_core.evaluate.boundary import softmax
from ttv_core.evaluate.predictions import prediction_history


@pytest.fixture(scope="module")
def dynamics(tmp_path_factory):
    return ttv_core.load_dynamics(make_small_run(tmp_path_factory.mktemp("runs") / "tiny", epochs=(1, 2, 3)))


def test_history_matches_the_head_epoch_by_epoch(dynamics, cache_dir):
    history = prediction_history(dynamics, "test", cache_dir=cache_dir)
    assert history.epochs == (1, 2, 3) and history.predicted.shape == (3, dynamics.n_test)
    for row, epoch in enumerate(history.epochs):
        logits = dynamics.head(epoch)(dynamics.representations(epoch, "test"))
        probabilities = softmax(logits)
        np.testing.assert_array_equal(history.predicted[row], logits.argmax(axis=1))
        np.testing.assert_allclose(history.confidence[row], probabilities.max(axis=1), rtol=1e-6)
        labels = dynamics.labels("test")
        np.testing.assert_allclose(history.true_probability[row], probabilities[np.arange(len(labels)), labels], rtol=1e-6)
    assert history.correct.dtype == bool and history.row(2) == 1
    with pytest.raises(ttv_core.ConfigError, match=r"'epoch' .* be one of the history's epochs \(1–3\)"):
        history.row(9)


def test_each_epoch_is_computed_once(dynamics, cache_dir, monkeypatch):
    calls = []
    original = predictions.epoch_predictions
    monkeypatch.setattr(predictions, "epoch_predictions", lambda *a: calls.append(a[1]) or original(*a))
    prediction_history(dynamics, epochs=[1, 2], cache_dir=cache_dir)
    again = prediction_history(dynamics, cache_dir=cache_dir)
    assert calls == [1, 2, 3] and again.epochs == (1, 2, 3)


def test_a_history_of_some_samples_holds_their_columns_in_the_order_asked(dynamics, cache_dir):
    whole = prediction_history(dynamics, "train", epochs=[1, 3], cache_dir=cache_dir)
    some = prediction_history(dynamics, "train", epochs=[1, 3], cache_dir=cache_dir, samples=[5, 0, 2])
    for name in ("labels", "predicted", "confidence", "true_probability"):
        np.testing.assert_array_equal(getattr(some, name), getattr(whole.take([5, 0, 2]), name))
    assert some.predicted.shape == (2, 3) and some.epochs == (1, 3)


def test_softmax_is_stable_for_large_logits():
    out = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[1.0, 0.0], [0.5, 0.5]])
