"""The dashboard, driven headless through Streamlit's AppTest (same process, no browser)."""

import json

import numpy as np
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

import ttv_core
from helpers import open_app, page_script
from original_fixture import make_original_layout
from ttv_core.app.text import plain

TRUST_LABEL = "This dataset contains code (Model/model.py): allow running it"


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_demo_opens_by_default_on_territories_and_its_overview_has_summary_thumbnails_and_accuracy():
    at = open_app()
    assert not at.exception and not at.error
    assert at.query_params["run"] == "demo" and at.title[0].value == "Territories"
    at.switch_page(page_script("overview")).run()
    assert not at.exception and not at.error
    shown = metrics(at)
    assert (shown["Epochs"], shown["Training samples"], shown["Test samples"]) == ("20", "1,437", "360")
    assert len(at.get("image")[0].proto.imgs) == 12
    chart = at.get("vega_lite_chart")[0].proto
    assert json.loads(chart.spec)["encoding"]["y"]["field"] == "accuracy"
    data = dataframe_util.convert_arrow_bytes_to_pandas_df(chart.datasets[0].data.data)
    assert len(data) == 2 * 20
    assert data["accuracy"].between(0, 1).all()
    test = data[data["split"] == "test set"].set_index("epoch")["accuracy"]
    assert test[20] >= 0.9 > test[1]  # the demo's journey: from mixed to well separated


def test_missing_folder_shows_an_error_not_a_traceback(tmp_path):
    missing = str(tmp_path / "no-such-run")
    at = open_app()
    at.radio(key="run_source").set_value("folder").run()
    at.text_input(key="run_location").input(missing).run()

    assert not at.exception
    assert "no such folder" in at.error[0].value
    assert at.query_params["run"] == missing
    assert not at.get("vega_lite_chart")


def test_hub_choice_adds_the_hf_prefix_and_a_missing_repo_is_an_error():
    at = open_app()
    at.radio(key="run_source").set_value("hub").run()
    at.text_input(key="run_location").input("nobody/no-such-dataset").run()

    assert not at.exception
    assert at.query_params["run"] == "hf://nobody/no-such-dataset"
    assert at.error


def test_run_query_parameter_reopens_that_run(tmp_path):
    small_run = ttv_core.make_demo(tmp_path / "r", config=ttv_core.DemoConfig(epochs=3))

    at = open_app("overview", run=str(small_run))

    assert not at.exception
    assert not at.error
    assert at.radio(key="run_source").value == "folder"
    assert at.text_input(key="run_location").value == str(small_run)
    assert metrics(at)["Epochs"] == "3"
    assert at.query_params["run"] == str(small_run)


def test_an_epoch_found_damaged_by_a_page_is_an_error_not_a_traceback(tmp_path):
    run = ttv_core.make_demo(tmp_path / "r", config=ttv_core.DemoConfig(epochs=2))
    damaged = run / "epochs" / "epoch_0002" / "test.npy"
    np.save(damaged, np.full_like(np.load(damaged), np.nan))

    at = open_app("overview", run=str(run))

    assert not at.exception
    assert metrics(at)["Epochs"] == "2"  # the summary still shows
    assert "NaN" in at.error[0].value and plain("epoch_0002") in at.error[0].value  # shown as text


def test_original_layout_folder_runs_its_code_only_once_allowed_and_for_that_folder_only(tmp_path):
    folder = make_original_layout(tmp_path / "original")

    at = open_app("overview", run=str(folder))
    assert not at.exception
    assert TRUST_LABEL in at.error[0].value
    assert not at.metric

    at.checkbox(key="trust_code").check().run()
    assert not at.exception
    assert not at.error
    shown = metrics(at)
    assert (shown["Epochs"], shown["Training samples"], shown["Classes"]) == ("3", "60", "3")
    assert set(at.query_params) <= {"run", "method", "epoch"}  # a link never grants permission to run code

    at.text_input(key="run_location").input(str(tmp_path / "another")).run()
    assert at.checkbox(key="trust_code").value is False


def trained(at, *, seconds: float):
    """Run the page every half second (its run_every does not fire by itself in AppTest) until the job is done."""
    import time

    deadline = time.time() + seconds
    while "Done" not in at.get("progress")[0].proto.text and time.time() < deadline:
        time.sleep(0.5)
        at.run()
    return at


def test_train_page_trains_in_the_background_until_done(tmp_path):
    from helpers import make_small_run

    run = make_small_run(tmp_path / "tiny", epochs=(1, 2, 3), n_train=60, n_test=20)
    at = open_app("overview", run=str(run))
    at.switch_page(page_script("train")).run()
    chosen = {"max_passes": 2, "warm_max_passes": 2, "resolution": 24, "n_neighbors": 10}
    for name, value in {f"train_{field}": value for field, value in chosen.items()}.items():
        at.number_input(key=name).set_value(value)
    at.selectbox(key="train_device").set_value("cpu")
    at.button(key="train_start").click().run()
    trained(at, seconds=30)

    assert not at.exception
    assert not at.error
    assert "Done: 3 of 3 epochs" in at.get("progress")[0].proto.text
    assert at.button(key="train_stop").disabled
    table = at.dataframe[0].value
    assert list(table["epoch"]) == [1, 2, 3] and table["status"].str.contains("done|cached").all()
    import json

    config = json.loads(at.session_state["train_job"][3])  # every input reached the job's config
    assert {field: ttv_core.config.VisConfig.from_dict(config).value(field) for field in chosen} == chosen

    # A second tab (a new session) shows the same job and the settings it trained, and starts nothing.
    other = open_app(page="train", run=str(run))
    assert "Done: 3 of 3 epochs" in other.get("progress")[0].proto.text
    assert {field: other.number_input(key=f"train_{field}").value for field in chosen} == chosen
    # (the Device box is where this session's fits run, not a setting of the maps: it starts at its default)


