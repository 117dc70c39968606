"""The figures the dashboard shows, shaped for people: the classifier's accuracy and the maps' faithfulness.

The numbers come from the core (:func:`ttv_core.evaluate_subject`, :meth:`Visualization.figures`,
:func:`ttv_core.evaluate.temporal_figures`); this module only lays them out as tables, chart data,
charts, formatted text and one verdict per epoch. Everything but the accuracy chart (cached by Streamlit,
shared by the Overview and Metrics pages) is plain pandas, testable without a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.evaluate import FIGURE_KEYS, figure_key

SPLIT_NAMES = {"train_acc": "training set", "test_acc": "test set"}  # evaluate_subject's keys
SAMPLE_NAMES = {"train": "training samples", "test": "test samples"}
METHOD_COLOURS = {"proxy": "#1f77b4", "al": "#ff7f0e", "umap": "#8c8c8c"}  # the baseline in grey, on every chart
CHART_FORMATS = {"percent": ".1%", "decimal": ".3f", "count": ".1f"}  # d3 formats of Figure.style, for tooltips
MISSING = "–"  # shown where a method has no such figure (umap: no territories, no new points)
NOT_YET = "not evaluated yet"  # why a figure is missing, by the state of its evaluation:
FAILED = "could not be evaluated"
STOPPED = "evaluation stopped"
VERDICT_MISSING = {NOT_YET: "are still being evaluated", FAILED: "could not be evaluated (the error is above)",
                   STOPPED: "were not evaluated: the evaluation was stopped (Resume goes on)"}
NO_MAP = "no map yet"

# When a map can be trusted. Both figures of the demo's maps (digits, every method, every epoch) lie
# between 0.85 and 0.99, so these thresholds separate the early, unsettled epochs from the rest.
PPR_TRUSTED = 0.9  # below it more than 1 sample in 10 sits in a territory of a class the classifier does not give it
TRUSTWORTHINESS_TRUSTED = 0.9  # below it, dots that are close on the map are often far apart for the classifier


@dataclass(frozen=True)
class Figure:
    """How to name, explain and print one figure."""

    label: str
    hint: str  # one sentence: what it measures and what good looks like
    style: str  # "percent", "decimal" or "count" (out of k)


FIGURES = {  # per epoch and split, in the order shown; keys as in ttv_core.evaluate (ppr -> ppr_train)
    "ppr": Figure("Prediction preserved (PPR)",
                  "Share of samples that the map places in the territory of the class the classifier predicts "
                  "for them: near 100% the colours can be read as the classifier's decisions. UMAP draws no "
                  "territories, so it has none.", "percent"),
    "nn_rate": Figure("Neighbours kept",
                      "Share of each sample's k nearest neighbours (for the classifier) that are also its k nearest "
                      "dots on the map. Higher is better; no 2-D map keeps them all, so compare it with UMAP's.",
                      "percent"),
    "nn": Figure("Neighbours kept (legacy count)",
                 "The same as the original tools counted it: neighbours kept out of k, the sample itself included.",
                 "count"),
    "trustworthiness": Figure("Trustworthiness",
                              "Whether dots close on the map are close for the classifier too: 1 means the map "
                              "invents no neighbours; below 0.9 it often does.", "decimal"),
    "b": Figure("Boundary preserved",
                "Share of each sample's nearest points on the classifier's decision boundaries that stay nearest on "
                "the map: how far to read a dot's distance to a border. Higher is better; UMAP cannot place new "
                "points, so it has none.", "percent"),
}
TEMPORAL = {  # the run's figures over the epochs with a map (ttv_core.evaluate.temporal_figures)
    "tnn": Figure("Moves kept in time (TNN)",
                  "Share of the epochs where a sample sat nearest its current place that are the same for the "
                  "classifier and on the map: a dot moves when its representation does. Higher is better.",
                  "percent"),
    "tlr": Figure("Movement ranking (TLR)",
                  "Correlation between how far a sample travels between epochs for the classifier and on the map, "
                  "from -1 to 1: near 1 the animation's big moves are the real ones.", "decimal"),
}


# -- the classifier's accuracy (Overview and Metrics) -----------------------------------------------
@st.cache_data(show_spinner="Evaluating the classifier at every epoch…")
def _subject_accuracy(location: str, fingerprints: tuple[str, ...],
                      _dynamics: ttv_core.TrainingDynamics) -> pd.DataFrame:
    scores = ttv_core.evaluate_subject(_dynamics)
    rows = [
        (int(epoch), SPLIT_NAMES[key], value)
        for key, per_epoch in scores.items()
        for epoch, value in per_epoch.items()
        if value is not None
    ]
    return pd.DataFrame(rows, columns=["epoch", "split", "accuracy"])


def subject_accuracy(dynamics: ttv_core.TrainingDynamics) -> pd.DataFrame:
    """Accuracy per epoch and split, columns epoch, split, accuracy; cached by the epochs' content."""
    return _subject_accuracy(str(dynamics.location), tuple(map(dynamics.fingerprint, dynamics.epochs)), dynamics)


