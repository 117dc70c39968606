"""Samples: queries, events, Data Maps and neighbourhoods on hand-made histories whose answers are known."""

import ast
from pathlib import Path

import numpy as np
import pytest

import ttv_core
from helpers import make_small_run
from ttv_core.errors import ConfigError, DataError
from ttv_core.evaluate.predictions import PredictionHistory, prediction_history
from ttv_core.explore import (data_map, events, flipped, history_of, nearest_others, neighbours, query, robust_z,
                              settled_epochs, trajectory)

# Four samples, three classes, epochs 1-3. Sample 0 is learned at once, sample 1 learned over the
# epochs (ambiguous), sample 2 forgotten at epoch 3 (a flip to class 1 and a drop of its label's
# probability), sample 3 always put in class 1 although labelled 0 (mislabelled).
LABELS = [0, 1, 2, 0]
PREDICTED = [[0, 0, 2, 1], [0, 1, 2, 1], [0, 1, 1, 1]]
CONFIDENCE = [[0.90, 0.50, 0.45, 0.90], [0.95, 0.55, 0.45, 0.92], [0.97, 0.90, 0.60, 0.94]]
TRUE_PROBABILITY = [[0.90, 0.10, 0.45, 0.05], [0.95, 0.55, 0.45, 0.05], [0.97, 0.90, 0.05, 0.05]]


def make_history(predicted=PREDICTED, true_probability=TRUE_PROBABILITY, labels=LABELS) -> PredictionHistory:
    predicted = np.array(predicted, dtype=np.int16)
    return PredictionHistory(tuple(range(1, len(predicted) + 1)), "train", np.array(labels, dtype=np.int64), predicted,
                             np.array(CONFIDENCE, dtype=np.float32)[: len(predicted)],
                             np.array(true_probability, dtype=np.float32))


@pytest.fixture()
def history() -> PredictionHistory:
    return make_history()


# -- query ------------------------------------------------------------------------------------------
def test_query_filters_by_label_prediction_confidence_and_flip(history):
    assert query(history, 3).tolist() == [0, 1, 2, 3]
    assert query(history, 3, labels=[0]).tolist() == [0, 3]
    assert query(history, 3, predicted=[1]).tolist() == [1, 2, 3]
    assert query(history, 1, predicted=[1]).tolist() == [3]  # the prediction filter reads the chosen epoch
    assert query(history, 3, confidence=(0.0, 0.91)).tolist() == [1, 2]
    assert query(history, 3, flipped_only=True).tolist() == [2]
    assert query(history, 2, flipped_only=True).tolist() == [1]
    assert query(history, 3, flipped_only=False).tolist() == [0, 1, 3]
    assert query(history, 3, labels=[0], predicted=[1], flipped_only=False).tolist() == [3]
    assert query(history, 3, labels=[], predicted=None).tolist() == [0, 1, 2, 3]  # empty: any


def test_nothing_flips_at_the_first_epoch(history):
    assert not flipped(history, 1).any()
    assert query(history, 1, flipped_only=True).size == 0


def test_a_closed_confidence_range_of_one_value_finds_the_samples_with_it(history):
    exact = float(history.confidence[history.row(3), 2])
    assert 2 in query(history, 3, confidence=(exact, exact))


@pytest.mark.parametrize("confidence", [(0.6, 0.4), (0.2, 1.5), (-0.1, 0.5), "all", (0.1,)])
def test_query_refuses_an_empty_or_invalid_confidence_range(history, confidence):
    with pytest.raises(ConfigError, match=r"'confidence' parameter of query must be a range \(low, high\)"):
        query(history, 3, confidence=confidence)


def test_query_names_a_bad_argument(history):
    with pytest.raises(DataError, match="'labels' argument of query must be class indices"):
        query(history, 3, labels=[-1])
    with pytest.raises(DataError, match="'predicted' argument of query"):
        query(history, 3, predicted=["cat"])
    with pytest.raises(ConfigError, match=r"'epoch' parameter of query must be one of the history's epochs \(1–3\)"):
        query(history, 9)
    with pytest.raises(ConfigError, match="'flipped_only' parameter of query"):
        query(history, 3, flipped_only="yes")


# -- events -----------------------------------------------------------------------------------------
def maps(moved: float = 5.0) -> dict[int, np.ndarray]:
    """Epoch 2 and 3 maps: every sample moves about 0.1, sample 3 moves ``moved``."""
    before = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    return {2: before, 3: before + [[0.1, 0.0], [0.0, 0.12], [0.11, 0.0], [0.0, moved]]}


