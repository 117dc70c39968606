"""Metrics: how well the classifier learned, and how far each epoch's map can be trusted, next to UMAP's.

The faithfulness figures are the core's (:meth:`Visualization.figures`), measured on the maps already
in the cache for the configuration on show. Background jobs evaluate them (:class:`ttv_core.app.jobs.
FigureJob`, shared by every session), so the cached ones show at once and the others as they come.
The verdict compares the chosen map with umap-learn's of the same epoch: the UMAP baseline's figures
if it was trained, else, on a small run, a fit of that epoch alone run as one more such job.
"""

from typing import NamedTuple

import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.app import figures, page_path, session
from ttv_core.app.estimate import fit_seconds, roughly
from ttv_core.app.jobs import FigureJob, cached_figures, figure_key, job_key, time_left
from ttv_core.app.text import plain  # messages quoting the run's data: text, never Markdown
from ttv_core.evaluate.figures import REFERENCE_MAX_TRAIN
from ttv_core.run.visualize import METHODS, Visualization

POLL_SECONDS = 2.0  # while jobs run; a run of the figures costs ~0.3 s of a core (the charts), taken from the jobs
PAUSED_KEY = "metrics_paused"  # set when the user stops the evaluation: this session starts no job then
EPOCH_KEY, SPLIT_KEY = "metrics_epoch", "metrics_split"
CHART_COLUMNS = 2
TRAIN_PAGE = page_path("train")


class Measured(NamedTuple):
    """One method's figures so far: by epoch (None: not in yet), the run's temporal ones, and the job."""

    figures: dict[int, dict | None]
    temporal: dict | None
    job: FigureJob | None

    @property
    def missing(self) -> str:
        """Why a figure that is not in is missing (see :data:`ttv_core.app.figures.NOT_YET`)."""
        if self.job is None or self.job.status == "stopped":
            return figures.STOPPED  # this session stopped the evaluation
        return figures.FAILED if self.job.status == "failed" else figures.NOT_YET


def evaluation(visualization: Visualization) -> Measured:
    """The figures of one method's cached maps: evaluated in the background, unless this session
    stopped that; then what is there is shown as it is."""
    registry = session.registry()
    paused = st.session_state.get(PAUSED_KEY)
    job = registry.get(figure_key(visualization)) if paused else registry.evaluate(visualization)
    if job is None:
        return Measured(cached_figures(visualization), None, None)
    return Measured(job.figures, job.temporal, job)


def stop(jobs: list[FigureJob]) -> None:
    """Stop the evaluation, and start none in this session until Resume (a poll would restart it)."""
    st.session_state[PAUSED_KEY] = True
    for job in jobs:
        job.stop()


def show_progress(jobs: list[FigureJob], done: int, total: int) -> None:
    """How far the evaluation is, with a Stop (or Resume) button; nothing once every figure is in."""
    for job in jobs:
        if job.status == "failed":
            st.error(f"The figures could not be evaluated: {plain(job.error)}")
    running = [job for job in jobs if job.active]
    paused = bool(st.session_state.get(PAUSED_KEY))
    if not running and not (paused and done < total):
        return
    bar, button = st.columns([4, 1], vertical_alignment="bottom")
    if running:
        left = time_left(running)
        eta = "estimating the time left" if left is None else f"about {left:.0f} s left"
        text = f"Evaluating the figures of {total} maps (epochs × methods): {done} done, {eta}"
        bar.progress(done / total, text=text)
        button.button("Stop", on_click=stop, args=(running,), key="metrics_stop",
                      help="Stop evaluating; the figures done so far stay.")
    else:
        bar.progress(done / total, text=f"Evaluation stopped: the figures of {done} of {total} maps are in")
        button.button("Resume", on_click=lambda: st.session_state.update({PAUSED_KEY: False}), key="metrics_resume")


