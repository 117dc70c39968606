"""Territories: the classifier's decision territories and every sample, played epoch by epoch."""

import html

import streamlit as st

from ttv_core.app import page_path, session
from ttv_core.app.player import MAX_THUMBNAILS, interactive_samples, player_data, show_player
from ttv_core.draw.frames import FrameStyle
from ttv_core.run.frames import epoch_frame
from ttv_core.draw.territory import palette_css

COLOUR_NAMES = {"label": "Label", "prediction": "Prediction"}


@st.cache_data(max_entries=16, show_spinner=False)
def thumbnails(location: str, samples: tuple[tuple[str, int], ...], _dynamics) -> dict[tuple[str, int], bytes]:
    """PNG thumbnails of ``samples`` that have one (a source may have none)."""
    pictures = {pair: _dynamics.thumbnail(pair[1], pair[0]) for pair in samples[:MAX_THUMBNAILS]}
    return {pair: png for pair, png in pictures.items() if png is not None}


def legend(classes: list[str]) -> None:
    swatch = "display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:4px"
    swatches = "".join(
        f'<span style="white-space:nowrap;margin-right:12px"><span style="{swatch};background:{colour}"></span>'
        f"{html.escape(str(name))}</span>"  # class names come from the dataset: text, never HTML
        for name, colour in zip(classes, palette_css(len(classes))))
    st.html(f'<div style="font-size:13px;line-height:1.9">{swatches}</div>')
    st.caption("A ringed dot is misclassified: fill and ring show its label and its prediction. Test samples have a "
               "white halo, training samples a dark one. Pale bands are where the classifier hesitates.")


@st.fragment(run_every=2)
def follow_training(seen: int) -> None:
    """Reload the page when a background job stores new epochs, so the animation grows as it trains."""
    if session.registry().generation != seen:
        st.rerun()


dynamics, method = session.dynamics(), session.method()
st.title("Territories")
maps = session.maps()
follow_training(session.registry().generation)
if not maps.results_:
    st.info(f"This run has no **{session.METHOD_NAMES[method]}** maps yet (with the current settings).")
    st.page_link(page_path("train"), label="Train them", icon=":material/model_training:")
    st.stop()

epochs = sorted(maps.results_)
colour, shown, overlay = st.columns([1, 1, 1])
colour_by = colour.segmented_control("Colour dots by", list(COLOUR_NAMES), format_func=COLOUR_NAMES.get,
                                     default="label", key="territory_colour", persist_state="session") or "label"
present = [split for split in session.SPLITS if dynamics.n_test or split == "train"]  # a run may have no test
splits = shown.pills("Show", present, format_func=session.SPLIT_NAMES.get, selection_mode="multi", default=present,
                     key="territory_splits", persist_state="session")
trust_map = overlay.toggle("Trust map", key="territory_trust", persist_state="session",
                           disabled=method != "al",
                           help="Hatch the places where the map's territory cannot be trusted: a point decoded there and "
                           "mapped back lands in another class. Active learning (method al) computes it.")
style = FrameStyle(colour_by=colour_by, splits=tuple(s for s in present if s in splits), trust_map=trust_map)

predictions = session.predictions()
progress = st.progress(0.0, text="Rendering frames…")
frames = []
for n, epoch in enumerate(epochs, start=1):
    frames.append(epoch_frame(maps, epoch, predictions, style))
    progress.progress(n / len(epochs), text=f"Rendering frames… {n} of {len(epochs)}")
progress.empty()

selected = session.selection()
samples = interactive_samples({s: dynamics.n_train if s == "train" else dynamics.n_test for s in style.splits},
                              selected)
data = player_data(
    epochs=epochs, frames=frames, embeddings={e: maps.results_[e].embeddings for e in epochs},
    predictions=predictions, samples=samples, extent=maps.extent_, size=style.size,
    epoch=session.epoch(epochs), classes=list(dynamics.classes), selected=selected,
    thumbnails=thumbnails(str(dynamics.location), tuple(samples), dynamics) if dynamics.has_thumbnails else None,
)
show_player(data, key="territory_player", on_epoch=session.set_epoch, on_selection=session.set_selection)
if method == "umap":
    st.caption("The UMAP baseline draws no territories: it cannot take a point of the canvas back to the "
               "classifier's space. Choose a TrustVis method in the sidebar to see them.")
legend(list(dynamics.classes))
if maps.missing_:
    st.caption(f"Epochs {maps.missing_[0]}–{maps.missing_[-1]} have no map yet; train them on the Train page.")
count = sum(map(len, selected.values()))
if count:
    st.caption(f"{count:,} samples selected: their trails are drawn up to the epoch shown. "
               "Pick samples by query on the Samples page, or click and drag on the map.")
