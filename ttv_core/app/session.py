"""What every dashboard page shares: the opened run, the chosen method, epoch and selection, the jobs.

The view (method, epoch) lives in ``st.session_state`` so it carries across pages, and is mirrored in
the URL (``?method=al&epoch=12``) so a link reopens it. Samples picked on one page (e.g. a query on
Samples) are highlighted on the others. The maps a page shows are read from the result cache only:
training happens in a background job (:mod:`ttv_core.app.jobs`), never in a page's run.
"""

from __future__ import annotations

import os

import streamlit as st

import ttv_core
from ttv_core.app.estimate import fit_seconds
from ttv_core.app.jobs import Job, JobRegistry, job_key
from ttv_core.app.settings import ServerSettings
from ttv_core.config import VisConfig
from ttv_core.data.dynamics import SPLITS
from ttv_core.evaluate.predictions import PredictionHistory, prediction_history
from ttv_core.run.visualize import METHODS, Visualization

METHOD_PARAM, EPOCH_PARAM = "method", "epoch"  # query parameters; also the session-state keys
METHOD_NAMES = {"proxy": "TrustVis (proxy)", "al": "TrustVis + active learning", "umap": "UMAP baseline"}
CONFIG_KEY = "view_config"  # the VisConfig whose maps the pages show: the last one trained
SELECTION_KEY = "selected_samples"  # {"train": [indices], "test": [indices]}
SELECTION_PARAM = "selected"  # ?selected=train:1,5;test:3
LINKED_SELECTION = 100  # samples a link carries at most (a box over a dense centre selects hundreds)
SPLIT_NAMES = {"train": "Training", "test": "Test"}
DEMO_KEY = "run_is_demo"  # set by the router: whether the opened run is the built-in demo
AUTO_METHOD = "proxy"  # the method whose maps the demo trains unasked
TRAIN_DEMO_ENV = "TTV_TRAIN_DEMO"  # "0": the demo waits for Train like any run (a server short of CPU)
# A shared server's fits run one at a time: one visitor may not fill its queue (issue 13, item 12).
SESSION_FITS = int(os.environ.get("TTV_SESSION_JOBS", "2"))  # fits one session may have queued or running
SERVER_FITS = int(os.environ.get("TTV_SERVER_JOBS", "6"))  # fits the whole server may have queued or running
MY_FITS_KEY = "my_fits"
AUTOPLAYED_KEY = "autoplayed"  # the session's animation has started playing by itself once


@st.cache_resource
def registry() -> JobRegistry:
    """One job registry per server: sessions asking for the same work share its job."""
    return JobRegistry()


def dynamics() -> ttv_core.TrainingDynamics:
    """The run opened by the router (``streamlit_app.py``)."""
    return st.session_state["dynamics"]


# -- method and epoch, mirrored in the URL ---------------------------------------------------------
def _mirror(name: str, value) -> None:
    text = str(value)
    if st.query_params.get(name) != text:
        st.query_params[name] = text


def mirror(name: str, value: str, default: str) -> None:
    """Put a view setting in the URL so that a link reopens it; a setting at its default stays out."""
    if value == default:
        st.query_params.pop(name, None)
    else:
        _mirror(name, value)


def seed_from_link(key: str, name: str, parse) -> None:
    """A new session's widget ``key`` starts from the link's ``?name=`` (``parse``: text -> value, or None
    for nonsense, which is dropped from the URL)."""
    if key in st.session_state or name not in st.query_params:
        return
    value = parse(st.query_params[name])
    if value is None:
        del st.query_params[name]
    else:
        st.session_state[key] = value


def method_picker() -> str:
    """Draw the method choice in the sidebar (seeded from ``?method=``), mirror it, return it."""
    state = st.session_state
    if METHOD_PARAM not in state:
        asked = st.query_params.get(METHOD_PARAM)
        state[METHOD_PARAM] = asked if asked in METHODS else "proxy"
    method = st.sidebar.selectbox("Method", METHODS, format_func=METHOD_NAMES.get, key=METHOD_PARAM,
                                  help="Which maps the Territories, Metrics and Samples pages show.")
    _mirror(METHOD_PARAM, method)
    return method


def method() -> str:
    return st.session_state.get(METHOD_PARAM, "proxy")


def epoch(choices: list[int] | tuple[int, ...] | None = None) -> int:
    """The chosen epoch (from the session, else ``?epoch=``), snapped to ``choices`` (default: the run's)."""
    choices = list(choices if choices is not None else dynamics().epochs)
    wanted = st.session_state.get(EPOCH_PARAM, st.query_params.get(EPOCH_PARAM))
    try:
        wanted = int(wanted)
    except (TypeError, ValueError):
        if EPOCH_PARAM in st.query_params and EPOCH_PARAM not in st.session_state:
            del st.query_params[EPOCH_PARAM]  # a link with a nonsense epoch: not carried on
        return choices[-1]  # no choice yet: the trained classifier
    return wanted if wanted in choices else min(choices, key=lambda e: (abs(e - wanted), e))


