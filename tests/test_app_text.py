"""Names from the data are shown as text: a run or class name cannot put a link, an image or bold on a page."""

import numpy as np
import pytest
from torch import nn

from helpers import open_app, page_script
from ttv_core import Recorder
from ttv_core.app.text import plain

INJECTED = "[click](http://evil) ![x](http://evil/x.png) **bold** <b>b</b>"
RENDERED = ("](", "![", "**bold**", "<b>")  # what would show as a link, an image or bold if read as Markdown
PAGES = ("overview", "train", "territories", "metrics", "samples")


def _elements(node):
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from _elements(child)
    else:
        yield node


def markdown_texts(at) -> list[tuple[str, str]]:
    """(element kind, its text as Streamlit reads it) for every element that reads Markdown: not tables and
    charts (cells and axes are text), and of a select box or a text field its label and help, not its options
    or its value (text too)."""
    texts = []
    for element in _elements(at._tree):
        kind, proto = type(element).__name__, getattr(element, "proto", None)
        if proto is None or kind in ("Dataframe", "UnknownElement"):  # tables and charts
            continue
        if kind in ("Multiselect", "Selectbox", "TextInput", "TextArea", "NumberInput"):
            texts.append((kind, f"{proto.label} {proto.help}"))
        else:
            texts.append((kind, str(proto)))  # every string of it: title, caption, metric, image captions, ...
    return texts


@pytest.fixture()
def hostile_run(tmp_path):
    rng = np.random.default_rng(0)
    recorder = Recorder(tmp_path / "run", classes=[f"{INJECTED} {c}" for c in range(3)], name=INJECTED,
                        train_labels=np.arange(30) % 3, test_labels=np.arange(10) % 3, head=nn.Linear(4, 3),
                        train_thumbnails=rng.integers(0, 255, size=(30, 8, 8), dtype=np.uint8))
    for epoch in (1, 2, 3):
        recorder.log_epoch(epoch, train=rng.normal(size=(30, 4)).astype(np.float32),
                           test=rng.normal(size=(10, 4)).astype(np.float32))
    return tmp_path / "run"


def test_plain_shows_the_text_and_nothing_else():
    assert plain(INJECTED) == r"\[click\]\(http\://evil\) \!\[x\]\(http\://evil/x\.png\) \*\*bold\*\* \<b\>b\</b\>"
    assert plain("line one\n# heading") == r"line one \# heading"  # one line: no block can start
    assert plain("class 0") == "class 0"


def test_no_page_renders_a_link_image_or_bold_from_run_and_class_names(hostile_run):
    at = open_app("overview", run=str(hostile_run))
    seen = set()
    for page in PAGES:
        at.switch_page(page_script(page)).run()
        assert not at.exception, page
        texts = markdown_texts(at)
        for kind, text in texts:
            assert not any(mark in text for mark in RENDERED), f"{page}: {kind} renders {text[:200]!r}"
        seen.update(kind for kind, text in texts if "click" in text)
    assert {"Title", "Caption", "Metric", "Image"} <= seen  # the name, the classes, Samples' label, thumbnails
    at.switch_page(page_script("overview")).run()
    assert at.title[0].value == plain(INJECTED)


def test_an_error_quoting_a_link_from_the_url_shows_it_as_text():
    at = open_app(run=INJECTED)  # a folder of that name: there is none
    assert not at.exception and at.error
    for kind, text in markdown_texts(at):
        assert not any(mark in text for mark in RENDERED), f"{kind} renders {text[:200]!r}"
    assert "click" in at.error[0].value and "no such folder" in at.error[0].value
