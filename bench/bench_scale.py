"""The scale benchmark: ttv's chain on CIFAR-sized runs, seconds per epoch and peak memory by size.

Run from the repository root::

    python bench/bench_scale.py --quick                      # 10,000 samples, epochs 1-3 (~2 min)
    python bench/bench_scale.py                              # 10k / 30k / 60k, epochs 1-3 each (~20 min)
    python bench/bench_scale.py --sizes 60000 --epochs 5 --threads 2 --quality --json scale.json

For each size N it builds (once, in the cache) the first ``--epochs`` epochs of a synthetic 200-epoch
run of N training and N / 6 test samples in 512 dimensions (``ttv_core.data.synthetic``: clustered
representations that drift, split and merge, with a linear head), as a CIFAR-10 ResNet-18 run is
50,000 + 10,000 x 512 x 200 epochs. Then, in a fresh Python process per size, it fits the chain the
way ``ttv proxy RUN`` does (``Visualization(...).fit``, fresh cache, territory of every epoch) and
reports per epoch the seconds, and for the process its peak resident memory (``wait4``'s maxrss).
``--quality`` also fits umap-learn on the last epoch in that process and prints both NN rates
(k = 15, exact neighbours) and their ratio. ``--recall`` compares the approximate kNN the chain uses
past 20,000 samples with an exact search.

The PASS/FAIL lines check issue 11's targets: at most 60 s per warm epoch on 2 cores, peak memory
under 2 GB, the NN rate at least 0.8x umap-learn's (with ``--quality``; the peak memory then includes
umap-learn's), and cost per epoch growing no faster than N (ratio of seconds per sample, largest size
over smallest, at most 1.25). Exit status 1 when one fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

RUN_EPOCHS = 200  # the synthetic run's length: its first epochs change as slowly as a 200-epoch run's do
DIM = 512
TARGET_SECONDS = 60.0  # per warm epoch, 2 cores
TARGET_MEMORY_GB = 2.0
TARGET_GROWTH = 1.25  # seconds per sample, largest size over smallest
TARGET_NN_RATIO = 0.8  # ttv's NN rate over umap-learn's on the last epoch (issue 9's goal, kept at scale)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,30000,60000", help="training samples per run, comma-separated")
    parser.add_argument("--epochs", type=int, default=3, help="epochs 1..this of each run (default 3)")
    parser.add_argument("--threads", type=int, default=2, help="ttv's --cpu-threads (default 2: both cores)")
    parser.add_argument("--quality", action="store_true", help="NN rate of the last epoch against umap-learn's")
    parser.add_argument("--recall", action="store_true", help="recall of the approximate kNN against an exact one")
    parser.add_argument("--quick", action="store_true", help="10,000 samples only")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def ensure_run(n_train: int, epochs: int) -> Path:
    """The first ``epochs`` epochs of the synthetic 200-epoch run with ``n_train`` samples, from the cache."""
    from ttv_core.cachedir import resolve_cache_dir
    from ttv_core.data import runformat
    from ttv_core.data.synthetic import SyntheticConfig, make_synthetic

    config = SyntheticConfig(n_train=n_train, n_test=n_train // 6, dim=DIM, epochs=RUN_EPOCHS)
    target = resolve_cache_dir(None) / "synthetic" / f"scale-{config.key()}-until{epochs}"
    return runformat.build_once(target, lambda folder: make_synthetic(folder, config=config, until=epochs))


CHILD = r"""
import json, sys, tempfile, time
import numpy as np
from ttv_core import load_dynamics
from ttv_core.config import Runtime, VisConfig
from ttv_core.run.visualize import Visualization
run, epochs, threads, quality, recall = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1", sys.argv[5] == "1"
out = {}
start = time.perf_counter()
dynamics = load_dynamics(run)
visualization = Visualization(dynamics, "proxy", VisConfig(), tempfile.mkdtemp(prefix="ttv-scale-"), Runtime(cpu_threads=threads))
seconds = []
def ended(progress):
    seconds.append(progress.seconds)
visualization.fit(list(range(1, epochs + 1)), on_epoch_end=ended)
for index, epoch in enumerate(range(1, epochs + 1)):
    began = time.perf_counter()
    visualization.territory(epoch)
    seconds[index] += time.perf_counter() - began