def set_epoch(value: int) -> None:
    """Make ``value`` the chosen epoch on every page and in the URL."""
    st.session_state[EPOCH_PARAM] = int(value)
    _mirror(EPOCH_PARAM, int(value))


def epoch_slider(epochs: list[int], key: str) -> int:
    """The shared epoch as a slider over ``epochs`` (none for one epoch): seeded from any page or
    ``?epoch=``, snapped to ``epochs``, and moving it moves it on every page and in the URL."""
    chosen = epoch(epochs)
    set_epoch(chosen)  # a snapped or defaulted epoch goes to the URL as well
    if len(epochs) == 1:
        return chosen
    st.session_state[key] = chosen  # another page may have moved it since this slider was drawn
    return st.select_slider("Epoch", options=epochs, key=key, on_change=lambda: set_epoch(st.session_state[key]))


# -- configuration and maps ------------------------------------------------------------------------
def view_config() -> VisConfig:
    """The configuration whose maps the pages show: the one last trained in this session, else the one
    last trained on this server for the opened run (a second tab, a shared link), else the default.

    A fit that failed or was stopped before it stored a map does not replace the maps shown before it."""
    chosen = st.session_state.get(CONFIG_KEY)
    if chosen is None:
        latest = registry().latest_fit(str(dynamics().location))
        chosen = latest.config if latest is not None and latest.config is not None else VisConfig()
    before = st.session_state.get(CONFIG_KEY + "_before")
    job = registry().get(st.session_state.get("train_job"))
    if (before is not None and job is not None and job.config == chosen and job.status in ("failed", "stopped")
            and job.completed == 0):
        st.session_state[CONFIG_KEY], chosen = before, before
    return chosen


def set_view_config(config: VisConfig) -> None:
    """Show the maps of ``config`` on every page (those shown before come back if its fit makes none)."""
    shown = view_config()
    if shown != config:
        st.session_state[CONFIG_KEY + "_before"] = shown
    st.session_state[CONFIG_KEY] = config


def submit_fit(key, run, method_name: str, config: VisConfig, epochs: list[int], **options) -> Job | None:
    """Start (or join) the fit ``key`` unless this session, or the server, has as many fits waiting as it
    may (then say so and return None). Joining a fit already queued, running or done is always free."""
    jobs = registry()
    existing = jobs.get(key)
    if existing is None or not (existing.active or existing.status == "done"):
        if ServerSettings.current().hosted and not st.session_state.get(DEMO_KEY):
            st.warning("This server is read-only: it trains the built-in demo only. Runs published with their maps "
                       "open ready to play; train this one on your own machine (pip install ttv; ttv app).",
                       icon=":material/lock:")
            return None
        active = jobs.active_fits()
        mine = [job for job in active if job.key in st.session_state.get(MY_FITS_KEY, [])]
        if len(mine) >= SESSION_FITS:
            st.warning(f"You have {len(mine)} trainings queued or running on this server, as many as one visitor may. "
                       "Wait for one to end, or stop it on the Train page.", icon=":material/hourglass_top:")
            return None
        if len(active) >= SERVER_FITS:
            st.warning(f"The server is busy: {len(active)} trainings are queued or running. Try again in a few "
                       "minutes; maps already computed stay available meanwhile.", icon=":material/hourglass_top:")
            return None
    job = jobs.submit(key, run, method_name, config, epochs, **options)
    st.session_state[MY_FITS_KEY] = [*st.session_state.get(MY_FITS_KEY, [])[-15:], key]
    return job


def fit_job() -> Job | None:
    """The fit of the opened run and method that this session started, else the one submitted last on
    this server (e.g. by another tab), if any."""
    run, name = dynamics(), method()
    job = registry().get(st.session_state.get("train_job"))
    if job is None or job.key[0] != str(run.location) or job.key[1] != name:
        job = registry().latest_fit(str(run.location), name)
    return job


def progress_text(job: Job) -> str:
    """A fit's progress in words, down to the training passes of the epoch being computed."""
    computing = [epoch for epoch, state in job.epochs.items() if state == "computing"]
    inside = ""
    if computing:  # stage 1 (graph and layout) sends no news; stage 2 (the model) one per training pass
        passes = job.passes.get(computing[0], 0)
        stage = f"{passes} training passes of its model done" if passes else "building its graph and layout"
        inside = f" (epoch {computing[0]}: {stage})"
    elif job.status == "queued" or (job.active and not job.completed):
        inside = " (starting the worker)"
    return f"{job.status.capitalize()}: {job.completed} of {job.total} epochs{inside}"


