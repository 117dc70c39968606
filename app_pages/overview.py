"""Overview: what the chosen run holds, and how well its classifier learned epoch by epoch."""

import altair as alt
import pandas as pd
import streamlit as st

import ttv_core

THUMBNAILS = 12  # enough to recognise the data at a glance, few enough for one row
SOURCE_NAMES = {"ttv": "ttv run", "original": "original DVI / TimeVis layout"}
SPLIT_NAMES = {"train_acc": "training set", "test_acc": "test set"}


@st.cache_data(show_spinner="Evaluating the classifier at every epoch…")
def subject_accuracy(location: str, fingerprints: tuple[str, ...], _dynamics: ttv_core.TrainingDynamics) -> pd.DataFrame:
    """Accuracy per epoch and split, columns epoch, split, accuracy; keyed by the epochs' content."""
    scores = ttv_core.evaluate_subject(_dynamics)
    rows = [
        (int(epoch), SPLIT_NAMES[key], value)
        for key, per_epoch in scores.items()
        for epoch, value in per_epoch.items()
        if value is not None
    ]
    return pd.DataFrame(rows, columns=["epoch", "split", "accuracy"])


dynamics: ttv_core.TrainingDynamics = st.session_state["dynamics"]  # opened by streamlit_app.py
summary = dynamics.summary()

st.title(summary.get("name") or "Overview")
st.caption(f"{SOURCE_NAMES.get(dynamics.source_kind, dynamics.source_kind)} · `{dynamics.location}`")
figures = {
    "Epochs": f"{len(dynamics.epochs):,}",
    "Training samples": f"{dynamics.n_train:,}",
    "Test samples": f"{dynamics.n_test:,}",
    "Dimension": f"{dynamics.dim:,}",
    "Classes": f"{dynamics.n_classes:,}",
}
for column, (label, value) in zip(st.columns(len(figures)), figures.items()):
    column.metric(label, value)
st.caption(f"Epochs {dynamics.epochs[0]}–{dynamics.epochs[-1]} · classes: {', '.join(dynamics.classes)}")

if dynamics.has_thumbnails:
    labels = dynamics.labels("train")
    pictures = {i: dynamics.thumbnail(i) for i in range(min(THUMBNAILS, dynamics.n_train))}
    pictures = {i: png for i, png in pictures.items() if png is not None}  # a source may lack a few
    if pictures:
        st.image(list(pictures.values()), caption=[dynamics.classes[labels[i]] for i in pictures], width=64)

st.subheader("Classifier accuracy")
accuracy = subject_accuracy(dynamics.location, tuple(map(dynamics.fingerprint, dynamics.epochs)), dynamics)
chart = (
    alt.Chart(accuracy)
    .mark_line(point=True)
    .encode(
        x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("accuracy:Q", title="Accuracy", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title=None),
        tooltip=["epoch:Q", "split:N", alt.Tooltip("accuracy:Q", format=".1%")],
    )
)
st.altair_chart(chart, width="stretch")
