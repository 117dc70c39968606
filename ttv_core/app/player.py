"""The Territories page's player: server-rendered frames played in the browser, with hover and selection.

:func:`player_data` packs what the browser needs (pure Python, tested without a browser);
:func:`show_player` mounts the custom component (``player.js`` / ``player.css`` next to this file).
Frames are whole PNGs, so playback costs the browser one image swap per epoch whatever the number of
points. They travel by URL (:func:`media_urls`: Streamlit's media endpoint), not inside the page: the
browser fetches the epoch shown first and the rest behind it, so a 200-epoch run's tens of MB of frames
never sit in one websocket message. Hover and selection work on the "interactive" samples: every shown sample for runs up to
``MAX_INTERACTIVE``, else a fixed random sample of that size plus everything selected, whose pixel
positions, predictions and confidences for every epoch travel as packed binary arrays.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np
import streamlit as st

from ttv_core.evaluate.predictions import PredictionHistory
from ttv_core.canvas import Extent, grid_shape
from ttv_core.draw.territory import palette_css

HERE = Path(__file__).parent
MAX_INTERACTIVE = 3000  # hover search and per-epoch positions stay light in the browser (~50 KB per epoch)
MAX_THUMBNAILS = 3000  # thumbnails ride along with the interactive samples up to this many
DEFAULT_SPEED = 4  # epochs per second
MAX_TRAILS = 50  # selected samples whose trails are drawn: more is a hairball (issue 12: 164 identical black lines)
NO_POSITION = 65535  # a sample outside the frame: not hoverable
QUANTA = 65535  # steps per side of the whole window in which positions travel (uint16)
NO_PREDICTION = 255  # an epoch whose predictions the page has not read yet (its frame is still rendering)

_component = st.components.v2.component(
    "ttv_player", css=(HERE / "player.css").read_text(), js=(HERE / "player.js").read_text())


def interactive_samples(counts: dict[str, int], selected: dict[str, list[int]], *, cap: int = MAX_INTERACTIVE,
                        seed: int = 0) -> list[tuple[str, int]]:
    """The (split, index) pairs hover and selection work on: all of them if at most ``cap``, else a
    fixed random ``cap`` of them plus every selected one, in split then index order."""
    everything = [(split, i) for split, n in counts.items() for i in range(n)]
    if len(everything) <= cap:
        return everything
    rng = np.random.default_rng(seed)
    chosen = {everything[i] for i in rng.choice(len(everything), size=cap, replace=False)}
    chosen |= {(split, int(i)) for split, indices in selected.items() if split in counts for i in indices
               if 0 <= int(i) < counts[split]}
    return sorted(chosen, key=lambda pair: (list(counts).index(pair[0]), pair[1]))


def pixel_positions(embedding: np.ndarray, extent: Extent, size: int) -> np.ndarray:
    """Pixel (x, y) of each 2-D position in a ``size`` x ``size`` image of ``extent``, uint16 (n, 2);
    ``NO_POSITION`` outside it. The player gets positions this way in the animation's whole window at
    ``QUANTA`` steps per side, and each frame's window in the same units (:func:`window_box`)."""
    x, y = extent.to_pixels(embedding, size, size)
    inside = (x >= 0) & (x < size) & (y >= 0) & (y < size)
    pixels = np.stack([x, y], axis=1).clip(0, size - 1).astype(np.uint16)
    pixels[~inside] = NO_POSITION
    return pixels


def window_box(window: Extent, whole: Extent) -> list[float]:
    """``window`` as [left, top, right, bottom] in the units of :func:`pixel_positions` over ``whole``."""
    x, y = whole.to_pixels(np.array([[window.x_min, window.y_max], [window.x_max, window.y_min]]), QUANTA, QUANTA)
    return [round(float(v), 3) for v in (x[0], y[0], x[1], y[1])]


