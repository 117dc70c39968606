"""Train: fit the opened run's maps in the background, watch each epoch, and stop when you like."""

import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.app import session
from ttv_core.app.estimate import fit_seconds, roughly
from ttv_core.app.jobs import job_key
from ttv_core.app.settings import ServerSettings
from ttv_core.app.text import plain  # messages quoting the run's data: text, never Markdown
from ttv_core.run.chain import unmapped
from ttv_core.config import BACKENDS, DEVICES, MAX_NEIGHBOURS, MAX_PASSES, MAX_SEED, MAX_WORKERS, Runtime, VisConfig

DEFAULTS = VisConfig()
FIELDS = {  # the settings most worth changing here, with their bounds; the others stay as last trained
    "n_neighbors": ("Neighbours (k)", 2, MAX_NEIGHBOURS, f" At most {MAX_NEIGHBOURS}, and below the run's training "
                    "samples."),
    "max_passes": ("Passes, first epoch", 1, MAX_PASSES, " Also for a later epoch whose neighbourhoods mostly changed: "
                   "it is laid out afresh."),  # a cold fit, or a keyframe
    "warm_max_passes": ("Passes, later epochs", 1, MAX_PASSES, " Half of them once the neighbourhoods settled "
                        "(90 % kept)."),
    "resolution": ("Territory resolution", 2, 400, " Cells per side, at most 400: the canvas is shown 640 pixels "
                   "wide, and every cell is decoded to a representation."),
    "seed": ("Seed", 0, MAX_SEED, ""),
}
STATES = {"waiting": "waiting", "computing": "computing…", "cached": "read from the cache", "done": "done"}  # words:
# emoji showed as empty boxes on machines without an emoji font


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


dynamics = session.dynamics()
method = session.method()
st.title("Train")
st.markdown(f"Method: **{session.METHOD_NAMES[method]}** (choose it in the sidebar; every page shows its maps).")
epochs = list(dynamics.epochs)
# No lower end: each map is warm-started from the epoch before's, so the maps up to `last` are all needed.
last = epochs[-1] if len(epochs) == 1 else st.select_slider(
    "Train up to epoch", options=epochs, value=epochs[-1], key="train_epochs", persist_state="session",
    help="Each epoch's map starts from the one before, so that the dots move only as much as the classifier's "
    "representations do: the maps of every epoch up to this one are computed (those in the cache are read), and "
    "the keyframe after them that their stretch heads for (see Long runs).")
shown = session.view_config()  # the settings last trained: the maps the other pages show
columns = st.columns(len(FIELDS) + 1)
highest = {name: max(low, min(high, dynamics.n_train - 1)) if name == "n_neighbors" else high  # a 2-sample run:
           for name, (_, low, high, _) in FIELDS.items()}  # the run's own check then says why
changes = {name: column.number_input(label, min_value=low, max_value=highest[name], step=1, key=f"train_{name}",
                                     value=min(max(shown.value(name), low), highest[name]),  # an old view may lie outside
                                     persist_state="session", help=f"Default: {DEFAULTS.value(name)}.{note}")
           for column, (name, (label, low, _, note)) in zip(columns, FIELDS.items())}
device = columns[-1].selectbox("Device", DEVICES, index=DEVICES.index(Runtime().device), key="train_device",
                               persist_state="session",
                               help=f"Default: {Runtime().device} (a GPU when there is one). Where the maps are "
                               "computed, not what they are: maps in the cache are reused whatever the device.")

with st.expander("Long runs: stretches and workers"):
    st.caption("With stretches, every K-th epoch (a keyframe) starts from the keyframe before it, so opening a late "
               "epoch computes the keyframes and its stretch only, and stretches can be computed side by side. "
               "A stretch heads for the next keyframe, so the dots do not jump where one stretch ends.")
    long = st.columns(4)
    stretch = long[0].number_input("Stretch (epochs)", min_value=0, value=shown.value("stretch_epochs"), step=1,
                                   key="train_stretch_epochs", persist_state="session",
                                   help="0: one chain from the first epoch. 20: keyframes at epochs 1, 21, 41, …")
    alone = not stretch  # one chain: nothing to share out, so these wait for a stretch length
    # Only the server's own user points it at a cluster: anyone else could make it connect anywhere.
    own = ServerSettings.current().trusted_visitor()
    jobs = long[1].number_input("Workers", min_value=0, max_value=MAX_WORKERS, value=Runtime().jobs, step=1,
                                key="train_jobs", persist_state="session", disabled=alone,
                                help="Stretches computed at once; 0: one per core (or per cluster worker); 1: one after "
                                "the other, with progress inside each epoch.")
    backend = long[2].selectbox("Backend", BACKENDS if own else BACKENDS[:1], key="train_backend",
                                persist_state="session", disabled=alone or not own,
                                help="loky: processes on this machine; dask: a Dask cluster (give its scheduler); "
                                "ray: a Ray cluster where Ray is installed." + ("" if own else " Only the server's own "
                                                                                 "user may choose a cluster."))
    scheduler = long[3].text_input("Dask scheduler", key="train_scheduler", persist_state="session",
                                   placeholder="tcp://host:8786", disabled=alone or backend != "dask")
    no_scheduler = not alone and backend == "dask" and not scheduler.strip()
    if no_scheduler:
        st.warning("Enter the **Dask scheduler**'s address (e.g. tcp://host:8786) to train on a Dask cluster, "
                   "or choose another backend.")
