"""Territories: the classifier's decision territories and every sample, played epoch by epoch."""

import html

import streamlit as st

from ttv_core.app import compare, page_path, session
from ttv_core.app.framejob import frame_job, frame_with_predictions
from ttv_core.app.player import MAX_THUMBNAILS, MAX_TRAILS, interactive_samples, media_urls, player_data, show_player
from ttv_core.draw.frames import FrameStyle
from ttv_core.evaluate.predictions import prediction_history
from ttv_core.run.frames import cached_frame, frame_key, opening_style
from ttv_core.draw.territory import palette_css

COLOUR_NAMES = {"label": "Label", "prediction": "Prediction"}


@st.cache_data(max_entries=16, show_spinner=False)
def thumbnails(location: str, samples: tuple[tuple[str, int], ...], _dynamics) -> dict[tuple[str, int], bytes]:
    """PNG thumbnails of ``samples`` that have one (a source may have none)."""
    pictures = {pair: _dynamics.thumbnail(pair[1], pair[0]) for pair in samples[:MAX_THUMBNAILS]}
    return {pair: png for pair, png in pictures.items() if png is not None}


def legend(classes: list[str], territories: bool = True) -> None:
    swatch = "display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px"
    swatches = "".join(
        f'<span style="white-space:nowrap;margin-right:12px"><span style="{swatch};background:{colour}"></span>'
        f"{html.escape(str(name))}</span>"  # class names come from the dataset: text, never HTML
        for name, colour in zip(classes, palette_css(len(classes))))
    st.html(f'<div style="font-size:13px;line-height:1.9">{swatches}</div>')
    st.caption("A ringed dot is misclassified: fill and ring show its label and its prediction. Test samples have a "
               "white halo, training samples a dark one." + (" Pale bands are where the classifier hesitates."
                                                             if territories else ""))


@st.cache_resource(max_entries=4, show_spinner=False)
def interactive_predictions(location: str, fingerprints: tuple[str, ...], epochs: tuple[int, ...],
                            samples: tuple[tuple[str, int], ...], _dynamics) -> dict:
    """What the classifier predicted for the interactive ``samples`` at ``epochs``, by split: the player's
    hover needs these only (at 70,000 samples x 200 epochs the whole history is 140 MB, this 12 MB)."""
    by_split = {split: [i for s, i in samples if s == split] for split in session.SPLITS}
    return {split: prediction_history(_dynamics, split, epochs=list(epochs), samples=indices)
            for split, indices in by_split.items() if indices}


@st.fragment(run_every=2)
def follow_work(seen: int, frames_seen: int | None = None, frames=None) -> None:
    """Reload the page when a background job stores new epochs or renders new frames, so the animation
    grows as it trains and as its frames land. Mounted only while such a job runs: every poll is a
    script run, and ten idle pages polling kept a 2-core server too busy to answer them (bench_load)."""
    if session.registry().generation != seen or (frames is not None and frames.completed != frames_seen):
        st.rerun()


dynamics, method = session.dynamics(), session.method()
st.title("Territories")
maps = session.maps()
job = session.fit_job()
if not maps.results_:
    job = session.train_demo_unasked() or job
    if job is not None and job.active:
        follow_work(session.registry().generation)
        st.info(f"Training the **{session.METHOD_NAMES[method]}** maps of every epoch. The animation starts here "
                "as soon as the first epoch is ready: nothing to press.", icon=":material/model_training:")
        st.progress(job.progress, text=session.progress_text(job))
        st.stop()
    st.info(f"This run has no **{session.METHOD_NAMES[method]}** maps yet (with the current settings).")
    st.page_link(page_path("train"), label="Train them", icon=":material/model_training:")
    st.stop()
training = job is not None and job.active

epochs = sorted(maps.results_)
colour, which, overlay = st.columns([1, 1, 1])
present = list(opening_style(dynamics).splits)  # a run may have no test; the defaults are `ttv proxy`'s frames
session.seed_from_link("territory_colour", "colour", lambda text: text if text in COLOUR_NAMES else None)
session.seed_from_link("territory_splits", "show",
                       lambda text: [s for s in present if s in text.split(",")] or None)
