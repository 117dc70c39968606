"""Faithfulness figures: perfect for a perfect embedding, low for a random one, strict about arguments."""

import re

import numpy as np
import pytest

from ttv_core.evaluate import metrics
from ttv_core.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def clusters() -> tuple[np.ndarray, np.ndarray]:
    """120 points in 10-D around 4 well-separated centres, and a random 2-D layout of them."""
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=10.0, size=(4, 10))
    high = centres[np.repeat(np.arange(4), 30)] + rng.normal(size=(120, 10))
    return high, rng.normal(size=(120, 2))


@pytest.fixture(scope="module")
def trajectories() -> list[np.ndarray]:
    """40 samples drifting in 2-D over 8 epochs with different speeds: distinct epoch rankings."""
    rng = np.random.default_rng(2)
    start, velocity = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    wobble = rng.normal(scale=0.3, size=(8, 40, 2))
    return [start + np.sqrt(epoch) * velocity + wobble[epoch] for epoch in range(8)]


def test_identity_embedding_preserves_every_neighbour():
    points = np.random.default_rng(3).normal(size=(60, 2))
    result = metrics.neighbor_preservation(points, points.copy(), k=15)
    assert result == {"legacy": 15.0, "rate": 1.0}


def test_random_embedding_of_clusters_preserves_few_neighbours(clusters):
    high, low = clusters
    result = metrics.neighbor_preservation(high, low, k=10)
    assert result["rate"] < 0.35
    assert 1.0 <= result["legacy"] <= 10.0
    assert result["legacy"] == pytest.approx(1.0 + 9 * result["rate"], abs=1.5)  # self + about the same share


def test_legacy_count_includes_self_and_stays_in_range(clusters):
    high, _ = clusters
    for k in (1, 5, 30):
        legacy = metrics.neighbor_preservation(high, high[:, :2], k=k)["legacy"]
        assert 1.0 <= legacy <= k
    assert metrics.neighbor_preservation(high, high[:, :2], k=1)["legacy"] == 1.0


def test_prediction_preservation_counts_round_trip_agreement():
    predicted = np.array([0, 1, 2, 2])
    round_trip = np.array([0, 1, 1, 2])
    assert metrics.prediction_preserving_rate(predicted, round_trip) == 0.75
    assert metrics.vis_errors(predicted, round_trip) == 1
    logits = np.eye(3)[predicted]
    assert metrics.prediction_preserving_rate(logits, np.eye(3)[round_trip]) == 0.75


def test_trustworthiness_is_one_for_identity_and_lower_for_random(clusters):
    high, low = clusters
    assert metrics.trustworthiness(high, high, k=5) == pytest.approx(1.0)
    assert metrics.trustworthiness(high, low, k=5) < 0.8


def test_boundary_preservation_is_perfect_for_identity_and_low_for_random(clusters):
    high, low = clusters
    rng = np.random.default_rng(4)
    boundary = rng.normal(scale=5.0, size=(50, 2))
    assert metrics.boundary_preservation(high[:, :2], high[:, :2], boundary, boundary, k=5) == 1.0
    assert metrics.boundary_preservation(high[:, :2], low, boundary, rng.permutation(boundary), k=5) < 0.5


def test_temporal_figures_are_perfect_for_identical_sequences(trajectories):
    assert metrics.temporal_neighbor_preservation(trajectories, trajectories, k=3) == pytest.approx(1.0)
    assert metrics.temporal_ranking_correlation(trajectories, trajectories) == pytest.approx(1.0)
    stacked = np.stack(trajectories)  # one (n_epochs, n_samples, dim) array works too
    assert metrics.temporal_neighbor_preservation(stacked, trajectories, k=50) == pytest.approx(1.0)


def test_temporal_figures_drop_when_epochs_are_shuffled(trajectories):
    shuffled = [trajectories[i] for i in np.random.default_rng(5).permutation(len(trajectories))]
    assert metrics.temporal_neighbor_preservation(trajectories, shuffled, k=3) < 0.7
    assert metrics.temporal_ranking_correlation(trajectories, shuffled) < 0.5


def test_temporal_figures_do_not_depend_on_the_block_size(trajectories, monkeypatch):
    high = [np.hstack([epoch, epoch**2]) for epoch in trajectories]
    tnn = metrics.temporal_neighbor_preservation(high, trajectories, k=3)
    tlr = metrics.temporal_ranking_correlation(high, trajectories)
    monkeypatch.setattr(metrics, "_CHUNK_BYTES", 1)  # one sample per block
    assert metrics.temporal_neighbor_preservation(high, trajectories, k=3) == tnn
    assert metrics.temporal_ranking_correlation(high, trajectories) == pytest.approx(tlr, abs=1e-12)
    assert 0.0 < tnn < 1.0 and -1.0 < tlr < 1.0


