"""The figures the dashboard shows, shaped for people: the classifier's accuracy and the maps' faithfulness.

The numbers come from the core (:func:`ttv_core.evaluate_subject`, :meth:`Visualization.figures`,
:func:`ttv_core.evaluate.figures.temporal_figures`, :func:`ttv_core.evaluate.figures.reference_figures`); this module
only lays them out as tables, chart data, charts, formatted text and one verdict per epoch. A map's
verdict judges it against umap-learn's map of the same epoch, since no 2-D map keeps every neighbour
and only that comparison says whether this one keeps as many as it could. Everything but the accuracy
chart (cached by Streamlit, shared by the Overview and Metrics pages) is plain pandas, testable without
a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.config import VisConfig
from ttv_core.evaluate.figures import FIGURE_KEYS, figure_key, reference_figures

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

@dataclass(frozen=True)
class Figure:
    """How to name, explain and print one figure."""

    label: str
    hint: str  # one sentence: what it measures and what good looks like
    style: str  # "percent", "decimal" or "count" (out of k)


FIGURES = {  # per epoch and split, in the order shown; keys as in ttv_core.evaluate.figures (ppr -> ppr_train)
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
TEMPORAL = {  # the run's figures over the epochs with a map (ttv_core.evaluate.figures.temporal_figures)
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
    # From the predictions memoized in the result cache by each epoch's content (the Territories and Samples
    # pages store them too): a server start no longer passes the head over every epoch (60,000 + 10,000
    # samples x 200 epochs: 36 s), and an edited epoch has other keys, so it is never shown stale.
    from ttv_core.evaluate.predictions import prediction_history

    rows = [(int(epoch), SPLIT_NAMES[f"{split}_acc"], float(accuracy))
            for split in ("train", "test") if _dynamics.labels(split).size
            for epoch, accuracy in zip(_dynamics.epochs, prediction_history(_dynamics, split).correct.mean(axis=1))]
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
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1),  # from the run's first epoch, not 0
                    scale=alt.Scale(domain=[min(dynamics.epochs), max(dynamics.epochs)], nice=False)),
            y=alt.Y("accuracy:Q", title="Accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
            color=alt.Color("split:N", title=None),
            tooltip=["epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".1%")],
        )
    )


# -- faithfulness figures (Metrics) -----------------------------------------------------------------
def figure_table(figures: Mapping[str, Mapping[int, Mapping[str, Any] | None]]) -> pd.DataFrame:
    """One row per method and evaluated epoch: columns epoch, method, then every figure of
    :func:`ttv_core.evaluate.figures.epoch_figures` under its original key (``ppr_train`` ...) and ``k``.

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



# -- the verdict: can the map of an epoch be trusted? -----------------------------------------------
# Every floor is issue 9's goal for the maps, so the verdict and the benchmarks agree on what "trusted" means.
PPR_TRUSTED = 0.9  # below it more than 1 sample in 10 sits in a territory of a class the classifier does not give
# it; issue 9 asks 0.9 even of the early epochs, where published methods reach 0.37-0.63
NN_RATIO_TRUSTED = 0.8  # share of umap-learn's neighbour rate (same epoch) a map must keep: no 2-D map keeps
# every neighbour, so the rate alone says nothing; the demo's proxy maps fell to 0.48x while looking fine
TRUSTWORTHINESS_MARGIN = 0.02  # how far below umap-learn's trustworthiness (same epoch) a map may fall
TRUSTWORTHINESS_TRUSTED = 0.9  # the floor when umap-learn's is unknown: its maps of the demo score 0.97-0.99,
# so a map below 0.9 often invents neighbours that any good 2-D map would not
# How the verdict knows umap-learn's figures of the epoch (Reference.source):
TRAINED = "trained"  # from the UMAP baseline's maps, which the user trained
COMPUTED = "computed"  # fitted on that epoch alone for the verdict (ttv_core.evaluate.figures.reference_figures)
PENDING = "pending"  # on their way
FLOORS = "floors"  # unknown: the absolute floors only
SELF = "self"  # the map judged is the UMAP baseline itself
TRAIN_BASELINE = "train the UMAP baseline to compare neighbour preservation"