session.seed_from_link("territory_follow", "frame", lambda text: {"follow": True, "whole": False}.get(text))
# The state holds the defaults, so that a widget never has a default and a state value at once.
for key, value in (("territory_colour", "label"), ("territory_splits", present), ("territory_follow", True)):
    if key not in st.session_state:
        st.session_state[key] = value
colour_by = colour.segmented_control("Colour dots by", list(COLOUR_NAMES), format_func=COLOUR_NAMES.get,
                                     key="territory_colour", persist_state="session") or "label"
splits = which.pills("Show", present, format_func=session.SPLIT_NAMES.get, selection_mode="multi",
                     key="territory_splits", persist_state="session")
trust_map = overlay.toggle("Trust map", key="territory_trust", persist_state="session",
                           disabled=method != "al",
                           help="Grey and hatch the places where the map's territory cannot be trusted: a point "
                           "decoded there and mapped back lands in another class. Active learning (method al) "
                           "computes it.")
follow = overlay.toggle("Follow the dots", key="territory_follow", persist_state="session",
                        help="Each epoch's frame fits that epoch's map, gliding from one epoch to the next, so "
                        "small early maps fill the view. Off: one frame for the whole run, to see the map grow.")
session.mirror("colour", colour_by, "label")  # a link carries the view
session.mirror("frame", "follow" if follow else "whole", "follow")
session.mirror("show", ",".join(s for s in present if s in splits), ",".join(present))
style = FrameStyle(colour_by=colour_by, splits=tuple(s for s in present if s in splits), trust_map=trust_map,
                   follow=follow)
compared = compare.controls(epochs, method)

shown = session.epoch(epochs)
if frame_key(maps, shown, style) not in maps.store:  # rendered here first: the first picture waits for it alone
    with st.spinner(f"Rendering epoch {shown}…"):
        frame_with_predictions(maps, shown, style)
frames_job = frame_job(session.registry(), maps, style, first=shown)  # stops one for an older window or style
if training or frames_job.active:
    follow_work(session.registry().generation, frames_job.completed, frames_job if frames_job.active else None)
frames = {epoch: cached_frame(maps, epoch, style) for epoch in epochs}  # None: still rendering in the job
rendered = [epoch for epoch in epochs if frames[epoch] is not None]
if training:
    st.progress(job.progress, text=session.progress_text(job) + ". New epochs join the animation as they land.")
elif frames_job.active:
    st.caption(f"Rendering frames in the background: {len(rendered)} of {len(epochs)} ready; the others show as "
               "they land.")
# A first visit plays the animation by itself, once the run's maps and frames are all there (not for a link
# to one epoch, nor once the visitor picked one).
chose_epoch = session.EPOCH_PARAM in st.session_state or session.EPOCH_PARAM in st.query_params
autoplay = len(rendered) > 1 and not (training or frames_job.active or chose_epoch
                                      or st.session_state.get(session.AUTOPLAYED_KEY))
if autoplay:
    st.session_state[session.AUTOPLAYED_KEY] = True

selected = session.selection()
samples = interactive_samples({s: dynamics.n_train if s == "train" else dynamics.n_test for s in style.splits},
                              selected)
pictures = thumbnails(str(dynamics.location), tuple(samples), dynamics) if dynamics.has_thumbnails else {}
urls = dict(zip(rendered, media_urls([frames[epoch] for epoch in rendered], "ttv_player.frame")))
title, beside = compare.pane(compared, method=method, epochs=epochs, shown=shown, samples=samples, style=style,
                             follow_work=follow_work)
