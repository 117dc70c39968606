"""The Samples page, driven headless through AppTest on a small run whose maps are cached."""

import json

import numpy as np
import pytest
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

import helpers
import ttv_core
from helpers import make_small_run, open_app
from ttv_core.evaluate.predictions import prediction_history

PAGE = "samples"


@pytest.fixture()
def at(mapped_run) -> AppTest:
    return open_app(page=PAGE, view_config=helpers.VIEW_CONFIG, run=str(mapped_run))


@pytest.fixture(scope="module")
def run(mapped_run) -> ttv_core.TrainingDynamics:
    return ttv_core.load_dynamics(mapped_run)


def table(at: AppTest, key: str):
    """The table whose key starts with ``key`` (the page adds a digest of the rows: see ``selectable``)."""
    return next(frame for frame in at.dataframe if (frame.key or "").startswith(key)).value


def table_key(at: AppTest, key: str) -> str:
    return next(frame.key for frame in at.dataframe if (frame.key or "").startswith(key))


def charts(at: AppTest) -> dict[str, tuple[dict, list]]:
    """Charts by the field on their x axis: (spec, the rows of every dataset)."""
    found = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        layers = spec.get("layer", [spec])
        x = next(layer["encoding"]["x"]["field"] for layer in layers if "x" in layer.get("encoding", {}))
        rows = [dataframe_util.convert_arrow_bytes_to_pandas_df(d.data.data) for d in chart.proto.datasets]
        found[x] = (spec, rows)
    return found


def test_page_loads_with_query_inspector_events_and_data_map(at, run):
    assert not at.exception
    assert not at.error
    results = table(at, "samples_results")
    assert len(results) == run.n_train + run.n_test  # no filter: every sample
    history = prediction_history(run, "train")
    shown_first = results.set_index(["split", "sample"]).loc[("train", 0), "confidence"]
    assert shown_first == pytest.approx(100 * history.confidence[history.row(4), 0], rel=1e-5)  # in percent
    shown = charts(at)
    assert {"epoch", "x", "variability"} <= set(shown)  # probability history, trajectory, Data Maps
    assert len(shown["variability"][1][0]) == run.n_train
    metrics = {metric.label: metric.value for metric in at.metric}
    assert sum(int(metrics[region].replace(",", "")) for region in ("Easy", "Ambiguous", "Hard")) == run.n_train
    assert any("From epoch 3 to 4" in caption.value for caption in at.caption)  # events of the last epoch
    assert not [info for info in at.info if "not computed" in info.value]  # every map is there


def test_a_query_by_label_and_split_changes_the_results(at, run):
    at.multiselect(key="samples_labels").set_value([2]).run()
    results = table(at, "samples_results")
    assert not at.exception
    assert set(results["label"]) == {run.classes[2]}
    assert len(results) == sum(int((run.labels(s) == 2).sum()) for s in ("train", "test"))

    at.multiselect(key="samples_splits").set_value(["test"]).run()
    results = table(at, "samples_results")
    assert set(results["split"]) == {"test"} and len(results) == int((run.labels("test") == 2).sum())


def test_highlight_selects_the_results_for_territories_and_clear_empties_it(at, run):
    at.multiselect(key="samples_labels").set_value([1]).run()
    at.button(key="samples_results_highlight").click().run()
    chosen = at.session_state["selected_samples"]
    assert chosen == {split: np.flatnonzero(run.labels(split) == 1).tolist() for split in ("train", "test")}

    assert at.query_params["selected"].startswith("train:") and ";test:" in at.query_params["selected"]
    at.button(key="samples_clear").click().run()
    assert at.session_state["selected_samples"] == {"train": [], "test": []} and "selected" not in at.query_params
    at.multiselect(key="samples_labels").set_value([]).run()
    at.button(key="samples_results_highlight").click().run()  # all 400 samples: more than a link carries
    assert sum(map(len, at.session_state["selected_samples"].values())) > 100 and "selected" not in at.query_params


def test_chosen_rows_are_forgotten_when_the_query_changes_the_rows(at):
    at.session_state[table_key(at, "samples_results")] = {"selection": {"rows": [4], "columns": [], "cells": []}}
    at.run()
    assert at.button(key="samples_results_inspect")  # one row chosen
    at.multiselect(key="samples_labels").set_value([2]).run()
    labels = table(at, "samples_results")["label"]
    assert not [button for button in at.button if button.key == "samples_results_inspect"]  # no stale row
    at.button(key="samples_results_highlight").click().run()  # so this highlights every row shown
    assert sum(map(len, at.session_state["selected_samples"].values())) == len(labels)


