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
from ttv_core.app import figures
from ttv_core.app.session import METHOD_NAMES
from ttv_core.app.text import plain
from helpers import VIEW_CONFIG, GatedStore, make_small_run, open_app, page_script
from ttv_core.evaluate.figures import FIGURE_KEYS
from ttv_core.run.visualize import Visualization

PAGE = "metrics"
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
    return " ".join(element.value for element in [*at.success, *at.warning, *at.info]
                    if "no UMAP row" not in element.value)  # the offer to compute the baseline is no verdict


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
    legacy = f"{expected['nn_train']:.1f} of {VIEW_CONFIG.graph.n_neighbors}"
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


def test_settings_the_run_is_too_small_for_are_an_error_not_a_traceback(tmp_path):
    run = make_small_run(tmp_path / "tiny", n_train=30)
    at = open_app(page=PAGE, view_config=VIEW_CONFIG.replace(n_neighbors=100), run=str(run))

    assert not at.exception
    assert plain("n_neighbors") in at.error[0].value  # the message as written, shown as text


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
    at.switch_page(page_script(PAGE)).run()

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
    from ttv_core.app.session import registry  # the dashboard's, shared with the pages AppTest runs

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
    assert row["ppr_train"] == pytest.approx(expected["ppr_train"]) and row["k"] == VIEW_CONFIG.graph.n_neighbors
    assert table.loc[table["method"] == "umap", "ppr_train"].isna().all()  # empty, not a made-up number
    counts = pd.read_csv(io.BytesIO(data), dtype=str)["vis_error_train"].dropna()
    assert len(counts) == 8 and counts.str.fullmatch(r"\d+").all()  # whole samples, written 80 and not 80.0


def test_a_failed_evaluation_says_so_instead_of_still_evaluating(tmp_path):
    from ttv_core.app.jobs import FigureJob, figure_key
    from ttv_core.app.session import registry

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
    assert territories_only[0] is None and "too few test samples for k" in territories_only[1]
    no_territories = figures.verdict({"ppr_train": None, "nn_rate_train": 0.5, "trustworthiness_train": 0.98}, 3,
                                     "train", reference=figures.Reference(figures.TRAINED, UMAP_FIGURES))
    assert no_territories[0] is None and "draws no territories" in no_territories[1]
    assert figures.verdict({"ppr_train": 0.5, "trustworthiness_train": 0.95}, 3, "train")[0] is False


# -- the verdict as a plain function: umap-learn's figures of epoch 20 of the demo (issue 9) --------
UMAP_FIGURES = {"nn_rate_train": 0.574, "trustworthiness_train": 0.990}
GOOD = {"ppr_train": 0.97, "nn_rate_train": 0.55, "trustworthiness_train": 0.985}
TERRITORIES = "lies in a territory of a class the classifier does not predict for it"
NEIGHBOURS = "many of a sample's nearest neighbours for the classifier are elsewhere on the map"
CLOSENESS = "dots close on the map are often not close for the classifier"


def judged(source=figures.TRAINED, **changes):
    reference = figures.Reference(source, UMAP_FIGURES if source in (figures.TRAINED, figures.COMPUTED) else None)
    return figures.verdict({**GOOD, **changes}, 20, "train", reference=reference)


def test_a_map_is_trusted_when_territories_neighbours_and_trustworthiness_all_hold():
    trusted, text = judged()

    assert trusted is True
    assert text.startswith("This map can be trusted at epoch 20 on the training samples")
    assert "0.96× umap-learn's" in text and "umap-learn's 0.990" in text  # judged against the baseline's figures
    assert not any(phrase in text.lower() for phrase in (TERRITORIES, NEIGHBOURS, CLOSENESS))


@pytest.mark.parametrize("changes, phrase, number", [
    ({"ppr_train": 0.85}, "about 1 in 7 training samples " + TERRITORIES, "PPR 85.0%"),
    ({"nn_rate_train": 0.278}, NEIGHBOURS, "0.48× what umap-learn keeps (57.4%)"),  # the demo's proxy at epoch 20
    ({"trustworthiness_train": 0.961}, CLOSENESS, "more than 0.02 below umap-learn's 0.990"),
])
def test_each_failing_figure_is_named_in_plain_words_then_its_numbers(changes, phrase, number):
    trusted, text = judged(**changes)

    assert trusted is False
    assert phrase in text.lower() and number in text
    others = {TERRITORIES, NEIGHBOURS, CLOSENESS} - {phrase.removeprefix("about 1 in 7 training samples ")}
    assert not any(other in text.lower() for other in others)  # only the failing figure is blamed


def test_the_demos_proxy_map_at_epoch_20_is_no_longer_trusted():
    trusted, text = figures.verdict({"ppr_train": 0.969, "nn_rate_train": 0.278, "trustworthiness_train": 0.961}, 20,
                                    "train", reference=figures.Reference(figures.TRAINED, UMAP_FIGURES))

    assert trusted is False and NEIGHBOURS in text.lower() and CLOSENESS in text.lower()
    assert "can be trusted" not in text


@pytest.mark.parametrize("rate, trust, trusted", [(0.46, 0.971, True), (0.45, 0.990, False), (0.574, 0.969, False)])
def test_neighbours_and_trustworthiness_are_judged_against_umap_learns_on_the_same_epoch(rate, trust, trusted):
    assert judged(nn_rate_train=rate, trustworthiness_train=trust)[0] is trusted  # 0.8 x 0.574 = 0.459; 0.990 - 0.02


