"""ttv dashboard, the router: :func:`main` is the app that ``ttv app`` (or ``streamlit run streamlit_app.py``) runs.

It sets up the page, draws the shared sidebar where the user picks a training run (the built-in
demo, a folder on this server or a Hugging Face dataset), opens that run once and hands it to the
pages as ``st.session_state["dynamics"]`` (a :class:`ttv_core.TrainingDynamics`). Pages read it from
there and never deal with the choice themselves; an expected error (:class:`ttv_core.TTVError`) that
escapes a page is shown here as a message, not a traceback.

Pages are the scripts in ``views/``, not ``pages/``: Streamlit treats ``.py`` files in a ``pages/`` folder next
to the main script as legacy auto-discovered pages and, on a fresh server, runs such a page *instead of*
this router when a link points at it.

Where a visitor lands. The root address with no ``?run=`` opens the built-in demo on Territories, where
its animation trains and plays with nothing pressed: the demo *is* the run chosen by default, so a
newcomer sees what ttv does before choosing anything. The **Datasets** page (first in the sidebar, any
time) lists every run the server offers and opens one with a click (:mod:`ttv_core.app.datasets`); it is
also what a visitor gets where no run can be shown: a linked or typed run that is missing or refused,
or "Folder" / "Hugging Face" chosen with nothing typed. There the listing appears under the message,
on the page asked for, so that fixing the choice in the sidebar (a corrected path, the permission to
run a dataset's code) shows that page at once. The Datasets page itself opens no run.

The choice is mirrored in the URL so that a link reopens the same run: ``?run=demo``,
``?run=/path/to/run`` or ``?run=hf://owner/name``. Permission to run code shipped with a dataset is
deliberately left out of the URL: a link must never grant it. Which folders open and whose code runs
is the server operator's decision (:mod:`ttv_core.app.settings`), never a remote visitor's.
"""

import streamlit as st

import ttv_core
from ttv_core.app import datasets, page_path, session
from ttv_core.app.settings import ServerSettings
from ttv_core.app.text import plain  # messages quote paths and names from the data or a link: text, never Markdown

# One line per page, in the sidebar's order.
LANDING = "territories"  # where a new visitor lands: the animation, which plays by itself
PAGES = [
    ("datasets", "Datasets", ":material/dataset:"),  # opens no run: the list of runs to choose from
    ("overview", "Overview", ":material/dashboard:"),
    ("train", "Train", ":material/model_training:"),
    ("territories", "Territories", ":material/animation:"),
    ("metrics", "Metrics", ":material/monitoring:"),
    ("samples", "Samples", ":material/scatter_plot:"),
    ("share", "Share", ":material/share:"),
]


SOURCES = {"demo": "Built-in demo", "folder": "Folder on this server", "hub": "Hugging Face dataset"}
RUN_PARAM = "run"  # the query parameter that names the run
DEMO_RUN = "demo"  # its value for the built-in demo
HUB_PREFIX = "hf://"
TRUST_LABEL = "This dataset contains code (Model/model.py): allow running it"


def parse_run(value: str | None) -> tuple[str, str]:
    """The (source, location) a ``?run=`` value stands for; no value means the demo."""
    if not value or value == DEMO_RUN:
        return "demo", ""
    if value.startswith(HUB_PREFIX):
        return "hub", value.removeprefix(HUB_PREFIX)
    return "folder", value


def run_reference(source: str, location: str) -> str | None:
    """What to open for a sidebar choice (the inverse of :func:`parse_run`); None if nothing is typed yet."""
    location = location.strip()
    if source == "demo":
        return DEMO_RUN
    if not location:
        return None
    return HUB_PREFIX + location.removeprefix(HUB_PREFIX) if source == "hub" else location


def _forget_trust() -> None:
    # Permission to run a dataset's code is given for one dataset: choosing another withdraws it.
    st.session_state.trust_code = False


def run_picker(settings: ServerSettings) -> tuple[str | None, bool]:
    """Draw the run choice in the sidebar and mirror it in the URL; returns (reference, the visitor's
    permission to run the dataset's code: only a visitor the server trusts is asked)."""
    state = st.session_state
    if "run_source" not in state:  # a new session starts from its link
        state.run_source, state.run_location = parse_run(st.query_params.get(RUN_PARAM))
    sources = [name for name in SOURCES if name != "folder" or settings.folders_open() or state.run_source == "folder"]
    trust_code = False
    with st.sidebar:
        st.header("Training run")
        source = st.radio("Open", sources, format_func=SOURCES.get, key="run_source", on_change=_forget_trust)
        if source != "demo":
            hub = source == "hub"
            st.text_input(
                "Dataset (owner/name)" if hub else "Folder",
                key="run_location",
                placeholder="yvonne1123/training_dynamic" if hub else "/path/to/run",
                help="A ttv run or an original-layout folder (config.json, Model/, Training_data/ ...).",
                on_change=_forget_trust,
                persist_state="session",  # keep what was typed while the demo is shown
            )
            if settings.trusted_visitor():
                trust_code = st.checkbox(
                    TRUST_LABEL,
                    key="trust_code",
                    help="Original-layout datasets ship their model as Python code. ttv runs it only if you tick "
                    "this; do so only for data whose author you trust. ttv's own runs contain no code.",
                )
    reference = run_reference(source, state.get("run_location", ""))
    if reference is None:
        st.query_params.pop(RUN_PARAM, None)
    elif st.query_params.get(RUN_PARAM) != reference:
        st.query_params[RUN_PARAM] = reference
    return reference, trust_code


