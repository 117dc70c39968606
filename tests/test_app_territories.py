"""The Territories page in AppTest: the player gets the cached maps as frames, and the page's controls
and the shared epoch / selection reach it."""

import base64
import json

import numpy as np

from helpers import VIEW_CONFIG, make_small_run, open_app, page_script, wait_for
from ttv_core.app.session import registry

PAGE = "territories"


def player_json(at) -> str:
    (component,) = at.get("bidi_component")
    return component.proto.json


def player(at) -> dict:
    return json.loads(player_json(at))


def frames_rendered(at):
    """Let the background frame jobs finish, then run the page again (what its 2-s poll does)."""
    for key, job in list(registry()._jobs.items()):
        if key[0] == "frames":
            wait_for(job, timeout=120)
    return at.run()


def test_player_gets_every_cached_epoch_starting_at_the_linked_epoch(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="proxy", epoch="2")
    assert not at.exception and not at.error
    data = player(at)
    assert data["epochs"] == [1, 2, 3, 4] and data["epoch"] == 2
    assert data["frames"][1], "the epoch shown is rendered by the page itself; the others follow in the background"
    data = player(frames_rendered(at))
    # Frames travel by URL (Streamlit's media endpoint), not inside the page's data.
    assert len(set(data["frames"])) == 4 and all("/media/" in url and url.endswith(".png") for url in data["frames"])
    assert "data:image" not in player_json(at)
    assert data["points"]["n"] == 400 and len(data["classes"]) == 10
    assert at.toggle(key="territory_trust").disabled  # the trust map exists for al only


def test_controls_change_the_frames_and_the_interactive_points(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    before = player(at)
    at.button_group(key="territory_colour").set_value("prediction").run()
    assert player(at)["frames_id"] != before["frames_id"]
    at.button_group(key="territory_splits").set_value(["test"]).run()
    assert not at.exception
    data = player(at)
    assert data["points"]["n"] == 100 and set(data["points"]["split"]) == {1}


def test_selection_from_another_page_is_drawn_and_al_offers_the_trust_map(mapped_run, monkeypatch):
    # This small run's al maps leave no probe untrustworthy (nothing to hatch); test_frames checks the
    # hatching itself, here every cell is marked so that the toggle's effect on the frames shows.
    monkeypatch.setattr("ttv_core.draw.frames.hatch_untrustworthy", lambda image, extent, trust_map: image // 2)
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="al")
    at.session_state["selected_samples"] = {"train": [0, 5], "test": [1]}
    at.run()
    data = player(at)
    assert len(data["selected"]) == 3
    assert "3 samples selected: their trails are drawn" in " ".join(caption.value for caption in at.caption)
    toggle = at.toggle(key="territory_trust")
    assert not toggle.disabled
    without = data["frames_id"]
    toggle.set_value(True).run()
    assert not at.exception and player(at)["frames_id"] != without
    assert any("of the probed area is untrustworthy" in caption.value for caption in at.caption)


def test_a_run_without_maps_points_to_the_train_page(tmp_path):
    run = make_small_run(tmp_path / "fresh")
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(run))
    assert not at.exception
    assert "no **TrustVis (proxy)** maps yet" in at.info[0].value
    assert not at.get("bidi_component")


def test_a_link_with_nonsense_method_and_epoch_opens_the_default_view(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="tsne", epoch="banana")
    assert not at.exception and not at.error
    assert at.selectbox(key="method").value == "proxy" and player(at)["epoch"] == 4  # the last epoch
    assert at.query_params["method"] == "proxy" and "epoch" not in at.query_params  # the link is corrected


def test_the_umap_baseline_says_why_it_has_no_territories(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="umap")
    assert not at.exception and player(at)["epochs"] == [1, 2, 3, 4]
    assert any("draws no territories" in caption.value for caption in at.caption)


def test_the_view_settings_survive_a_visit_to_another_page(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    at.button_group(key="territory_colour").set_value("prediction").run()
    at.switch_page(page_script("samples")).run()
    at.switch_page(page_script(PAGE)).run()
    assert not at.exception and at.button_group(key="territory_colour").value == "prediction"


def test_class_names_from_the_dataset_are_shown_as_text_not_html(tmp_path):
    import ttv_core
    from ttv_core.run.visualize import Visualization

    hostile = '<img src=x onerror="alert(1)">'
    run = make_small_run(tmp_path / "hostile", epochs=(1,), n_train=40, n_test=10)
    path = run / "ttv_run.json"  # the run's class names: rewritten as a malicious dataset would have them
    info = json.loads(path.read_text())
    info["classes"][0] = hostile
    path.write_text(json.dumps(info))
    Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit()
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(run))
    assert not at.exception
    legend = at.get("html")[0].proto.body
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in legend and "<img" not in legend
    assert player(at)["classes"][0] == hostile  # the player gets the text, and escapes it when it shows it