def test_train_page_bounds_its_settings_by_the_run(tmp_path):
    from helpers import make_small_run

    run = make_small_run(tmp_path / "tiny", epochs=(1,), n_train=20, n_test=5)
    at = open_app(page="train", run=str(run))
    assert not at.exception
    assert at.number_input(key="train_n_neighbors").max == 19  # below the run's 20 training samples
    assert at.number_input(key="train_resolution").max == 400


def test_a_failed_fit_does_not_replace_the_maps_shown(mapped_run, monkeypatch):
    from helpers import VIEW_CONFIG, wait_for

    from ttv_core.app import jobs
    from ttv_core.app.session import registry

    class Failing(jobs.Visualization):
        def fit(self, *args, **kwargs):
            if self.config.value("seed") == 77:
                raise ttv_core.DataError("epoch 1 is damaged")
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(jobs, "Visualization", Failing)
    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(mapped_run))
    at.number_input(key="train_seed").set_value(77)
    at.button(key="train_start").click().run()
    wait_for(registry().get(at.session_state["train_job"]))
    at.run()
    assert "Failed" in at.get("progress")[0].proto.text and "epoch 1 is damaged" in at.error[0].value
    at.switch_page(page_script("territories")).run()
    assert not at.exception and at.get("bidi_component"), "the maps trained before are still shown"
    assert at.session_state["view_config"] == VIEW_CONFIG
    registry()._jobs.pop(at.session_state["train_job"])  # the server-wide registry: other tests' tabs would show it


def test_train_page_says_which_maps_are_cached_before_training(mapped_run, tmp_path):
    from helpers import VIEW_CONFIG

    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(mapped_run), method="umap")
    assert not at.exception
    assert "Every map up to epoch 4 is already in the cache" in at.success[0].value
    at.number_input(key="train_seed").set_value(7).run()  # other settings: other maps
    assert "**Train** computes the other 4, about" in at.info[0].value and not at.success


def test_train_page_counts_the_keyframe_a_stretch_heads_for(mapped_run):
    from helpers import VIEW_CONFIG

    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(mapped_run))
    at.number_input(key="train_stretch_epochs").set_value(2).run()  # keyframes 1 and 3: epoch 2 lands on 3
    at.select_slider(key="train_epochs").set_value(2).run()
    assert not at.exception
    assert "**Train** computes the other 2 and epoch 3, the keyframe their stretch heads for" in at.info[0].value


def test_train_page_trains_the_maps_up_to_the_chosen_epoch(tmp_path):
    from helpers import VIEW_CONFIG, make_small_run

    run = make_small_run(tmp_path / "tiny", epochs=(1, 2, 3, 4), n_train=60, n_test=20)
    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(run))
    at.select_slider(key="train_epochs").set_value(2)
    at.button(key="train_start").click().run()
    trained(at, seconds=30)
    assert "Done: 2 of 2 epochs" in at.get("progress")[0].proto.text
    assert list(at.dataframe[0].value["epoch"]) == [1, 2]


def test_train_page_fits_stretches_on_the_chosen_backend(tmp_path):
    import json

    from helpers import VIEW_CONFIG, make_small_run

    run = make_small_run(tmp_path / "tiny", epochs=(1, 2, 3, 4, 5), n_train=60, n_test=20)
    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(run))
    at.number_input(key="train_stretch_epochs").set_value(2).run()  # the workers wait for a stretch length
    at.number_input(key="train_jobs").set_value(2)
    at.selectbox(key="train_backend").set_value("sequential")  # through joblib, as a cluster would be
    at.button(key="train_start").click().run()
    trained(at, seconds=60)
    assert not at.exception and not at.error
    assert "Done: 5 of 5 epochs" in at.get("progress")[0].proto.text
    config = ttv_core.config.VisConfig.from_dict(json.loads(at.session_state["train_job"][3]))
    assert config.layout.stretch_epochs == 2
    stored = ttv_core.Visualization(ttv_core.load_dynamics(run), "proxy", config).fit(compute=False)
    assert not stored.missing_
    from ttv_core.app.session import registry

    job = registry().get(at.session_state["train_job"])
    assert set(job.passes) == {1, 3, 5}, "the keyframes fitted here, epoch by epoch; the stretches by the workers"


def test_train_page_long_run_settings_wait_for_a_stretch_and_dask_for_its_scheduler(mapped_run):
    from helpers import VIEW_CONFIG

    at = open_app(page="train", view_config=VIEW_CONFIG, run=str(mapped_run))
    assert not at.number_input(key="train_jobs").disabled  # stretches of 20 by default
    at.number_input(key="train_stretch_epochs").set_value(0).run()
    assert at.number_input(key="train_jobs").disabled and at.selectbox(key="train_backend").disabled  # one chain
    at.number_input(key="train_stretch_epochs").set_value(2).run()
    assert not at.number_input(key="train_jobs").disabled and at.text_input(key="train_scheduler").disabled
    at.selectbox(key="train_backend").set_value("dask").run()
    assert not at.exception and not at.error
    assert "Dask scheduler" in at.warning[0].value and at.button(key="train_start").disabled
    at.text_input(key="train_scheduler").input("tcp://127.0.0.1:8786").run()
    assert not at.warning and not at.button(key="train_start").disabled


def test_train_page_opens_on_a_run_too_small_for_any_neighbourhood(tmp_path):
    from helpers import make_small_run

    run = make_small_run(tmp_path / "two", epochs=(1,), n_train=2, n_test=1)
    at = open_app(page="train", run=str(run))
    assert not at.exception
    assert at.number_input(key="train_n_neighbors").max == 2 and at.error  # the run's own check says why