def _packed(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def media_urls(pictures: list[bytes], key: str) -> list[str]:
    """URLs the browser fetches ``pictures`` (PNGs) from: Streamlit's media endpoint, under the server's
    base path, when a server runs; data URLs otherwise (bare mode).

    Each picture is registered for this script run under ``key`` and its position, so it is served as
    long as the page shows it, and served once for every session showing the same picture (media ids
    are content hashes). Call it on every run that shows the pictures.
    """
    from streamlit import runtime

    if not runtime.exists():
        return [_data_url(png) for png in pictures]
    manager = runtime.get_instance().media_file_mgr
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    prefix = f"/{base}" if base else ""
    return [prefix + manager.add(png, "image/png", f"{key}.{n}") for n, png in enumerate(pictures)]


def _positions(epochs: list[int], embeddings: dict[int, dict[str, np.ndarray]], windows: dict[int, Extent],
               samples: list[tuple[str, int]]) -> tuple[np.ndarray, list[list[float]]]:
    """The ``samples``' positions at every epoch, uint16 (epochs, n, 2) over the union of the windows, and
    each epoch's window in those units (:func:`window_box`). An epoch without a map (a compared method
    computed fewer) has no positions and the whole window."""
    splits = sorted({split for split, _ in samples}, key=["train", "test"].index)
    by_split = {split: np.array([i for s, i in samples if s == split], dtype=np.int64) for split in splits}
    known = [windows[e] for e in epochs if e in windows and e in embeddings]
    if not known:
        return np.full((len(epochs), len(samples), 2), NO_POSITION, np.uint16), [[0.0, 0.0, QUANTA, QUANTA]] * len(epochs)
    whole = Extent(min(w.x_min for w in known), min(w.y_min for w in known), max(w.x_max for w in known),
                   max(w.y_max for w in known))

    def at(e: int) -> np.ndarray:
        if e not in embeddings or e not in windows:
            return np.full((len(samples), 2), NO_POSITION, np.uint16)
        if not samples:
            return np.empty((0, 2), np.uint16)
        return np.concatenate([pixel_positions(embeddings[e][split][by_split[split]], whole, QUANTA) for split in splits])

    boxes = [window_box(windows[e], whole) if e in windows else [0.0, 0.0, QUANTA, QUANTA] for e in epochs]
    return np.stack([at(e) for e in epochs]), boxes


def compare_data(*, title: str, epochs: list[int], samples: list[tuple[str, int]], size: int,
                 fixed_epoch: int | None = None, frames: list[str] | None = None,
                 embeddings: dict[int, dict[str, np.ndarray]] | None = None, windows: dict[int, Extent] | None = None,
                 scene: str = "") -> dict[str, Any]:
    """A second pane for :func:`player_data`'s ``compare``, titled ``title``.

    Without ``frames``, it shows the first pane's frames at ``fixed_epoch`` (two epochs side by side,
    each with its own epoch). With them (another method's frames, one URL per epoch of ``epochs``, ""
    where there is none yet), its ``embeddings`` and ``windows`` (epochs it lacks show nothing) for
    the same interactive ``samples``, it follows the slider: one slider drives both.
    """
    if frames is None:
        return {"title": title, "fixed_epoch": fixed_epoch, "same": True}
    positions, boxes = _positions(epochs, embeddings or {}, windows or {}, samples)
    height, width = grid_shape(next(iter(windows.values())), size) if windows else (size, size)
    xy = _packed(positions)
    return {"title": title, "fixed_epoch": fixed_epoch, "same": False, "frames": list(frames),
            "frames_id": hashlib.sha256("\n".join(frames).encode()).hexdigest()[:16], "windows": boxes,
            "width": width, "height": height, "scene": scene, "xy": xy,
            "xy_id": hashlib.sha256(xy.encode()).hexdigest()[:16]}


def player_data(*, epochs: list[int], frames: list[str], embeddings: dict[int, dict[str, np.ndarray]],
                predictions: dict[str, PredictionHistory], samples: list[tuple[str, int]],
                windows: dict[int, Extent], size: int, epoch: int, classes: list[str], selected: dict[str, list[int]],
                thumbnails: dict[tuple[str, int], str] | None = None, autoplay: bool = False,
                scene: str = "", title: str = "", compare: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the player draws, JSON-ready.

    ``frames`` are the frames' URLs (:func:`media_urls`), one per epoch ("" for a frame still rendering),
    ``windows`` each epoch's frame window (one aspect; frames of about ``size`` x ``size`` pixels, see
    :func:`~ttv_core.canvas.grid_shape`), and ``predictions`` (by split: the whole split's history, or its interactive samples' only, see
    :meth:`PredictionHistory.take`) may lack those epochs (their points say ``NO_PREDICTION``);
    ``thumbnails`` are the URLs of the samples' thumbnails where there are some; ``embeddings[e][split]``
    epoch ``e``'s 2-D positions; ``samples`` the interactive (split, index) pairs (see
    :func:`interactive_samples`); ``selected`` the selection by split; ``autoplay``: start playing from
    the first epoch as the player gets it (once per player: later data does not restart it); ``scene`` names
    what the frames picture (the run and method): while a frame loads, the player keeps showing an earlier
    picture of the same scene, never one of another. ``compare`` (:func:`compare_data`) puts a second
    pane beside this one, titled ``title``.
    """
    splits = sorted({split for split, _ in samples}, key=["train", "test"].index)
    height, width = grid_shape(windows[epochs[0]], size)
    by_split = {split: np.array([i for s, i in samples if s == split], dtype=np.int64) for split in splits}
    positions, boxes = _positions(epochs, embeddings, windows, samples)
    rows = [{split: predictions[split].row(e) if e in predictions[split].epochs else None for split in splits}
            for e in epochs]
    # A history of the split's interactive samples only (PredictionHistory.take) is read as it is; a
    # history of the whole split is indexed. The same size means the same thing: every sample, in order.
    columns = {split: slice(None) if predictions[split].labels.size == len(by_split[split]) else by_split[split]
               for split in splits}

    def per_epoch(field: str, scale: float) -> np.ndarray:  # NO_PREDICTION where an epoch's are not read yet
        def one(row: dict[str, int | None], split: str) -> np.ndarray:
            if row[split] is None:
                return np.full(len(by_split[split]), NO_PREDICTION)
            return getattr(predictions[split], field)[row[split]][columns[split]] * scale
        return np.stack([np.concatenate([one(row, split) for split in splits]) if samples else np.empty(0)
                         for row in rows])

    labels = np.concatenate([predictions[split].labels[columns[split]] for split in splits]) if samples else []
    position_of = {pair: n for n, pair in enumerate(samples)}
    chosen = [position_of[(split, int(i))] for split, indices in selected.items() for i in indices
              if (split, int(i)) in position_of]
    thumbnails = thumbnails or {}
    points = {
        "n": len(samples),
        "index": [i for _, i in samples],
        "split": [int(split == "test") for split, _ in samples],
        "label": [int(v) for v in labels],
        "xy": _packed(positions),
        "predicted": _packed(per_epoch("predicted", 1).astype(np.uint8)),
        "confidence": _packed(np.rint(per_epoch("confidence", 100)).astype(np.uint8)),
        "thumbs": [thumbnails.get(pair, "") for pair in samples],
    }
    return {
        "epochs": [int(e) for e in epochs],
        "frames": list(frames),
        "frames_id": hashlib.sha256("\n".join(frames).encode()).hexdigest()[:16],
        "points": points,
        "points_id": hashlib.sha256(json.dumps(points, sort_keys=True).encode()).hexdigest()[:16],
        "selected": sorted(chosen),
        "selection_id": hashlib.sha256(repr(sorted(chosen)).encode()).hexdigest()[:16],
        "height": height, "width": width,
        "windows": boxes,
        "epoch": int(epoch),
        "speed": DEFAULT_SPEED,
        "autoplay": bool(autoplay),
        "scene": str(scene),
        "title": str(title),
        "compare": compare,
        "max_trails": MAX_TRAILS,
        "classes": list(classes),
        "palette": palette_css(len(classes)),
    }


def without_held(data: dict[str, Any], held: dict[str, Any] | None) -> dict[str, Any]:
    """``data`` less the frames and points the browser already holds (``held``: the player's report,
    ``{"frames": frames_id, "points": points_id, "compare_frames": ..., "compare_xy": ...}``). Every rerun
    sends the component's data again; without this an epoch switch on the demo re-sent 2.3 MB, and a
    run of 200 epochs would send tens."""
    held = held or {}
    trimmed = dict(data)
    for part in ("frames", "points"):
        if held.get(part) == data[f"{part}_id"]:
            trimmed[part] = None
    compare = data.get("compare")
    if compare and not compare["same"]:
        trimmed["compare"] = dict(compare)
        for part in ("frames", "xy"):
            if held.get(f"compare_{part}") == compare[f"{part}_id"]:
                trimmed["compare"][part] = None
    return trimmed


def parse_selection(values: list[str] | None) -> dict[str, list[int]]:
    """The player's ``["train:12", "test:3"]`` as ``{"train": [12], "test": [3]}``; malformed entries are dropped."""
    chosen: dict[str, list[int]] = {"train": [], "test": []}
    for value in values or []:
        split, _, index = str(value).partition(":")
        if split in chosen and index.isdigit():
            chosen[split].append(int(index))
    return chosen


def show_player(data: dict[str, Any], *, key: str, on_epoch: Callable[[int], None],
                on_selection: Callable[[dict[str, list[int]]], None]) -> None:
    """Mount the player; ``on_epoch`` / ``on_selection`` run when the viewer pauses, steps or selects."""

    def epoch_changed() -> None:
        value = getattr(st.session_state[key], "epoch", None)
        if value is not None:
            on_epoch(int(value))

    def selection_changed() -> None:
        on_selection(parse_selection(getattr(st.session_state[key], "selection", None)))

    held = getattr(st.session_state.get(key), "held", None)  # what the player reported holding after the last run
    _component(key=key, data=without_held(data, held),
               # No epoch by default: a default that followed the epoch shown would, when training moved it
               # on, come back as the viewer's choice and pin the view (and stop a first visit's autoplay).
               default={"epoch": None, "selection": None, "held": None},
               on_epoch_change=epoch_changed, on_selection_change=selection_changed, on_held_change=lambda: None)
