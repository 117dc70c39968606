"""Samples: find samples by what the classifier made of them, inspect one, and spot the odd ones.

Everything here comes from two tables the core already memoizes: the classifier's per-epoch
predictions (:mod:`ttv_core.evaluate.predictions`, enough for the query, the Data Maps and most events) and
the maps in the cache (needed only for trajectories, 2-D neighbours and movements, which say so and
point to Train when a map is missing). The questions themselves live in :mod:`ttv_core.explore`.
Samples picked here are highlighted on the Territories page (``session.set_selection``).
"""

import hashlib

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import ttv_core
from ttv_core.app import page_path, session
from ttv_core.app.text import plain  # class names and messages quoting data: text, never Markdown
from ttv_core import explore as samples
from ttv_core.evaluate.predictions import PredictionHistory
from ttv_core.draw.territory import palette_css

TRAIN_PAGE, TERRITORIES_PAGE = page_path("train"), page_path("territories")
FLIP_CHOICES = {None: "Any", True: "Changed", False: "Unchanged"}
MEASURES = {"confidence": "top-class probability", "true_probability": "probability of the label"}
PERCENT = "%.1f%%"  # probabilities and shares in tables, shown in percent (the values are scaled by as_percent)
COLUMNS = {  # how every table of samples shows its numbers
    "confidence": st.column_config.NumberColumn(format=PERCENT),
    "mean confidence": st.column_config.NumberColumn(format=PERCENT),
    "correct": st.column_config.NumberColumn(format="%.0f%%", help="Share of the epochs predicted right."),
    "change": st.column_config.NumberColumn("label probability change", format="%+.1f%%"),
    "movement": st.column_config.NumberColumn("movement (robust z)", format="%.1f"),
    "variability": st.column_config.NumberColumn(format="%.2f"),
}
PERCENT_COLUMNS = ("confidence", "mean confidence", "correct", "change")
CANVAS = {"embedOptions": {"renderer": "canvas"}}  # thousands of points draw faster on a canvas


# -- data, read once per run -----------------------------------------------------------------------
@st.cache_data(max_entries=16)
def data_maps(location: str, fingerprints: tuple[str, ...], window: tuple[int, int],
              _histories: dict[str, PredictionHistory]) -> dict[str, samples.DataMap]:
    """Both splits' Data Maps over the epochs in ``window``, keyed by the epochs' content like the
    predictions they summarise."""
    epochs = [e for e in next(iter(_histories.values())).epochs if window[0] <= e <= window[1]]
    return {split: samples.data_map(history, epochs=epochs) for split, history in _histories.items()}


def mapped_positions() -> dict[str, dict[int, np.ndarray]]:
    """Per split, epoch -> (n_samples, 2) positions of the maps already in the cache (maybe none)."""
    try:
        results = session.maps().results_
    except ttv_core.TTVError:  # e.g. a run too small for the configuration: no maps to show
        results = {}
    return {split: {e: r.embeddings[split] for e, r in results.items()} for split in session.SPLITS}


# -- small pieces ------------------------------------------------------------------------------------
def class_scale() -> alt.Scale:
    """The class colours of the territories, so a class looks the same on every page."""
    return alt.Scale(domain=list(dynamics.classes), range=palette_css(dynamics.n_classes))


def missing_map(what: str) -> None:
    st.info(f"**{what}** need the {session.METHOD_NAMES[method]} maps, which are not computed up to epoch {epoch} yet.")
    st.page_link(TRAIN_PAGE, label="Compute them on the Train page", icon=":material/model_training:")


def inspect_sample(split: str, index: int) -> None:
    st.session_state["samples_split"], st.session_state["samples_index"] = split, int(index)


