"""Overview: what the chosen run holds, and how well its classifier learned epoch by epoch."""

import streamlit as st

import ttv_core
from ttv_core.app.figures import accuracy_chart
from ttv_core.app.text import plain  # names, paths and classes come from the data: shown as text, never Markdown

THUMBNAILS = 12  # enough to recognise the data at a glance, few enough for one row
SOURCE_NAMES = {"ttv": "ttv run", "original": "original DVI / TimeVis layout"}


dynamics: ttv_core.TrainingDynamics = st.session_state["dynamics"]  # opened by streamlit_app.py
summary = dynamics.summary()

st.title(plain(summary.get("name") or "Overview"))
st.caption(f"{SOURCE_NAMES.get(dynamics.source_kind, dynamics.source_kind)} · {plain(dynamics.location)}")
figures = {
    "Epochs": f"{len(dynamics.epochs):,}",
    "Training samples": f"{dynamics.n_train:,}",
    "Test samples": f"{dynamics.n_test:,}",
    "Dimension": f"{dynamics.dim:,}",
    "Classes": f"{dynamics.n_classes:,}",
}
for column, (label, value) in zip(st.columns(len(figures)), figures.items()):
    column.metric(label, value)
st.caption(f"Epochs {dynamics.epochs[0]}–{dynamics.epochs[-1]} · classes: {plain(', '.join(dynamics.classes))}")
if len(summary.get("feature_shape", ())) > 1:  # an original layout's feature(x) of more axes per sample
    shape = ", ".join(map(str, summary["feature_shape"]))
    st.info(f"The model's feature(x) gives each sample a representation of shape ({shape}); the maps use it "
            f"flattened to {dynamics.dim:,} values, and the classifier's prediction(h) gets it back in its shape.")

if dynamics.has_thumbnails:
    labels = dynamics.labels("train")
    pictures = {i: dynamics.thumbnail(i) for i in range(min(THUMBNAILS, dynamics.n_train))}
    pictures = {i: png for i, png in pictures.items() if png is not None}  # a source may lack a few
    if pictures:
        st.image(list(pictures.values()), caption=[plain(dynamics.classes[labels[i]]) for i in pictures], width=64)

st.subheader("Classifier accuracy")
st.altair_chart(accuracy_chart(dynamics), width="stretch")
