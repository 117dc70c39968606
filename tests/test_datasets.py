"""The Datasets page (issue 15): what a data root holds, listed from manifests alone, each run opened with one click."""

import os
import shutil
from pathlib import Path

import pytest

from helpers import VIEW_CONFIG, make_small_run, open_app
from original_fixture import make_original_layout
from ttv_core.app import datasets
from ttv_core.app import settings as server
from ttv_core.app.settings import ServerSettings
from ttv_core.app.text import plain
from ttv_core.data import catalog

COMMIT = "0123456789abcdef0123456789abcdef01234567"
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"
       b"\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")  # one white pixel


@pytest.fixture()
def data_root(tmp_path, monkeypatch) -> Path:
    """A data root holding a ttv run, an original-layout folder whose model.py leaves a marker file when it is
    imported, a folder with a damaged manifest and an empty folder."""
    root = tmp_path / "root"
    make_small_run(root / "ttv-run")
    original = make_original_layout(root / "lab" / "original")
    marker = tmp_path / "model-imported"
    with open(original / "Model" / "model.py", "a") as code:
        code.write(f"\nopen({str(marker)!r}, 'w').write('imported')\n")
    (root / "broken").mkdir()
    (root / "broken" / "ttv_run.json").write_text("{not json")
    (root / "empty").mkdir()
    monkeypatch.setenv("TTV_DATA_ROOT", str(root))
    monkeypatch.delenv("TTV_PUBLISHED", raising=False)
    datasets.listing.clear()
    return root


def texts(at) -> str:
    return "\n".join(element.value for kind in ("markdown", "caption", "info", "error") for element in at.get(kind))


def test_the_page_lists_runs_explains_a_broken_folder_skips_an_empty_one_and_runs_no_code(data_root, tmp_path):
    at = open_app("datasets")
    assert not at.exception and at.title[0].value == "Datasets"
    shown = texts(at)
    assert plain("ttv-run") in shown
    assert "3 epochs (1–3) · 30 training / 10 test samples · dimension 4 · 3 classes" in shown  # from ttv_run.json
    assert "**original**" in shown and "60 training / 20 test samples" in shown  # from config.json alone
    assert plain("ttv_run.json: not readable JSON") in shown  # the broken folder, with its reason
    assert "empty" not in shown
    assert not (tmp_path / "model-imported").exists(), "listing a folder imported its model.py"
    keys = {button.key for button in at.button}
    assert {"datasets_open:ttv-run", "datasets_open:lab/original"} <= keys and "datasets_open:broken" not in keys
    assert plain(str(tmp_path)) not in shown.replace(plain(str(data_root)), "ROOT")  # paths only inside the root


def test_a_card_opens_its_run_with_one_click_and_the_run_is_then_recent(data_root):
    at = open_app("datasets")
    at.button(key="datasets_open:ttv-run").click().run()
    assert not at.exception and not at.error
    assert at.query_params["run"] == "ttv-run" and at.title[0].value == plain("ttv-run")  # its Overview
    assert at.radio(key="run_source").value == "folder" and at.text_input(key="run_location").value == "ttv-run"
    again = open_app("datasets")
    assert again.button(key="datasets_recent:ttv-run").label.replace("\\", "").startswith("ttv-run")  # as text


def test_a_card_says_which_maps_the_cache_holds_and_opens_them_on_territories(mapped_run, monkeypatch):
    monkeypatch.setenv("TTV_DATA_ROOT", str(mapped_run.parent))
    datasets.listing.clear()
    at = open_app("datasets", view_config=VIEW_CONFIG)
    assert not at.exception
    line = next(caption.value for caption in at.caption if caption.value.startswith("Maps in the cache"))
    assert line.count(", every epoch") == 3  # proxy, al and umap, epochs 1-4
    at.button(key=f"datasets_open:{mapped_run.name}").click().run()
    assert not at.exception and at.title[0].value == "Territories" and at.get("bidi_component")