def test_a_first_visit_to_the_demo_trains_its_maps_unasked_then_plays_them_once(monkeypatch, tmp_path):
    """A newcomer lands on Territories, presses nothing, sees training progress, then the animation playing."""
    monkeypatch.setenv("TTV_TRAIN_DEMO", "1")
    monkeypatch.setenv("TTV_CACHE_DIR", str(tmp_path / "cache"))  # an empty cache: no maps of the demo
    config = VIEW_CONFIG.replace(seed=11)  # maps no other test reads
    at = open_app(view_config=config)  # no page: the landing page
    assert not at.exception and not at.error
    assert at.info and "nothing to press" in at.info[0].value
    job = registry().latest_fit(str(at.session_state["dynamics"].location), "proxy")
    assert job is not None and job.config == config and job.total == 20
    wait_for(job, timeout=240)
    assert job.status == "done", job.error
    data = player(frames_rendered(at.run()))  # the page's poll notices the epochs, then the frames
    assert data["epochs"] == list(range(1, 21)) and all(data["frames"])
    assert data["autoplay"] is True
    assert player(at.run())["autoplay"] is False  # once per session
    again = open_app(view_config=config)  # a second visitor: maps are there, nothing is trained again
    assert registry().latest_fit(str(again.session_state["dynamics"].location), "proxy") is job
    assert player(again)["autoplay"] or player(frames_rendered(again))["autoplay"]  # its frames may be done at once


def test_a_link_to_an_epoch_and_other_runs_neither_train_nor_play_unasked(monkeypatch, mapped_run, tmp_path):
    monkeypatch.setenv("TTV_TRAIN_DEMO", "1")
    at = open_app(view_config=VIEW_CONFIG, run=str(mapped_run), epoch="2")
    assert player(frames_rendered(at))["autoplay"] is False  # a link to one epoch shows that epoch
    fresh = make_small_run(tmp_path / "fresh")
    before = len(registry()._jobs)
    at = open_app(view_config=VIEW_CONFIG, run=str(fresh))
    assert "no **TrustVis (proxy)** maps yet" in at.info[0].value and len(registry()._jobs) == before


def test_a_large_selection_draws_a_capped_number_of_trails(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    at.session_state["selected_samples"] = {"train": list(range(60)), "test": []}
    at.run()
    assert player(at)["max_trails"] == 50 and len(player(at)["selected"]) == 60
    assert "60 samples selected: showing the trails of 50 of them" in " ".join(c.value for c in at.caption)


def test_a_link_carries_the_colouring_the_splits_and_the_selection(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    at.button_group(key="territory_colour").set_value("prediction").run()
    at.button_group(key="territory_splits").set_value(["test"]).run()
    from ttv_core.app import session
    assert session.parse_selection_param("train:3,1;test:2") == {"train": [1, 3], "test": [2]}
    assert session.parse_selection_param("train:x") is None and session.parse_selection_param("cats:1") is None
    assert (at.query_params["colour"], at.query_params["show"]) == ("prediction", "test")
    link = {name: at.query_params[name] for name in ("run", "method", "colour", "show")}
    again = open_app(PAGE, view_config=VIEW_CONFIG, **link, selected="train:5,7;test:1")
    assert not again.exception and not again.warning
    assert again.button_group(key="territory_colour").value == "prediction"
    assert again.button_group(key="territory_splits").value == ["test"]
    assert len(player(again)["selected"]) == 1  # only the test split is shown: its one selected sample
    assert "3 samples selected" in " ".join(caption.value for caption in again.caption)
    nonsense = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), colour="plaid", selected="x:y")
    assert not nonsense.exception and "colour" not in nonsense.query_params and "selected" not in nonsense.query_params


def test_go_to_a_sample_selects_it_on_the_map(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    assert at.number_input(key="territory_goto_index").max == 299
    at.number_input(key="territory_goto_index").set_value(250).run()
    at.button_group(key="territory_goto_split").set_value("test").run()
    assert not at.exception and at.number_input(key="territory_goto_index").max == 99
    at.number_input(key="territory_goto_index").set_value(42)
    at.button(key="territory_goto").click().run()
    assert not at.exception
    assert at.session_state["selected_samples"] == {"train": [], "test": [42]} and at.query_params["selected"] == "test:42"
    assert len(player(at)["selected"]) == 1


def test_the_frame_follows_the_dots_unless_asked_for_the_whole_run(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run))
    following = player(at)
    boxes = following["windows"]  # each epoch's window in the units of the dots' positions
    assert len(boxes) == 4 and len({tuple(box) for box in boxes}) > 1  # the frame moves with the dots
    at.toggle(key="territory_follow").set_value(False).run()
    assert not at.exception and at.query_params["frame"] == "whole"
    whole = player(at)
    assert whole["frames_id"] != following["frames_id"]
    assert len({tuple(box) for box in whole["windows"]}) == 1  # one frame for every epoch
    assert (whole["width"], whole["height"]) == (following["width"], following["height"])  # one shape for both
    again = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), frame="whole")
    assert again.toggle(key="territory_follow").value is False
    assert not open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), frame="zoom").exception


