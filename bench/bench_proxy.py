"""Benchmark of the "proxy" visualization method against umap-learn on the built-in demo.

Run from the repository root::

    python bench/bench_proxy.py                 # epochs 11-20, 3 repeats, plus the fresh-process demo run
    python bench/bench_proxy.py --quick         # 3 epochs, 1 repeat, no demo run (about a minute)
    python bench/bench_proxy.py --epochs 15:15 --set max_passes=60 --set min_dist=0.1

Per epoch it times ttv's proxy method cold (a fresh model) and warm-started (from the previous epoch's
fit, with DVI's temporal strength), each as graph + training + a 200 x 200 territory render, and
umap-learn's warm fit (numba already compiled by an untimed first fit) of the same representations;
then it prints PPR, the neighbour-preservation rate (k = 15, self excluded) and trustworthiness
(k = 15), the ratios the targets are stated in, medians over the epochs, and one PASS/FAIL line per
target. Times are medians of ``--repeats`` runs; proxy and umap-learn runs alternate so that both
see the same load. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_TIME_RATIO = 1.0  # proxy epoch time / umap-learn warm fit time, at most
TARGET_PPR = 0.95  # prediction-preserving rate, train and test, at least
TARGET_NN_RATIO = 0.8  # proxy NN rate / umap-learn NN rate, at least
TARGET_TW_GAP = 0.02  # umap-learn trustworthiness - proxy trustworthiness, at most
TARGET_DEMO_SECONDS = 60.0  # the whole demo (epochs 1-20) in a fresh process, at most
K = 15

DEMO_RUN = """
import time
start = time.perf_counter()
import sys, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
import ttv_core
from ttv_core.config import VisConfig
from ttv_core.fit.graph import nearest_neighbors
from ttv_core.fit.proxy import ProxyVisualizer
from ttv_core.canvas import extent_of
from ttv_core.draw.territory import render_territory
config = VisConfig.of(**{overrides!r})
dynamics = ttv_core.load_dynamics(ttv_core.ensure_demo())
imported = time.perf_counter()
previous, neighbours, passes = None, None, []
for epoch in dynamics.epochs:
    samples, head = dynamics.representations(epoch), dynamics.head(epoch)
    current = nearest_neighbors(samples, {k})[0]
    strength = 0.0 if neighbours is None else sum(
        len(set(a) & set(b)) for a, b in zip(neighbours, current)) / current.size
    visualizer = ProxyVisualizer(config=config).fit(samples, head=head, previous=previous, temporal_strength=strength)
    render_territory(visualizer.inverse_transform, head, extent_of(visualizer.transform(samples)), 200)
    previous, neighbours = visualizer, current
    passes.append(len(visualizer.history_))
done = time.perf_counter()
print("DEMO", imported - start, done - imported, sum(passes))
"""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", default="11:20", help="first:last epoch, inclusive (default 11:20)")
    parser.add_argument("--quick", action="store_true", help="first, middle and last epoch, 1 repeat, no demo run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per epoch and method (median)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and numba threads (default 1: umap-learn with a random_state is single-threaded)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a VisConfig field (repeatable), e.g. --set max_passes=60")
    parser.add_argument("--no-umap", action="store_true", help="skip umap-learn (ratios are not reported)")
    parser.add_argument("--no-warm", action="store_true", help="skip the warm-started sequential pass")
    parser.add_argument("--demo-run", choices=("auto", "yes", "no"), default="auto",
                        help="time epochs 1-20 in a fresh process (auto: not with --quick)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    arguments = parser.parse_args(argv)
    if arguments.quick:
        arguments.repeats = 1
    return arguments


def overrides_of(pairs: list[str]) -> dict:
    """``["max_passes=60", "seed=1"]`` -> ``{"max_passes": 60, "seed": 1}`` (JSON values, else text)."""
    overrides = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        try:
            overrides[name] = json.loads(text)
        except json.JSONDecodeError:
            overrides[name] = text
    return overrides


def epochs_of(arguments: argparse.Namespace, available: tuple[int, ...]) -> list[int]:
    first, _, last = arguments.epochs.partition(":")
    chosen = [e for e in available if int(first) <= e <= int(last or first)]
    if arguments.quick and len(chosen) > 3:
        chosen = [chosen[0], chosen[len(chosen) // 2], chosen[-1]]
    return chosen


def median_seconds(function, repeats: int):
    """Run ``function`` ``repeats`` times; returns (median seconds, last result)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def quality(train, test, embed, decode, head) -> dict:
    """PPR (train/test), NN rate and trustworthiness of a map; ``embed``/``decode`` map arrays."""
    from ttv_core.evaluate import metrics

    embedding = embed(train)
    figures = {"nn": metrics.neighbor_preservation(train, embedding, K)["rate"],
               "tw": metrics.trustworthiness(train, embedding, K)}
    if decode is not None:
        for split, points in (("train", train), ("test", test)):
            round_trip = head.predict(decode(embed(points)))
            figures[f"ppr_{split}"] = metrics.prediction_preserving_rate(head.predict(points), round_trip)
    return figures