changes["stretch_epochs"] = stretch
try:
    config = shown.replace(**{name: int(v) for name, v in changes.items()})
    runtime = Runtime(device=device) if alone or no_scheduler else Runtime(
        device=device, jobs=int(jobs), backend=backend, scheduler=scheduler.strip() if backend == "dask" else "")
except ttv_core.TTVError as error:
    st.error(plain(error))
    st.stop()
asked = [e for e in epochs if e <= last]  # the whole chain: each map starts from the one before


@st.cache_data(max_entries=16, ttl=60, show_spinner=False)
def _unmapped(location: str, method_name: str, config_key: str, epochs_asked: tuple[int, ...], generation: int,
              _maps) -> list[int]:
    """:func:`unmapped`, once per change (a job storing a map) and at least every minute (a command line filling
    the cache), as the maps are read: the idle page polls twice a second, and at 200 epochs the keys cost 30 ms."""
    return unmapped(_maps.dynamics, method_name, _maps.config, _maps.store, list(epochs_asked))


def to_compute() -> list[int] | None:
    """The asked epochs whose maps the cache lacks with these settings (None: the run cannot take them)."""
    try:
        maps = session.maps(method, config)
    except ttv_core.TTVError as error:  # settings this run cannot take
        st.error(plain(error))
        return None
    return _unmapped(str(dynamics.location), method, config.key(), tuple(asked), session.registry().generation, maps)


if st.button("Train", type="primary", key="train_start", disabled=no_scheduler):
    missing = to_compute()
    if missing is not None:
        key = job_key(dynamics, method, config, asked)
        planned = fit_seconds(dynamics.n_train, method, epochs, missing, config.value("stretch_epochs"))
        if session.submit_fit(key, dynamics, method, config, asked, runtime=runtime, planned=planned) is not None:
            session.set_view_config(config)  # every page shows these maps now (those before, if it makes none)
            st.session_state.train_job = key


def show_cached() -> None:
    """Before any job: how much of the asked work the cache already holds for these settings, and how long
    the rest would take."""
    missing = to_compute()  # shown here too: a poll of this fragment runs outside the router's guard
    if missing is None:
        return
    beyond = [epoch for epoch in missing if epoch not in asked]  # the keyframe the last stretch heads for
    cached = len(asked) - len(missing) + len(beyond)
    if not missing:
        hint = "" if config == session.view_config() else " Press **Train** to show them on every page."
        st.success(f"Every map up to epoch {last} is already in the cache with these settings: "
                   f"nothing to compute.{hint}")
        return
    took = roughly(fit_seconds(dynamics.n_train, method, epochs, missing, config.value("stretch_epochs")))
    also = f" and epoch {beyond[0]}, the keyframe their stretch heads for" if beyond else ""
    st.info(f"{cached} of the {len(asked)} maps up to epoch {last} are in the cache with these settings; **Train** "
            f"computes the other {len(missing) - len(beyond)}{also}, {took} on a 2-core machine.")


@st.fragment(run_every=0.5)
def show_job() -> None:
    job = session.fit_job()  # this session's, else e.g. the job another tab started
    if job is None:
        show_cached()
        return
    st.progress(job.progress, text=session.progress_text(job))
    left, right, stop = st.columns(3)
    left.metric("Elapsed", duration(job.elapsed))
    forecast = job.active and not job.seconds and job.eta is not None  # no epoch timed yet: the forecast's rest
    right.metric("Time left", "–" if not job.active else roughly(job.eta) if forecast else duration(job.eta))
    stop.button("Stop", on_click=job.stop, disabled=not job.active, key="train_stop")
    if job.status == "failed":
        st.error(plain(job.error))
    table = pd.DataFrame({"epoch": list(job.epochs), "status": [STATES[s] for s in job.epochs.values()]})
    st.dataframe(table, hide_index=True)


show_job()