def selectable(table: pd.DataFrame, key: str) -> None:
    """Show a table of samples (columns ``sample`` and ``split`` first) whose rows can be highlighted on
    Territories (the chosen rows, or all when none is chosen) or, one at a time, inspected."""
    if table.empty:
        st.caption("None.")
        return
    # Streamlit keeps a keyed table's selected row positions when its rows change (another filter, epoch):
    # a key of the rows themselves drops the selection then, so that it never points at other samples.
    rows_key = hashlib.sha256(table[["split", "sample"]].to_numpy().astype(str).tobytes()).hexdigest()[:12]
    event = st.dataframe(as_percent(table), key=f"{key}_{rows_key}", on_select="rerun", selection_mode="multi-row",
                         hide_index=True, column_config=COLUMNS)
    rows = [r for r in event.selection.rows if r < len(table)]
    picked = table.iloc[rows] if rows else table
    chosen = {split: picked.loc[picked["split"] == split, "sample"].tolist() for split in session.SPLITS}
    which = f"the {len(picked):,} chosen" if rows else f"all {len(picked):,}"
    left, right = st.columns(2)
    left.button(f"Highlight {which} on Territories", key=f"{key}_highlight", on_click=session.set_selection,
                args=(chosen,), icon=":material/ads_click:")
    if len(rows) == 1:
        split, index = picked.iloc[0][["split", "sample"]]
        right.button(f"Inspect sample {index:,} ({split})", key=f"{key}_inspect", on_click=inspect_sample,
                     args=(split, index))


def as_percent(table: pd.DataFrame) -> pd.DataFrame:
    """The table with its probabilities and shares in percent, for a printf format that cannot scale."""
    return table.assign(**{column: 100 * table[column] for column in PERCENT_COLUMNS if column in table})


def sample_rows(split: str, index: np.ndarray, **columns) -> pd.DataFrame:
    """The first columns of every table of samples: sample, split, label; then ``columns``."""
    labels = names[predictions[split].labels[index]]
    return pd.DataFrame({"sample": index, "split": split, "label": labels, **columns})


def selection_bar() -> None:
    counts = {split: len(chosen) for split, chosen in session.selection().items()}
    total = sum(counts.values())
    text, link, clear = st.columns([5, 2, 1], vertical_alignment="center")
    text.markdown(f"**Selected:** {total:,} samples ({counts['train']:,} training, {counts['test']:,} test)."
                  if total else "**Selected:** none yet. Highlight samples from the tables below.")
    link.page_link(TERRITORIES_PAGE, label="See them on Territories", icon=":material/animation:", disabled=not total)
    clear.button("Clear", key="samples_clear", on_click=session.set_selection, args=(None,), disabled=not total)


# -- sections ----------------------------------------------------------------------------------------
def query_section() -> None:
    st.subheader("Query")
    label, predicted, splits = st.columns(3)
    classes = list(range(dynamics.n_classes))
    chosen_labels = label.multiselect("Label", classes, format_func=names.__getitem__, key="samples_labels",
                                      persist_state="session", placeholder="Any label")
    chosen_predicted = predicted.multiselect(f"Prediction at epoch {epoch}", classes, format_func=names.__getitem__,
                                             key="samples_predicted", persist_state="session",
                                             placeholder="Any prediction")
    chosen_splits = splits.multiselect("Split", present, default=present, format_func=session.SPLIT_NAMES.get,
                                       key="samples_splits", persist_state="session")
    confidence, flip = st.columns(2)
    low_high = confidence.slider(f"Confidence at epoch {epoch} (top-class probability)", 0.0, 1.0, (0.0, 1.0),
                                 step=0.01, key="samples_confidence", persist_state="session")
    flipped = flip.radio("Prediction since the epoch before", list(FLIP_CHOICES), format_func=FLIP_CHOICES.get,
                         horizontal=True, key="samples_flipped", persist_state="session")
    try:
        found = {split: samples.query(predictions[split], epoch, labels=chosen_labels, predicted=chosen_predicted,
                                      confidence=low_high, flipped_only=flipped) for split in chosen_splits}
    except ttv_core.TTVError as error:
        st.error(plain(error))
        return
    tables = [results_rows(split, index) for split, index in found.items()]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    st.caption(f"{len(table):,} samples match." if chosen_splits else "Choose at least one split.")
    if flipped is not None and epoch == dynamics.epochs[0]:
        st.caption(f"Epoch {epoch} is the first: no prediction has an epoch before it to change from.")
    selectable(table, "samples_results")


def results_rows(split: str, index: np.ndarray) -> pd.DataFrame:
    history = predictions[split]
    row = history.row(epoch)
    return sample_rows(split, index, prediction=names[history.predicted[row, index]],
                       confidence=history.confidence[row, index])


