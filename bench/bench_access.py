"""Random access and fan-out: the cost of opening a late epoch cold, and the speed-up of fitting stretches side by side.

Run from the repository root::

    python bench/bench_access.py                     # 10,000 x 512: open epoch 190 of 200; 2 stretches on 2 workers
    python bench/bench_access.py --n 60000 --skip-fanout

``open``: a synthetic 200-epoch run of N x 512 (``ttv_core.data.synthetic``) recorded with only the
epochs that opening epoch 190 needs (the keyframes 1, 21, ..., 181 and epochs 182-190 with stretches of
20), then ``Visualization(...).fit([190])`` in a fresh cache: seconds, and how many epochs it fitted.
Without stretches the same request fits 190 epochs; the line prints that cost as 190 x the median
seconds of the warm epochs just measured.

``fanout``: the first ``1 + 2 x --stretch`` epochs of the same run, with ``stretch_epochs = --stretch``
(keyframes 1, 1 + K and 1 + 2K, fitted in the driver, and two stretches of K - 1 epochs between them):
fitted with ``jobs=1`` (one process), then with ``--jobs`` local worker processes (joblib's loky), each
in a fresh cache. Prints both wall times, the speed-up, and whether the maps are identical.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

RUN_EPOCHS, DIM = 200, 512


def synthetic(n_train: int, *, until: int | None = None, only: list[int] | None = None) -> Path:
    from ttv_core.cachedir import resolve_cache_dir
    from ttv_core.data import runformat
    from ttv_core.data.synthetic import SyntheticConfig, make_synthetic

    config = SyntheticConfig(n_train=n_train, n_test=n_train // 6, dim=DIM, epochs=RUN_EPOCHS)
    name = f"until{until}" if until else "only" + "-".join(map(str, only))
    target = resolve_cache_dir(None) / "synthetic" / f"scale-{config.key()}-{name}"
    return runformat.build_once(target, lambda folder: make_synthetic(folder, config=config, until=until, only=only))


def open_late(n_train: int, epoch: int, stretch: int, threads: int) -> dict:
    from ttv_core import load_dynamics
    from ttv_core.config import Runtime, VisConfig
    from ttv_core.run.chain import chain_of
    from ttv_core.run.visualize import Visualization

    needed = chain_of(list(range(1, RUN_EPOCHS + 1)), [epoch], stretch)
    dynamics = load_dynamics(synthetic(n_train, only=needed))
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="ttv-access-") as cache:
        start = time.perf_counter()
        Visualization(dynamics, "proxy", VisConfig.of(stretch_epochs=stretch), cache, Runtime(cpu_threads=threads)).fit(
            [epoch], on_epoch_end=lambda progress: seconds.__setitem__(progress.epoch, progress.seconds))
        wall = time.perf_counter() - start
    keyframes = [e for e in needed if (e - 1) % stretch == 0]
    warm = [s for e, s in seconds.items() if e not in keyframes]
    print("seconds by epoch: " + ", ".join(f"{e}{'*' if e in keyframes else ''} {s:.1f}" for e, s in sorted(seconds.items())),
          "(* keyframe)", flush=True)
    return {"epoch": epoch, "wall": wall, "fitted": sorted(seconds), "seconds": seconds, "keyframes": keyframes,
            "whole_chain_estimate": epoch * statistics.median(warm) if warm else None}


def fan_out(n_train: int, stretch: int, jobs: int, threads: int) -> dict:
    import numpy as np

    from ttv_core import load_dynamics
    from ttv_core.config import Runtime, VisConfig
    from ttv_core.run.fanout import fit_parallel
    from ttv_core.run.visualize import Visualization

    dynamics = load_dynamics(synthetic(n_train, until=1 + 2 * stretch))
    config, out = VisConfig.of(stretch_epochs=stretch), {}
    maps = {}
    for workers in (1, jobs):
        with tempfile.TemporaryDirectory(prefix="ttv-fanout-") as cache:
            start = time.perf_counter()
            fitted = fit_parallel(Visualization(dynamics, "proxy", config, cache, Runtime(cpu_threads=threads)),
                                  backend="loky", jobs=workers)
            out[workers] = time.perf_counter() - start
            maps[workers] = [fitted.results_[e].embeddings["train"] for e in dynamics.epochs]
    out["identical"] = all(np.array_equal(a, b) for a, b in zip(maps[1], maps[jobs]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="training samples (default 10,000)")
    parser.add_argument("--epoch", type=int, default=190, help="the late epoch to open (default 190)")
    parser.add_argument("--stretch", type=int, default=None,
                        help="stretch_epochs (default 20 for open, 5 for fanout)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for fanout (default 2)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per fit (default 1)")
    parser.add_argument("--skip-open", action="store_true")
    parser.add_argument("--skip-fanout", action="store_true")
    arguments = parser.parse_args(argv)
    if not arguments.skip_open:
        stretch = arguments.stretch or 20
        r = open_late(arguments.n, arguments.epoch, stretch, arguments.threads)
        estimate = r["whole_chain_estimate"]
        stretch_part = [e for e in r["fitted"] if e not in r["keyframes"]]
        print(f"open epoch {r['epoch']} cold, {arguments.n} x {DIM}, stretch {stretch}: {r['wall']:.1f} s for "
              f"{len(r['fitted'])} epochs: keyframes {', '.join(map(str, r['keyframes']))}"
              + (f" and {stretch_part[0]}-{stretch_part[-1]}" if stretch_part else "")
              + (f"; the whole chain would be ~{estimate:.0f} s ({estimate / r['wall']:.1f}x)" if estimate else ""))
    if not arguments.skip_fanout:
        stretch = arguments.stretch or 5
        r = fan_out(arguments.n, stretch, arguments.jobs, arguments.threads)
        print(f"fan-out, {arguments.n} x {DIM}, epochs 1-{1 + 2 * stretch}, stretches of {stretch}: one process {r[1]:.1f} s, "
              f"{arguments.jobs} workers {r[arguments.jobs]:.1f} s: {r[1] / r[arguments.jobs]:.2f}x; "
              f"maps identical: {r['identical']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
