"""Command line: ``ttv COMMAND ...`` (or ``python -m ttv_core COMMAND ...``) for batch runs, the way the
original scripts were used, and ``ttv app`` for the dashboard.

Every expected problem (bad folder, bad argument, missing opt-in) ends the command with one line on
standard error and exit status 2; a traceback means a bug in ttv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

from ..errors import ConfigError, DataError, TTVError

EXIT_USER_ERROR = 2


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        help="a ttv run folder, an original-layout folder (config.json + Model/), or hf://owner/name[@rev][/sub]",
    )
    parser.add_argument(
        "--trust-code",
        action="store_true",
        help="allow running the Model/model.py shipped with an original-layout folder (off by default)",
    )
    parser.add_argument("--cache-dir", help="where ttv keeps derived data (default: $TTV_CACHE_DIR or ~/.cache/ttv)")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..data.demo import DemoConfig

    parser = argparse.ArgumentParser(
        prog="ttv",
        description="ttv: time-travelling visualization of a classifier's training. "
        "(`python -m ttv_core` is the same command.)",
    )
    parser.add_argument("--version", action="version", version=f"ttv {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="train the built-in digits classifier and record its dynamics")
    demo.add_argument("--out", required=True, help="folder to write the run into (must be new or empty)")
    demo.add_argument("--epochs", type=int, default=DemoConfig.epochs, help="epochs to train (default %(default)s)")
    demo.add_argument("--seed", type=int, default=DemoConfig.seed, help="random seed (default %(default)s)")
    demo.add_argument("--overwrite", action="store_true", help="replace a ttv run already in --out")
    demo.set_defaults(handler=_cmd_demo)

    info = commands.add_parser("info", help="check a training-dynamics source and print a JSON summary")
    _add_source_arguments(info)
    info.add_argument("--quick", action="store_true", help="skip reading every epoch's arrays (no NaN/shape scan)")
    info.set_defaults(handler=_cmd_info)

    evaluate = commands.add_parser("eval-subject", help="train/test accuracy of the subject model per epoch")
    _add_source_arguments(evaluate)
    evaluate.add_argument("--out", help="write the JSON here instead of standard output")
    evaluate.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    evaluate.set_defaults(handler=_cmd_eval_subject)

    from .export import LAYOUTS
    from .visualize import METHODS

    helps = {"proxy": "TrustVis proxy training: a 2-D map with territories per epoch",
             "al": "proxy training refined by active learning (trustworthy territories)",
             "umap": "baseline: umap-learn per epoch, aligned to the previous epoch (no territories)"}
    for method in METHODS:
        command = commands.add_parser(method, help=helps[method])
        _add_visualization_arguments(command)
        command.add_argument("--out", help="write embeddings, territories and <method>_eval.json here")
        command.add_argument("--no-frames", dest="frames", action="store_false",
                             help="do not render the dashboard's frames of the maps into the cache (by default they "
                             "are, so the dashboard opens on a picture and plays at once)")
        command.set_defaults(handler=_cmd_visualize, method=method)
    export = commands.add_parser("export", help="write a method's results under the original tool's file names")
    _add_visualization_arguments(export)
    export.add_argument("--method", choices=METHODS, default="proxy", help="which maps (default %(default)s)")
    export.add_argument("--layout", choices=LAYOUTS, default="original", help="file names (default %(default)s)")
    export.add_argument("--out", required=True, help="folder to write into")
    export.set_defaults(handler=_cmd_export)
    _add_render_parser(commands)
    from .publish import add_parser as add_publish_parser

    add_publish_parser(commands, _add_visualization_arguments)

    app = commands.add_parser("app", help="start the dashboard in the browser (needs: pip install \"ttv[app]\")")
    app.add_argument("--port", type=int, default=8501, help="port to serve on (default %(default)s)")
    app.add_argument("streamlit_options", nargs=argparse.REMAINDER, metavar="-- OPTIONS",
                     help="further `streamlit run` options, after --, e.g. -- --server.headless=true")
    app.set_defaults(handler=_cmd_app)
    return parser


def _add_render_parser(commands) -> None:
    from ..draw.frames import FrameStyle
    from .render import DEFAULT_FPS, FORMATS
    from .visualize import METHODS

    render = commands.add_parser("render", help="the animation as GIF, MP4 or one HTML file, an epoch as PNG, the "
                                 "figures as CSV or JSON, or the results as a zip (missing maps computed first)")
    _add_visualization_arguments(render)
    render.add_argument("--method", choices=METHODS, default="proxy", help="which maps (default %(default)s)")
    render.add_argument("--format", help=f"{', '.join(FORMATS)} (default: the one --out's suffix names)")
    render.add_argument("--out", required=True, help="the file to write")
    render.add_argument("--epoch", type=int, help="--format png: the epoch drawn (default: the last of --epochs)")
    render.add_argument("--colour", default=FrameStyle.colour_by, help="dot colour: label or prediction "
                        "(default %(default)s; the other rings a misclassified dot)")
    render.add_argument("--size", type=int, default=FrameStyle.size, help="frame width in pixels for a square map, "
                        "about as many pixels in all for another shape (default %(default)s)")
    render.add_argument("--frame", default="follow", help="follow: each epoch's window fits its dots; whole: one "
                        "window for every epoch (default %(default)s)")
    render.add_argument("--fps", type=float, default=DEFAULT_FPS, help="epochs per second (default %(default)s)")
    render.add_argument("--title", help="the run's name on the pictures (default: its folder's name)")
    render.set_defaults(handler=_cmd_render)


def _add_visualization_arguments(parser: argparse.ArgumentParser) -> None:
    """Source arguments, --epochs, --overwrite and one flag per VisConfig field (defaults from the config)."""
    import dataclasses

    from ..config import Runtime, VisConfig

    _add_source_arguments(parser)
    parser.add_argument("--epochs", help="epochs to show: 5, 1:20 (inclusive), 10: or 1,5,9 (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="replace ttv's output files in --out")
    defaults = VisConfig()
    for section in (*VisConfig.sections(), "seed"):
        title = "seed" if section == "seed" else f"{section} settings"
        group = parser.add_argument_group(f"{title} (ttv_core.config.VisConfig: they change the results)")
        fields = [("seed", 0)] if section == "seed" else [(f.name, getattr(getattr(defaults, section), f.name))
                                                          for f in dataclasses.fields(getattr(defaults, section))]
        for name, default in fields:
            kind = type(default)
            group.add_argument("--" + name.replace("_", "-"), dest=f"config_{name}", type=kind, default=default,
                               metavar=kind.__name__.upper(), help="default %(default)s")
    group = parser.add_argument_group("where it runs (ttv_core.config.Runtime: changes no result)")
    for field in dataclasses.fields(Runtime):
        kind = type(field.default)
        group.add_argument("--" + field.name.replace("_", "-"), dest=f"runtime_{field.name}", type=kind,
                           default=field.default, metavar=kind.__name__.upper(), help="default %(default)s")


def parse_epochs(text: str | None, available: tuple[int, ...]) -> list[int]:
    """``"5"``, ``"1:20"`` (inclusive), ``"10:"``, ``":5"`` or ``"1,5,9"`` -> the matching recorded epochs."""
    if text is None:
        return list(available)
    try:
        if ":" in text:
            low, high = (part.strip() for part in text.split(":", 1))
            first, last = int(low) if low else available[0], int(high) if high else available[-1]
            chosen = [e for e in available if first <= e <= last]
        else:
            chosen = [int(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(f"--epochs {text!r}: write 5, 1:20, 10: or 1,5,9.") from None
    missing = [e for e in chosen if e not in available]
    if missing or not chosen:
        raise ConfigError(
            f"--epochs {text!r} names no recorded epoch{'s ' + str(missing) if missing else 's'}; the run has "
            f"epochs {available[0]}..{available[-1]} ({len(available)} recorded)."
        )
    return chosen


def _flags(build, **values):
    """``build(**values)``, its settings' errors naming them as typed: ``--resolution must be ...``, not
    ``The 'resolution' parameter of RenderConfig must ...`` (every setting's flag is its name with dashes)."""
    try:
        return build(**values)
    except ConfigError as error:
        if error.parameter not in values:
            raise
        raise ConfigError(f"--{error.parameter.replace('_', '-')} {error.requirement}") from None


def _settings(args: argparse.Namespace):
    """The VisConfig and Runtime of the flags, checked before anything is opened, written or allocated."""
    from ..config import Runtime, VisConfig

    values = {name[len("config_"):]: value for name, value in vars(args).items() if name.startswith("config_")}
    runtime = {name[len("runtime_"):]: value for name, value in vars(args).items() if name.startswith("runtime_")}
    return _flags(VisConfig.of, **values), _flags(Runtime, **runtime)


def _visualization(args: argparse.Namespace, method: str):
    from .visualize import Visualization

    config, runtime = _settings(args)
    dynamics = _open(args)
    epochs = parse_epochs(args.epochs, dynamics.epochs)
    visualization = Visualization(dynamics, method, config, args.cache_dir, runtime)
    from tqdm import tqdm

    from .fanout import fit_parallel
    from .chain import chain_of

    chain = chain_of(list(dynamics.epochs), epochs, visualization.config.layout.stretch_epochs, lands=method != "umap")
    with tqdm(total=len(chain), unit="epoch", file=sys.stderr, desc=method) as bar:
        def report(progress) -> None:
            bar.set_postfix_str(f"epoch {progress.epoch} {progress.status}")
            bar.update(1)

        def stretch_done(stretch: list[int]) -> None:
            bar.set_postfix_str(f"epochs {stretch[0]}-{stretch[-1]} done")
            bar.update(len(stretch))

        # one stretch after the other here, or side by side on --backend with --jobs (see ttv_core.run.fanout)
        # slim: a 200-epoch run at 60,000 samples holds 112 MB of maps, not 380 (the outputs read models back)
        fit_parallel(visualization, epochs, on_epoch_end=report, on_stretch_end=stretch_done, slim=True,
                     on_stretches=lambda todo: bar.set_postfix_str(f"{len(todo)} stretches on {runtime.backend}, "
                                                                   "each shown when done"))
    return visualization


def _figures(visualization) -> None:
    """Evaluate every fitted epoch's figures into the cache, with a progress bar (at 60,000 samples an
    epoch's exact neighbours take about a minute: without one the command looked hung)."""
    from tqdm import tqdm

    epochs = [e for e in visualization.epochs_ if e in visualization.results_]
    with tqdm(total=len(epochs), unit="epoch", file=sys.stderr, desc="figures") as bar:
        for epoch in epochs:
            visualization.figures(epoch)
            bar.update(1)


def _frames(visualization) -> None:
    """The dashboard's first frames, with a progress bar (at 60,000 samples about 0.6 s an epoch)."""
    from tqdm import tqdm

    from .frames import render_opening_frames

    with tqdm(unit="frame", file=sys.stderr, desc="frames") as bar:
        render_opening_frames(visualization, on_frame=lambda _, total: (setattr(bar, "total", total), bar.update(1)))


def _cmd_visualize(args: argparse.Namespace) -> int:
    from .export import check_out, write_results

    if args.out:
        check_out(args.out, args.overwrite)  # refused now, created once there are results
    visualization = _visualization(args, args.method)
    _figures(visualization)  # both outputs hold them
    if args.out:
        write_results(visualization, args.out, overwrite=args.overwrite)
        _progress(f"wrote {args.out}")
    else:
        print(json.dumps(visualization.evaluation(), indent=1))
    if args.frames:  # last: what was asked for is out before the dashboard's frames are drawn
        _frames(visualization)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import check_out, write_original_layout, write_results
    from ..evaluate.subject import evaluate_subject

    check_out(args.out, args.overwrite)  # refused now, created once the run is opened, checked and fitted
    visualization = _visualization(args, args.method)
    if args.layout == "original":
        subject = evaluate_subject(visualization.dynamics, epochs=visualization.epochs_)
        write_original_layout(visualization, args.out, subject=subject, overwrite=args.overwrite)
    else:
        write_results(visualization, args.out, overwrite=args.overwrite)
    _progress(f"wrote {args.out}")
    return 0


def _cmd_render(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from tqdm import tqdm

    from .._io import atomic_write_bytes
    from ..data.dynamics import SPLITS
    from ..draw.frames import COLOUR_BY
    from .render import ANIMATIONS, check_format, check_fps, export, export_style

    kind = check_format(args.format, args.out)  # every flag is checked before the run is opened and fitted
    if Path(args.out).is_dir() or (Path(args.out).exists() and not args.overwrite):
        raise DataError(f"{args.out}: already exists; pass --overwrite to replace the file, or choose another --out.")
    if args.colour not in COLOUR_BY:
        raise ConfigError(f"--colour {args.colour!r}: use {' or '.join(COLOUR_BY)}.")
    if args.frame not in ("follow", "whole"):
        raise ConfigError(f"--frame {args.frame!r}: use follow (each epoch's window fits its dots) or whole.")
    if args.epoch is not None and kind != "png":
        raise ConfigError(f"--epoch draws one epoch with --format png; --format {kind} takes the epochs of --epochs.")
    fps = _flags(check_fps, fps=args.fps)
    style = _flags(export_style, size=args.size, colour_by=args.colour, follow=args.frame == "follow")
    args.epochs = args.epochs if args.epochs is not None or args.epoch is None else str(args.epoch)
    visualization = _visualization(args, args.method)
    if args.epoch is not None and args.epoch not in visualization.epochs_:
        raise ConfigError(f"--epoch {args.epoch} is not among --epochs {args.epochs}: pick one of them.")
    if kind in ("csv", "json", "zip"):
        _figures(visualization)
    start, present = time.perf_counter(), tuple(s for s in SPLITS if s == "train" or visualization.dynamics.n_test)
    with tqdm(total=len(visualization.epochs_), unit="frame", file=sys.stderr, desc=kind,
              disable=kind not in ANIMATIONS) as bar:
        data = export(visualization, kind, replace(style, splits=present), epoch=args.epoch, fps=fps,
                      title=args.title, on_frame=lambda done, total: bar.update(1))
    atomic_write_bytes(args.out, data)
    _progress(f"wrote {args.out} ({len(data) / 1e6:.2f} MB) in {time.perf_counter() - start:.1f} s")
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:
    from ..data.demo import DemoConfig, make_demo

    from ..data import runformat

    config = _flags(DemoConfig, epochs=args.epochs, seed=args.seed)
    if runformat.is_run(args.out) and not args.overwrite:
        raise DataError(f"{args.out}: already holds a ttv run; pass --overwrite to replace it, or choose another --out.")
    start = time.perf_counter()

    def report(epoch: int, figures: dict[str, float]) -> None:
        _progress(f"epoch {epoch:>3}/{config.epochs}  loss {figures['loss']:.3f}  test acc {figures['test_acc']:.1%}")

    out = make_demo(args.out, config=config, mode="overwrite" if args.overwrite else "new", on_epoch_end=report)
    _progress(f"recorded {config.epochs} epochs in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


def _open(args: argparse.Namespace):
    from ..data.load import load_dynamics

    device = getattr(args, "runtime_device", "auto")
    return load_dynamics(args.path, trust_code=args.trust_code, cache_dir=args.cache_dir,
                         device=None if device == "auto" else device)


def _cmd_info(args: argparse.Namespace) -> int:
    dynamics = _open(args)
    if not args.quick:
        dynamics.validate()
    print(json.dumps(dynamics.summary(), indent=2))
    return 0


def _cmd_eval_subject(args: argparse.Namespace) -> int:
    from .._io import atomic_write_json
    from ..evaluate.subject import evaluate_subject

    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.overwrite:
        raise DataError(f"{out}: already exists; pass --overwrite to replace it, or choose another --out.")
    dynamics = _open(args)
    result = evaluate_subject(
        dynamics,
        on_epoch_end=lambda e, f: _progress(
            f"epoch {e}: train {_percent(f['train_acc'])}  test {_percent(f['test_acc'])}"
        ),
    )
    if out is None:
        print(json.dumps(result, indent=2))
    else:
        atomic_write_json(out, result)
        _progress(f"wrote {out}")
    return 0


# The dashboard's Streamlit settings, given as flags so they hold from any folder (.streamlit/config.toml
# at the repository root says the same for `streamlit run streamlit_app.py` and Community Cloud).
APP_OPTIONS = ("--browser.gatherUsageStats=false", "--client.toolbarMode=minimal")


def _cmd_app(args: argparse.Namespace) -> int:
    import importlib.util
    import subprocess

    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: a port is a number from 1 to 65535; the default is 8501.")
    if importlib.util.find_spec("streamlit") is None:
        raise ConfigError('the dashboard needs Streamlit, which is not installed: pip install "ttv[app]".')
    script = Path(__file__).resolve().parents[1] / "app" / "streamlit_app.py"
    extra = [option for option in args.streamlit_options if option != "--"]
    command = [sys.executable, "-m", "ttv_core.app.serve", "run", str(script), f"--server.port={args.port}", *APP_OPTIONS,
               *extra]  # streamlit run, after the pages' heavy imports: see ttv_core.app.serve
    return subprocess.call(command)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


_DEFAULT_SHOW_WARNING = warnings.showwarning
_PACKAGE = str(Path(__file__).resolve().parents[1])


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """ttv's own warnings as one line, as its errors are (they are written for the user, not for a debugger);
    other packages' warnings as Python shows them."""
    if str(Path(filename).resolve()).startswith(_PACKAGE):
        print(f"warning: {message}", file=sys.stderr, flush=True)
    else:
        _DEFAULT_SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.handler(args)
    except TTVError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
