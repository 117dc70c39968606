"""The Territories player's data: what the browser receives, checked without a browser."""

import base64

import numpy as np

import ttv_core
from ttv_core.app.player import (NO_POSITION, NO_PREDICTION, interactive_samples, parse_selection, pixel_positions,
                                player_data, without_held)
from ttv_core.evaluate.predictions import prediction_history
from ttv_core.canvas import Extent


def unpack(text, dtype):
    return np.frombuffer(base64.b64decode(text), dtype=dtype)


def test_small_runs_are_fully_interactive_and_large_ones_keep_the_selection():
    assert interactive_samples({"train": 3, "test": 2}, {}) == [("train", 0), ("train", 1), ("train", 2), ("test", 0), ("test", 1)]
    big = interactive_samples({"train": 5000, "test": 1000}, {"test": [999], "train": [7]}, cap=100)
    assert len(big) in (101, 102) and ("test", 999) in big and ("train", 7) in big
    assert big == interactive_samples({"train": 5000, "test": 1000}, {"test": [999], "train": [7]}, cap=100)  # stable
    assert interactive_samples({"train": 5000}, {"test": [1]}, cap=10) == sorted(interactive_samples({"train": 5000}, {}, cap=10))


def test_pixel_positions_follow_the_frame_and_mark_points_outside():
    extent = Extent(0.0, 0.0, 10.0, 10.0)
    pixels = pixel_positions(np.array([[0.0, 10.0], [9.99, 0.01], [5.0, 5.0], [11.0, 5.0]]), extent, 100)
    assert pixels.tolist() == [[0, 0], [99, 99], [50, 50], [NO_POSITION, NO_POSITION]]


def test_player_data_packs_positions_predictions_and_selection(small_demo):
    dynamics = ttv_core.load_dynamics(small_demo)
    predictions = {split: prediction_history(dynamics, split) for split in ("train", "test")}
    rng = np.random.default_rng(0)
    embeddings = {e: {"train": rng.normal(size=(300, 2)), "test": rng.normal(size=(100, 2))} for e in (1, 2)}
    samples = [("train", 4), ("train", 9), ("test", 0)]
    windows = {1: Extent(-2.0, -1.5, 2.0, 1.5), 2: Extent(-6.0, -4.5, 6.0, 4.5)}  # each epoch's frame, one aspect
    data = player_data(epochs=[1, 2], frames=["/media/a.png", "/media/b.png"], embeddings=embeddings, predictions=predictions,
                       samples=samples, windows=windows, size=200, epoch=2,
                       classes=list(dynamics.classes), selected={"test": [0], "train": [100]},
                       thumbnails={("train", 9): "/media/t.png"})
    assert data["epochs"] == [1, 2] and data["epoch"] == 2 and data["frames"] == ["/media/a.png", "/media/b.png"]
    assert (data["width"], data["height"]) == (231, 173)  # 4:3, about 200 x 200 pixels in all
    points = data["points"]
    assert points["n"] == 3 and points["index"] == [4, 9, 0] and points["split"] == [0, 0, 1]
    xy = unpack(points["xy"], np.uint16).reshape(2, 3, 2)
    # The browser turns positions into the shown frame's pixels through that frame's window (player.js
    # position()): wherever a dot is drawn, there the player finds it, in either epoch's frame.
    for at, epoch in enumerate((1, 2)):
        left, top, right, bottom = data["windows"][at]
        for point, (split, index) in enumerate(samples):
            truth = np.array(windows[epoch].to_pixels(embeddings[epoch][split][[index]], 231, 173)).ravel()
            if xy[at, point, 0] == NO_POSITION:
                assert not windows[epoch].contains(embeddings[epoch][split][[index]])[0]  # not in the union: off every frame
                continue
            got = ((xy[at, point, 0] - left) * 231 / (right - left), (xy[at, point, 1] - top) * 173 / (bottom - top))
            assert np.allclose(got, truth, atol=0.05), (epoch, split, index)
    predicted = unpack(points["predicted"], np.uint8).reshape(2, 3)
    assert predicted[0, 1] == predictions["train"].predicted[0, 9] and predicted[1, 2] == predictions["test"].predicted[1, 0]
    confidence = unpack(points["confidence"], np.uint8).reshape(2, 3)
    assert confidence[1, 0] == round(100 * float(predictions["train"].confidence[1, 4]))
    assert data["selected"] == [2]  # train 100 is not interactive here
    assert points["thumbs"][0] == "" and points["thumbs"][1] == "/media/t.png"
    assert len(data["palette"]) == len(dynamics.classes)


def test_the_interactive_samples_histories_give_the_same_points(small_demo):
    dynamics = ttv_core.load_dynamics(small_demo)
    whole = {split: prediction_history(dynamics, split) for split in ("train", "test")}
    samples = [("train", 4), ("train", 9), ("test", 0)]
    taken = {"train": whole["train"].take([4, 9]), "test": whole["test"].take([0])}
    assert taken["train"].predicted.shape == (len(dynamics.epochs), 2)
    common = dict(epochs=[1, 2], frames=["a", "b"], embeddings={e: {"train": np.zeros((300, 2)), "test": np.zeros((100, 2))}
                                                               for e in (1, 2)},
                  samples=samples, windows={1: Extent(-5.0, -5.0, 5.0, 5.0), 2: Extent(-5.0, -5.0, 5.0, 5.0)}, size=200,
                  epoch=2, classes=list(dynamics.classes), selected={})
    assert player_data(predictions=whole, **common)["points"] == player_data(predictions=taken, **common)["points"]
    partial = {split: prediction_history(dynamics, split, epochs=[2]) for split in ("train", "test")}
    predicted = unpack(player_data(predictions=partial, **common)["points"]["predicted"], np.uint8).reshape(2, 3)
    assert (predicted[0] == NO_PREDICTION).all() and (predicted[1] < len(dynamics.classes)).all()


def test_selection_from_the_browser_is_parsed_and_junk_dropped():
    assert parse_selection(["train:3", "test:10", "train:x", "valid:1", "oops"]) == {"train": [3], "test": [10]}
    assert parse_selection(None) == {"train": [], "test": []}


def test_what_the_browser_holds_is_not_sent_again():
    data = {"frames": ["data:a"], "frames_id": "f1", "points": {"n": 1}, "points_id": "p1", "epoch": 3}
    assert without_held(data, None) == data  # a new player gets everything
    assert without_held(data, {"frames": "f1", "points": "p1"}) == {**data, "frames": None, "points": None}
    assert without_held(data, {"frames": "f0", "points": "p1"}) == {**data, "points": None}  # new frames (recoloured)
    assert data["frames"] == ["data:a"]  # the caller's data is left alone