def accuracy_chart(dynamics: ttv_core.TrainingDynamics) -> alt.Chart:
    """The classifier's accuracy per epoch, one line per split."""
    return (
        alt.Chart(subject_accuracy(dynamics))
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1)),
            y=alt.Y("accuracy:Q", title="Accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=alt.Color("split:N", title=None),
            tooltip=["epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".1%")],
        )
    )


# -- faithfulness figures (Metrics) -----------------------------------------------------------------
def figure_table(figures: Mapping[str, Mapping[int, Mapping[str, Any] | None]]) -> pd.DataFrame:
    """One row per method and evaluated epoch: columns epoch, method, then every figure of
    :func:`ttv_core.evaluate.epoch_figures` under its original key (``ppr_train`` ...) and ``k``.

    ``figures`` maps a method to {epoch: figures or None (not evaluated yet, left out)}.
    """
    columns = ["epoch", "method", *FIGURE_KEYS, "k"]
    rows = [[epoch, method, *(values.get(key) for key in columns[2:])]
            for method, per_epoch in figures.items()
            for epoch, values in sorted(per_epoch.items()) if values is not None]
    counts = {figure_key("vis_error", split) for split in SAMPLE_NAMES}  # whole samples
    return pd.DataFrame(rows, columns=columns).astype({key: "Int64" if key in counts else float for key in FIGURE_KEYS})


def to_csv(table: pd.DataFrame) -> bytes:
    """The per-epoch table as CSV (missing figures left empty), for the download button."""
    return table.to_csv(index=False).encode()


def figure_chart(table: pd.DataFrame, figure: str, split: str, epoch: int, epochs: list[int],
                 names: Mapping[str, str]) -> alt.LayerChart | None:
    """One figure of one split over the epochs (x from the run's first to last epoch): a line per method
    of ``names`` (method -> name shown), each in its colour on every chart, and a rule at ``epoch``.
    None if none of them has this figure (umap alone has no PPR)."""
    column, shown = figure_key(figure, split), FIGURES[figure]
    data = table.loc[table["method"].isin(list(names)), ["epoch", "method", column]].dropna()
    if data.empty:
        return None
    data = data.rename(columns={column: "value"}).assign(method=lambda frame: frame["method"].map(names))
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1),
                scale=alt.Scale(domain=[epochs[0], epochs[-1]], nice=False)),
        y=alt.Y("value:Q", title=shown.label, scale=alt.Scale(zero=False),
                axis=alt.Axis(format="%") if shown.style == "percent" else alt.Axis()),
        color=alt.Color("method:N", title=None, legend=alt.Legend(orient="top", columns=2, labelLimit=0),
                        scale=alt.Scale(domain=list(names.values()), range=[METHOD_COLOURS[m] for m in names])),
        tooltip=["epoch:Q", "method:N", alt.Tooltip("value:Q", title=shown.label, format=CHART_FORMATS[shown.style])],
    )
    chosen = alt.Chart(pd.DataFrame({"epoch": [epoch]})).mark_rule(color="gray", strokeDash=[4, 4]).encode(x="epoch:Q")
    return lines + chosen