@st.cache_resource(show_spinner=f"Building the built-in demo (digits, {ttv_core.DemoConfig().epochs} epochs)…")
def demo_folder() -> str:
    """The built-in demo run, trained on first use (a few seconds) and reused by every session."""
    return str(ttv_core.ensure_demo())


@st.cache_resource(show_spinner="Opening the run…")
def open_run(path: str, trust_code: bool) -> ttv_core.TrainingDynamics:
    """One opened run per (path, trust_code), shared by every session of this server."""
    return ttv_core.load_dynamics(path, trust_code=trust_code)


@st.cache_resource(show_spinner="Reading the maps published with the run…")
def published_results(location: str, _dynamics: ttv_core.TrainingDynamics):
    """The results a published run ships, copied into this server's cache once (None: it ships none)."""
    from ttv_core.run.publish import import_results

    folder = getattr(_dynamics, "folder", None)
    return None if folder is None else import_results(folder)


def show_published(dynamics: ttv_core.TrainingDynamics) -> None:
    """A published run opens with the settings its maps were computed with: nothing to train."""
    published = published_results(str(dynamics.location), dynamics)
    if published is None:
        return
    if not published.same_code:
        st.warning("This run was published with maps from another version of ttv, which this one cannot reuse: "
                   "its maps would have to be trained again.", icon=":material/info:")
    elif session.CONFIG_KEY not in st.session_state:
        st.session_state[session.CONFIG_KEY] = published.config


def open_chosen_run(reference: str, trust_code: bool, settings: ServerSettings) -> ttv_core.TrainingDynamics:
    """Open the run where the server allows it, or show why it cannot be opened, the runs it offers, and
    stop. The dataset's code runs if the visitor allowed it (only a trusted visitor is asked) or the
    operator did."""
    try:
        if reference == DEMO_RUN:
            return open_run(demo_folder(), False)
        folder = None if reference.startswith(HUB_PREFIX) else settings.folder(reference)
        allowed = trust_code or settings.code_may_run(reference, folder)
        return open_run(folder or reference, allowed)
    except ttv_core.TrustRequiredError as error:
        if settings.trusted_visitor():
            st.error(f"{plain(error)}\n\nIf you trust whoever made this dataset, tick **{TRUST_LABEL}** in the "
                     "sidebar.")
        else:
            st.error("This dataset ships its model as code (Model/model.py), and this server runs such code only "
                     "for the datasets its operator allows. Open a ttv run, which holds no code, or ask the operator.")
    except ttv_core.TTVError as error:
        st.error(plain(error))
    datasets.show(settings, inline=True)
    st.stop()


def _name(dynamics: ttv_core.TrainingDynamics) -> str:
    """A run's name for the Datasets page's recent list: its manifest's, else its folder's."""
    manifest = getattr(dynamics, "manifest", None)
    name = manifest.get("name") if isinstance(manifest, dict) else None
    return str(name or str(dynamics.location).rstrip("/").rsplit("/", 1)[-1])


def _land() -> None:
    """The root address: on to the landing page, with the link's view."""
    st.switch_page(page_path(LANDING), query_params=st.query_params.to_dict())


def main() -> None:
    """One run of the dashboard script: page setup, the sidebar's run choice, then the chosen page."""
    st.set_page_config(page_title="ttv", page_icon=":material/history:", layout="wide")
    pages = [st.Page(page_path(name), title=title, icon=icon) for name, title, icon in PAGES]
    # The root address is a hidden page that goes on to the landing page: the frontend says "Page not found"
    # for the default page's own pathname, and links to /territories made before must keep working.
    page = st.navigation([st.Page(_land, title="ttv", default=True, visibility="hidden"), *pages])
    settings = ServerSettings.current()
    reference, trust_code = run_picker(settings)
    opening = st.session_state.pop(datasets.OPEN_KEY, None)  # a Datasets card was pressed: on to its page
    if opening is not None and reference is not None:
        st.switch_page(page_path(opening), query_params={RUN_PARAM: reference})
    if page.url_path == "datasets":
        page.run()
        return
    if reference is None:
        st.info("Type the folder or the dataset to open in the sidebar, or pick a run below.")
        datasets.show(settings, inline=True)
        st.stop()
    st.session_state.dynamics = open_chosen_run(reference, trust_code, settings)
    if reference != DEMO_RUN:  # the demo has its own card
        datasets.remember(reference, _name(st.session_state.dynamics))
    if reference.startswith(HUB_PREFIX):
        show_published(st.session_state.dynamics)
    st.session_state[session.DEMO_KEY] = reference == DEMO_RUN
    session.method_picker()
    try:
        page.run()
    except ttv_core.TTVError as error:  # e.g. an epoch found damaged while a page reads it
        st.error(plain(error))