def reference(measured: dict[str, Measured], method: str, epoch: int) -> figures.Reference:
    """umap-learn's figures of ``epoch`` to judge ``method``'s map against: the UMAP baseline's if it
    has a map of the epoch, else (on a run of at most REFERENCE_MAX_TRAIN samples) a background fit of
    that epoch alone, else whatever the cache already holds; unless this session stopped the evaluation."""
    if method == "umap":
        return figures.Reference(figures.SELF)
    trained = measured.get("umap")
    if trained is not None and epoch in trained.figures:
        if trained.figures[epoch] is not None:
            return figures.Reference(figures.TRAINED, trained.figures[epoch])
        if trained.missing == figures.NOT_YET:
            return figures.Reference(figures.PENDING)
    run = session.dynamics()
    wanted = figures.UmapReference(run, epoch, session.view_config())
    small, paused = run.n_train <= REFERENCE_MAX_TRAIN, st.session_state.get(PAUSED_KEY)
    job = session.registry().evaluate(wanted) if small and not paused else None
    known = job.figures.get(epoch) if job is not None else wanted.figures(epoch, compute=False)
    if known is not None:
        return figures.Reference(figures.COMPUTED, known)
    if job is not None and job.active:
        return figures.Reference(figures.PENDING)
    if job is not None and job.status == "failed":
        return figures.Reference(why=f"umap-learn could not be fitted on epoch {epoch} ({plain(job.error)})")
    if small:
        return figures.Reference(why=f"{figures.TRAIN_BASELINE}, or press Resume")
    return figures.Reference(why=f"{figures.TRAIN_BASELINE} (with {run.n_train:,} training samples, umap-learn is "
                                 "not fitted for the verdict alone)")


def show_verdict(measured: dict[str, Measured], method: str, epoch: int, split: str) -> None:
    """Whether the chosen method's map of the chosen epoch can be trusted, in a few sentences."""
    name, per_epoch = session.METHOD_NAMES[method], measured[method].figures
    if epoch not in per_epoch:
        st.info(f"**{name}.** Epoch {epoch} has no map yet: the maps trained so far end at epoch {max(per_epoch)}.")
        return
    judged = per_epoch[epoch]
    compared = reference(measured, method, epoch) if judged is not None else figures.Reference()
    trusted, text = figures.verdict(judged, epoch, split, measured[method].missing, compared)
    {True: st.success, False: st.warning, None: st.info}[trusted](f"**{name}.** {text}")


def show_charts(table: pd.DataFrame, epoch: int, split: str, epochs: list[int], methods: list[str]) -> None:
    """A chart per figure, side by side, each with what it means."""
    names = {method: session.METHOD_NAMES[method] for method in methods}
    columns = st.columns(CHART_COLUMNS)
    for index, (name, figure) in enumerate(figures.FIGURES.items()):
        with columns[index % CHART_COLUMNS]:
            chart = figures.figure_chart(table, name, split, epoch, epochs, names)
            if chart is None:
                st.markdown(f"**{figure.label}**: none of the methods shown has it yet.")
            else:
                st.altair_chart(chart, width="stretch")
            st.caption(figure.hint)


def show_figures(epoch: int, split: str, epochs: list[int], polling: bool) -> None:
    """The page's fragment: polls while jobs (training or evaluation) run, since they fill the cache
    meanwhile, and reruns the page to start or stop polling when that changes. A polling run is not
    under the router's guard, so an expected error is shown here."""
    try:
        show_measured(epoch, split, epochs)
    except ttv_core.TTVError as error:  # e.g. settings the run is too small for
        st.error(plain(error))
    if session.registry().busy != polling:
        st.rerun()


