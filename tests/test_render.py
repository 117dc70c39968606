"""Exports (``ttv render`` and the Share page): the GIF and MP4 have one frame per epoch at the asked size,
the PNG holds the epoch's frame, the HTML player is one offline file that plays in Chromium, the figures
and the result bundle hold what the maps have, and bad flags end in one line."""

import csv
import io
import json
import os
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

import ttv_core
from helpers import VIEW_CONFIG, make_small_run, open_app
from ttv_core.canvas import grid_shape
from ttv_core.evaluate.figures import FIGURE_KEYS
from ttv_core.run import render
from ttv_core.run.cli import main
from ttv_core.run.frames import epoch_frame

SIZE = 160  # small frames, quick to render; the size logic is the same at 800
EPOCHS = [1, 2, 3, 4]  # the mapped run's
CHEAP_FLAGS = ["--hidden", "32", "--n-hidden-layers", "2", "--max-passes", "2", "--warm-max-passes", "2",
               "--resolution", "24"]  # = helpers.VIEW_CONFIG: the mapped run's maps are in the cache


@pytest.fixture(scope="module")
def maps(mapped_run):
    return ttv_core.Visualization(ttv_core.load_dynamics(mapped_run), "proxy", VIEW_CONFIG).fit()


@pytest.fixture(scope="module")
def style():
    return render.export_style(size=SIZE)


def frame_width(maps, style) -> int:
    return grid_shape(maps.window(EPOCHS[0], style.follow), style.size)[1]


def test_the_gif_has_one_frame_per_epoch_at_the_asked_size_and_loops(maps, style):
    gif = Image.open(io.BytesIO(render.animation_gif(maps, style, fps=5)))
    assert gif.format == "GIF" and gif.n_frames == len(EPOCHS)
    assert gif.info["loop"] == 0 and gif.info["duration"] == 200
    width = frame_width(maps, style)
    sizes = set()
    for index in range(gif.n_frames):
        gif.seek(index)
        sizes.add(gif.convert("RGB").size)
    assert len(sizes) == 1  # every frame the same size
    gif.seek(0)
    assert gif.size[0] == width and gif.size[1] > grid_shape(maps.window(1), SIZE)[0]  # + header and legend
    assert render.export_style(size=800).size == 800 and render.export_style(size=800).radius == 3


def test_the_png_is_the_epochs_frame_with_a_header_and_a_legend(maps, style):
    png = Image.open(io.BytesIO(render.export(maps, "png", style, epoch=3))).convert("RGB")
    frame = np.asarray(Image.open(io.BytesIO(epoch_frame(maps, 3, _predictions(maps), style))).convert("RGB"))
    picture = np.asarray(png)
    assert picture.shape[1] == frame.shape[1] == frame_width(maps, style)
    offsets = [top for top in range(picture.shape[0] - frame.shape[0] + 1)
               if np.array_equal(picture[top: top + frame.shape[0]], frame)]
    assert len(offsets) == 1 and 0 < offsets[0] and offsets[0] + frame.shape[0] < picture.shape[0]
    assert not np.array_equal(render.export(maps, "png", style, epoch=1), render.export(maps, "png", style, epoch=3))


def _predictions(maps):
    from ttv_core.evaluate.predictions import prediction_history

    return {split: prediction_history(maps.dynamics, split, epochs=EPOCHS) for split in ttv_core.data.dynamics.SPLITS}