def neighbourhood_kept(previous, current) -> float:
    """DVI's temporal strength: mean share of each sample's k nearest neighbours (in D) kept."""
    from ttv_core.run.visualize import neighbourhood_kept as per_sample

    return float(per_sample(previous, current).mean())


class Bench:
    """The demo's epochs, the proxy method under one config, and umap-learn, ready to be timed."""

    def __init__(self, arguments: argparse.Namespace):
        import ttv_core
        from ttv_core.config import VisConfig

        self.arguments, self.overrides = arguments, overrides_of(arguments.set)
        self.config = VisConfig.of(**self.overrides)
        self.dynamics = ttv_core.load_dynamics(ttv_core.ensure_demo())
        self.epochs = epochs_of(arguments, self.dynamics.epochs)

    def data(self, epoch: int):
        """(train representations, test representations, head) of an epoch."""
        dynamics = self.dynamics
        return dynamics.representations(epoch), dynamics.representations(epoch, "test"), dynamics.head(epoch)

    def proxy_epoch(self, epoch: int, previous=None, strength: float = 0.0):
        """What one epoch of the proxy method costs: graph + training (in fit) + a 200 x 200 territory."""
        from ttv_core.fit.proxy import ProxyVisualizer
        from ttv_core.canvas import extent_of
        from ttv_core.draw.territory import render_territory

        train, _, head = self.data(epoch)
        visualizer = ProxyVisualizer(config=self.config).fit(train, head=head, previous=previous,
                                                             temporal_strength=strength)
        render_territory(visualizer.inverse_transform, head, extent_of(visualizer.transform(train)), 200)
        return visualizer

    def umap_epoch(self, epoch: int):
        import umap

        return umap.UMAP(n_neighbors=K, random_state=self.config.seed).fit(self.data(epoch)[0])

    def cold_and_umap(self, rows: dict) -> None:
        """Per epoch: proxy from scratch and umap-learn, alternating so that both see the same load."""
        use_umap = not self.arguments.no_umap
        if use_umap:
            warnings.filterwarnings("ignore")  # umap-learn warns that a random_state disables parallelism
            self.umap_epoch(self.epochs[0])  # compiles numba: every later fit is umap-learn's "warm" fit
        self.proxy_epoch(self.epochs[0])  # a process's one-off costs; the fresh-process demo run counts them
        for epoch in self.epochs:
            train, test, head = self.data(epoch)
            times: dict[str, list[float]] = {"cold": [], "umap": []}
            for _ in range(self.arguments.repeats):
                seconds, visualizer = median_seconds(lambda: self.proxy_epoch(epoch), 1)
                times["cold"].append(seconds)
                if use_umap:
                    seconds, reducer = median_seconds(lambda: self.umap_epoch(epoch), 1)
                    times["umap"].append(seconds)
            rows[epoch]["cold"] = {"seconds": statistics.median(times["cold"]), "passes": len(visualizer.history_),
                                   **quality(train, test, visualizer.transform, visualizer.inverse_transform, head)}
            if use_umap:
                rows[epoch]["umap"] = {"seconds": statistics.median(times["umap"]),
                                       **quality(train, test, lambda _: reducer.embedding_, None, head)}
            print(f"epoch {epoch}: cold {statistics.median(times['cold']):.2f} s"
                  + (f", umap {statistics.median(times['umap']):.2f} s" if use_umap else ""),
                  file=sys.stderr, flush=True)

    def warm(self, rows: dict) -> None:
        """A sequential pass, each epoch warm-started from the last (the first from a cold fit before it)."""
        import numpy as np
        from ttv_core.fit.graph import nearest_neighbors
        from ttv_core.fit.proxy import ProxyVisualizer

        before = self.epochs[0] - 1
        if before not in self.dynamics.epochs:
            raise SystemExit(f"The warm-started pass starts from epoch {before}, which the run lacks: "
                             "choose --epochs that start later, or pass --no-warm.")
        train = self.dynamics.representations(before)
        previous = ProxyVisualizer(config=self.config).fit(train, head=self.dynamics.head(before))
        neighbours = nearest_neighbors(train, K)[0]
        for epoch in self.epochs:  # with --quick the chain skips epochs: the previous map is older
            train, test, head = self.data(epoch)
            current = nearest_neighbors(train, K)[0]
            strength = neighbourhood_kept(neighbours, current)
            seconds, visualizer = median_seconds(lambda: self.proxy_epoch(epoch, previous, strength),
                                                 self.arguments.repeats)
            shift = np.linalg.norm(visualizer.transform(train) - previous.transform(train), axis=1)
            rows[epoch]["warm"] = {"seconds": seconds, "passes": len(visualizer.history_), "strength": strength,
                                   "median_shift": float(np.median(shift)),
                                   **quality(train, test, visualizer.transform, visualizer.inverse_transform, head)}
            previous, neighbours = visualizer, current

    def demo_in_a_fresh_process(self) -> dict:
        """Epochs 1-20 of the demo through the proxy method, warm-started, in a new Python process."""
        code = DEMO_RUN.format(root=str(ROOT), threads=self.arguments.threads, overrides=self.overrides, k=K)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - start
        line = [text for text in done.stdout.splitlines() if text.startswith("DEMO")]
        if done.returncode != 0 or not line:
            raise RuntimeError(f"the fresh-process demo run failed:\n{done.stderr}")
        _, imports, compute, passes = line[0].split()
        return {"wall": wall, "imports": float(imports), "compute": float(compute), "passes": int(passes)}