POINTS = np.random.default_rng(6).normal(size=(10, 3))
EPOCHS = [POINTS[:, :2]] * 3
SAME_SHAPE = "must match high_seq in epochs x samples (3 x 10)."


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: metrics.neighbor_preservation(POINTS, POINTS[:, :2], k=0), ConfigError,
         "'k' parameter of neighbor_preservation must be an int in the range [1, 9] (n_samples - 1). Got 0 "),
        (lambda: metrics.neighbor_preservation(POINTS, POINTS[:, :2], k=10), ConfigError,
         "'k' parameter of neighbor_preservation must be an int in the range [1, 9] (n_samples - 1). Got 10 "),
        (lambda: metrics.neighbor_preservation(POINTS, POINTS[:9, :2]), DataError,
         "'low' argument of neighbor_preservation must have one row per row of high (10). Got 9 rows "),
        (lambda: metrics.neighbor_preservation(POINTS[:, 0], POINTS[:, :2], k=2), DataError,
         ("'high' argument of neighbor_preservation must be a 2-D array of shape (n_samples, n_features). "
          "Got shape (10,)")),
        (lambda: metrics.neighbor_preservation(np.full((10, 3), np.inf), POINTS[:, :2], k=2), DataError,
         "'high' argument of neighbor_preservation must hold finite numbers. Got NaN or infinity in 10 row(s)"),
        (lambda: metrics.prediction_preserving_rate([0, 1], [0, 1, 1]), DataError,
         ("'predicted_round_trip' argument of prediction_preserving_rate must describe the same 2 samples as predicted. "
          "Got 3 samples ")),
        (lambda: metrics.prediction_preserving_rate([], []), DataError,
         "'predicted' argument of prediction_preserving_rate must be class indices"),
        (lambda: metrics.vis_errors(np.zeros((2, 2, 2)), [0, 1]), DataError,
         "'predicted' argument of vis_errors must be class indices, shape (n_samples,), or logits"),
        (lambda: metrics.trustworthiness(POINTS, POINTS[:, :2], k=5), ConfigError,
         "'k' parameter of trustworthiness must be an int in the range [1, 4] ((n_samples - 1) // 2). Got 5 "),
        (lambda: metrics.boundary_preservation(POINTS, POINTS[:, :2], POINTS[:4], POINTS[:4, :2], k=5), ConfigError,
         "'k' parameter of boundary_preservation must be an int in the range [1, 4] (n_boundary). Got 5 "),
        (lambda: metrics.boundary_preservation(POINTS, POINTS[:, :2], POINTS[:4, :2], POINTS[:4, :2], k=2), DataError,
         "'boundary_high' argument of boundary_preservation must have as many columns as high (3). Got 2 columns "),
        (lambda: metrics.boundary_preservation(POINTS, POINTS[:, :2], POINTS[:4], POINTS[:3, :2], k=2), DataError,
         ("'boundary_low' argument of boundary_preservation must have one row per row of boundary_high (4). "
          "Got 3 rows ")),
        (lambda: metrics.temporal_neighbor_preservation(EPOCHS, EPOCHS, k=0), ConfigError,
         "'k' parameter of temporal_neighbor_preservation must be an int in the range [1, inf). Got 0 "),
        (lambda: metrics.temporal_neighbor_preservation(EPOCHS[:1], EPOCHS[:1]), DataError,
         "'high_seq' argument of temporal_neighbor_preservation must hold at least 2 epochs. Got 1 "),
        (lambda: metrics.temporal_neighbor_preservation(EPOCHS, EPOCHS[:2]), DataError,
         f"'low_seq' argument of temporal_neighbor_preservation {SAME_SHAPE} Got 2 x 10 "),
        (lambda: metrics.temporal_neighbor_preservation(EPOCHS, [POINTS[:9, :2]] * 3), DataError,
         f"'low_seq' argument of temporal_neighbor_preservation {SAME_SHAPE} Got 3 x 9 "),
        (lambda: metrics.temporal_neighbor_preservation([POINTS, POINTS[:, :2], POINTS], EPOCHS), DataError,
         "'high_seq' argument of temporal_neighbor_preservation must hold 2-D arrays of one shape"),
        (lambda: metrics.temporal_ranking_correlation(EPOCHS[:2], EPOCHS[:2]), DataError,
         "'high_seq' argument of temporal_ranking_correlation must hold at least 3 epochs. Got 2 "),
        (lambda: metrics.temporal_ranking_correlation([np.full((10, 2), np.nan)] * 3, EPOCHS), DataError,
         ("'high_seq' argument of temporal_ranking_correlation must hold finite numbers. "
          "Got NaN or infinity at sample 0 ")),
    ],
)
def test_invalid_arguments_name_themselves(call, error, message):
    with pytest.raises(error, match="^The " + re.escape(message)):
        call()


def test_neighbour_preservation_of_some_rows_matches_the_whole_on_those_rows():
    rng = np.random.default_rng(3)
    high = rng.normal(size=(300, 8)).astype(np.float32)
    low = high[:, :2] + rng.normal(scale=0.3, size=(300, 2)).astype(np.float32)
    high[7] = high[8]  # an exact duplicate: its own list may not hold it first
    rows = np.array([0, 7, 8, 100, 299])
    whole = metrics.nearest_neighbors(high, 10, exact=True)[0], metrics.nearest_neighbors(low, 10)[0]
    expected = metrics.shared_neighbours(whole[0][rows], whole[1][rows]).mean() / 10
    assert metrics.neighbor_preservation(high, low, 10, rows=rows)["rate"] == pytest.approx(expected)
    everything = metrics.neighbor_preservation(high, low, 10)
    assert metrics.neighbor_preservation(high, low, 10, rows=np.arange(300)) == pytest.approx(everything)
    for bad in ([0, 0], [300], [1.5], []):
        with pytest.raises(DataError, match="rows"):
            metrics.neighbor_preservation(high, low, 10, rows=bad)