def test_the_mp4_is_h264_with_one_frame_per_epoch_at_an_even_size(maps, style, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    path = tmp_path / "animation.mp4"
    path.write_bytes(render.animation_mp4(maps, style, fps=4))
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    frames = list(reader)
    gif = Image.open(io.BytesIO(render.animation_gif(maps, style)))
    even = tuple(side + side % 2 for side in gif.size)
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 4
    assert meta["size"] == even and len(frames) == len(EPOCHS)
    assert all(len(frame) == even[0] * even[1] * 3 for frame in frames)
    first = np.frombuffer(frames[0], np.uint8).reshape(even[1], even[0], 3)[: gif.size[1], : gif.size[0]].astype(int)
    gif.seek(0)
    assert np.abs(first - np.asarray(gif.convert("RGB"), dtype=int)).mean() < 6  # the same picture, lossy


def test_the_html_player_is_one_offline_file_with_every_frame_and_escaped_names(maps, style):
    page = render.html_player(maps, style, title='<img src=x onerror="alert(1)"> & co').decode()
    assert page.count("data:image/png;base64,") == len(EPOCHS)
    assert not re.search(r"(?i)https?://|//[a-z0-9-]+\.", page.replace("data:image/png;base64,", ""))
    assert "default-src 'none'" in page  # its Content-Security-Policy forbids any request
    assert "<img src=x" not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in page
    assert json.loads(re.search(r"const EPOCHS = (\[[^\]]*\])", page).group(1)) == EPOCHS
    for name in maps.dynamics.classes:
        assert f"</i>{name}</span>" in page


def test_the_figures_as_csv_and_json_are_the_evaluation(maps):
    document = json.loads(render.figures_json(maps))
    assert document == json.loads(json.dumps(maps.evaluation()))
    rows = list(csv.DictReader(io.StringIO(render.figures_csv(maps).decode())))
    assert [int(row["epoch"]) for row in rows] == EPOCHS and {row["method"] for row in rows} == {"proxy"}
    assert list(rows[0]) == ["epoch", "method", *FIGURE_KEYS, "k"]
    for row in rows:
        figures = maps.figures(int(row["epoch"]))
        assert float(row["ppr_train"]) == pytest.approx(figures["ppr_train"])
        for key in FIGURE_KEYS:
            assert row[key] == "" if figures[key] is None else float(row[key]) == pytest.approx(figures[key])


def test_the_result_bundle_holds_every_epochs_maps_and_the_figures(maps):
    bundle = zipfile.ZipFile(io.BytesIO(render.result_bundle(maps)))
    per_epoch = {f"epoch_{e}/{name}" for e in EPOCHS
                 for name in ("embedding.npy", "embedding_test.npy", "territory.png", "extent.json")}
    assert set(bundle.namelist()) == per_epoch | {"manifest.json", "proxy_eval.json", "figures.csv"}
    embedding = np.load(io.BytesIO(bundle.read("epoch_2/embedding.npy")), allow_pickle=False)
    assert np.array_equal(embedding, maps.results_[2].embeddings["train"])
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest["epochs"] == EPOCHS and manifest["method"] == "proxy" and manifest["config"] == VIEW_CONFIG.to_dict()
    assert json.loads(bundle.read("proxy_eval.json")) == json.loads(render.figures_json(maps))


def test_exporters_refuse_epochs_without_a_map_and_bad_speeds(maps, style):
    with pytest.raises(ttv_core.ConfigError, match=r"epochs \[9\] have no proxy map"):
        render.animation_gif(maps, style, epochs=[1, 9])
    with pytest.raises(ttv_core.ConfigError, match="fps"):
        render.animation_gif(maps, style, fps=0)
    with pytest.raises(ttv_core.ConfigError, match="not fitted"):
        render.export(ttv_core.Visualization(maps.dynamics, "proxy", VIEW_CONFIG), "gif", style)


# -- the command line --------------------------------------------------------------------------------
def test_render_writes_each_format_through_the_cache(mapped_run, tmp_path, capsys):
    gif = tmp_path / "out" / "demo.gif"
    assert main(["render", str(mapped_run), "--out", str(gif), "--size", str(SIZE), "--epochs", "2:4", "--fps", "2",
                 *CHEAP_FLAGS]) == 0
    assert "wrote" in capsys.readouterr().err
    animation = Image.open(gif)
    assert animation.n_frames == 3 and animation.info["duration"] == 500
    png = tmp_path / "epoch.png"
    assert main(["render", str(mapped_run), "--format", "png", "--out", str(png), "--epoch", "2", "--size", "120",
                 "--colour", "prediction", "--frame", "whole", *CHEAP_FLAGS]) == 0
    assert Image.open(png).format == "PNG"
    table = tmp_path / "figures.csv"
    assert main(["render", str(mapped_run), "--out", str(table), *CHEAP_FLAGS]) == 0
    assert len(table.read_text().splitlines()) == 1 + len(EPOCHS)


def _one_line_error(capsys, argv) -> str:
    status = main(argv)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert status == 2 and err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("flags, words", [
    (["--format", "webp"], "--format 'webp'"),
    (["--format", "gif", "--epochs", "7:9"], "--epochs '7:9'"),
    (["--format", "gif", "--epochs", "two"], "--epochs 'two'"),
    (["--format", "gif", "--size", "8"], "--size must be"),
    (["--format", "gif", "--fps", "-1"], "--fps must be"),
    (["--format", "gif", "--colour", "red"], "--colour 'red'"),
    (["--format", "gif", "--frame", "still"], "--frame 'still'"),
    (["--format", "gif", "--epoch", "2"], "--epoch draws one epoch"),
    (["--format", "mp4"], "ends in .gif but --format is mp4"),
    (["--format", "png", "--out-suffix", ".png", "--epochs", "1:2", "--epoch", "4"], "--epoch 4 is not among"),
])
def test_render_refuses_bad_flags_in_one_line(small_demo, tmp_path, capsys, flags, words):
    out = tmp_path / "animation.gif"
    if "--out-suffix" in flags:
        index = flags.index("--out-suffix")
        out, flags = out.with_suffix(flags[index + 1]), flags[:index] + flags[index + 2:]
    err = _one_line_error(capsys, ["render", str(small_demo), "--out", str(out), *flags, *CHEAP_FLAGS])
    assert words in err
    assert not out.exists()


def test_render_keeps_an_existing_file_unless_overwrite(tmp_path, capsys):
    run = make_small_run(tmp_path / "run")
    out = tmp_path / "keep.gif"
    out.write_bytes(b"mine")
    assert "--overwrite" in _one_line_error(capsys, ["render", str(run), "--out", str(out)])
    assert out.read_bytes() == b"mine"
    assert "known suffix" in _one_line_error(capsys, ["render", str(run), "--out", str(tmp_path / "animation")])


# -- the HTML player in a browser ----------------------------------------------------------------------
def test_the_html_player_plays_offline_in_chromium(maps, style, tmp_path):
    import browser

    reason = browser.missing_tools()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")
    if reason:
        pytest.skip(reason)
    path = tmp_path / "player.html"
    path.write_bytes(render.html_player(maps, style, fps=8))
    with browser.chromium(width=900, height=900) as page:
        requests = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(path.as_uri())
        label = page.locator(".ttv-epoch")
        assert label.inner_text() == "Epoch 4 (4 of 4)"  # it opens on the last epoch, the trained classifier
        assert page.locator(".ttv-frame").evaluate("image => image.complete && image.naturalWidth") == frame_width(maps, style)
        page.locator("button.ttv-play").click()
        seen = set()
        for _ in range(40):  # 8 epochs a second: every epoch within a second
            seen.add(label.inner_text())
            page.wait_for_timeout(50)
        assert {f"Epoch {e} ({e} of 4)" for e in EPOCHS} <= seen
        page.locator("button.ttv-play").click()  # pause: it stays on one epoch
        paused = label.inner_text()
        page.wait_for_timeout(400)
        assert label.inner_text() == paused
        page.locator("input.ttv-epoch-slider").fill("1")
        assert label.inner_text() == "Epoch 2 (2 of 4)"
    assert all(url.startswith(("file:", "data:")) for url in requests), requests


# -- the Share page ------------------------------------------------------------------------------------
def test_the_share_page_builds_a_gif_and_offers_it(mapped_run):
    at = open_app("share", view_config=VIEW_CONFIG, run=str(mapped_run))
    assert not at.exception and not at.error
    at.radio(key="share_kind").set_value("gif")
    at.select_slider(key="share_size").set_value(320)
    at.button(key="share_build").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    (success,) = at.success
    assert re.search(r"Built ttv-small-demo-proxy\.gif in [\d.]+ s", success.value.replace("\\", ""))
    (download,) = at.get("download_button")
    assert download.proto.label == "Download Animated GIF"
    at.radio(key="share_kind").set_value("png").run()  # another choice: built again before it is offered
    assert not at.get("download_button") and not at.exception
    at.button(key="share_build").click().run()
    assert "epoch4.png" in at.success[0].value.replace("\\", "") and at.get("download_button")


def test_the_share_page_without_maps_sends_to_train(tmp_path):
    run = make_small_run(tmp_path / "unmapped")
    at = open_app("share", view_config=VIEW_CONFIG, run=str(run))
    assert not at.exception and not at.error
    assert "no **TrustVis (proxy)** maps yet" in at.info[0].value
    assert not [button for button in at.button if button.key == "share_build"]
    assert at.get("page_link")[0].proto.page == "train"