def run(arguments: argparse.Namespace) -> dict:
    """Everything the report needs, as plain data (also written by --json)."""
    os.environ.setdefault("NUMBA_NUM_THREADS", str(arguments.threads))
    import torch

    torch.set_num_threads(arguments.threads)
    bench = Bench(arguments)
    rows = {epoch: {"epoch": epoch} for epoch in bench.epochs}
    bench.cold_and_umap(rows)
    if not arguments.no_warm:
        bench.warm(rows)
    results = {"config": bench.config.to_dict(), "overrides": bench.overrides, "threads": arguments.threads,
               "repeats": arguments.repeats, "rows": list(rows.values())}
    if arguments.demo_run == "yes" or (arguments.demo_run == "auto" and not arguments.quick):
        results["demo"] = bench.demo_in_a_fresh_process()
    return results


def _median(rows: list[dict], value) -> float:
    return statistics.median(value(row) for row in rows)


def report(results: dict) -> str:
    """The per-epoch table, the medians over epochs and one PASS/FAIL line per target, as text."""
    rows = results["rows"]
    has_umap, has_warm = "umap" in rows[0], "warm" in rows[0]
    # (header, width, digits, value of a row); the median row applies the same value to every epoch
    columns = [("epoch", 5, 0, lambda r: r["epoch"])]
    for run, title in (("cold", "cold"), ("warm", "warm")) if has_warm else (("cold", "cold"),):
        columns += [(f"{title} s", 6, 2, lambda r, m=run: r[m]["seconds"]),
                    ("pas", 3, 0, lambda r, m=run: r[m]["passes"]),
                    ("PPR tr", 6, 3, lambda r, m=run: r[m]["ppr_train"]),
                    ("PPR te", 6, 3, lambda r, m=run: r[m]["ppr_test"]),
                    ("NN", 5, 3, lambda r, m=run: r[m]["nn"]),
                    ("TW", 5, 3, lambda r, m=run: r[m]["tw"])]
    if has_umap:
        columns += [("umap s", 6, 2, lambda r: r["umap"]["seconds"]),
                    ("NN", 5, 3, lambda r: r["umap"]["nn"]),
                    ("TW", 5, 3, lambda r: r["umap"]["tw"]),
                    ("t/umap", 6, 2, lambda r: r["cold"]["seconds"] / r["umap"]["seconds"]),
                    ("NN/umap", 7, 3, lambda r: r["cold"]["nn"] / r["umap"]["nn"]),
                    ("TW-umap", 7, 4, lambda r: r["cold"]["tw"] - r["umap"]["tw"])]
        if has_warm:
            columns += [("wt/umap", 7, 2, lambda r: r["warm"]["seconds"] / r["umap"]["seconds"])]

    def line(cells):
        return " ".join(str(cell).rjust(width) for cell, (_, width, _, _) in zip(cells, columns))

    out = [f"threads={results['threads']} repeats={results['repeats']} overrides={results['overrides']}"]
    out.append(line(name for name, *_ in columns))
    for row in rows:
        out.append(line(f"{value(row):.{digits}f}" for _, _, digits, value in columns))
    out.append(line(["median"] + [f"{_median(rows, value):.{digits}f}" for _, _, digits, value in columns[1:]]))
    out.append("")

    def verdict(ok: bool, text: str) -> None:
        out.append(f"{'PASS' if ok else 'FAIL'}  {text}")

    for run in ("cold", "warm") if has_warm else ("cold",):
        ppr = [_median(rows, lambda r, s=split: r[run][f"ppr_{s}"]) for split in ("train", "test")]
        lowest = [min(r[run][f"ppr_{s}"] for r in rows) for s in ("train", "test")]
        verdict(min(ppr) >= TARGET_PPR, f"{run}: PPR >= {TARGET_PPR} on train and test (median over epochs): "
                f"{ppr[0]:.3f} / {ppr[1]:.3f} (lowest epoch {lowest[0]:.3f} / {lowest[1]:.3f})")
        if not has_umap:
            continue
        ratio = _median(rows, lambda r: r[run]["seconds"] / r["umap"]["seconds"])
        verdict(ratio <= TARGET_TIME_RATIO, f"{run}: time per epoch (graph + training + territory) <= "
                f"{TARGET_TIME_RATIO:g} x umap-learn's warm fit (median ratio): {ratio:.2f}")
        ratio = _median(rows, lambda r: r[run]["nn"] / r["umap"]["nn"])
        verdict(ratio >= TARGET_NN_RATIO, f"{run}: NN rate (k={K}, no self) >= {TARGET_NN_RATIO} x umap-learn's "
                f"(median ratio): {ratio:.3f}")
        gap = _median(rows, lambda r: r[run]["tw"] - r["umap"]["tw"])
        verdict(gap >= -TARGET_TW_GAP, f"{run}: trustworthiness (k={K}) within {TARGET_TW_GAP} of umap-learn's "
                f"(median difference): {gap:+.4f}")
    if has_warm:
        seconds = [_median(rows, lambda r, m=m: r[m]["seconds"]) for m in ("cold", "warm")]
        passes = [_median(rows, lambda r, m=m: r[m]["passes"]) for m in ("cold", "warm")]
        verdict(seconds[1] < seconds[0], f"warm start is cheaper than cold: {seconds[1]:.2f} s vs {seconds[0]:.2f} s, "
                f"{passes[1]:g} vs {passes[0]:g} passes (medians); temporal strength "
                f"{_median(rows, lambda r: r['warm']['strength']):.3f}, median 2-D shift from the previous map "
                f"{_median(rows, lambda r: r['warm']['median_shift']):.3f}")
    if "demo" in results:
        demo = results["demo"]
        verdict(demo["wall"] < TARGET_DEMO_SECONDS,
                f"whole demo (epochs 1-20, proxy, warm-started, territories) in a fresh process < "
                f"{TARGET_DEMO_SECONDS:g} s: {demo['wall']:.1f} s (start-up and imports {demo['imports']:.1f} s, "
                f"fitting {demo['compute']:.1f} s, {demo['passes']} passes)")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    results = run(arguments)
    print(report(results))
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
