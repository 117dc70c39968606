"""Train: fit the opened run's maps in the background, watch each epoch, and stop when you like."""

import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.app import session
from ttv_core.app.jobs import job_key
from ttv_core.config import BACKENDS, DEVICES, Runtime, VisConfig

DEFAULTS = VisConfig()
FIELDS = {  # the settings most worth changing here; the others stay as last trained (default: the defaults)
    "n_neighbors": ("Neighbours (k)", 2, ""),
    "max_passes": ("Passes, first epoch", 1, " Also for a later epoch whose neighbourhoods mostly changed: it is "
                   "laid out afresh."),  # a cold fit, or a keyframe
    "warm_max_passes": ("Passes, later epochs", 1, " Half of them once the neighbourhoods settled (90 % kept)."),
    "resolution": ("Territory resolution", 2, ""),
    "seed": ("Seed", 0, ""),
}
STATES = {"waiting": "⏳ waiting", "computing": "⚙️ computing", "cached": "💾 cached", "done": "✅ done"}


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
    "representations do: the maps of every epoch up to this one are computed (those in the cache are read).")
shown = session.view_config()  # the settings last trained: the maps the other pages show
columns = st.columns(len(FIELDS) + 1)
changes = {name: column.number_input(label, min_value=low, value=shown.value(name), step=1, key=f"train_{name}",
                                     persist_state="session", help=f"Default: {DEFAULTS.value(name)}.{note}")
           for column, (name, (label, low, note)) in zip(columns, FIELDS.items())}
device = columns[-1].selectbox("Device", DEVICES, index=DEVICES.index(Runtime().device), key="train_device",
                               persist_state="session",
                               help=f"Default: {Runtime().device} (a GPU when there is one). Where the maps are "
                               "computed, not what they are: maps in the cache are reused whatever the device.")

with st.expander("Long runs: stretches and workers"):
    st.caption("With stretches, every K-th epoch (a keyframe) starts from the keyframe before it, so opening a late "
               "epoch computes the keyframes and its stretch only, and stretches can be computed side by side. "
               "Each stretch start moves the dots a little more than an epoch inside a stretch does.")
    long = st.columns(4)
    stretch = long[0].number_input("Stretch (epochs)", min_value=0, value=shown.value("stretch_epochs"), step=1,
                                   key="train_stretch_epochs", persist_state="session",
                                   help="0: one chain from the first epoch. 20: keyframes at epochs 1, 21, 41, …")
    alone = not stretch  # one chain: nothing to share out, so these wait for a stretch length
    jobs = long[1].number_input("Workers", min_value=0, value=Runtime().jobs, step=1, key="train_jobs",
                                persist_state="session", disabled=alone, help="Stretches computed at once; 0: one "
                                "per core (or per cluster worker); 1: one after the other, with progress inside each epoch.")
    backend = long[2].selectbox("Backend", BACKENDS, key="train_backend", persist_state="session", disabled=alone,
                                help="loky: processes on this machine; dask: a Dask cluster (give its scheduler); "
                                "ray: a Ray cluster where Ray is installed.")
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
    st.error(str(error))
    st.stop()
asked = [e for e in epochs if e <= last]  # the whole chain: each map starts from the one before
if st.button("Train", type="primary", key="train_start", disabled=no_scheduler):
    key = job_key(dynamics, method, config, asked)
    session.registry().submit(key, dynamics, method, config, asked, runtime=runtime)
    session.set_view_config(config)  # the other pages now show these maps
    st.session_state.train_job = key


def show_cached() -> None:
    """Before any job: how much of the asked work the cache already holds for these settings."""
    try:
        cached = sum(e in session.maps(method, config).results_ for e in asked)
    except ttv_core.TTVError as error:  # settings this run cannot take (too many neighbours for its samples)
        st.error(str(error))  # shown here too: a poll of this fragment runs outside the router's guard
        return
    if cached == len(asked):
        hint = "" if config == session.view_config() else " Press **Train** to show them on every page."
        st.success(f"Every map up to epoch {last} is already in the cache with these settings: "
                   f"nothing to compute.{hint}")
    elif cached:
        st.info(f"{cached} of the {len(asked)} maps up to epoch {last} are already in the cache with these settings; "
                f"**Train** computes the other {len(asked) - cached}.")
    else:
        st.info("Choose the settings and press **Train**.")


@st.fragment(run_every=0.5)
def show_job() -> None:
    job = session.fit_job()  # this session's, else e.g. the job another tab started
    if job is None:
        show_cached()
        return
    st.progress(job.progress, text=session.progress_text(job))
    left, right, stop = st.columns(3)
    left.metric("Elapsed", duration(job.elapsed))
    right.metric("Time left", duration(job.eta))
    stop.button("Stop", on_click=job.stop, disabled=not job.active, key="train_stop")
    if job.status == "failed":
        st.error(job.error)
    table = pd.DataFrame({"epoch": list(job.epochs), "status": [STATES[s] for s in job.epochs.values()]})
    st.dataframe(table, hide_index=True)


show_job()