def format_value(value: float | None, style: str, k: int | None = None) -> str:
    """A figure as people read it: 96.4%, 0.968, 5.4 of 15; a dash where there is none."""
    if value is None:
        return MISSING
    if style == "percent":
        return f"{value:.1%}"
    if style == "count":
        return f"{value:.1f} of {k}" if k else f"{value:.1f}"
    return f"{value:.3f}"


def epoch_table(figures: Mapping[str, Mapping[int, Mapping[str, Any] | None]], epoch: int, split: str,
                names: Mapping[str, str], missing: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The figures of one epoch and split, formatted: one row per figure, one column per method.

    ``figures`` is as for :func:`figure_table`; a method whose maps stop before ``epoch`` shows
    :data:`NO_MAP`, one whose figures of it are not in its ``missing`` text (default :data:`NOT_YET`;
    :data:`FAILED` or :data:`STOPPED` when its evaluation ended without them).
    """
    missing = missing or {}
    shown = {"Figure": [figure.label for figure in FIGURES.values()]}
    for method, per_epoch in figures.items():
        values = per_epoch.get(epoch)
        if values is None:
            shown[names[method]] = [missing.get(method, NOT_YET) if epoch in per_epoch else NO_MAP] * len(FIGURES)
        else:
            shown[names[method]] = [format_value(values.get(figure_key(name, split)), figure.style, values.get("k"))
                                    for name, figure in FIGURES.items()]
    return pd.DataFrame(shown)


def temporal_table(temporal: Mapping[str, Mapping[str, Any] | None], names: Mapping[str, str],
                   missing: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The run's temporal figures, formatted: one row per figure, one column per method (None: not in,
    shown as in :func:`epoch_table`)."""
    missing = missing or {}
    shown = {"Figure": [figure.label for figure in TEMPORAL.values()]}
    for method, values in temporal.items():
        shown[names[method]] = [format_value(values.get(name), figure.style) if values is not None
                                else missing.get(method, NOT_YET) for name, figure in TEMPORAL.items()]
    return pd.DataFrame(shown)


def verdict(figures: Mapping[str, Any] | None, epoch: int, split: str,
            missing: str = NOT_YET) -> tuple[bool | None, str]:
    """Can the map be trusted at ``epoch``? (True, False or None if it cannot be told, one sentence).

    Judged on the split's PPR (the territories) and trustworthiness (the neighbourhoods), against
    :data:`PPR_TRUSTED` and :data:`TRUSTWORTHINESS_TRUSTED`. ``missing`` says why ``figures`` may
    be None (:data:`NOT_YET`, :data:`FAILED` or :data:`STOPPED`).
    """
    if figures is None:
        return None, f"The figures of epoch {epoch} {VERDICT_MISSING[missing]}."
    ppr, trust = figures.get(figure_key("ppr", split)), figures.get(figure_key("trustworthiness", split))
    samples = SAMPLE_NAMES[split]
    cautions = []
    if ppr is not None and ppr < PPR_TRUSTED:
        cautions.append(f"treat territories with care at epoch {epoch}: PPR {ppr:.1%}, so about 1 of every "
                        f"{round(1 / (1 - ppr))} {samples} lies in a territory of a class the classifier does not "
                        f"predict for it")
    if trust is not None and trust < TRUSTWORTHINESS_TRUSTED:
        cautions.append(f"treat neighbourhoods with care{'' if cautions else f' at epoch {epoch}'}: trustworthiness "
                        f"{trust:.3f} (below {TRUSTWORTHINESS_TRUSTED}), so dots close on the map are often far "
                        f"apart for the classifier")
    if cautions:
        text = "; ".join(cautions)
        return False, text[0].upper() + text[1:] + "."
    if ppr is None and trust is None:
        return None, f"No figure can judge the map of epoch {epoch} on the {samples} (too few of them for k)."
    reasons = ([f"{ppr:.1%} of the {samples} sit in the territory of their predicted class (PPR)"] if ppr is not None
               else []) + ([f"trustworthiness is {trust:.3f}"] if trust is not None else [])
    text = f"This map can be trusted at epoch {epoch}: {' and '.join(reasons)}."
    if ppr is None:
        text += " It draws no territories, so only its neighbourhoods are judged."
    elif trust is None:
        text += f" There are too few {samples} for k to judge its neighbourhoods, so only its territories are."
    return True, text
