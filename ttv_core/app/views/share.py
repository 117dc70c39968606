"""Share: the animation as a GIF, an MP4 video or one HTML file that plays offline, the epoch shown as PNG,
the figures as CSV or JSON, or the results as a zip. Built from the maps already in the cache, never
training (the Train page does that); the files are the core's (:mod:`ttv_core.run.render`)."""

import re
import time

import streamlit as st

import ttv_core
from ttv_core.app import page_path, session
from ttv_core.app.text import plain  # messages quoting the run's data: text, never Markdown
from ttv_core.draw.frames import FrameStyle
from ttv_core.run import render

KINDS = {"gif": "Animated GIF", "mp4": "MP4 video (H.264)", "html": "HTML player: one file, plays offline",
         "png": "PNG of one epoch", "csv": "Figures (CSV)", "json": "Figures (JSON)", "zip": "Result bundle (zip)"}
PICTURES = (*render.ANIMATIONS, "png")
SIZES = (320, 480, 560, 800, 1024, 1200)  # frame width in pixels for a square map
COLOUR_NAMES = {"label": "Label", "prediction": "Prediction"}
BUILT_KEY = "share_built"  # (what was asked, the file, seconds): offered until the choices change


def file_name(visualization, kind: str, epoch: int) -> str:
    """``ttv-<run>-<method>.<kind>`` (``-epoch<N>`` for a PNG), in characters any file system takes."""
    run = re.sub(r"[^A-Za-z0-9._-]+", "-", render.run_name(visualization)).strip("-.") or "run"
    return f"ttv-{run}-{visualization.method}{f'-epoch{epoch}' if kind == 'png' else ''}.{kind}"


def megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


dynamics, method = session.dynamics(), session.method()
st.title("Share")
st.markdown("Download the animation, one epoch or the figures, for a paper, a slide or a message. Files are built "
            f"from the **{session.METHOD_NAMES[method]}** maps trained so far, with the settings on show.")
maps = session.maps()
if not maps.results_:
    st.info(f"This run has no **{session.METHOD_NAMES[method]}** maps yet (with the current settings): there is "
            "nothing to export. Train them first; this page never trains.")
    st.page_link(page_path("train"), label="Train them", icon=":material/model_training:")
    st.stop()
epochs = render.mapped_epochs(maps)
if maps.missing_:
    st.caption(f"Epochs {maps.missing_[0]}–{maps.missing_[-1]} have no map yet: the files hold epochs {epochs[0]}–"
               f"{epochs[-1]}. Train the others on the Train page.")

# The state holds the defaults, so that a widget never has a default and a state value at once.
for key, value in (("share_kind", "gif"), ("share_size", FrameStyle.size), ("share_colour", FrameStyle.colour_by),
                   ("share_follow", True), ("share_fps", render.DEFAULT_FPS)):
    st.session_state.setdefault(key, value)
kind = st.radio("File", list(KINDS), format_func=KINDS.get, key="share_kind", persist_state="session")
fps, epoch = render.DEFAULT_FPS, epochs[-1]
style = render.export_style()
if kind in PICTURES:
    size_column, colour_column, frame_column = st.columns(3)
    size = size_column.select_slider("Size", SIZES, key="share_size", persist_state="session",
                                     format_func=lambda pixels: f"{pixels} px",
                                     help="The frame's width for a square map (another shape has about as many "
                                     "pixels); a header and a legend come on top. 560 is the Territories page's.")
    colour_by = colour_column.segmented_control("Colour dots by", list(COLOUR_NAMES), format_func=COLOUR_NAMES.get,
                                                key="share_colour", persist_state="session") or FrameStyle.colour_by
    follow = frame_column.toggle("Follow the dots", key="share_follow", persist_state="session",
                                 help="Each epoch's frame fits that epoch's map. Off: one frame for the whole run.")
    present = tuple(split for split in session.SPLITS if split == "train" or dynamics.n_test)
    style = render.export_style(size=size, colour_by=colour_by, follow=follow, splits=present)
    if kind in render.ANIMATIONS:
        fps = st.select_slider("Speed (epochs per second)", render.SPEEDS, key="share_fps",
                               persist_state="session", format_func=lambda speed: f"{speed:g}",
                               help="The HTML player has its own speed menu; this is where it starts.")
    else:
        epoch = session.epoch_slider(epochs, "share_epoch")
else:
    evaluated = sum(maps.figures(e, compute=False) is not None for e in epochs)
    if evaluated < len(epochs):
        st.info(f"The figures of {evaluated} of the {len(epochs)} epochs with a map are evaluated, and the file holds "
                "those. The Metrics page evaluates the others in the background.")
        st.page_link(page_path("metrics"), label="Evaluate them on Metrics", icon=":material/monitoring:")
    if kind == "zip":
        st.caption("Each epoch's 2-D positions (.npy), territory image and window, the evaluation JSON of the "
                   "original tools, figures.csv and manifest.json (run, method, epochs, settings).")