def offer_baseline() -> None:
    """Say that the UMAP comparison is missing, and offer to compute it (or show that it is being computed)."""
    run, config = session.dynamics(), session.view_config()
    epochs = list(run.epochs)
    key = job_key(run, "umap", config, epochs)
    job = session.registry().get(key)
    if job is not None and job.active:
        st.info("Computing the UMAP baseline's maps to compare with: " + session.progress_text(job) + ".",
                icon=":material/hourglass_top:")
        return
    planned = fit_seconds(run.n_train, "umap", epochs, epochs)
    took = roughly(planned)
    st.info("The UMAP baseline has no maps of this run with these settings yet, so the tables below have no UMAP "
            f"row to compare with. Computing them takes {took} on a 2-core machine.")
    if st.button("Compute the UMAP baseline", key="metrics_umap", icon=":material/play_arrow:"):
        if session.submit_fit(key, run, "umap", config, epochs, planned=planned) is not None:
            st.rerun()


def show_measured(epoch: int, split: str, epochs: list[int]) -> None:
    """Everything measured on the maps cached so far, for every method that has some."""
    every = {method: session.maps(method, session.view_config()) for method in METHODS}
    maps = {method: visualization for method, visualization in every.items() if visualization.results_}
    chosen = session.method()
    if not maps:
        st.info("This run has no maps yet for the settings on show, and the figures are measured on maps: "
                "train them first (any method; train UMAP too to compare with it).")
        st.page_link(TRAIN_PAGE, label="Train the maps", icon=":material/model_training:")
        return
    if chosen not in maps:
        st.warning(f"{session.METHOD_NAMES[chosen]} has no maps of this run yet; shown are the others.")
        st.page_link(TRAIN_PAGE, label=f"Train {session.METHOD_NAMES[chosen]}", icon=":material/model_training:")
    if "umap" not in maps:
        offer_baseline()
    measured = {method: evaluation(visualization) for method, visualization in maps.items()}
    per_epoch = {method: found.figures for method, found in measured.items()}
    done = sum(values is not None for found in per_epoch.values() for values in found.values())
    show_progress([found.job for found in measured.values() if found.job], done,
                  sum(map(len, per_epoch.values())))

    table = figures.figure_table(per_epoch)
    if chosen in maps:
        show_verdict(measured, chosen, epoch, split)
    st.markdown(f"**Epoch {epoch}**, {figures.SAMPLE_NAMES[split]}")
    missing = {method: found.missing for method, found in measured.items()}
    st.dataframe(figures.epoch_table(per_epoch, epoch, split, session.METHOD_NAMES, missing), hide_index=True)
    show_charts(table, epoch, split, epochs, list(maps))

    st.subheader("Over the whole run")
    temporal = {method: found.temporal for method, found in measured.items()}
    st.dataframe(figures.temporal_table(temporal, session.METHOD_NAMES, missing), hide_index=True)
    for figure in figures.TEMPORAL.values():
        st.caption(f"**{figure.label}**: {figure.hint}")
    st.download_button("Download the figures (CSV)", figures.to_csv(table), file_name="ttv-figures.csv",
                       mime="text/csv", on_click="ignore", key="metrics_csv",
                       help="Every evaluated epoch and method; columns named as in the original tools' JSON.")


dynamics = session.dynamics()
st.title("Metrics")
st.markdown("How well the classifier learned, and how far each epoch's map can be trusted, next to the UMAP "
            "baseline. Figures are measured on the maps trained so far.")
st.subheader("Classifier accuracy")
st.altair_chart(figures.accuracy_chart(dynamics), width="stretch")

st.subheader("Faithfulness of the maps")
run_epochs = list(dynamics.epochs)
splits = ["train", "test"] if dynamics.n_test else ["train"]
left, right = st.columns([3, 1])
with left:
    chosen_epoch = session.epoch_slider(run_epochs, EPOCH_KEY)
chosen_split = right.radio("Samples", splits, format_func=figures.SAMPLE_NAMES.get, horizontal=True, key=SPLIT_KEY,
                           persist_state="session")
busy = session.registry().busy
st.fragment(show_figures, run_every=POLL_SECONDS if busy else None)(chosen_epoch, chosen_split, run_epochs, busy)