def test_events_find_flips_probability_jumps_and_unusual_movements(history):
    found = events(history, maps(), 3)
    assert (found.epoch, found.previous) == (3, 2)
    assert np.flatnonzero(found.flipped).tolist() == [2]
    assert (found.predicted_before[2], found.predicted_after[2]) == (2, 1)
    assert np.flatnonzero(found.probability_jump).tolist() == [1, 2]  # +0.35 and -0.40
    np.testing.assert_allclose(found.probability_change, [0.02, 0.35, -0.40, 0.0], atol=1e-6)
    np.testing.assert_allclose(found.displacement, [0.1, 0.12, 0.11, 5.0])
    assert np.flatnonzero(found.moved).tolist() == [3]
    assert found.samples.tolist() == [1, 2, 3]


def test_event_thresholds_are_keyword_arguments(history):
    found = events(history, maps(moved=0.3), 3, confidence_change=0.5, movement_z=1000)
    assert not found.probability_jump.any() and not found.moved.any()
    assert found.samples.tolist() == [2]  # the flip stays
    assert events(history, maps(moved=0.3), 3).moved[3]  # 0.3 among ~0.1 moves is unusual at the default
    with pytest.raises(ConfigError, match="'confidence_change' parameter of events"):
        events(history, maps(), 3, confidence_change=0)
    with pytest.raises(ConfigError, match="'movement_z' parameter of events"):
        events(history, maps(), 3, movement_z=-1)


def test_events_without_maps_or_at_the_first_epoch(history):
    without = events(history, {3: maps()[3]}, 3)  # epoch 2 has no map
    assert without.displacement is None and without.movement_score is None and not without.moved.any()
    assert without.samples.tolist() == [1, 2]
    first = events(history, None, 1)
    assert first.previous is None and first.samples.size == 0


def test_events_refuse_a_map_of_other_samples(history):
    wrong = {2: np.zeros((3, 2)), 3: np.zeros((4, 2))}
    message = r"'embeddings_by_epoch\[2\]' argument of events must hold one row per sample \(4\)"
    with pytest.raises(DataError, match=message):
        events(history, wrong, 3)


def test_robust_z_ignores_the_outlier_it_flags():
    scores = robust_z([1.0, 2.0, 3.0, 4.0, 100.0])
    np.testing.assert_allclose(scores[:4], np.array([-2.0, -1.0, 0.0, 1.0]) / 1.4826)
    assert scores[4] == pytest.approx(97 / 1.4826)
    mostly_still = robust_z([0.0, 0.0, 0.0, 2.0])  # MAD 0: the mean absolute deviation scales, no infinities
    assert np.isfinite(mostly_still).all() and mostly_still[3] > 3 and (mostly_still[:3] == 0).all()
    assert robust_z([5.0, 5.0, 5.0]).tolist() == [0.0, 0.0, 0.0]
    assert robust_z([]).size == 0


# -- Data Maps --------------------------------------------------------------------------------------
def test_data_map_regions_and_likely_mislabelled(history):
    result = data_map(history)
    probability = np.array(TRUE_PROBABILITY, dtype=np.float32).astype(np.float64)
    np.testing.assert_allclose(result.confidence, probability.mean(axis=0))
    np.testing.assert_allclose(result.variability, probability.std(axis=0))
    np.testing.assert_allclose(result.correctness, [1.0, 2 / 3, 2 / 3, 0.0])
    assert result.region.tolist() == ["easy", "ambiguous", "hard", "hard"]
    assert result.alternative.tolist() == [-1, 0, 1, 1]
    assert result.likely_mislabelled().tolist() == [3]
    assert result.members("hard").tolist() == [3, 2]  # least confident first
    assert result.members("easy").tolist() == [0]


def test_a_model_unsure_about_everything_does_not_call_its_samples_mislabelled():
    unsure = make_history(predicted=[[0, 1, 2, 0], [0, 1, 2, 0], [1, 0, 0, 1]], true_probability=[[0.15] * 4] * 3)
    result = data_map(unsure)
    assert result.region.tolist() == ["hard"] * 4
    assert result.likely_mislabelled().size == 0  # the label wins 2 epochs of 3: no other class is believed
    assert data_map(unsure, mislabelled_correctness=0.7).likely_mislabelled().tolist() == [0, 1, 2, 3]


def test_data_map_names_a_bad_threshold(history):
    with pytest.raises(ConfigError, match="'ambiguous_variability' parameter of data_map"):
        data_map(history, ambiguous_variability=2)
    with pytest.raises(ConfigError, match="'region' parameter of DataMap.members must be one of"):
        data_map(history).members("medium")