def inspector_section() -> None:
    st.subheader("Inspect a sample")
    split_column, index_column, k_column = st.columns(3)
    split = split_column.radio("Split", present, format_func=session.SPLIT_NAMES.get, horizontal=True,
                               key="samples_split", persist_state="session")
    size = predictions[split].labels.size
    if st.session_state.get("samples_index", 0) > size - 1:  # chosen in a larger split (or a larger run)
        st.session_state["samples_index"] = size - 1
    index = index_column.number_input("Sample", min_value=0, max_value=size - 1, step=1, key="samples_index",
                                      persist_state="session", help=f"Its position in the split, as in the tables: "
                                      f"0 to {size - 1:,}.")
    if st.session_state.get("samples_k", 1) > max(1, size - 1):
        st.session_state["samples_k"] = max(1, size - 1)
    k = k_column.number_input("Neighbours (k)", min_value=1, max_value=max(1, size - 1), step=1, key="samples_k",
                              persist_state="session", value=max(1, min(session.view_config().evaluation.figures_k,
                                                                        size - 1)))
    try:
        story = samples.history_of(predictions[split], int(index))
    except ttv_core.TTVError as error:
        st.error(plain(error))
        return
    summary(split, int(index), story)
    history_chart(story)
    low = positions_by_split[split].get(epoch)
    if low is None:
        missing_map("The 2-D trajectory and the neighbours on the map")
    else:
        trajectory_chart(split, int(index))
    neighbour_lists(split, int(index), int(k), low)


def summary(split: str, index: int, story: dict) -> None:
    row = list(story["epoch"]).index(epoch)
    picture, *figures = st.columns([1, 2, 2, 2, 2])
    thumbnail = dynamics.thumbnail(index, split)
    if thumbnail is not None:
        picture.image(thumbnail, width=96)
    shown = {"Label": plain(names[story["label"]]),
             f"Prediction at epoch {epoch}": plain(names[story["predicted"][row]]),
             "Confidence": f"{story['confidence'][row]:.1%}",
             "Probability of the label": f"{story['true_probability'][row]:.1%}"}
    for column, (title, value) in zip(figures, shown.items()):
        column.metric(title, value)


def history_chart(story: dict) -> None:
    frame = pd.DataFrame({"epoch": story["epoch"], "predicted": names[story["predicted"]],
                          **{title: story[name] for name, title in MEASURES.items()}})
    frame = frame.melt(["epoch", "predicted"], var_name="measure", value_name="probability")
    base = alt.Chart(frame).encode(
        x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1),
                scale=alt.Scale(domain=[int(story["epoch"][0]), int(story["epoch"][-1])], nice=False)),
        y=alt.Y("probability:Q", title="Probability", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
    )
    lines = base.mark_line(color="gray").encode(strokeDash=alt.StrokeDash("measure:N", title=None))
    points = base.mark_point(filled=True, size=70).encode(
        color=alt.Color("predicted:N", title="Predicted", scale=class_scale()),
        shape=alt.Shape("measure:N", title=None),
        tooltip=["epoch:Q", "measure:N", alt.Tooltip("probability:Q", format=".1%"), "predicted:N"])
    now = alt.Chart(pd.DataFrame({"epoch": [epoch]})).mark_rule(strokeDash=[4, 4]).encode(x="epoch:Q")
    st.altair_chart(lines + points + now, width="stretch")


def trajectory_chart(split: str, index: int) -> None:
    epochs, positions = samples.trajectory(positions_by_split[split], index)
    frame = pd.DataFrame({"epoch": epochs, "x": positions[:, 0], "y": positions[:, 1]})
    frame["now"] = frame["epoch"] == epoch
    scale = alt.Scale(zero=False, nice=False)
    base = alt.Chart(frame).encode(x=alt.X("x:Q", title="Map x", scale=scale),
                                   y=alt.Y("y:Q", title="Map y", scale=scale), order="epoch:Q")
    path = base.mark_line(color="gray") + base.mark_point(filled=True).encode(
        size=alt.condition("datum.now", alt.value(200), alt.value(40)),
        color=alt.condition("datum.now", alt.value("crimson"), alt.value("gray")),
        tooltip=["epoch:Q", alt.Tooltip("x:Q", format=".2f"), alt.Tooltip("y:Q", format=".2f")])
    # The first, the last and the shown epoch labelled beside their points (every epoch would overlap).
    labelled = frame[(frame["epoch"] == epochs[0]) | (frame["epoch"] == epochs[-1]) | frame["now"]]
    path += alt.Chart(labelled).transform_calculate(label='"epoch " + datum.epoch').mark_text(
        align="left", dx=8, dy=-8, fontSize=12).encode(x="x:Q", y="y:Q", text="label:N",
        color=alt.condition("datum.now", alt.value("crimson"), alt.value("#444")))
    st.caption(f"Its path on the {session.METHOD_NAMES[method]} maps, epoch {epochs[0]}–{epochs[-1]}; "
               f"epoch {epoch} in red.")
    st.altair_chart(path.properties(height=320), width="stretch")


