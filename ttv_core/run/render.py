"""Exports of a fitted visualization, to share: the animation as an animated GIF, an MP4 video or one
self-contained HTML player, one epoch as PNG, the figures as CSV or JSON, and the results as a zip.

Each exporter takes a fitted :class:`~ttv_core.run.visualize.Visualization` (only its epochs with a
map are exported) and returns the file's bytes: ``ttv render`` writes them, the dashboard's Share page
offers them for download. The frames come from the result cache (:func:`~ttv_core.run.frames.epoch_frame`),
rendered once for the Territories page and every export alike; nothing here trains a map.

A picture (GIF, MP4, PNG) is an epoch's frame with a header strip above (the epoch, the run, the method)
and a legend strip below (each class's colour and name), as wide as the frame: ``style.size`` pixels for
a square window (:func:`~ttv_core.canvas.grid_shape` for another). An animation's frames share one aspect
(:func:`~ttv_core.canvas.frame_windows`), hence one size. The HTML player draws header and legend in HTML.
"""

from __future__ import annotations

import csv
import html
import io
import json
import string
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from .. import __version__
from .._checks import check_real
from .._io import npy_bytes
from ..data.dynamics import SPLITS
from ..draw.frames import FrameStyle
from ..draw.territory import palette, palette_css
from ..errors import ConfigError
from .frames import epoch_frame

if TYPE_CHECKING:
    from PIL import Image

    from ..evaluate.predictions import PredictionHistory
    from .visualize import Visualization

MIME_TYPES = {"gif": "image/gif", "mp4": "video/mp4", "html": "text/html", "png": "image/png", "csv": "text/csv",
              "json": "application/json", "zip": "application/zip"}
FORMATS = tuple(MIME_TYPES)  # what `ttv render --format` and the Share page offer
ANIMATIONS = ("gif", "mp4", "html")  # one frame per epoch; the others are one epoch (png) or the figures
SUFFIXES = {**{f".{kind}": kind for kind in FORMATS}, ".htm": "html"}  # --out's suffix names the format
DEFAULT_FPS = 4.0  # epochs per second: a 20-epoch run plays in 5 s, each map shown long enough to read
MAX_FPS = 50.0  # a GIF frame lasts at least 20 ms in browsers (they slow shorter ones down to 100 ms)
SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # the HTML player's speed menu, epochs per second
MP4_QUALITY = 6  # imageio-ffmpeg's 0-10 scale (libx264 CRF 20): dots crisp; 7 was 28 % larger, no better
METHOD_TITLES = {"proxy": "TrustVis (proxy)", "al": "TrustVis + active learning", "umap": "UMAP baseline"}
PAPER, INK, FAINT = (255, 255, 255), (34, 34, 34), (110, 110, 110)  # strips' background and text


def export_style(*, size: int = FrameStyle.size, colour_by: str = FrameStyle.colour_by, follow: bool = True,
                 splits: tuple[str, ...] = SPLITS, trust_map: bool = False) -> FrameStyle:
    """The frame style of an export: dots scaled with the size (2 pixels at the dashboard's 560, so an
    export at that size reuses the dashboard's cached frames)."""
    return FrameStyle(colour_by=colour_by, splits=splits, trust_map=trust_map, follow=follow, size=size,
                      radius=max(1, round(2 * size / 560)) if isinstance(size, int) else 2)


def check_format(name: str | None, out: str | None = None) -> str:
    """The export format ``name`` (one of :data:`FORMATS`), or the one ``out``'s suffix names when None."""
    suffix = Path(out).suffix.lower() if out else ""
    if name is None:
        if suffix not in SUFFIXES:
            raise ConfigError(f"--format is missing and --out {out!r} does not end in a known suffix: pass "
                              f"--format {', '.join(FORMATS)}.")
        return SUFFIXES[suffix]
    if name not in FORMATS:
        raise ConfigError(f"--format {name!r} is not a format ttv writes: use one of {', '.join(FORMATS)}.")
    if suffix in SUFFIXES and SUFFIXES[suffix] != name:
        raise ConfigError(f"--out {out!r} ends in {suffix} but --format is {name}: make them agree.")
    return name