# -- one sample -------------------------------------------------------------------------------------
def test_history_of_one_sample(history):
    story = history_of(history, 2)
    assert story["epoch"].tolist() == [1, 2, 3] and story["predicted"].tolist() == [2, 2, 1] and story["label"] == 2
    np.testing.assert_allclose(story["true_probability"], [0.45, 0.45, 0.05])
    with pytest.raises(ConfigError, match=r"'index' parameter of history_of must be an int in the range \[0, 3\]"):
        history_of(history, 4)


def test_trajectory_lists_the_mapped_epochs_in_order():
    epochs, positions = trajectory({3: maps()[3], 2: maps()[2]}, 3)
    assert epochs.tolist() == [2, 3]
    np.testing.assert_allclose(positions, [[3.0, 0.0], [3.0, 5.0]])
    assert trajectory({}, 0)[1].shape == (0, 2)
    with pytest.raises(ConfigError, match="'index' parameter of trajectory"):
        trajectory(maps(), 4)


def test_neighbours_compare_the_two_spaces():
    high = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    low = np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0], [2.0, 0.0], [11.0, 0.0]])
    found = neighbours(high, low, 0, 2)
    assert found.high.tolist() == [1, 2] and found.low.tolist() == [2, 3]
    assert found.shared.tolist() == [2] and found.overlap == 0.5
    assert neighbours(high, high, 4, 4).overlap == 1.0
    twins = neighbours(np.zeros((3, 2)), np.zeros((3, 2)), 1, 2)  # exact duplicates: the sample is still left out
    assert sorted(twins.high.tolist()) == [0, 2]


def test_neighbours_name_a_bad_argument():
    points = np.zeros((5, 2))
    with pytest.raises(ConfigError, match=r"'index' parameter of neighbours must be an int in the range \[0, 4\]"):
        neighbours(points, points, 5, 2)
    with pytest.raises(ConfigError, match=r"'k' parameter of neighbours must be an int in the range \[1, 4\]"):
        neighbours(points, points, 0, 5)
    with pytest.raises(DataError, match="'low_dim' argument of neighbours must have one row per row of high_dim"):
        neighbours(points, points[:4], 0, 2)
    with pytest.raises(ConfigError, match=r"'index' parameter of nearest_others must be an int in the range \[0, 4\]"):
        nearest_others(points, -1, 2)
    assert nearest_others(np.arange(5.0)[:, None], 2, 2).tolist() in ([1, 3], [3, 1])


# -- on a recorded run ------------------------------------------------------------------------------
def test_on_a_recorded_run_the_answers_agree_with_its_predictions(tmp_path, cache_dir):
    dynamics = ttv_core.load_dynamics(make_small_run(tmp_path / "run", epochs=(1, 2, 3)))
    history = prediction_history(dynamics, "train", cache_dir=cache_dir)
    for c in range(dynamics.n_classes):
        np.testing.assert_array_equal(query(history, 2, predicted=[c]), np.flatnonzero(history.predicted[1] == c))
    result = data_map(history)
    assert result.confidence.shape == (dynamics.n_train,) and set(result.region) <= {"easy", "ambiguous", "hard"}
    assert ((result.correctness >= 0) & (result.correctness <= 1)).all()
    found = neighbours(dynamics.representations(3), dynamics.representations(3)[:, :2], 0, 5)
    assert found.high.size == 5 and 0 not in found.high.tolist()


def test_explore_imports_only_numpy_and_the_core():
    for path in (Path(ttv_core.__file__).parent / "explore").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {node.module.split(".")[0] if node.level == 0 else "ttv_core"
                    for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert imported <= {"__future__", "collections", "dataclasses", "numbers", "numpy", "ttv_core"}, (path, imported)


def test_data_map_summarises_a_window_of_epochs(history):
    late = data_map(history, epochs=[2, 3])
    np.testing.assert_allclose(late.confidence, [0.96, 0.725, 0.25, 0.05], atol=1e-6)
    np.testing.assert_allclose(late.correctness, [1.0, 1.0, 0.5, 0.0])
    assert late.alternative.tolist() == [-1, -1, 1, 1]  # sample 1's early miss is outside the window
    with pytest.raises(ConfigError, match=r"'epochs' parameter of data_map must hold only the history's epochs"):
        data_map(history, epochs=[0, 1])
    with pytest.raises(ConfigError, match="'epochs' parameter of data_map must hold at least one"):
        data_map(history, epochs=[])


@pytest.mark.parametrize("epochs, window", [((1, 2, 3, 4), (3, 4)), ((5,), (5, 5)), ((1, 2, 3), (2, 3)),
                                            (range(1, 21), (11, 20))])
def test_settled_epochs_are_the_last_half(epochs, window):
    assert settled_epochs(epochs) == window
    assert settled_epochs(epochs, share=1.0)[0] == min(epochs)