def train_demo_unasked() -> Job | None:
    """On the built-in demo, start training the default method's maps for every epoch, with the settings
    shown, the first time a page finds none on this server: a newcomer sees the animation without
    pressing anything (about a minute on 2 cores). Returns the job; None for any other run or method,
    where the server's ``TTV_TRAIN_DEMO`` environment variable is "0", or once a fit of the demo and
    method was submitted on this server (a stopped or failed one is not started again unasked)."""
    run = dynamics()
    if os.environ.get(TRAIN_DEMO_ENV, "1") == "0" or not st.session_state.get(DEMO_KEY) or method() != AUTO_METHOD:
        return None
    if registry().latest_fit(str(run.location), AUTO_METHOD) is not None:
        return None
    config, epochs = view_config(), list(run.epochs)
    key = job_key(run, AUTO_METHOD, config, epochs)
    planned = fit_seconds(run.n_train, AUTO_METHOD, epochs, epochs)
    job = submit_fit(key, run, AUTO_METHOD, config, epochs, planned=planned)
    if job is None:
        return None
    set_view_config(config)
    st.session_state.train_job = key
    return job


@st.cache_resource(max_entries=8, ttl=60)
def _cached_maps(location: str, method: str, config_key: str, generation: int,
                 _dynamics: ttv_core.TrainingDynamics, _config: VisConfig) -> Visualization:
    return Visualization(_dynamics, method, _config).fit(compute=False, slim=True)  # models read back when needed


def maps(method_name: str | None = None, config: VisConfig | None = None) -> Visualization:
    """The maps of the opened run already in the cache, read once per change and shared by sessions.

    ``results_`` holds the epochs computed so far (a prefix of the run's epochs), ``missing_`` the
    rest. Read again whenever a background job finishes an epoch, and at least every minute (a
    command-line run may fill the cache meanwhile).
    """
    run, config = dynamics(), config or view_config()
    name = method_name or method()
    return _cached_maps(str(run.location), name, config.key(), registry().generation, run, config)


@st.cache_resource(max_entries=4, show_spinner="Reading the classifier's predictions at every epoch…")
def _predictions(location: str, fingerprints: tuple[str, ...], epochs: tuple[int, ...],
                 _dynamics: ttv_core.TrainingDynamics) -> dict[str, PredictionHistory]:
    return {split: prediction_history(_dynamics, split, epochs=list(epochs)) for split in SPLITS}


def predictions(epochs: list[int] | None = None) -> dict[str, PredictionHistory]:
    """Split -> what the classifier predicted for every sample at ``epochs`` (default: every epoch; one
    head pass per epoch, memoized on disk; shared read-only by every session)."""
    run = dynamics()
    chosen = tuple(run.epochs if epochs is None else epochs)
    return _predictions(str(run.location), tuple(map(run.fingerprint, chosen)), chosen, run)


# -- selection shared by the pages -----------------------------------------------------------------
def selection() -> dict[str, list[int]]:
    """Samples selected on any page, by split (sorted indices); a new session starts from its link's."""
    seed_from_link(SELECTION_KEY, SELECTION_PARAM, parse_selection_param)
    chosen = st.session_state.get(SELECTION_KEY) or {}
    return {split: list(chosen.get(split, [])) for split in SPLITS}


def set_selection(chosen: dict[str, list[int]] | None) -> None:
    """Replace the selection (None or empty clears it); up to LINKED_SELECTION samples, the URL carries it."""
    chosen = chosen or {}
    st.session_state[SELECTION_KEY] = {split: sorted({int(i) for i in chosen.get(split, [])}) for split in SPLITS}
    text = selection_param(st.session_state[SELECTION_KEY])
    mirror(SELECTION_PARAM, text if text is not None else "", "")


def selection_param(chosen: dict[str, list[int]]) -> str | None:
    """The selection as ``train:1,5;test:3`` for a link; "" for none, None when too long for one."""
    if sum(map(len, chosen.values())) > LINKED_SELECTION:
        return None
    return ";".join(f"{split}:{','.join(map(str, chosen[split]))}" for split in SPLITS if chosen.get(split))


def parse_selection_param(text: str) -> dict[str, list[int]] | None:
    """The inverse of :func:`selection_param`; None for anything malformed (never an error: it is a link)."""
    chosen: dict[str, list[int]] = {split: [] for split in SPLITS}
    for part in filter(None, text.split(";")):
        split, _, numbers = part.partition(":")
        values = numbers.split(",")
        if split not in chosen or not all(value.isdigit() for value in values) or len(values) > LINKED_SELECTION:
            return None
        chosen[split] = sorted({int(value) for value in values})
    return chosen
