"""The Metrics page, driven headless through AppTest: every method's figures, the chosen epoch, the CSV."""

import io
import json
import time

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import ttv_core
from app_support import figures
from app_support.session import METHOD_NAMES
from helpers import VIEW_CONFIG, GatedStore, make_small_run, open_app
from ttv_core.evaluate import FIGURE_KEYS
from ttv_core.visualize import Visualization

PAGE = "app_pages/metrics.py"
PROXY, AL, UMAP = (METHOD_NAMES[method] for method in ("proxy", "al", "umap"))


def settle(at: AppTest, timeout: float = 60.0) -> AppTest:
    """Rerun until the figures are all in (``run_every`` does not fire by itself in AppTest)."""
    deadline = time.time() + timeout
    while time.time() < deadline and (at.get("progress") or pending_temporal(at)):
        time.sleep(0.1)
        at.run()
    return at


def pending_temporal(at: AppTest) -> bool:
    return bool(at.dataframe) and figures.NOT_YET in at.dataframe[-1].value.to_numpy()


def open_metrics(run, **query_params: str) -> AppTest:
    return settle(open_app(page=PAGE, view_config=VIEW_CONFIG, run=str(run), **query_params))


def figure_charts(at: AppTest) -> dict[str, pd.DataFrame]:
    """The per-epoch charts of the page by figure label, each as its data (epoch, method, value)."""
    charts = {}
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        if "layer" not in spec:  # the classifier's accuracy
            continue
        frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(data.data.data) for data in chart.proto.datasets]
        charts[spec["layer"][0]["encoding"]["y"]["title"]] = next(frame for frame in frames if "method" in frame)
    return charts


def verdict(at: AppTest) -> str:
    return " ".join(element.value for element in [*at.success, *at.warning, *at.info])


def core_figures(run, method: str, epoch: int) -> dict:
    return Visualization(ttv_core.load_dynamics(run), method, VIEW_CONFIG).fit(compute=False).figures(epoch)


def train_proxy(path, **small_run) -> str:
    """A fresh run with only its proxy maps (no figures yet): seconds."""
    run = make_small_run(path, **small_run)
    Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit()
    return str(run)


def test_page_shows_every_figure_of_every_method_with_the_accuracy(mapped_run):
    at = open_metrics(mapped_run)

    assert not at.exception
    assert not at.error
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert specs[0]["encoding"]["y"]["field"] == "accuracy"  # the classifier, as on the Overview
    charts = figure_charts(at)
    assert set(charts) == {figure.label for figure in figures.FIGURES.values()}
    assert set(charts["Neighbours kept"]["method"]) == {PROXY, AL, UMAP}
    assert sorted(charts["Neighbours kept"]["epoch"].unique()) == [1, 2, 3, 4]
    assert charts["Trustworthiness"]["value"].between(0, 1).all()
    assert set(charts["Prediction preserved (PPR)"]["method"]) == {PROXY, AL}  # umap has no inverse
    table = at.dataframe[0].value
    assert list(table.columns) == ["Figure", PROXY, AL, UMAP]
    temporal = at.dataframe[1].value.set_index("Figure")
    assert 0 <= float(temporal.loc["Moves kept in time (TNN)", UMAP].rstrip("%")) <= 100
    assert "epoch 4" in verdict(at) and at.query_params["epoch"] == "4"  # the last epoch by default


def test_epoch_and_samples_widgets_show_the_cores_figures_and_the_epoch_goes_to_the_url(mapped_run):
    at = open_metrics(mapped_run)
    at.select_slider(key="metrics_epoch").set_value(2).run()

    assert not at.exception
    assert at.query_params["epoch"] == "2"
    expected = core_figures(mapped_run, "proxy", 2)
    table = at.dataframe[0].value.set_index("Figure")
    assert table.loc["Prediction preserved (PPR)", PROXY] == f"{expected['ppr_train']:.1%}"
    assert table.loc["Trustworthiness", PROXY] == f"{expected['trustworthiness_train']:.3f}"
    legacy = f"{expected['nn_train']:.1f} of {VIEW_CONFIG.n_neighbors}"
    assert table.loc["Neighbours kept (legacy count)", PROXY] == legacy
    assert "epoch 2" in verdict(at) and "training samples" in verdict(at)
    trust = figure_charts(at)["Trustworthiness"].set_index(["method", "epoch"])["value"]
    assert trust[(PROXY, 2)] == pytest.approx(expected["trustworthiness_train"])  # the charts plot the core's figures

    at.radio(key="metrics_split").set_value("test").run()
    table = at.dataframe[0].value.set_index("Figure")
    assert table.loc["Prediction preserved (PPR)", PROXY] == f"{expected['ppr_test']:.1%}"
    assert "test samples" in verdict(at)