def test_a_missing_or_refused_run_shows_the_list_under_the_message(data_root, monkeypatch):
    monkeypatch.setattr(server, "visitor_is_local", lambda: False)
    at = open_app("overview", run="/etc")
    assert not at.exception and "data folder only" in at.error[0].value
    assert "Datasets: pick a run to open" in [header.value for header in at.subheader]
    assert at.button(key="datasets_open:ttv-run")
    assert not [caption for caption in at.caption if plain(str(data_root)) in caption.value], "a visitor saw the path"


def test_without_a_data_root_nothing_is_scanned_and_the_page_says_so(monkeypatch):
    monkeypatch.delenv("TTV_DATA_ROOT", raising=False)
    monkeypatch.setattr(catalog, "scan", lambda *args, **kwargs: pytest.fail("scanned without a data root"))
    at = open_app("datasets")
    assert not at.exception and "lists no folders" in texts(at)
    assert at.code and "Recorder(" in at.code[0].value  # record your own


def test_published_runs_show_their_card_before_the_run_is_fetched(tmp_path, hub_cache, monkeypatch):
    from ttv_core.run.publish import dataset_card

    import ttv_core

    build = tmp_path / "build"
    make_small_run(build)
    card = dataset_card(ttv_core.load_dynamics(build), "alice/card-run", {"methods": {"proxy": {"epochs": [1, 2, 3]}},
                        "version": 1, "code_version": "9"}, {"proxy": {"train_acc": 0.9}}, gif="animation.gif")
    (build / "README.md").write_text(card)
    (build / "animation.gif").write_bytes(GIF)
    storage = hub_cache / "datasets--alice--card-run"
    shutil.rmtree(storage, ignore_errors=True)
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    (storage / "snapshots" / COMMIT).mkdir(parents=True)
    for name in ("README.md", "animation.gif"):  # the card only: the run itself is not in the cache
        shutil.copy(build / name, storage / "snapshots" / COMMIT / name)
    monkeypatch.setenv("TTV_PUBLISHED", "alice/card-run, nobody/offline-run")
    datasets.card.clear()
    at = open_app("datasets")
    assert not at.exception
    shown = texts(at)
    assert "**build**" in shown and "3 epochs of 30 training and 10 test samples" in shown
    assert at.dataframe[0].value["train accuracy"].tolist() == ["0.900"]
    assert [img for image in at.get("image") for img in image.proto.imgs if img.url.endswith(".gif")]  # the card's
    assert plain("hf://nobody/offline-run: its card cannot be fetched") in shown  # offline: one line
    assert at.button(key="datasets_open:hf://alice/card-run")


def test_the_published_list_comes_from_the_environment_or_the_secrets(monkeypatch):
    monkeypatch.setattr(server, "_secrets", lambda: {"published": ["alice/a", "bob/b"]})
    monkeypatch.delenv("TTV_PUBLISHED", raising=False)
    assert ServerSettings.current().published == ("alice/a", "bob/b")
    monkeypatch.setenv("TTV_PUBLISHED", "carol/c, dave/d")
    assert ServerSettings.current().published == ("carol/c", "dave/d")


def test_recent_runs_outside_the_data_root_are_never_shown(tmp_path, monkeypatch):
    root = tmp_path / "root"
    make_small_run(root / "inside")
    monkeypatch.setattr(server, "visitor_is_local", lambda: False)
    settings = ServerSettings(data_roots=(root.resolve(),))
    for reference in (str(tmp_path / "outside"), "inside", "hf://alice/run"):
        datasets.remember(reference, "a run")
    shown = [(reference, where) for reference, _, where in datasets.recent(settings)]
    assert ("hf://alice/run", "hf://alice/run") in shown and ("inside", "inside") in shown
    assert not [reference for reference, _ in shown if "outside" in reference]
    assert [reference for reference, *_ in datasets.recent(ServerSettings(hosted=True))] == ["hf://alice/run"]