def check_fps(fps: Any) -> float:
    """Epochs per second of an animation, in (0, MAX_FPS]."""
    return check_real(fps, "fps", owner="render", low=0.0, high=MAX_FPS, low_open=True,
                      fix=f"Use {DEFAULT_FPS:g} epochs per second.")


def run_name(visualization: Visualization) -> str:
    """The run's name for titles: the one it was recorded with, else its folder's (or Hub repository's)."""
    location = str(visualization.dynamics.location).rstrip("/")
    return str(visualization.dynamics.summary().get("name") or location.rsplit("/", 1)[-1] or location)


def mapped_epochs(visualization: Visualization, epochs: list[int] | None = None) -> list[int]:
    """``epochs`` (default: every asked epoch with a map), checked to have a map."""
    if not hasattr(visualization, "results_"):
        raise ConfigError("This Visualization is not fitted yet; call fit first.")
    mapped = [e for e in visualization.epochs_ if e in visualization.results_]  # results_ may hold more (a chain's)
    epochs = mapped if epochs is None else epochs
    missing = [e for e in epochs if e not in mapped]
    if missing or not epochs:
        what = f"epochs {missing} have" if missing else "the run has"
        raise ConfigError(f"{what} no {visualization.method} map yet: compute them first (`ttv render` does, "
                          "as does the dashboard's Train page).")
    return sorted(epochs)


def _frames(visualization, style, epochs, predictions, on_frame) -> Iterator[tuple[int, bytes]]:
    """Each epoch's frame PNG, from the cache or rendered now; ``on_frame(done, total)`` after each. The
    dots' colours come from ``predictions`` (split -> prediction history), read from the cache when None."""
    from ..evaluate.predictions import prediction_history

    predictions = predictions or {split: prediction_history(visualization.dynamics, split, epochs=epochs,
                                                            cache_dir=visualization.cache_dir) for split in style.splits}
    for index, epoch in enumerate(epochs, start=1):
        frame = epoch_frame(visualization, epoch, predictions, style)
        if on_frame is not None:
            on_frame(index, len(epochs))
        yield epoch, frame


# -- pictures: a frame with its header and legend ---------------------------------------------------
def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: the small bitmap font
        return ImageFont.load_default()


def _flow(draw, items: list[tuple[tuple[int, int, int] | None, str]], font, width: int, unit: int) -> list[list]:
    """Lay out (swatch colour or None, text) items in lines that fit ``width``: [[(x, colour, text)], ...]."""
    lines: list[list] = [[]]
    x = unit // 2
    for colour, text in items:
        wide = (unit if colour is not None else 0) + int(draw.textlength(text, font=font)) + unit
        if lines[-1] and x + wide > width:
            lines.append([])
            x = unit // 2
        lines[-1].append((x, colour, text))
        x += wide
    return lines