def test_the_baseline_chosen_in_the_sidebar_is_judged_on_its_neighbourhoods_only(mapped_run):
    at = open_metrics(mapped_run, method="umap", epoch="3")

    assert not at.exception
    assert "UMAP baseline" in verdict(at) and "epoch 3" in verdict(at) and "no territories" in verdict(at)
    table = at.dataframe[0].value.set_index("Figure")
    assert table.loc["Prediction preserved (PPR)", UMAP] == figures.MISSING


@pytest.mark.parametrize("asked, shown", [("abc", 4), ("99", 4), ("-3", 1)])
def test_an_epoch_not_in_the_run_falls_back_to_the_nearest_one(mapped_run, asked, shown):
    at = open_app(page=PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), epoch=asked)

    assert not at.exception
    assert not at.error
    assert at.select_slider(key="metrics_epoch").value == shown
    assert at.query_params["epoch"] == str(shown)
    assert f"epoch {shown}" in verdict(at)


def test_settings_the_run_is_too_small_for_are_an_error_not_a_traceback(mapped_run):
    at = open_app(page=PAGE, view_config=VIEW_CONFIG.replace(n_neighbors=400), run=str(mapped_run))

    assert not at.exception
    assert "n_neighbors" in at.error[0].value


def test_a_run_without_maps_says_so_and_links_to_the_train_page(tmp_path):
    run = make_small_run(tmp_path / "unmapped", n_train=40)
    at = open_app(page=PAGE, view_config=VIEW_CONFIG, run=str(run))

    assert not at.exception
    assert not at.error
    assert "no maps yet" in at.info[0].value
    assert [link.proto.page for link in at.get("page_link")] == ["train"]  # the Train page
    assert len(at.get("vega_lite_chart")) == 1  # the classifier's accuracy needs no maps
    assert not at.get("download_button")


def test_a_method_without_maps_is_named_and_the_others_are_shown(tmp_path):
    run = train_proxy(tmp_path / "proxy-only", epochs=(1, 2), n_train=60, n_test=20)
    at = settle(open_app(page=PAGE, view_config=VIEW_CONFIG, run=run, method="al"))

    assert not at.exception
    assert "TrustVis + active learning has no maps" in at.warning[0].value
    assert [link.proto.page for link in at.get("page_link")] == ["train"]  # the Train page
    assert {method for chart in figure_charts(at).values() for method in chart["method"]} == {PROXY}
    assert list(at.dataframe[0].value.columns) == ["Figure", PROXY]


def test_a_stopped_evaluation_shows_what_is_cached_and_resumes(tmp_path):
    run = train_proxy(tmp_path / "fresh", epochs=(1, 2), n_train=60, n_test=20)
    at = open_app(view_config=VIEW_CONFIG, run=run)
    at.session_state["metrics_paused"] = True  # as after pressing Stop
    at.switch_page(PAGE).run()

    assert not at.exception
    assert "Evaluation stopped: the figures of 0 of 2 maps are in" in at.get("progress")[0].proto.text
    assert not figure_charts(at)
    assert set(at.dataframe[0].value[PROXY]) == {figures.STOPPED}
    assert "the evaluation was stopped" in verdict(at)

    at.button(key="metrics_resume").click().run()
    settle(at)
    assert not at.get("progress")
    assert set(figure_charts(at)["Neighbours kept"]["epoch"]) == {1, 2}
    assert at.dataframe[0].value.set_index("Figure").loc["Trustworthiness", PROXY] != figures.MISSING