def test_compare_two_epochs_or_two_methods_side_by_side(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="proxy")
    assert player(at)["compare"] is None
    at.button_group(key="territory_compare").set_value("epoch").run()
    assert not at.exception
    data = player(at)
    # Two epochs: the second pane shows this method's frames at the last epoch while the slider moves the first.
    assert data["compare"] == {"title": "Epoch 4", "fixed_epoch": 4, "same": True} and data["title"]
    assert at.query_params["compare"] == "epoch:4"
    at.select_slider(key="territory_compare_epoch").set_value(2).run()
    assert player(at)["compare"]["fixed_epoch"] == 2 and at.query_params["compare"] == "epoch:2"
    # Two methods: the other method's own frames, windows and positions of the same samples; one slider.
    at.button_group(key="territory_compare").set_value("method").run()
    at.selectbox(key="territory_compare_method").set_value("umap").run()
    assert not at.exception and at.query_params["compare"] == "method:umap"
    data = player(frames_rendered(at))
    beside = data["compare"]  # (al would do too, but at this tiny setting its maps are the proxy's, frame for frame)
    assert beside["title"] == "UMAP baseline" and beside["fixed_epoch"] is None and not beside["same"]
    assert len(beside["frames"]) == 4 and all("/media/" in url for url in beside["frames"])
    assert set(beside["frames"]).isdisjoint(data["frames"]) and len(beside["windows"]) == 4
    xy = np.frombuffer(base64.b64decode(beside["xy"]), np.uint16).reshape(4, data["points"]["n"], 2)
    assert xy.shape[1] == 400 and (xy != 65535).all()
    # A link reopens the comparison; nonsense is dropped.
    again = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), method="proxy", compare="method:al")
    assert again.button_group(key="territory_compare").value == "method"
    assert player(again)["compare"]["title"] == "TrustVis + active learning"
    nonsense = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), compare="epoch:99")
    assert not nonsense.exception and "compare" not in nonsense.query_params and player(nonsense)["compare"] is None


def test_comparing_with_a_method_without_maps_says_so(tmp_path):
    import ttv_core

    run = make_small_run(tmp_path / "fresh")
    ttv_core.Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit()  # proxy's maps only
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(run), method="proxy", compare="method:al")
    assert not at.exception and player(at)["compare"] is None
    assert any("**TrustVis + active learning** has no maps yet" in info.value for info in at.info)


def test_the_view_downloads_as_png_gif_and_html_built_when_pressed(mapped_run):
    at = open_app(PAGE, view_config=VIEW_CONFIG, run=str(mapped_run), epoch="3")
    assert not at.exception
    buttons = {button.proto.label: button.proto for button in at.get("download_button")}
    assert {"Epoch 3 (PNG)", "Animation (GIF)", "Player (HTML)"} <= set(buttons)
    assert all(not proto.disabled for proto in buttons.values())


def test_a_run_fitted_by_ttv_proxy_plays_on_its_first_visit_without_rendering(monkeypatch, tmp_path):
    """`ttv proxy` renders the frames a first visit shows (render_opening_frames): the page's default style is
    theirs, so the first visit has every frame at once, starts no frame job and plays by itself."""
    import ttv_core
    from ttv_core.run.frames import render_opening_frames

    monkeypatch.setenv("TTV_CACHE_DIR", str(tmp_path / "cache"))
    run = make_small_run(tmp_path / "fitted", epochs=(1, 2, 3))
    visualization = ttv_core.Visualization(ttv_core.load_dynamics(run), "proxy", VIEW_CONFIG).fit()
    assert render_opening_frames(visualization) == [3, 2, 1]  # the epoch shown first, then outward
    at = open_app(view_config=VIEW_CONFIG, run=str(run), method="proxy")  # the landing page: Territories
    assert not at.exception and not at.error
    data = player(at)
    assert data["epochs"] == [1, 2, 3] and all(data["frames"]) and data["autoplay"] is True
    assert not any(key[0] == "frames" and job.active for key, job in registry()._jobs.items())
