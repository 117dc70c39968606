"""Territories' compare: a second pane beside the map, in the same player.

Two epochs side by side (the pane shows the same maps at a chosen epoch while the slider moves the
first), or two methods side by side (the pane shows another method's maps and the one slider drives
both). The selection is shared, so a sample picked in one pane is ringed, with its trail, in both.
A link carries the choice: ``?compare=epoch:20`` or ``?compare=method:al``.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ttv_core.app import page_path, session
from ttv_core.app.framejob import frame_job, frame_with_predictions
from ttv_core.app.player import compare_data, media_urls
from ttv_core.draw.frames import FrameStyle
from ttv_core.run.frames import cached_frame, frame_key

PARAM = "compare"
MODES = {"epoch": "Another epoch", "method": "Another method"}
MODE_KEY, EPOCH_KEY, METHOD_KEY = "territory_compare", "territory_compare_epoch", "territory_compare_method"


def _seed(epochs: list[int], others: list[str]) -> None:
    """A new session starts from the link's ``?compare=``; nonsense is dropped from the URL."""
    state = st.session_state
    if MODE_KEY in state or PARAM not in st.query_params:
        return
    mode, _, value = st.query_params[PARAM].partition(":")
    if mode == "epoch" and value.isdigit() and int(value) in epochs:
        state[MODE_KEY], state[EPOCH_KEY] = "epoch", int(value)
    elif mode == "method" and value in others:
        state[MODE_KEY], state[METHOD_KEY] = "method", value
    else:
        del st.query_params[PARAM]


def controls(epochs: list[int], method: str) -> tuple[str | None, Any]:
    """Draw the compare choice; returns ("epoch", that epoch), ("method", that method) or (None, None)."""
    others = [m for m in session.METHOD_NAMES if m != method]
    _seed(epochs, others)
    state = st.session_state
    if state.get(EPOCH_KEY) not in epochs:  # a run with fewer epochs, or the first visit: the last epoch
        state[EPOCH_KEY] = epochs[-1]
    if state.get(METHOD_KEY) not in others:  # the sidebar switched to the method compared
        state[METHOD_KEY] = others[0]
    mode_column, value_column = st.columns([1, 1], vertical_alignment="bottom")
    mode = mode_column.segmented_control(
        "Compare with", list(MODES), format_func=MODES.get, key=MODE_KEY,
        help="A second map beside this one: the same maps at an epoch you pick (the slider moves the first), or "
        "another method's maps at the same epoch (the slider drives both). A selection shows in both.")
    value = None
    if mode == "epoch":
        value = (value_column.select_slider("Epoch beside it", epochs, key=EPOCH_KEY) if len(epochs) > 1
                 else epochs[0])
    elif mode == "method":
        value = value_column.selectbox("Method beside it", others, format_func=session.METHOD_NAMES.get, key=METHOD_KEY)
    session.mirror(PARAM, f"{mode}:{value}" if mode else "", "")
    return (mode, value) if mode else (None, None)


def pane(choice: tuple[str | None, Any], *, method: str, epochs: list[int], shown: int,
         samples: list[tuple[str, int]], style: FrameStyle, follow_work) -> tuple[str, dict | None]:
    """The first pane's title and the second pane's data for :func:`~ttv_core.app.player.player_data`
    (None when there is nothing to compare); renders the other method's frame of ``shown`` first and
    the rest in the background (``follow_work`` reloads the page as they land)."""
    mode, value = choice
    if mode == "epoch":
        return "The slider's epoch", compare_data(title=f"Epoch {value}", epochs=epochs, samples=samples,
                                                   size=style.size, fixed_epoch=int(value))
    if mode != "method":
        return "", None
    other = session.maps(value)
    name = session.METHOD_NAMES[value]
    if not other.results_:
        st.info(f"**{name}** has no maps yet with the current settings, so there is nothing to put beside this one.")
        st.page_link(page_path("train"), label="Train them", icon=":material/model_training:")
        return "", None
    if shown in other.results_ and frame_key(other, shown, style) not in other.store:
        with st.spinner(f"Rendering epoch {shown} of {name}…"):
            frame_with_predictions(other, shown, style)
    job = frame_job(session.registry(), other, style, first=min(other.results_, key=lambda e: abs(e - shown)))
    if job.active:
        follow_work(session.registry().generation, job.completed, job)
    have = [e for e in epochs if e in other.results_]
    pictures = {e: picture for e in have if (picture := cached_frame(other, e, style)) is not None}
    urls = dict(zip(pictures, media_urls(list(pictures.values()), "ttv_player.compare_frame")))
    if len(have) < len(epochs):
        st.caption(f"{name} has maps of {len(have)} of these {len(epochs)} epochs; its pane is empty at the others.")
    return session.METHOD_NAMES[method], compare_data(
        title=name, epochs=epochs, samples=samples, size=style.size, frames=[urls.get(e, "") for e in epochs],
        embeddings={e: other.results_[e].embeddings for e in have},
        windows={e: other.window(e, style.follow) for e in have}, scene=f"{other.dynamics.location}|{value}")