def test_stop_halts_the_shared_evaluation_and_this_session_leaves_it_stopped(tmp_path):
    from app_support.session import registry  # the dashboard's, shared with the pages AppTest runs

    run = train_proxy(tmp_path / "queued", epochs=(1, 2), n_train=60, n_test=20)
    blocker = Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit([1], compute=False)
    blocker.store = gate = GatedStore(blocker.store)
    try:
        registry().evaluate(blocker)  # holds the figure worker: the page's job stays queued
        assert gate.entered.wait(10)
        at = open_app(page=PAGE, view_config=VIEW_CONFIG, run=run)
        assert "Evaluating the figures of 2 maps" in at.get("progress")[0].proto.text
        at.button(key="metrics_stop").click().run()
    finally:
        gate.release.set()
    time.sleep(0.5)
    at.run()

    assert not at.exception
    assert "Evaluation stopped" in at.get("progress")[0].proto.text
    assert at.button(key="metrics_resume")
    at.button(key="metrics_resume").click().run()
    assert not settle(at).get("progress")
    assert set(figure_charts(at)["Trustworthiness"]["epoch"]) == {1, 2}


def test_csv_download_holds_every_epoch_and_method_with_the_original_keys(mapped_run, monkeypatch):
    downloads = []
    register = MemoryMediaFileStorage.load_and_get_id

    def recording(storage, data, mimetype, kind, filename=None):
        if mimetype == "text/csv":
            downloads.append((filename, data))
        return register(storage, data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    at = open_metrics(mapped_run)

    assert at.get("download_button")[0].proto.label == "Download the figures (CSV)"
    filename, data = downloads[-1]
    table = pd.read_csv(io.BytesIO(data))
    assert filename == "ttv-figures.csv"
    assert list(table.columns) == ["epoch", "method", *FIGURE_KEYS, "k"]
    assert sorted(zip(table["method"], table["epoch"])) == sorted(
        (method, epoch) for method in ttv_core.METHODS for epoch in (1, 2, 3, 4))
    row = table[(table["method"] == "al") & (table["epoch"] == 3)].iloc[0]
    expected = core_figures(mapped_run, "al", 3)
    assert row["ppr_train"] == pytest.approx(expected["ppr_train"]) and row["k"] == VIEW_CONFIG.n_neighbors
    assert table.loc[table["method"] == "umap", "ppr_train"].isna().all()  # empty, not a made-up number
    counts = pd.read_csv(io.BytesIO(data), dtype=str)["vis_error_train"].dropna()
    assert len(counts) == 8 and counts.str.fullmatch(r"\d+").all()  # whole samples, written 80 and not 80.0


def test_a_failed_evaluation_says_so_instead_of_still_evaluating(tmp_path):
    from app_support.jobs import FigureJob, figure_key
    from app_support.session import registry

    run = train_proxy(tmp_path / "failing", epochs=(1, 2), n_train=60, n_test=20)
    maps = Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit(compute=False)
    key = figure_key(maps)
    registry()._jobs[key] = FigureJob(key, {1: None, 2: None}, status="failed", error="epoch 1 is damaged")
    at = open_app(page=PAGE, view_config=VIEW_CONFIG, run=run)

    assert not at.exception
    assert "epoch 1 is damaged" in at.error[0].value
    assert set(at.dataframe[0].value[PROXY]) == {figures.FAILED}
    assert set(at.dataframe[1].value[PROXY]) == {figures.FAILED}
    assert "could not be evaluated" in verdict(at)


def test_the_verdict_names_what_it_could_not_judge():
    territories_only = figures.verdict({"ppr_test": 0.95, "trustworthiness_test": None}, 3, "test")
    assert territories_only[0] is True and "too few test samples for k" in territories_only[1]
    neighbourhoods_only = figures.verdict({"ppr_train": None, "trustworthiness_train": 0.95}, 3, "train")
    assert neighbourhoods_only[0] is True and "draws no territories" in neighbourhoods_only[1]
    assert figures.verdict({"ppr_train": 0.5, "trustworthiness_train": 0.95}, 3, "train")[0] is False