data = player_data(
    epochs=epochs, frames=[urls.get(epoch, "") for epoch in epochs],
    embeddings={e: maps.results_[e].embeddings for e in epochs},
    predictions=interactive_predictions(str(dynamics.location), tuple(map(dynamics.fingerprint, rendered)),
                                        tuple(rendered), tuple(samples), dynamics),
    samples=samples, windows={e: maps.window(e, style.follow) for e in epochs}, size=style.size, epoch=shown, classes=list(dynamics.classes), selected=selected,
    thumbnails=dict(zip(pictures, media_urls(list(pictures.values()), "ttv_player.thumbnail"))),
    autoplay=autoplay, scene=f"{dynamics.location}|{method}", title=title, compare=beside,
)
show_player(data, key="territory_player", on_epoch=session.set_epoch, on_selection=session.set_selection)


def go_to_sample() -> None:
    """Find one sample by its number: it becomes the selection, ringed on the map with its trail."""
    split, number, go = st.columns([2, 2, 1], vertical_alignment="bottom")
    if st.session_state.get("territory_goto_split") not in (None, *present):  # chosen on a run with a test split
        del st.session_state["territory_goto_split"]
    chosen = split.segmented_control("Go to a sample of", present, format_func=session.SPLIT_NAMES.get,
                                     default="train", key="territory_goto_split") or "train"
    size = dynamics.n_train if chosen == "train" else dynamics.n_test
    if st.session_state.get("territory_goto_index", 0) > size - 1:  # typed for the larger split
        st.session_state["territory_goto_index"] = size - 1
    index = number.number_input("Sample number", min_value=0, max_value=size - 1, step=1, key="territory_goto_index",
                                help=f"0 to {size - 1:,}, as on the Samples page. It replaces the selection.")
    if go.button("Go", key="territory_goto", icon=":material/my_location:"):
        session.set_selection({chosen: [int(index)]})
        st.rerun()


def downloads() -> None:
    """This view as files, built when a button is pressed (the Share page has every format and size)."""
    from ttv_core.run import render

    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in render.run_name(maps))[:40] or "run"
    offers = [("png", f"Epoch {shown} (PNG)", ":material/image:"), ("gif", "Animation (GIF)", ":material/gif_box:"),
              ("html", "Player (HTML)", ":material/play_circle:")]
    columns = st.columns([1, 1, 1, 1], vertical_alignment="center")
    for column, (kind, label, icon) in zip(columns, offers):
        column.download_button(
            label, data=lambda kind=kind: render.export(maps, kind, style, epoch=shown if kind == "png" else None),
            file_name=f"{stem}-{method}{f'-epoch{shown}' if kind == 'png' else ''}.{kind}", mime=render.MIME_TYPES[kind],
            on_click="ignore", icon=icon, key=f"territory_download_{kind}", disabled=training,
            help="As shown here: colouring, samples and frame. Built when pressed (seconds).")
    columns[3].page_link(page_path("share"), label="More formats", icon=":material/share:")


go_to_sample()
downloads()
if method == "umap":
    st.caption("The UMAP baseline draws no territories: it cannot take a point of the canvas back to the "
               "classifier's space. Choose a TrustVis method in the sidebar to see them.")
legend(list(dynamics.classes), territories=method != "umap")
shown_trust = maps.trust_map(shown) if trust_map and method == "al" else None
if shown_trust is not None:
    st.caption(f"Trust map, epoch {shown}: {1 - shown_trust.preserved_after:.1%} of the probed area is untrustworthy "
               f"(greyed and hatched; {1 - shown_trust.preserved_before:.1%} before active learning refined the map).")
if maps.missing_ and not training:
    st.caption(f"Epochs {maps.missing_[0]}–{maps.missing_[-1]} have no map yet; train them on the Train page.")
count = sum(map(len, selected.values()))
if count:
    trails = ("its trail is drawn" if count == 1 else "their trails are drawn" if count <= MAX_TRAILS else
              f"showing the trails of {MAX_TRAILS} of them (the first by split and number)")
    st.caption(f"{count:,} sample{'s' if count != 1 else ''} selected: {trails} up to the epoch shown, in each "
               "sample's class colour, fading toward the past. Pick samples by query on the Samples page, or click "
               "and drag on the map.")