@dataclass(frozen=True)
class Reference:
    """umap-learn's figures of the epoch a map is judged against (keys of
    :func:`ttv_core.evaluate.figures.epoch_figures`), where they come from, and with :data:`FLOORS` what to do."""

    source: str = FLOORS
    figures: Mapping[str, Any] | None = None
    why: str = TRAIN_BASELINE


@dataclass(frozen=True)
class UmapReference:
    """umap-learn fitted on one epoch alone, for a verdict. Shaped like the :class:`Visualization` a
    :class:`ttv_core.app.jobs.FigureJob` evaluates (``dynamics``, ``method``, ``config``, ``results_``,
    ``figures``, ``temporal``), so the job registry fits it in the background, once for every session."""

    dynamics: ttv_core.TrainingDynamics
    epoch: int
    config: VisConfig
    method: str = "umap reference"  # a job key of its own, never the UMAP baseline's

    @property
    def results_(self) -> dict[int, None]:
        return {self.epoch: None}

    def figures(self, epoch: int, *, compute: bool = True) -> dict[str, Any] | None:
        return reference_figures(self.dynamics, epoch, self.config, compute=compute)

    def temporal(self) -> None:
        """One epoch has no figures over time."""
        return None


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def _territories(ppr: float | None, samples: str) -> tuple[bool | None, str]:
    """Does the map's colouring say what the classifier predicts? (holds, what to say)"""
    if ppr is None:
        return None, "it draws no territories"
    if ppr < PPR_TRUSTED:
        return False, (f"territories can mislead: about 1 in {round(1 / (1 - ppr))} {samples} lies in a territory "
                       f"of a class the classifier does not predict for it (PPR {ppr:.1%})")
    return True, f"{ppr:.1%} of them sit in the territory of their predicted class (PPR)"


def _neighbours(rate: float | None, umap_rate: float | None, pending: bool, samples: str) -> tuple[bool | None, str]:
    """Does the map keep nearly as many of each sample's neighbours as umap-learn does?"""
    if rate is None:
        return None, f"there are too few {samples} for k to judge the neighbours kept"
    if umap_rate is None:
        return None, ("the neighbours kept wait for umap-learn's figure of this epoch" if pending else
                      "the neighbours kept are not judged without umap-learn's figure of this epoch")
    if rate < NN_RATIO_TRUSTED * umap_rate:
        return False, (f"many of a sample's nearest neighbours for the classifier are elsewhere on the map: it keeps "
                       f"{rate:.1%} of them, {rate / umap_rate:.2f}× what umap-learn keeps ({umap_rate:.1%})")
    ratio = f", {rate / umap_rate:.2f}× umap-learn's" if umap_rate else ""
    return True, f"it keeps {rate:.1%} of each sample's nearest neighbours{ratio}"


def _closeness(trust: float | None, umap_trust: float | None, pending: bool, samples: str) -> tuple[bool | None, str]:
    """Are dots close on the map close for the classifier, nearly as often as on umap-learn's map?"""
    if trust is None:
        return None, f"there are too few {samples} for k to judge trustworthiness"
    if umap_trust is None and pending:  # its floor is umap-learn's, soon known: no judgement that may flip
        return None, "trustworthiness waits for umap-learn's"
    floor = TRUSTWORTHINESS_TRUSTED if umap_trust is None else umap_trust - TRUSTWORTHINESS_MARGIN
    if trust < floor:
        below = (f"below the {TRUSTWORTHINESS_TRUSTED} floor" if umap_trust is None else
                 f"more than {TRUSTWORTHINESS_MARGIN} below umap-learn's {umap_trust:.3f}")
        return False, f"dots close on the map are often not close for the classifier (trustworthiness {trust:.3f}, {below})"
    return True, f"trustworthiness is {trust:.3f}" + ("" if umap_trust is None else f" (umap-learn's {umap_trust:.3f})")


