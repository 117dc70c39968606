"""Animation frames: dots coloured as chosen on the territory, the trust map lined up, each frame cached."""

import numpy as np
import pytest

import ttv_core
from helpers import VIEW_CONFIG
from ttv_core.draw import frames
from ttv_core.fit.active import TrustMap
from ttv_core.errors import ConfigError
from ttv_core.draw.frames import EMPTY_BACKGROUND, FrameStyle, hatch_untrustworthy, render_frame
from ttv_core.run import frames as run_frames
from ttv_core.run.frames import epoch_frame
from ttv_core.evaluate.predictions import prediction_history
from ttv_core.canvas import Extent
from ttv_core.draw.territory import palette

EXTENT = Extent(0.0, 0.0, 10.0, 10.0)


def test_dot_colours_follow_the_choice_and_rings_show_the_other_class():
    # one misclassified training sample (label 0, predicted 2) in the middle of a 40-pixel frame
    layers = {"train": (np.array([[5.0, 5.0]]), np.array([0]), np.array([2]))}
    colours = palette(3)
    by_label = render_frame(None, EXTENT, layers, n_classes=3, style=FrameStyle(size=40, radius=2))
    by_prediction = render_frame(None, EXTENT, layers, n_classes=3, style=FrameStyle(size=40, radius=2, colour_by="prediction"))
    assert by_label.shape == (40, 40, 3) and by_label.dtype == np.uint8
    assert (by_label[20, 20] == colours[0]).all() and (by_label[20, 23] == colours[2]).all()
    assert (by_prediction[20, 20] == colours[2]).all() and (by_prediction[20, 23] == colours[0]).all()
    assert (by_label[2, 2] == EMPTY_BACKGROUND).all()  # no territory: a plain background


def test_only_chosen_splits_are_drawn_and_test_dots_have_a_white_halo():
    layers = {"train": (np.array([[2.5, 5.0]]), np.array([1]), np.array([1])),
              "test": (np.array([[7.5, 5.0]]), np.array([1]), np.array([1]))}
    territory = np.zeros((4, 4, 3), np.uint8)  # a black territory shows the halos
    both = render_frame(territory, EXTENT, layers, n_classes=2, style=FrameStyle(size=40, radius=1))
    assert (both[20, 10] == palette(2)[1]).all() and (both[20, 30] == palette(2)[1]).all()
    assert (both[20, 30 + 2] == frames.OUTLINES["test"]).all() and (both[20, 10 + 2] == frames.OUTLINES["train"]).all()
    train_only = render_frame(territory, EXTENT, layers, n_classes=2, style=FrameStyle(size=40, radius=1, splits=("train",)))
    assert (train_only[20, 30] == 0).all()


def test_untrustworthy_cells_are_hatched_where_they_lie_in_the_frame():
    # the trust map covers the frame's left half with 2x2 cells; only its top-left cell is untrustworthy
    mask = np.ones((2, 2), bool)
    bad = np.array([[True, False], [False, False]])
    trust = TrustMap(Extent(0.0, 0.0, 5.0, 10.0 / 2 + 5.0), 2, mask, bad, bad)
    image = np.full((40, 40, 3), 200, np.uint8)
    hatched = hatch_untrustworthy(image, EXTENT, trust)
    changed = (hatched != image).any(axis=2)
    rows, columns = np.nonzero(changed)
    assert changed.any() and columns.max() < 10 and rows.max() < 20  # inside x in [0, 2.5), y in [5, 10]
    assert changed[:20, :10].all()  # the whole area is marked, so that a few cells are seen
    stripes = hatched[:20, :10].sum(axis=2)
    assert stripes.min() < 0.5 * stripes.max()  # hatched over the grey: between the stripes the colour shows
    assert (image == 200).all()


def test_style_is_validated():
    with pytest.raises(ConfigError, match="'colour_by' parameter of FrameStyle must be one of"):
        FrameStyle(colour_by="confidence")
    with pytest.raises(ConfigError, match="'splits' parameter"):
        FrameStyle(splits=("validation",))


def test_epoch_frames_are_rendered_once_per_map_and_style(mapped_run, monkeypatch):
    dynamics = ttv_core.load_dynamics(mapped_run)
    maps = ttv_core.Visualization(dynamics, "al", VIEW_CONFIG).fit(compute=False)
    predictions = {split: prediction_history(dynamics, split) for split in ("train", "test")}
    calls = []
    original = run_frames.render_frame
    monkeypatch.setattr(run_frames, "render_frame", lambda *a, **k: calls.append(k["style"]) or original(*a, **k))
    style = FrameStyle(trust_map=True, size=64, splits=("test",))
    first = epoch_frame(maps, 3, predictions, style)
    again = epoch_frame(maps, 3, predictions, style)
    other = FrameStyle(size=48, splits=("test",), colour_by="prediction")
    assert first == again and first != epoch_frame(maps, 3, predictions, other) and calls == [style, other]
    assert first.startswith(b"\x89PNG")


def test_a_wide_window_gives_a_wide_frame_with_dots_and_territory_in_place():
    wide = Extent(0.0, 0.0, 20.0, 10.0)
    territory = np.zeros((10, 20, 3), np.uint8)
    territory[:, 10:] = 255  # right half white: the background is resampled, not squeezed
    layers = {"train": (np.array([[15.0, 2.5]]), np.array([0]), np.array([0]))}
    image = render_frame(territory, wide, layers, n_classes=2, style=FrameStyle(size=40, radius=1))
    assert image.shape == (28, 57, 3)  # about 40 x 40 pixels in all, 2:1 like the window
    assert (image[5, 5] == 0).all() and (image[5, 50] == 255).all()
    assert (image[21, 42] == palette(2)[0]).all()  # (15, 2.5) lies 3/4 across and 3/4 down


def test_the_frame_follows_the_dots_or_shows_the_whole_run(mapped_run):
    viz = ttv_core.Visualization(ttv_core.load_dynamics(mapped_run), "proxy", VIEW_CONFIG).fit(compute=False)
    epochs = sorted(viz.results_)
    whole = viz.window(epochs[0], follow=False)
    for e in epochs:
        window = viz.window(e)
        assert abs(window.width / window.height - whole.width / whole.height) < 1e-9  # one frame shape
        for positions in viz.results_[e].embeddings.values():
            assert window.contains(positions).all() and whole.contains(positions).all()
    key = run_frames.frame_key(viz, epochs[0], FrameStyle())
    assert key != run_frames.frame_key(viz, epochs[0], FrameStyle(follow=False))