def test_trustworthiness_falls_back_to_the_absolute_floor_without_umap_learns():
    below_umap = {"nn_rate_train": 0.5, "trustworthiness_train": 0.88}
    relative = figures.verdict({**GOOD, "trustworthiness_train": 0.87}, 20, "train",
                               reference=figures.Reference(figures.COMPUTED, below_umap))
    absolute = judged(figures.FLOORS, trustworthiness_train=0.87)

    assert relative[0] is True  # a hard epoch: umap-learn itself scores 0.88
    assert absolute[0] is False and CLOSENESS in absolute[1].lower() and "below the 0.9 floor" in absolute[1]


@pytest.mark.parametrize("source, outcome, compared", [
    (figures.TRAINED, True, "Compared with the UMAP baseline's map of the same epoch."),
    (figures.COMPUTED, True, "Compared with umap-learn fitted on epoch 20 alone."),
    (figures.PENDING, None, "Comparing with umap-learn on epoch 20: its figures come in a few seconds."),
    (figures.FLOORS, None, "Compared with absolute floors only (PPR 90%, trustworthiness 0.9): train the UMAP "
                           "baseline to compare neighbour preservation."),
])
def test_the_verdict_says_what_it_compared_against(source, outcome, compared):
    trusted, text = judged(source)

    assert trusted is outcome and text.endswith(compared)
    if outcome is None:  # never "trusted" without umap-learn's neighbour figure
        assert "can be trusted" not in text and "neighbours kept" in text


def test_the_baseline_is_described_not_compared_with_itself():
    trusted, text = figures.verdict(UMAP_FIGURES, 20, "train", reference=figures.Reference(figures.SELF))

    assert trusted is None
    assert text.startswith("This is the baseline the other maps are compared with, at epoch 20")
    assert "57.4%" in text and "0.990" in text and "×" not in text and "can be trusted" not in text


# -- the verdict on the page: which umap-learn figures it compares with -------------------------------
def settle_verdict(at: AppTest, timeout: float = 120.0) -> AppTest:
    """Rerun until umap-learn's figures for the verdict are in (a first umap-learn fit compiles numba)."""
    deadline = time.time() + timeout
    while time.time() < deadline and "come in a few seconds" in verdict(at):
        time.sleep(0.2)
        at.run()
    return at


def test_with_the_baseline_trained_the_verdict_compares_with_its_figures_of_the_epoch(mapped_run):
    at = open_metrics(mapped_run, epoch="3")

    expected = figures.verdict(core_figures(mapped_run, "proxy", 3), 3, "train",
                               reference=figures.Reference(figures.TRAINED, core_figures(mapped_run, "umap", 3)))
    assert not at.exception
    assert verdict(at) == f"**{PROXY}.** {expected[1]}"
    assert "Compared with the UMAP baseline's map of the same epoch." in verdict(at)


def test_on_a_small_run_without_the_baseline_the_verdict_fits_umap_learn_on_the_epoch(tmp_path):
    from ttv_core.evaluate.figures import reference_figures

    run = train_proxy(tmp_path / "no-baseline", epochs=(1, 2), n_train=60, n_test=20)
    at = settle_verdict(settle(open_app(page=PAGE, view_config=VIEW_CONFIG, run=run)))

    assert not at.exception
    assert "Compared with umap-learn fitted on epoch 2 alone." in verdict(at)
    dynamics = ttv_core.load_dynamics(run)
    umap = reference_figures(dynamics, 2, VIEW_CONFIG, compute=False)  # memoized: read back, not fitted again
    assert umap is not None and 0 < umap["nn_rate_train"] <= 1
    expected = figures.verdict(core_figures(run, "proxy", 2), 2, "train",
                               reference=figures.Reference(figures.COMPUTED, umap))
    assert verdict(at) == f"**{PROXY}.** {expected[1]}"


def test_on_a_large_run_without_the_baseline_the_verdict_says_it_used_the_floors(tmp_path, monkeypatch):
    from ttv_core.app.session import registry

    monkeypatch.setattr("ttv_core.evaluate.figures.REFERENCE_MAX_TRAIN", 59)  # the 60 samples count as a large run
    run = train_proxy(tmp_path / "large", epochs=(1, 2), n_train=60, n_test=20)
    at = settle(open_app(page=PAGE, view_config=VIEW_CONFIG, run=run))

    assert not at.exception
    assert "Compared with absolute floors only" in verdict(at) and "train the UMAP baseline" in verdict(at)
    assert "60 training samples" in verdict(at) and "can be trusted" not in verdict(at)
    assert not [key for key in registry()._jobs if key[0] == "figures" and key[1] == run and key[2] == "umap reference"]


def test_without_the_baseline_the_page_offers_to_compute_it_and_then_compares(tmp_path):
    from helpers import wait_for

    from ttv_core.app.session import registry

    run = train_proxy(tmp_path / "proxy-only", epochs=(1, 2), n_train=60, n_test=20)
    at = settle(open_app(page=PAGE, view_config=VIEW_CONFIG, run=run))
    assert any("no UMAP row to compare with" in info.value for info in at.info)
    at.button(key="metrics_umap").click().run()
    job = registry().latest_fit(run, "umap")
    assert job is not None and job.config == VIEW_CONFIG
    wait_for(job, timeout=120)
    assert job.status == "done", job.error
    at = settle(at.run())
    assert not at.exception and not any("no UMAP row" in info.value for info in at.info)
    assert {method for chart in figure_charts(at).values() for method in chart["method"]} == {
        PROXY, METHOD_NAMES["umap"]}