def neighbour_lists(split: str, index: int, k: int, low: np.ndarray | None) -> None:
    """The sample's k nearest in the representation space and, with a map, on the map, marking the shared."""
    high = np.asarray(dynamics.representations(epoch, split))
    try:
        found = samples.neighbours(high, low, index, k) if low is not None else samples.nearest_others(high, index, k)
    except ttv_core.TTVError as error:
        st.error(plain(error))
        return
    left, right = st.columns(2)
    left.markdown(f"**{k} nearest in the representation space** (epoch {epoch})")
    if low is None:
        left.dataframe(sample_rows(split, found), hide_index=True)
        return
    left.dataframe(sample_rows(split, found.high, **{"on the map too": np.isin(found.high, found.low)}),
                   hide_index=True)
    right.markdown(f"**{k} nearest on the map** · {found.overlap:.0%} shared")
    both = {"in the representation space too": np.isin(found.low, found.high)}
    right.dataframe(sample_rows(split, found.low, **both), hide_index=True)


def events_section() -> None:
    st.subheader(f"Events at epoch {epoch}")
    change, z = st.columns(2)
    threshold = change.number_input("Label probability change of at least", min_value=0.01, max_value=1.0,
                                    value=samples.CONFIDENCE_CHANGE, step=0.05, key="samples_change",
                                    persist_state="session")
    movement = z.number_input("Movement above (robust z-score)", min_value=0.0, value=samples.MOVEMENT_Z, step=0.5,
                              key="samples_z", persist_state="session",
                              help="Median/MAD z-score of the 2-D distance moved since the epoch before.")
    found = {split: samples.events(predictions[split], positions_by_split[split], epoch,
                                   confidence_change=threshold, movement_z=movement) for split in session.SPLITS}
    if found["train"].previous is None:
        st.info(f"Epoch {epoch} is the first: there is no epoch before it to compare with.")
        return
    st.caption(f"From epoch {found['train'].previous} to {epoch}: prediction flips, changes of the label's "
               "probability, and 2-D movements unusually large compared with the other samples'.")
    if found["train"].displacement is None:
        missing_map("Unusual movements")
    selectable(pd.concat([event_rows(split, found[split]) for split in session.SPLITS], ignore_index=True),
               "samples_events")


def event_rows(split: str, found: samples.EpochEvents) -> pd.DataFrame:
    index = found.samples
    kinds = [", ".join(kind for kind, hit in zip(("flip", "probability", "movement"), hits) if hit)
             for hits in zip(found.flipped[index], found.probability_jump[index], found.moved[index])]
    movement = found.movement_score[index] if found.movement_score is not None else np.full(index.size, np.nan)
    return sample_rows(split, index, events=kinds, before=names[found.predicted_before[index]],
                       after=names[found.predicted_after[index]], change=found.probability_change[index],
                       movement=movement)