def test_chosen_rows_are_highlighted_alone_and_one_row_can_be_inspected(at):
    rows = table(at, "samples_results")
    at.session_state[table_key(at, "samples_results")] = {"selection": {"rows": [3, 7], "columns": [], "cells": []}}
    at.run()
    at.button(key="samples_results_highlight").click().run()
    assert at.session_state["selected_samples"] == {"train": sorted(rows["sample"][[3, 7]].tolist()), "test": []}
    assert at.query_params["selected"] == "train:" + ",".join(map(str, sorted(rows["sample"][[3, 7]].tolist())))

    at.session_state[table_key(at, "samples_results")] = {"selection": {"rows": [len(rows) - 1], "columns": [],
                                                                         "cells": []}}
    at.run()
    at.button(key="samples_results_inspect").click().run()
    assert (at.radio(key="samples_split").value, at.number_input(key="samples_index").value) == (
        rows["split"].iloc[-1], rows["sample"].iloc[-1])


def test_the_inspector_shows_the_chosen_samples_history_trajectory_and_neighbours(at, run):
    at.radio(key="samples_split").set_value("test")
    at.number_input(key="samples_index").set_value(5)
    at.number_input(key="samples_k").set_value(7).run()
    assert not at.exception and not at.error
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Label"] == run.classes[run.labels("test")[5]]
    shown = charts(at)
    history = shown["epoch"][1][0]
    assert len(history) == 2 * len(run.epochs)  # two probabilities per epoch
    trajectory = shown["x"][1][0]
    assert trajectory["epoch"].tolist() == list(run.epochs) and trajectory["now"].tolist() == [False] * 3 + [True]
    neighbours = [frame.value for frame in at.dataframe if frame.key is None]
    assert [len(frame) for frame in neighbours] == [7, 7]
    assert all(set(frame["split"]) == {"test"} and 5 not in frame["sample"].tolist() for frame in neighbours)


def test_the_epoch_slider_moves_the_shared_epoch_and_the_query_follows(at):
    at.select_slider(key="samples_epoch").set_value(2).run()
    assert not at.exception
    assert at.session_state["epoch"] == 2 and at.query_params["epoch"] == "2"
    assert at.multiselect(key="samples_predicted").label == "Prediction at epoch 2"
    assert any("From epoch 1 to 2" in caption.value for caption in at.caption)


def test_event_thresholds_drive_the_events_table(at):
    events = table(at, "samples_events")
    assert events["events"].str.contains("movement").any()  # the run's last epoch has unusual movements
    at.number_input(key="samples_change").set_value(1.0)
    at.number_input(key="samples_z").set_value(1000.0).run()
    assert not at.exception
    flips_only = table(at, "samples_events")
    assert set(flips_only["events"]) == {"flip"}
    assert len(flips_only) == events["events"].str.contains("flip").sum()


def test_the_inspectors_inputs_are_bounded_by_the_split(at):
    assert at.number_input(key="samples_index").max == 299 and at.number_input(key="samples_k").max == 299
    at.number_input(key="samples_index").set_value(250).run()
    at.radio(key="samples_split").set_value("test").run()  # 100 test samples: the sample number follows
    assert not at.exception and not at.error
    assert at.number_input(key="samples_index").value == 99 and at.number_input(key="samples_index").max == 99


def test_a_run_without_maps_still_answers_from_predictions_and_points_to_train(tmp_path):
    bare = make_small_run(tmp_path / "bare", epochs=(1, 2, 3), n_train=30, n_test=10)
    at = open_app(page=PAGE, run=str(bare))
    assert not at.exception
    assert not at.error
    assert len(table(at, "samples_results")) == 40
    shown = charts(at)
    assert {"epoch", "variability"} <= set(shown) and "x" not in shown  # no trajectory without maps
    notes = [info.value for info in at.info if "not computed" in info.value]
    assert len(notes) == 2  # the inspector's trajectory and 2-D neighbours; the events' movements
    assert [link.proto.page for link in at.get("page_link")].count("train") == 2
    assert len([frame for frame in at.dataframe if frame.key is None]) == 1  # the representation-space neighbours


def test_a_small_run_without_test_samples_offers_only_what_it_has(tmp_path):
    run = make_small_run(tmp_path / "no-test", epochs=(1, 2), n_train=8, n_test=0)
    at = open_app(page=PAGE, run=str(run))

    assert not at.exception and not at.error  # k starts below the 8 samples: the neighbours need no fixing
    assert at.radio(key="samples_split").options == ["Training"]
    assert at.radio(key="samples_map_split").options == ["Training"]
    assert at.multiselect(key="samples_splits").options == ["Training"]
    assert at.number_input(key="samples_k").value == 7


def test_data_maps_warn_when_the_classifier_was_still_learning(tmp_path):
    import ttv_core

    short = ttv_core.make_demo(tmp_path / "short", config=ttv_core.DemoConfig(epochs=3))  # far from converged
    at = open_app(page=PAGE, run=str(short))
    assert not at.exception
    assert any("still learning" in warning.value for warning in at.warning)


def test_data_maps_of_the_trained_demo_do_not_warn():
    at = open_app(page=PAGE)  # the demo: 20 epochs, the later half settled
    assert not at.exception
    assert not any("still learning" in warning.value for warning in at.warning)