# -- the scan, without Streamlit ----------------------------------------------------------------------------
def test_scan_walks_groups_and_never_leaves_the_root(tmp_path):
    root = tmp_path / "root"
    make_small_run(root / "group" / "deeper" / "run")
    make_small_run(tmp_path / "outside")
    (root / "group" / "link-out").symlink_to(tmp_path / "outside")
    (root / "loop").symlink_to(root)
    (root / "half").mkdir()
    (root / "half" / "labels").mkdir()  # a run that lost its manifest
    found = {entry.relative: entry for entry in catalog.scan([root])}
    assert set(found) == {"group/deeper/run", "half"}
    assert found["group/deeper/run"].kind == "ttv" and found["group/deeper/run"].epochs == (1, 2, 3)
    assert found["half"].broken and "no ttv_run.json" in found["half"].reason
    assert [entry.relative for entry in catalog.scan([root], max_depth=2)] == ["half"]  # run is 3 levels down


def test_an_unreadable_folder_is_listed_with_the_reason(tmp_path, monkeypatch):
    root = tmp_path / "root"
    (root / "locked").mkdir(parents=True)
    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real(path)

    monkeypatch.setattr(catalog.os, "scandir", scandir)
    [entry] = catalog.scan([root])
    assert entry.broken and entry.reason == "cannot be read (Permission denied)."


def test_thumbnail_strips_take_one_sample_per_class_first(tmp_path):
    import io

    import numpy as np
    from PIL import Image
    from torch import nn

    from ttv_core import Recorder

    images = np.arange(9 * 4 * 4, dtype=np.uint8).reshape(9, 4, 4)
    with Recorder(tmp_path / "run", classes=["a", "b", "c"], train_labels=[0, 0, 0, 1, 1, 1, 2, 2, 2],
                  head=nn.Linear(2, 3), train_thumbnails=images) as recorder:
        recorder.log_epoch(1, train=np.zeros((9, 2), np.float32))
    [entry] = catalog.scan([tmp_path])
    strip = Image.open(io.BytesIO(catalog.thumbnail_strip(entry, count=4, size=4)))
    assert strip.size == (4 * 4 + 3 * 2, 4)  # four pictures, two pixels apart
    firsts = [np.asarray(strip.convert("L"))[0, 6 * i] for i in range(4)]  # each picture's top-left pixel
    assert firsts == [images[i][0, 0] for i in (0, 3, 6, 1)]  # classes a, b, c, then the next sample
    original = make_original_layout(tmp_path / "orig" / "o", n_train=6, n_test=3, epochs=(1,))
    sprites = catalog.thumbnail_strip(catalog.describe(original, original.parent), count=5)
    assert Image.open(io.BytesIO(sprites)).size == (5 * 28 + 4 * 2, 28)
    (original / "sprites" / "0.png").write_bytes(b"not a png")
    assert catalog.thumbnail_strip(catalog.describe(original, original.parent), count=1) is None


def test_mapped_through_counts_the_maps_a_read_only_fit_would_find(mapped_run):
    import ttv_core
    from ttv_core.run.chain import mapped_through
    from ttv_core.run.store import ResultStore

    run, store = ttv_core.load_dynamics(mapped_run), ResultStore()
    assert [mapped_through(run, method, VIEW_CONFIG, store) for method in ttv_core.METHODS] == [4, 4, 4]
    other = VIEW_CONFIG.replace(seed=VIEW_CONFIG.seed + 1)
    assert mapped_through(run, "proxy", other, store) is None


def test_read_card_reads_back_what_dataset_card_wrote():
    from ttv_core.run.publish import read_card

    card = read_card("---\ntags:\n- ttv\n---\n\n# Digits\n\nA run, see [ttv](http://x).\n\n![gif](animation.gif)\n\n"
                     "| method | epoch |\n|---|---|\n| proxy | 20 |\n")
    assert card == {"title": "Digits", "summary": "A run, see ttv.", "figures": [{"method": "proxy", "epoch": "20"}]}
    assert read_card("no heading, no table") == {"title": "", "summary": "no heading, no table", "figures": []}