def data_map_section() -> None:
    st.subheader("Data Maps")
    st.caption("Each sample placed by the mean (confidence) and spread (variability) over the epochs of the "
               "probability given to its label (Swayamdipta et al., 2020). Easy samples sit top left, ambiguous "
               "ones to the right, hard ones at the bottom. Likely mislabelled ones are hard consistently, because "
               "the model believes another class: candidates to check, not verdicts.")
    split_column, window_column = st.columns(2)
    split = split_column.radio("Split", present, format_func=session.SPLIT_NAMES.get, horizontal=True,
                               key="samples_map_split", persist_state="session")
    epochs, window = list(dynamics.epochs), samples.settled_epochs(dynamics.epochs)
    if len(epochs) > 1:
        window = window_column.select_slider(
            "Epochs summarised", options=epochs, value=window, key="samples_map_epochs", persist_state="session",
            help="By default the later half: early epochs, where a model trained from scratch is still learning "
            "everything, make every sample look variable.")
    still_learning(tuple(window))
    result = data_maps(*run_key, tuple(window), predictions)[split]
    counts = {region: int((result.region == region).sum()) for region in samples.REGIONS}
    counts["likely mislabelled"] = int(result.mislabelled.sum())
    for column, (region, count) in zip(st.columns(len(counts)), counts.items()):
        column.metric(region.capitalize(), f"{count:,}")
    index = np.arange(result.confidence.size)
    frame = sample_rows(split, index, **map_columns(result, index), region=result.region)
    chart = alt.Chart(frame).mark_circle(size=30, opacity=0.7).encode(
        x=alt.X("variability:Q", title="Variability"),
        y=alt.Y("mean confidence:Q", title="Confidence", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("correct:Q", title="Correct", scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
                        legend=alt.Legend(format="%")),
        tooltip=["sample:Q", "label:N", "region:N", alt.Tooltip("mean confidence:Q", format=".1%"),
                 alt.Tooltip("variability:Q", format=".2f"), alt.Tooltip("correct:Q", format=".0%")])
    st.altair_chart(chart.properties(height=380, usermeta=CANVAS), width="stretch")
    mislabelled, hard = st.columns(2)
    with mislabelled:
        st.markdown("**Likely mislabelled**, least confident first")
        chosen = result.likely_mislabelled()
        selectable(sample_rows(split, chosen, **{"model says": names[result.alternative[chosen]]},
                               **map_columns(result, chosen)), "samples_mislabelled")
    with hard:
        st.markdown("**Hard to learn** (not likely mislabelled), least confident first")
        chosen = result.members("hard")
        chosen = chosen[~result.mislabelled[chosen]]
        selectable(sample_rows(split, chosen, **map_columns(result, chosen)), "samples_hard")


def still_learning(window: tuple[int, int]) -> None:
    """Warn when the classifier had not converged over ``window``: Data Maps then flag samples it simply had
    not learnt yet (a 10-epoch demo run at 83 % flagged 280 of 1,437 clean digits as likely mislabelled)."""
    history = predictions["train"]
    rows = [history.row(e) for e in history.epochs if window[0] <= e <= window[1]]
    accuracy = [float(np.mean(history.predicted[row] == history.labels)) for row in rows]
    if not accuracy:
        return
    rise = accuracy[-1] - accuracy[-min(len(accuracy), max(2, len(accuracy) // 3))]  # over the window's last third
    if accuracy[-1] < CONVERGED_ACCURACY or rise > CONVERGED_RISE:
        st.warning(f"The classifier was still learning over these epochs: training accuracy {accuracy[0]:.1%} at "
                   f"epoch {window[0]}, {accuracy[-1]:.1%} at epoch {window[1]}. Data Maps assume a converged "
                   "classifier; many samples flagged below may simply not be learnt yet. Summarise later epochs, "
                   "or a run trained for longer.", icon=":material/warning:")


def map_columns(result: samples.DataMap, index) -> dict[str, np.ndarray]:
    return {"mean confidence": result.confidence[index], "variability": result.variability[index],
            "correct": result.correctness[index]}


# -- the page ----------------------------------------------------------------------------------------
dynamics = session.dynamics()
method = session.method()
names = np.array(dynamics.classes)
CONVERGED_ACCURACY, CONVERGED_RISE = 0.9, 0.03  # training accuracy at the window's end; rise over its last third
st.title("Samples")
epoch = session.epoch_slider(list(dynamics.epochs), "samples_epoch")
run_key = (dynamics.location, tuple(map(dynamics.fingerprint, dynamics.epochs)))
predictions = session.predictions()
positions_by_split = mapped_positions()
present = [split for split in session.SPLITS if predictions[split].labels.size]  # a run may have no test samples
selection_bar()
query_section()
inspector_section()
events_section()
data_map_section()