out["seconds"] = seconds
out["keyframes"] = [e == 1 or bool(visualization.results_[e].state.get("keyframe")) for e in range(1, epochs + 1)]
out["wall"] = time.perf_counter() - start
train = np.asarray(dynamics.representations(epochs))
if quality:
    from ttv_core.evaluate import metrics
    from ttv_core.fit.baseline import UmapBaseline
    out["nn"] = metrics.neighbor_preservation(train, visualization.results_[epochs].embeddings["train"], 15)["rate"]
    began = time.perf_counter()
    embedding = UmapBaseline(n_neighbors=15, min_dist=0.1, seed=0).fit(train).embedding_
    out["umap_seconds"] = time.perf_counter() - began
    out["umap_nn"] = metrics.neighbor_preservation(train, embedding, 15)["rate"]
if recall:
    from ttv_core.fit import knn
    began = time.perf_counter()
    approximate = knn.approximate_knn(train, 15)[0]
    out["approximate_seconds"] = time.perf_counter() - began
    began = time.perf_counter()
    exact = knn.exact_knn(train, 15)[0]
    out["exact_seconds"] = time.perf_counter() - began
    out["recall"] = knn.recall(approximate, exact)
print("RESULT " + json.dumps(out), flush=True)
"""


def measure(run: Path, arguments: argparse.Namespace) -> dict:
    """Fit the chain in a fresh process; its figures plus its peak resident memory in GB."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(run), str(arguments.epochs), str(arguments.threads),
                              "1" if arguments.quality else "0", "1" if arguments.recall else "0"],
                             stdout=subprocess.PIPE, text=True, cwd=HERE.parent)
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if child.returncode or not lines:
        raise SystemExit(f"the chain on {run} failed (exit {child.returncode}):\n{output[-2000:]}")
    return {**json.loads(lines[-1][len("RESULT "):]), "peak_gb": usage.ru_maxrss / 2**20}


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    sizes = [10_000] if arguments.quick else [int(s) for s in arguments.sizes.split(",")]
    results = {}
    for n in sizes:
        run = ensure_run(n, arguments.epochs)
        results[n] = measure(run, arguments)
        r = results[n]
        line = " ".join(f"{s:.1f}{'k' if key else ''}" for s, key in zip(r["seconds"], r["keyframes"]))
        print(f"{n:>6} train x {DIM}: seconds per epoch {line} (k: laid out afresh); peak {r['peak_gb']:.2f} GB",
              flush=True)
        if "nn" in r:
            print(f"        NN rate epoch {arguments.epochs}: ttv {r['nn']:.3f}, umap-learn {r['umap_nn']:.3f} "
                  f"({r['nn'] / r['umap_nn']:.2f}x); umap-learn {r['umap_seconds']:.1f} s")
        if "recall" in r:
            print(f"        kNN recall {r['recall']:.4f}: approximate {r['approximate_seconds']:.1f} s, "
                  f"exact {r['exact_seconds']:.1f} s")
    failed = 0

    def verdict(ok: bool, text: str) -> None:
        nonlocal failed
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}  {text}")

    warm = {n: [s for s, key in zip(r["seconds"], r["keyframes"]) if not key] for n, r in results.items()}
    for n, seconds in warm.items():
        if seconds:
            verdict(max(seconds) <= TARGET_SECONDS, f"{n}: warm epochs <= {TARGET_SECONDS:.0f} s: max {max(seconds):.1f} s")
    for n, r in results.items():
        if "nn" in r:
            ratio = r["nn"] / r["umap_nn"]
            verdict(ratio >= TARGET_NN_RATIO, f"{n}: NN rate >= {TARGET_NN_RATIO} x umap-learn's: {ratio:.2f}x")
        verdict(r["peak_gb"] <= TARGET_MEMORY_GB, f"{n}: peak memory <= {TARGET_MEMORY_GB} GB: {r['peak_gb']:.2f} GB")
    if len(results) > 1 and all(warm.values()):
        per_sample = {n: statistics.median(s) / n for n, s in warm.items()}
        growth = per_sample[max(per_sample)] / per_sample[min(per_sample)]
        verdict(growth <= TARGET_GROWTH, f"cost per sample, {max(sizes)} over {min(sizes)}: {growth:.2f} "
                                         f"(<= {TARGET_GROWTH}: no faster than linear)")
    if arguments.json:
        arguments.json.write_text(json.dumps({str(n): r for n, r in results.items()}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