asked = (kind, method, session.view_config().key(), tuple(epochs), style, fps, epoch if kind == "png" else None)
if st.button("Build the file", type="primary", icon=":material/build:", key="share_build"):
    start = time.perf_counter()
    progress = st.progress(0.0, text="Rendering the frames…") if kind in render.ANIMATIONS else None

    def frame_done(done: int, total: int) -> None:
        if progress is not None:
            progress.progress(done / total, text=f"Frame {done} of {total} (frames in the cache are read)")

    try:
        with st.spinner("Building the file…"):
            predictions = session.predictions(epochs) if kind in PICTURES else None
            data = render.export(maps, kind, style, epoch=epoch, fps=fps, predictions=predictions, evaluate=False,
                                 on_frame=frame_done)
    except ttv_core.TTVError as error:  # e.g. a map that left the cache meanwhile
        st.error(plain(error))
        st.stop()
    if progress is not None:
        progress.empty()
    st.session_state[BUILT_KEY] = (asked, data, time.perf_counter() - start)
built = st.session_state.get(BUILT_KEY)
if built is not None and built[0] == asked:
    _, data, seconds = built
    name = file_name(maps, kind, epoch)
    st.success(f"Built {plain(name)} in {seconds:.1f} s ({megabytes(len(data))}).", icon=":material/check:")
    st.download_button(f"Download {KINDS[kind].split(':')[0]}", data, file_name=name, mime=render.MIME_TYPES[kind],
                       on_click="ignore", key="share_download", icon=":material/download:")


def operator_token() -> str | None:
    """The server's own Hugging Face token (the app's secrets or HF_TOKEN); None: huggingface_hub's login."""
    import os

    try:
        secret = st.secrets.get("HF_TOKEN")
    except Exception:  # no secrets file
        secret = None
    return secret or os.environ.get("HF_TOKEN") or None


def open_link(reference: str) -> str:
    """The address that opens ``reference`` on this server's Territories page at the view shown."""
    base = str(st.context.url or "").split("?")[0].rsplit("/", 1)[0] or "http://localhost:8501"
    query = {"run": reference, "method": method, "epoch": str(epochs[-1])}
    from urllib.parse import urlencode

    return f"{base}/territories?{urlencode(query, safe=':/@')}"


def publish_section() -> None:
    """Upload this run with its maps to a Hugging Face dataset repository; show the link that opens it."""
    from ttv_core.app.settings import ServerSettings
    from ttv_core.data.runformat import is_run
    from ttv_core.run.publish import dataset_card, publish

    st.divider()
    st.subheader("Publish to the Hugging Face Hub")
    location = str(dynamics.location)
    if location.startswith("hf://"):
        st.markdown("This run is published. Anyone can open it, ready to play, with this link:")
        st.code(open_link(location), language=None)
    folder = getattr(dynamics, "folder", None)
    if folder is None or not is_run(folder):
        st.caption("Only ttv runs can be published (an original-layout folder ships code): record it with "
                   "ttv.Recorder first.")
        return
    st.caption("Uploads the run (no code), the maps and figures of the methods you pick, a dataset card and the "
               "animation, to a dataset repository; a second publish sends only what changed.")
    trusted = ServerSettings.current().trusted_visitor()
    repo_column, methods_column = st.columns(2)
    repo = repo_column.text_input("Repository (owner/name)", key="share_repo", placeholder="alice/digits-run")
    have = [m for m in session.METHOD_NAMES if session.maps(m).results_]
    chosen = methods_column.multiselect("Methods", have, default=[method] if method in have else have[:1],
                                        format_func=session.METHOD_NAMES.get, key="share_methods")
    token = st.text_input("Hugging Face token (write access)", type="password", key="share_token",
                          help="From huggingface.co/settings/tokens. Used for this upload only, never stored."
                          + (" Leave empty to use this server's own token or login." if trusted else ""))
    if not trusted and not token:
        st.caption("This server publishes with your own token only.")
    if st.button("Publish", icon=":material/cloud_upload:", key="share_publish",
                 disabled=not (repo and chosen and (token or trusted))):
        try:
            with st.spinner(f"Publishing to {plain(repo)}…"):
                first = session.maps(chosen[0])
                gif = render.animation_gif(first, render.export_style())
                last = {m: session.maps(m).figures(max(session.maps(m).results_), compute=False) for m in chosen}
                report = publish(folder, repo, methods=chosen, config=session.view_config(),
                                 token=token or (operator_token() if trusted else None), extra={"animation.gif": gif},
                                 card=lambda manifest: dataset_card(dynamics, repo, manifest, last, gif="animation.gif"))
        except ttv_core.TTVError as error:
            st.error(plain(error))
            return
        st.success(f"Published: {len(report.uploaded)} file(s) sent, {len(report.unchanged)} unchanged. Open it with:",
                   icon=":material/check:")
        st.code(open_link(report.url), language=None)


publish_section()
