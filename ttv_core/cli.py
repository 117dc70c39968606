"""Command line: ``python -m ttv_core COMMAND ...`` for batch runs, the way the original scripts were used.

Every expected problem (bad folder, bad argument, missing opt-in) ends the command with one line on
standard error and exit status 2; a traceback means a bug in ttv.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from .errors import DataError, TTVError

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
    from . import __version__
    from .demo import DemoConfig

    parser = argparse.ArgumentParser(
        prog="python -m ttv_core",
        description="ttv: time-travelling visualization of a classifier's training.",
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
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DemoConfig, make_demo

    from . import runformat

    config = DemoConfig(epochs=args.epochs, seed=args.seed)
    if runformat.is_run(args.out) and not args.overwrite:
        raise DataError(f"{args.out}: already holds a ttv run; pass --overwrite to replace it, or choose another --out.")
    start = time.perf_counter()

    def report(epoch: int, figures: dict[str, float]) -> None:
        _progress(f"epoch {epoch:>3}/{config.epochs}  loss {figures['loss']:.3f}  test acc {figures['test_acc']:.1%}")

    out = make_demo(args.out, config=config, mode="overwrite" if args.overwrite else "new", on_epoch_end=report)
    _progress(f"recorded {config.epochs} epochs in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


def _open(args: argparse.Namespace):
    from .dynamics import load_dynamics

    return load_dynamics(args.path, trust_code=args.trust_code, cache_dir=args.cache_dir)


def _cmd_info(args: argparse.Namespace) -> int:
    dynamics = _open(args)
    if not args.quick:
        dynamics.validate()
    print(json.dumps(dynamics.summary(), indent=2))
    return 0


def _cmd_eval_subject(args: argparse.Namespace) -> int:
    from ._io import atomic_write_json
    from .subject import evaluate_subject

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


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 bad input, 130 interrupted)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except TTVError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
