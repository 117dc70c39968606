"""The Datasets page: every run this server offers, as cards that open with one click.

It lists the built-in demo, the runs recently opened on this server, the runs under the operator's data
roots (found by :func:`ttv_core.data.catalog.scan` from their manifests: no dataset code runs, no array
is read) and the published runs the operator listed (:class:`~ttv_core.app.settings.ServerSettings`
``published``; each shows its dataset card and GIF, two small files fetched before anything large).
A card's **Open** sets the sidebar's choice, so the URL names the run as when it is typed (``?run=...``),
and the router then shows the run (:data:`OPEN_KEY`).

Costs, so that the list appears within a second for a hundred runs: the scan is cached for a few
minutes (**Refresh** scans again), and only the cards on show read their thumbnails and look up which
maps the cache holds (:func:`ttv_core.run.chain.mapped_through`: cache keys only, never a map), each
kept a minute. An original-layout folder's maps are not looked up: its data's fingerprint needs its
model, which is code.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import streamlit as st

from ttv_core.app import session
from ttv_core.app.settings import ServerSettings
from ttv_core.app.text import plain  # names, paths and cards come from the data: text, never Markdown
from ttv_core.config import VisConfig
from ttv_core.data.catalog import RunListing, scan, thumbnail_strip
from ttv_core.errors import TTVError

OPEN_KEY = "datasets_open"  # set by a card: the page to show once the router has opened the chosen run
PAGE_SIZE = 12  # cards on show at once: what a visitor scans by eye, and what bounds the page's reads
RECENT = 10  # runs the "Recently opened" row keeps, newest first
SCAN_SECONDS = 300  # how long a scan of the data roots is reused before the next visit scans again
SOURCE_NAMES = {"ttv": "ttv run", "original": "original DVI / TimeVis layout", "broken": "cannot be opened"}
ICONS = {"ttv": ":material/folder:", "original": ":material/folder_data:", "hub": ":material/cloud:",
         "demo": ":material/auto_awesome:"}


# -- recently opened: one list per server ---------------------------------------------------------------
@st.cache_resource
def _recent() -> tuple[deque, threading.Lock]:
    return deque(maxlen=RECENT), threading.Lock()


def remember(reference: str, name: str) -> None:
    """Note that ``reference`` (a ``?run=`` value, never the demo) opened: it heads the recent list."""
    runs, lock = _recent()
    with lock:
        for entry in [entry for entry in runs if entry[0] == reference]:
            runs.remove(entry)
        runs.appendleft((reference, name))


def recent(settings: ServerSettings) -> list[tuple[str, str, str]]:
    """(reference, name, where) of the runs opened lately that this visitor may open: a folder only
    where the server would open it now (inside the data root), shown relative to it."""
    runs, lock = _recent()
    with lock:
        entries = list(runs)
    shown = []
    for reference, name in entries:
        if reference.startswith("hf://"):
            shown.append((reference, name, reference))
            continue
        try:
            folder = settings.folder(reference)
        except TTVError:
            continue  # outside the data root, or a server that opens no folders for this visitor
        shown.append((reference, name, _where(folder, settings)))
    return shown


def _where(folder: str, settings: ServerSettings) -> str:
    """A folder as this page shows it: relative to the data root it lies in, else as it is (a trusted visitor)."""
    from pathlib import Path

    path = Path(folder)
    for root in settings.data_roots:
        if path == root or path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return folder


# -- cached reads ---------------------------------------------------------------------------------------
@st.cache_data(ttl=SCAN_SECONDS, show_spinner="Looking for runs under the data folder…")
def listing(roots: tuple[str, ...]) -> tuple[list[RunListing], float]:
    """The runs under ``roots`` and the seconds the scan took, shared by every session for a few minutes."""
    start = time.perf_counter()
    return scan(roots), time.perf_counter() - start


@st.cache_data(max_entries=256, show_spinner=False)
def thumbnails(entry: RunListing) -> bytes | None:
    return thumbnail_strip(entry)


def maps_config(folder: str) -> VisConfig:
    """The settings whose maps a card reports: those of this run's last fit on this server, else the ones this
    session shows (what it trained last), else the defaults."""
    latest = session.registry().latest_fit(folder)
    if latest is not None and latest.config is not None:
        return latest.config
    return st.session_state.get(session.CONFIG_KEY) or VisConfig()


@st.cache_data(ttl=60, max_entries=256, show_spinner=False)
def mapped(folder: str, config_key: str, generation: int, _config: VisConfig) -> dict[str, int]:
    """Method -> the last epoch up to which the cache holds its maps with ``_config`` (a new fit's epoch
    changes ``generation``); {} for a run that cannot be read."""
    from ttv_core.data.runformat import RunDynamics
    from ttv_core.run.chain import mapped_through
    from ttv_core.run.store import ResultStore

    try:
        run, store = RunDynamics(folder), ResultStore()
        found = {method: mapped_through(run, method, _config, store) for method in session.METHOD_NAMES}
    except (TTVError, OSError, ValueError):
        return {}
    return {method: epoch for method, epoch in found.items() if epoch is not None}


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def card(reference: str) -> tuple[dict | None, bytes | None, str]:
    """(what the dataset card says, its GIF, why it cannot be shown: "" when it can) of a published run."""
    from ttv_core.data.hub import fetch_card
    from ttv_core.run.publish import read_card

    try:
        text, animation = fetch_card(reference)
    except TTVError as error:
        return None, None, str(error)
    return read_card(text), animation, ""


# -- opening --------------------------------------------------------------------------------------------
def choose(source: str, location: str, page: str, method: str | None = None, config: VisConfig | None = None) -> None:
    """A card's button (a callback: it runs before the sidebar is drawn): make the run the sidebar's choice,
    start its view afresh (on ``method``'s maps with ``config``, those the card reported), and ask the router
    to show ``page`` once it is open."""
    state = st.session_state
    if (state.get("run_source"), state.get("run_location", "")) != (source, location):
        for key in (session.EPOCH_PARAM, session.SELECTION_KEY, session.CONFIG_KEY, session.CONFIG_KEY + "_before"):
            state.pop(key, None)  # another run's epoch, samples and settings
    state.run_source, state.run_location, state.trust_code = source, location, False
    if method is not None:
        state[session.METHOD_PARAM] = method
    if config is not None:
        state[session.CONFIG_KEY] = config
    state[OPEN_KEY] = page


def _open_button(key: str, source: str, location: str, page: str, method: str | None = None,
                 config: VisConfig | None = None, *, disabled: bool = False, help: str | None = None) -> None:
    st.button("Open", key=f"datasets_open:{key}", icon=":material/play_arrow:", on_click=choose,
              args=(source, location, page, method, config), disabled=disabled, help=help, type="primary")


def _maps_line(found: dict[str, int], last_epoch: int | None) -> str:
    if not found:
        return "No maps in the cache yet: open it and train them."
    parts = [f"{session.METHOD_NAMES[m]}, {'every epoch' if e == last_epoch else f'up to epoch {e}'}"
             for m, e in found.items()]
    return "Maps in the cache: " + " · ".join(parts)


def _facts(entry: RunListing) -> str:
    epochs = entry.epochs
    parts = [f"{len(epochs):,} epochs" + (f" ({epochs[0]}–{epochs[-1]})" if len(epochs) > 1 else "")]
    if entry.n_train is not None:
        parts.append(f"{entry.n_train:,} training / {entry.n_test or 0:,} test samples")
    parts.append(f"dimension {entry.dim:,}" if entry.dim is not None else "dimension: computed by its model")
    parts.append(f"{len(entry.classes)} classes")
    return " · ".join(parts)


def run_card(entry: RunListing, settings: ServerSettings, reference: str, title: str | None = None,
             source: str = "folder") -> None:
    """One run under the data root (or the demo) as a bordered card; a broken one greyed, with the reason."""
    with st.container(border=True):
        if entry.broken:
            st.markdown(f":gray[:material/block: **{plain(entry.name)}**]")
            st.caption(f"{plain(_where(str(entry.folder), settings))} · cannot be opened: {plain(entry.reason)}")
            return
        st.markdown(f"{ICONS.get(source if source == 'demo' else entry.kind, '')} **{plain(title or entry.name)}**")
        place = "built into ttv" if source == "demo" else _where(str(entry.folder), settings)
        st.caption(f"{SOURCE_NAMES[entry.kind]} · {plain(place)}")
        st.markdown(_facts(entry))
        strip = thumbnails(entry)
        if strip is not None:
            st.image(strip, output_format="PNG")  # a few pixels per sample: JPEG would blur them
        method = page = config = None
        if entry.kind == "ttv":
            config = maps_config(str(entry.folder))
            found = mapped(str(entry.folder), config.key(), session.registry().generation, config)
            st.caption(_maps_line(found, entry.epochs[-1] if entry.epochs else None))
            current = session.method()
            method = current if current in found else next(iter(found), None)
            page, config = ("territories", config) if found else ("overview", None)
        trusted = settings.trusted_visitor()
        blocked = entry.kind == "original" and not (trusted or settings.code_may_run(reference, str(entry.folder)))
        if entry.kind == "original":
            st.caption("Ships its model as code (Model/model.py): " + (
                "you are asked before it runs." if trusted else "this server's operator allows it." if not blocked
                else "this server runs such code only for the datasets its operator allows."))
        _open_button(reference, source, "" if source == "demo" else reference, page or "overview", method, config,
                     disabled=blocked, help="Its code may not run on this server." if blocked else None)


def _reference(entry: RunListing, settings: ServerSettings) -> str:
    """What ``?run=`` says for a listed run: its path relative to the first data root (which the router reads
    relative paths from), else the whole path."""
    first = settings.data_roots[0]
    if entry.folder != first and entry.folder.is_relative_to(first):
        return entry.folder.relative_to(first).as_posix()
    return str(entry.folder)


def _grid(items, draw, columns: int = 3) -> None:
    for start in range(0, len(items), columns):
        for column, item in zip(st.columns(columns), items[start:start + columns]):
            with column:
                draw(item)


# -- the page's sections --------------------------------------------------------------------------------
def demo_section(settings: ServerSettings) -> None:
    from ttv_core.data.catalog import describe
    from ttv_core.data.demo import DemoConfig, demo_path

    folder = demo_path()
    entry = describe(folder, folder.parent) if folder.is_dir() else None
    if entry is not None and not entry.broken:
        run_card(entry, settings, "demo", title="Built-in demo: handwritten digits", source="demo")
        return
    with st.container(border=True):
        st.markdown(f"{ICONS['demo']} **Built-in demo: handwritten digits**")
        st.caption(f"ttv run · built into ttv, trained on first open (a few seconds) · {DemoConfig().epochs} epochs")
        _open_button("demo", "demo", "", "territories")


def recent_section(settings: ServerSettings) -> None:
    entries = recent(settings)
    if not entries:
        st.caption("Runs opened on this server will be listed here.")
        return
    for reference, name, where in entries:
        hub = reference.startswith("hf://")
        st.button(plain(f"{name} · {where}" if name and name != where else where), key=f"datasets_recent:{reference}",
                  icon=ICONS["hub" if hub else "ttv"], on_click=choose, width="stretch",
                  args=("hub" if hub else "folder", reference.removeprefix("hf://") if hub else reference, "overview"))


def server_section(settings: ServerSettings) -> None:
    if not settings.data_roots:
        st.caption("This server lists no folders: its operator has set no data folder (TTV_DATA_ROOT, or data_root "
                   "in the app's secrets), and ttv never searches the whole disk."
                   + (" You are on this machine: type any folder under **Open** in the sidebar."
                      if settings.trusted_visitor() else ""))
        return
    summary, refresh = st.columns([4, 1], vertical_alignment="center")
    if refresh.button("Refresh", key="datasets_refresh", icon=":material/refresh:",
                      help="Scan the data folder again (the list is kept a few minutes)."):
        listing.clear()
    entries, seconds = listing(tuple(map(str, settings.data_roots)))
    where = ", ".join(map(str, settings.data_roots)) if settings.trusted_visitor() else "the data folder"
    broken = sum(entry.broken for entry in entries)
    summary.caption(f"{len(entries) - broken} runs under {plain(where)}" + (f", {broken} that cannot be opened"
                    if broken else "") + f" (scanned in {seconds * 1000:.0f} ms).")
    if not entries:
        st.info("No runs under the data folder yet: record one into it (below), then press Refresh.")
        return
    entries = sorted(entries, key=lambda entry: entry.broken)  # the runs that open first, in path order
    if len(entries) > PAGE_SIZE:
        words = st.text_input("Filter", key="datasets_filter", placeholder="name or folder",
                              help="Shows the runs whose name or folder contains these words.").lower().split()
        entries = [e for e in entries if all(word in f"{e.name} {e.relative}".lower() for word in words)]
        pages = max(1, -(-len(entries) // PAGE_SIZE))
        page = st.number_input(f"Page (of {pages})", 1, pages, key="datasets_page") if pages > 1 else 1
        entries = entries[(min(page, pages) - 1) * PAGE_SIZE:][:PAGE_SIZE]
    _grid(entries, lambda entry: run_card(entry, settings, _reference(entry, settings)))


def published_section(settings: ServerSettings) -> None:
    from ttv_core.data.hub import parse_reference

    if not settings.published:
        st.caption("This server's operator lists no published runs (TTV_PUBLISHED, or published in the app's "
                   "secrets). Open one by its owner/name under **Open** in the sidebar.")
        return
    for listed in settings.published:
        reference = listed if listed.startswith("hf://") else "hf://" + listed
        with st.container(border=True):
            try:
                parse_reference(reference)
            except TTVError as error:
                st.caption(f":material/block: {plain(error)}")
                continue
            summary, animation, why = card(reference)
            picture, words = st.columns([1, 2]) if animation else (None, st.container())
            if picture is not None:
                picture.image(animation, width="stretch")
            with words:
                st.markdown(f"{ICONS['hub']} **{plain((summary or {}).get('title') or listed)}**")
                st.caption(f"Published on the Hugging Face Hub · {plain(reference)}")
                if why:
                    st.caption(f":material/cloud_off: {plain(why)}")
                else:
                    st.markdown(plain(summary["summary"]))
                    if summary["figures"]:
                        st.dataframe(summary["figures"], hide_index=True)
                _open_button(reference, "hub", reference.removeprefix("hf://"), "territories")


def record_section(settings: ServerSettings) -> None:
    trusted = settings.trusted_visitor()
    folder = str(settings.data_roots[0] / "my-run") if trusted and settings.data_roots else "runs/my-run"
    st.markdown("Record the representations your classifier computes at each epoch from your own PyTorch loop; "
                "a run holds arrays only, never code." + (" Recorded under the data folder, it is listed above."
                                                          if trusted and settings.data_roots else ""))
    st.code(f'''from ttv_core import Recorder, collect_features

with Recorder({folder!r}, classes=class_names, train_labels=y_train, test_labels=y_test,
              head=model.fc, train_thumbnails=x_train_images) as recorder:
    for epoch in range(1, n_epochs + 1):
        train_one_epoch(model, train_loader)
        recorder.log_epoch(
            epoch,
            train=collect_features(model.features, train_eval_loader),  # a loader with shuffle=False
            test=collect_features(model.features, test_loader),
        )''', language="python")
    st.code(f"""ttv info {folder}                       # check it: one line per problem, or its summary
ttv proxy {folder}                      # compute the maps (also: ttv al, ttv umap)
ttv render {folder} --out my-run.gif    # the animation as a GIF (or .mp4, .html)
ttv publish {folder} --repo you/my-run  # share it on the Hugging Face Hub, maps included
ttv app                                      # this dashboard, on your machine""", language="bash")


def show(settings: ServerSettings, *, inline: bool = False) -> None:
    """The whole page (``inline``: under a message on another page, when the run asked for cannot be shown)."""
    if inline:
        st.divider()
        st.subheader("Datasets: pick a run to open")
    else:
        st.title("Datasets")
        st.caption("Every run this server offers. **Open** shows it, and the address then names it: a link reopens it.")
    demo, recently = st.columns([1, 2])
    with demo:
        demo_section(settings)
    with recently:
        st.markdown("**Recently opened**")
        recent_section(settings)
    st.subheader("On this server")
    server_section(settings)
    st.subheader("Published")
    published_section(settings)
    with st.expander("Record your own run", icon=":material/fiber_manual_record:"):
        record_section(settings)