def _compared(reference: Reference, epoch: int) -> str:
    """What the verdict compared the map with, as a sentence."""
    if reference.source == TRAINED:
        return "Compared with the UMAP baseline's map of the same epoch."
    if reference.source == COMPUTED:
        return f"Compared with umap-learn fitted on epoch {epoch} alone."
    if reference.source == PENDING:
        return f"Comparing with umap-learn on epoch {epoch}: its figures come in a few seconds."
    return (f"Compared with absolute floors only (PPR {PPR_TRUSTED:.0%}, trustworthiness {TRUSTWORTHINESS_TRUSTED}): "
            f"{reference.why}.")


def _baseline_verdict(figures: Mapping[str, Any], epoch: int, split: str) -> tuple[bool | None, str]:
    """The UMAP baseline is the yardstick of the others, so it is described, not compared with itself."""
    rate, trust = figures.get(figure_key("nn_rate", split)), figures.get(figure_key("trustworthiness", split))
    samples = SAMPLE_NAMES[split]
    if rate is None and trust is None:
        return None, f"No figure can describe the map of epoch {epoch} on the {samples} (too few of them for k)."
    kept = [f"umap-learn keeps {rate:.1%} of each sample's nearest neighbours"] if rate is not None else []
    kept += [f"its trustworthiness is {trust:.3f}"] if trust is not None else []
    text = (f"This is the baseline the other maps are compared with, at epoch {epoch} on the {samples}: "
            f"{' and '.join(kept)}. It draws no territories.")
    if trust is not None and trust < TRUSTWORTHINESS_TRUSTED:
        return False, text + (" Even here dots close on the map are often not close for the classifier: "
                              "no 2-D map of this epoch keeps its neighbourhoods well.")
    return None, text


def verdict(figures: Mapping[str, Any] | None, epoch: int, split: str, missing: str = NOT_YET,
            reference: Reference = Reference()) -> tuple[bool | None, str]:
    """Can the map be trusted at ``epoch``? (True, False or None if it cannot be told, what to say).

    True only when all three hold on the split: its territories (PPR at least :data:`PPR_TRUSTED`),
    the neighbours it keeps (at least :data:`NN_RATIO_TRUSTED` of umap-learn's rate on the same
    epoch) and its trustworthiness (at most :data:`TRUSTWORTHINESS_MARGIN` below umap-learn's, or
    :data:`TRUSTWORTHINESS_TRUSTED` where that is unknown). A failing figure is named in plain words,
    then its numbers; the text ends with what the map was compared with (``reference``; the default
    is the absolute floors). ``missing`` says why ``figures`` may be None (:data:`NOT_YET`,
    :data:`FAILED` or :data:`STOPPED`).
    """
    if figures is None:
        return None, f"The figures of epoch {epoch} {VERDICT_MISSING[missing]}."
    if reference.source == SELF:
        return _baseline_verdict(figures, epoch, split)
    samples, umap, pending = SAMPLE_NAMES[split], reference.figures or {}, reference.source == PENDING
    checks = [_territories(figures.get(figure_key("ppr", split)), samples),
              _neighbours(figures.get(figure_key("nn_rate", split)), umap.get(figure_key("nn_rate", split)),
                          pending, samples),
              _closeness(figures.get(figure_key("trustworthiness", split)),
                         umap.get(figure_key("trustworthiness", split)), pending, samples)]
    by_outcome = {outcome: [text for holds, text in checks if holds is outcome] for outcome in (True, False, None)}
    compared = _compared(reference, epoch)
    if by_outcome[False]:
        failures = " ".join(_sentence(text) for text in by_outcome[False])
        return False, f"The map of epoch {epoch} can mislead on the {samples}. {failures} {compared}"
    passed = "; ".join(by_outcome[True])
    if by_outcome[None]:
        so_far = f": {passed}" if passed else ""
        return None, (f"Nothing fails at epoch {epoch} on the {samples}{so_far}. Not everything could be judged: "
                      f"{'; '.join(by_outcome[None])}. {compared}")
    return True, f"This map can be trusted at epoch {epoch} on the {samples}: {passed}. {compared}"