def _legend(width: int, classes: list[str], colour_by: str) -> Image.Image:
    """The strip under every picture: a swatch and the name of each class, then how to read a dot."""
    from PIL import Image, ImageDraw

    unit = max(10, round(width / 40))
    font, small = _font(unit), _font(max(9, round(unit * 0.8)))
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    colours = [tuple(int(v) for v in rgb) for rgb in palette(len(classes))]
    swatches = _flow(draw, list(zip(colours, map(str, classes))), font, width, unit)
    fill, ring = ("label", "prediction") if colour_by == "label" else ("prediction", "label")
    note = f"Dot: fill = {fill}, ring = {ring} (a ringed dot is misclassified). Test samples: white halo."
    notes = _flow(draw, [(None, word) for word in note.split()], small, width, max(4, unit // 3))
    row, small_row = round(unit * 1.6), round(unit * 1.3)
    strip = Image.new("RGB", (width, row * len(swatches) + small_row * len(notes) + unit // 2), PAPER)
    draw = ImageDraw.Draw(strip)
    for number, line in enumerate(swatches):
        top = unit // 4 + number * row
        for x, colour, text in line:
            draw.rectangle([x, top + unit // 4, x + unit * 3 // 4, top + unit], fill=colour)
            draw.text((x + unit, top + unit // 8), text, font=font, fill=INK)
    for number, line in enumerate(notes):
        top = unit // 4 + len(swatches) * row + number * small_row
        for x, _, text in line:
            draw.text((x, top), text, font=small, fill=FAINT)
    return strip


def _header(width: int, epoch: int, subtitle: str) -> Image.Image:
    """The strip above a picture: "Epoch N" on the left, the run and method on the right (cut to fit)."""
    from PIL import Image, ImageDraw

    unit = max(10, round(width / 40))
    strip = Image.new("RGB", (width, round(unit * 2.2)), PAPER)
    draw, font, small = ImageDraw.Draw(strip), _font(round(unit * 1.3)), _font(unit)
    label = f"Epoch {epoch}"
    draw.text((unit // 2, unit // 3), label, font=font, fill=INK)
    room = width - int(draw.textlength(label, font=font)) - 2 * unit
    while subtitle and draw.textlength(subtitle, font=small) > room:
        subtitle = subtitle[:-2] + "…" if len(subtitle) > 2 else ""
    draw.text((width - unit // 2, round(unit * 1.1)), subtitle, font=small, fill=FAINT, anchor="rm")
    return strip


def _pictures(visualization, style, epochs, predictions, title, on_frame) -> Iterator[tuple[int, Image.Image]]:
    """Each epoch's picture: header, frame, legend; every one the size of the first."""
    from PIL import Image

    subtitle = f"{title if title is not None else run_name(visualization)} · {METHOD_TITLES[visualization.method]}"
    legend = size = None
    for epoch, frame in _frames(visualization, style, epochs, predictions, on_frame):
        image = Image.open(io.BytesIO(frame)).convert("RGB")
        size = size or image.size
        if image.size != size:  # the windows share one aspect, so this is a pixel of rounding at most
            image = image.resize(size, Image.Resampling.BILINEAR)
        legend = legend or _legend(size[0], list(visualization.dynamics.classes), style.colour_by)
        header = _header(size[0], epoch, subtitle)
        picture = Image.new("RGB", (size[0], header.height + size[1] + legend.height), PAPER)
        for part, top in ((header, 0), (image, header.height), (legend, header.height + size[1])):
            picture.paste(part, (0, top))
        yield epoch, picture


# -- the exporters -----------------------------------------------------------------------------------
def epoch_png(visualization: Visualization, epoch: int, style: FrameStyle = FrameStyle(), *,
              predictions: dict[str, PredictionHistory] | None = None, title: str | None = None) -> bytes:
    """PNG of one epoch's picture: its frame with header and legend."""
    epochs = mapped_epochs(visualization, [epoch])
    ((_, picture),) = list(_pictures(visualization, style, epochs, predictions, title, None))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def animation_gif(visualization: Visualization, style: FrameStyle = FrameStyle(), *, epochs: list[int] | None = None,
                  fps: float = DEFAULT_FPS, predictions: dict[str, PredictionHistory] | None = None,
                  title: str | None = None, on_frame: Callable[[int, int], None] | None = None) -> bytes:
    """Animated GIF, one frame per epoch with a map, looping forever at ``fps`` epochs per second.

    Each frame gets its own 256-colour palette, undithered: territories are flat colours and soft
    borders, which an adaptive palette keeps; dithering would only add noise (and bytes).
    """
    from PIL import Image

    duration = round(1000 / check_fps(fps) / 10) * 10 or 10  # GIF delays are in hundredths of a second
    frames = [picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
              for _, picture in _pictures(visualization, style, mapped_epochs(visualization, epochs), predictions,
                                          title, on_frame)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0,
                   optimize=False, disposal=1)
    return buffer.getvalue()


def animation_mp4(visualization: Visualization, style: FrameStyle = FrameStyle(), *, epochs: list[int] | None = None,
                  fps: float = DEFAULT_FPS, predictions: dict[str, PredictionHistory] | None = None,
                  title: str | None = None, on_frame: Callable[[int, int], None] | None = None) -> bytes:
    """MP4 video (H.264, yuv420p: plays in every browser and player), one frame per epoch at ``fps``.

    yuv420p needs an even width and height: an odd one gets a white row or column more.
    """
    import imageio_ffmpeg  # ships its own ffmpeg binary

    fps = check_fps(fps)
    pictures = _pictures(visualization, style, mapped_epochs(visualization, epochs), predictions, title, on_frame)
    with tempfile.TemporaryDirectory(prefix="ttv-mp4-") as folder:
        path, writer = Path(folder) / "animation.mp4", None
        for _, picture in pictures:
            image = np.asarray(picture)
            rows, columns = image.shape[0] + image.shape[0] % 2, image.shape[1] + image.shape[1] % 2
            if writer is None:
                writer = imageio_ffmpeg.write_frames(
                    str(path), (columns, rows), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=MP4_QUALITY,
                    macro_block_size=1, output_params=["-movflags", "+faststart", "-tune", "animation"])
                writer.send(None)  # starts ffmpeg
            even = np.full((rows, columns, 3), PAPER, dtype=np.uint8)
            even[: image.shape[0], : image.shape[1]] = image
            writer.send(even)
        writer.close()
        return path.read_bytes()


def html_player(visualization: Visualization, style: FrameStyle = FrameStyle(), *, epochs: list[int] | None = None,
                fps: float = DEFAULT_FPS, predictions: dict[str, PredictionHistory] | None = None,
                title: str | None = None, on_frame: Callable[[int, int], None] | None = None) -> bytes:
    """One HTML file that plays the animation in any browser, offline: every frame inside it as a PNG data
    URL, a small player (play/pause, an epoch slider, the epoch, a speed menu; space and the arrow keys),
    the legend in HTML. Its Content-Security-Policy forbids every request but its own data URLs."""
    import base64

    from PIL import Image

    fps, epochs = check_fps(fps), mapped_epochs(visualization, epochs)
    pngs = [png for _, png in _frames(visualization, style, epochs, predictions, on_frame)]
    frames = [f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" for png in pngs]
    width, height = Image.open(io.BytesIO(pngs[0])).size
    classes = list(visualization.dynamics.classes)
    legend = "".join(f'<span><i style="background:{colour}"></i>{html.escape(str(name))}</span>'
                     for name, colour in zip(classes, palette_css(len(classes))))
    fill, ring = ("label", "prediction") if style.colour_by == "label" else ("prediction", "label")
    name = title if title is not None else run_name(visualization)
    speeds = sorted({*SPEEDS, fps})
    return _PAGE.substitute(
        title=html.escape(name), version=html.escape(__version__), method=html.escape(METHOD_TITLES[visualization.method]),
        span=f"{len(epochs)} epoch{'s' if len(epochs) != 1 else ''} ({epochs[0]}–{epochs[-1]})",
        width=width, height=height, last=len(epochs) - 1, legend=legend, fill=fill, ring=ring,
        speeds="".join(f'<option value="{s:g}"{" selected" if s == fps else ""}>{s:g} epochs/s</option>' for s in speeds),
        epochs=json.dumps(epochs), frames=json.dumps(frames),
    ).encode("utf-8")


# -- figures and the result bundle --------------------------------------------------------------------
def epoch_figures(visualization: Visualization, *, evaluate: bool = True) -> dict[int, dict]:
    """Epoch -> figures over the epochs with a map; with ``evaluate=False`` only those already in the cache
    (the dashboard evaluates them in the background)."""
    per_epoch = {e: visualization.figures(e, compute=evaluate) for e in mapped_epochs(visualization)}
    return {e: f for e, f in per_epoch.items() if f is not None}


def figures_json(visualization: Visualization, *, evaluate: bool = True) -> bytes:
    """The figures in the original tools' evaluation JSON (:func:`~ttv_core.evaluate.figures.to_original_json`);
    the run's temporal figures are computed either way (seconds)."""
    from ..evaluate.figures import to_original_json

    figures = to_original_json(epoch_figures(visualization, evaluate=evaluate), visualization.temporal(),
                               k=visualization.config.evaluation.figures_k)
    return (json.dumps(figures, indent=2) + "\n").encode("utf-8")


def figures_csv(visualization: Visualization, *, evaluate: bool = True) -> bytes:
    """One row per evaluated epoch: epoch, method, every figure under its original key, k (as the Metrics
    page's download; a missing figure is left empty)."""
    from ..evaluate.figures import FIGURE_KEYS

    per_epoch, buffer = epoch_figures(visualization, evaluate=evaluate), io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["epoch", "method", *FIGURE_KEYS, "k"])
    for epoch, figures in sorted(per_epoch.items()):
        writer.writerow([epoch, visualization.method, *("" if figures.get(key) is None else figures[key]
                                                        for key in (*FIGURE_KEYS, "k"))])
    return buffer.getvalue().encode("utf-8")


def result_bundle(visualization: Visualization, *, evaluate: bool = True) -> bytes:
    """A zip of the results in ``ttv proxy --out``'s layout (:mod:`ttv_core.run.export`: each epoch's
    embeddings, territory and extent, ``<method>_eval.json``), plus ``figures.csv`` and ``manifest.json``
    (the run, the method, the epochs and the settings the maps were fitted with)."""
    from .export import EVAL_FILES

    epochs = mapped_epochs(visualization)
    extent = dict(zip(("x_min", "y_min", "x_max", "y_max"), visualization.extent_.as_list()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        manifest = {"format": "ttv results", "version": 1, "ttv": __version__, "run": run_name(visualization),
                    "method": visualization.method, "epochs": epochs, "config": visualization.config.to_dict()}
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        for epoch in epochs:
            embeddings = visualization.results_[epoch].embeddings
            bundle.writestr(f"epoch_{epoch}/embedding.npy", npy_bytes(embeddings["train"]))
            bundle.writestr(f"epoch_{epoch}/embedding_test.npy", npy_bytes(embeddings["test"]))
            territory = visualization.territory(epoch)
            if territory is not None:
                bundle.writestr(f"epoch_{epoch}/territory.png", territory.png(), compress_type=zipfile.ZIP_STORED)
            bundle.writestr(f"epoch_{epoch}/extent.json", json.dumps(extent) + "\n")
        bundle.writestr(EVAL_FILES[visualization.method], figures_json(visualization, evaluate=evaluate))
        bundle.writestr("figures.csv", figures_csv(visualization, evaluate=False))  # evaluated just above
    return buffer.getvalue()


def export(visualization: Visualization, kind: str, style: FrameStyle = FrameStyle(), *, epoch: int | None = None,
           fps: float = DEFAULT_FPS, predictions: dict[str, PredictionHistory] | None = None, title: str | None = None,
           evaluate: bool = True, on_frame: Callable[[int, int], None] | None = None) -> bytes:
    """The ``kind`` (one of :data:`FORMATS`) of file: an animation of every epoch with a map, ``epoch``'s
    PNG (default: the last with a map), or the figures / results (evaluated first unless not ``evaluate``)."""
    kind = check_format(kind)
    if kind in ("csv", "json", "zip"):
        return {"csv": figures_csv, "json": figures_json, "zip": result_bundle}[kind](visualization, evaluate=evaluate)
    if kind == "png":
        chosen = mapped_epochs(visualization)[-1] if epoch is None else epoch
        return epoch_png(visualization, chosen, style, predictions=predictions, title=title)
    make = {"gif": animation_gif, "mp4": animation_mp4, "html": html_player}[kind]
    return make(visualization, style, fps=fps, predictions=predictions, title=title, on_frame=on_frame)


_PAGE = string.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="ttv $version">
<title>$title · $method</title>
<style>
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;background:#fff;margin:24px}
main{max-width:${width}px;margin:auto}h1{font-size:20px;margin:0}.ttv-about{color:#666;margin:2px 0 12px}
.ttv-frame{display:block;width:100%;height:auto;background:#f6f6f6}
.ttv-controls{display:flex;gap:12px;align-items:center;margin:10px 0}.ttv-epoch-slider{flex:1}
.ttv-epoch{min-width:9em;font-weight:600;font-variant-numeric:tabular-nums}button{min-width:5em}
.ttv-legend span{white-space:nowrap;margin-right:14px;font-size:14px}
.ttv-legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px}
.ttv-note{color:#666;font-size:13px}
</style></head><body><main class="ttv-player">
<h1>$title</h1><p class="ttv-about">$method · $span · made with ttv $version</p>
<img class="ttv-frame" width="$width" height="$height" alt="The classifier's territories and every sample at the epoch shown">
<div class="ttv-controls"><button type="button" class="ttv-play" aria-pressed="false">Play</button>
<input type="range" class="ttv-epoch-slider" min="0" max="$last" value="$last" aria-label="Epoch">
<span class="ttv-epoch" aria-live="polite"></span>
<label>Speed <select class="ttv-speed">$speeds</select></label></div>
<div class="ttv-legend">$legend</div>
<p class="ttv-note">A dot's fill is its $fill and its ring its $ring: a ringed dot is misclassified. Test samples
have a white halo. Pale bands are where the classifier hesitates. Keys: space plays or pauses, arrows step.</p>
</main><script>
"use strict";
const EPOCHS = $epochs, FRAMES = $frames, pick = (selector) => document.querySelector(selector);
const frame = pick(".ttv-frame"), slider = pick(".ttv-epoch-slider"), label = pick(".ttv-epoch"),
  play = pick(".ttv-play"), speed = pick(".ttv-speed");
let index = EPOCHS.length - 1, timer = null;
FRAMES.forEach((source) => { new Image().src = source; });  // decoded once, so that playing never waits
function show(next) {
  index = (next + EPOCHS.length) % EPOCHS.length;
  frame.src = FRAMES[index]; frame.dataset.epoch = EPOCHS[index]; slider.value = index;
  label.textContent = "Epoch " + EPOCHS[index] + " (" + (index + 1) + " of " + EPOCHS.length + ")";
}
function playing(on) { play.textContent = on ? "Pause" : "Play"; play.setAttribute("aria-pressed", String(on)); }
function tick() { clearInterval(timer); timer = setInterval(() => show(index + 1), 1000 / Number(speed.value)); }
function pause() { clearInterval(timer); timer = null; playing(false); }
function start() { if (index === EPOCHS.length - 1) show(0); tick(); playing(true); }  // then it loops
play.addEventListener("click", () => (timer ? pause() : start()));
slider.addEventListener("input", () => { pause(); show(Number(slider.value)); });
speed.addEventListener("change", () => { if (timer) tick(); });
document.addEventListener("keydown", (event) => {
  if (["INPUT", "SELECT", "BUTTON"].includes(event.target.tagName)) return;
  if (event.key === " ") { event.preventDefault(); timer ? pause() : start(); }
  if (event.key === "ArrowRight" || event.key === "ArrowLeft") { pause(); show(index + (event.key === "ArrowRight" ? 1 : -1)); }
});
show(index);
</script></body></html>
""")
