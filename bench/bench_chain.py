"""The chain benchmark: ttv's whole warm-started chain of maps, fitted as the product fits it, against umap-learn.

Run from the repository root::

    python bench/bench_chain.py --quick                    # demo epochs 1-5 and a 20-epoch synthetic run (~3 min)
    python bench/bench_chain.py                            # demo (20 epochs) and the synthetic long run (100 epochs)
    python bench/bench_chain.py --run demo --set lambda_temporal=0 --json chain.json
    python bench/bench_chain.py --run synthetic --synthetic-set epochs=40 --aligned-umap

For each run, ``Visualization(dynamics, method, config, cache_dir=<fresh temp dir>).fit(epochs)`` fits
the chain from the run's first epoch, each epoch warm-started from the one before, exactly what the
dashboard and ``python -m ttv_core proxy`` do. Right after each of the chain's epochs, umap-learn is
fitted on the same representations (so both see the same machine load), with its default
min_dist 0.1 and the exact kNN passed in as ttv's umap baseline does (its time includes computing
that kNN). Then per epoch: NN rate (k = 15, self excluded) of both maps and their ratio,
trustworthiness difference, PPR train / test, the rotation and mirroring between consecutive ttv
maps, times; per run: TNN / TLR of the chain, of umap-learn's maps aligned epoch to epoch by
Procrustes and (``--aligned-umap``) of umap-learn's AlignedUMAP; and one PASS/FAIL line per goal of
issue 9. The exit status is 1 when a goal fails. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from itertools import accumulate
from pathlib import Path

# BLAS reads its thread count when numpy is first imported, before the arguments are parsed: the bench
# runs BLAS on one thread like everything else (on 2 busy shared cores OpenBLAS's own threads made a
# (2000 x 32) @ (32 x 10) product 75x slower). Set these variables yourself to change it.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402

from bench_proxy import K, overrides_of, quality  # noqa: E402  (one definition of the figures and of --set)

TARGET_NN_RATIO, AIM_NN_RATIO = 0.8, 0.95  # ttv NN rate / umap-learn's on the same epoch, every epoch
TARGET_TW_GAP = 0.02  # ttv trustworthiness >= umap-learn's - this, every epoch
TARGET_PPR, TARGET_PPR_EARLY = 0.95, 0.9  # PPR train and test, past the early epochs / in them
EARLY_SHARE, EARLY_MIN_EPOCHS = 0.1, 3  # "early": the run's first 10 % of epochs, at least its first 3
MAX_ROTATION_DEGREES = 15.0  # between consecutive maps; and never a reflection
MAX_DRIFT = 0.05  # last epoch's NN ratio >= first epoch's - this (a rise is cleaner data, not drift)
TARGET_TIME_RATIO = 1.0  # chain seconds / sum of umap-learn's fit seconds, same epochs
UMAP_MIN_DIST = 0.1  # umap-learn's default: the comparison is against what a user gets
QUICK_DEMO_EPOCHS = "1:5"
QUICK_SYNTHETIC = {"n_train": 1000, "n_test": 250, "epochs": 20}


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="both", help="demo, synthetic, both (default) or the folder of a ttv run")
    parser.add_argument("--epochs", help="first:last epochs to compare (default all); the chain always starts "
                                         "at the run's first epoch")
    parser.add_argument("--method", choices=("proxy", "al"), default="proxy", help="ttv's method (default proxy)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a VisConfig field (repeatable, JSON values), e.g. --set lambda_temporal=0")
    parser.add_argument("--synthetic-set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a SyntheticConfig field of the synthetic run, e.g. --synthetic-set epochs=40")
    parser.add_argument("--aligned-umap", action="store_true",
                        help="also fit umap-learn's AlignedUMAP over the compared epochs (slow: ~10 s per epoch)")
    parser.add_argument("--quick", action="store_true",
                        help=f"demo epochs {QUICK_DEMO_EPOCHS} and a synthetic run of {QUICK_SYNTHETIC}")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch and numba threads (default 1: umap-learn with a random_state is single-threaded)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    return parser.parse_args(argv)


def runs_of(arguments: argparse.Namespace) -> list[tuple[str, Path, str | None]]:
    """(name, run folder, epochs to compare) of every run asked for; demo and synthetic run are built on first use."""
    import ttv_core
    from ttv_core.data.synthetic import SyntheticConfig, ensure_synthetic

    runs = []
    for name in ("demo", "synthetic") if arguments.run == "both" else (arguments.run,):
        if name == "demo":
            quick = QUICK_DEMO_EPOCHS if arguments.quick else None
            runs.append((name, ttv_core.ensure_demo(), arguments.epochs or quick))
        elif name == "synthetic":
            overrides = {**(QUICK_SYNTHETIC if arguments.quick else {}), **overrides_of(arguments.synthetic_set)}
            runs.append((name, ensure_synthetic(config=SyntheticConfig(**overrides)), arguments.epochs))
        else:
            runs.append((Path(name).name, Path(name), arguments.epochs))
    return runs


def early_epochs(run_epochs: tuple[int, ...]) -> set[int]:
    """The run's early epochs, where PPR only has to reach TARGET_PPR_EARLY."""
    return set(run_epochs[: max(EARLY_MIN_EPOCHS, math.ceil(EARLY_SHARE * len(run_epochs)))])


def fit_umap(train: np.ndarray, seed: int) -> tuple[float, np.ndarray]:
    """umap-learn on one epoch, through ttv's baseline (exact kNN given); (seconds, embedding)."""
    from ttv_core.fit.baseline import UmapBaseline

    start = time.perf_counter()
    embedding = UmapBaseline(n_neighbors=K, min_dist=UMAP_MIN_DIST, seed=seed).fit(train).embedding_
    return time.perf_counter() - start, embedding


def fit_aligned_umap(train: list[np.ndarray], seed: int) -> tuple[float, list[np.ndarray]]:
    """umap-learn's AlignedUMAP over the epochs, samples related by identity; (seconds, embeddings)."""
    import umap

    identity = {i: i for i in range(len(train[0]))}
    start = time.perf_counter()
    model = umap.AlignedUMAP(n_neighbors=K, min_dist=UMAP_MIN_DIST, random_state=seed)
    model.fit(train, relations=[identity] * (len(train) - 1))
    return time.perf_counter() - start, [np.asarray(e, np.float32) for e in model.embeddings_]


def warm_up(dynamics, method: str, config, aligned: bool) -> None:
    """Untimed first fits: umap-learn's numba compilation (AlignedUMAP's too) and ttv's one-off costs
    (lazy imports, torch's first steps), so that no timed fit pays for a process's start."""
    from ttv_core.run.visualize import Visualization

    first = dynamics.epochs[0]
    train = np.asarray(dynamics.representations(first))
    fit_umap(train, config.seed)
    if aligned:
        fit_aligned_umap([train[:200], train[:200]], config.seed)
    with tempfile.TemporaryDirectory(prefix="ttv-chain-warm-") as cache:
        Visualization(dynamics, method, config, cache_dir=cache).fit([first])


def fit_chain(dynamics, method: str, config, epochs: list[int], cache: str):
    """The product's chain up to ``epochs[-1]``, umap-learn fitted on each of ``epochs`` right after the
    chain's own epoch. Returns (visualization, chain seconds per epoch, chain wall seconds, umap fits)."""
    from ttv_core.run.visualize import Visualization

    seconds, umap_fits = {}, {}

    def on_epoch_end(progress) -> None:
        seconds[progress.epoch] = progress.seconds
        if progress.epoch in epochs:
            umap_fits[progress.epoch] = fit_umap(np.asarray(dynamics.representations(progress.epoch)), config.seed)
        umap_text = f", umap {umap_fits[progress.epoch][0]:.2f} s" if progress.epoch in umap_fits else ""
        print(f"  epoch {progress.epoch} ({progress.index}/{progress.total}): {method} {progress.seconds:.2f} s"
              f"{umap_text}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    visualization = Visualization(dynamics, method, config, cache_dir=cache).fit(epochs, on_epoch_end=on_epoch_end)
    wall = time.perf_counter() - start - sum(fit[0] for fit in umap_fits.values())
    return visualization, seconds, wall, umap_fits


def score_epoch(dynamics, visualization, epoch: int, umap_embedding: np.ndarray) -> dict:
    """One epoch's figures of the ttv map and of umap-learn's, on the same representations."""
    train, test = (np.asarray(dynamics.representations(epoch, split)) for split in ("train", "test"))
    head, visualizer = dynamics.head(epoch), visualization.visualizer(epoch)
    accuracy = float(np.mean(head.predict(test) == dynamics.labels("test"))) if len(test) else None
    shown = visualization.results_[epoch].embeddings  # the map the product draws, not a re-encoding of it

    def embed(points: np.ndarray) -> np.ndarray:
        return shown["train"] if points is train else shown["test"]

    return {"epoch": epoch, "accuracy": accuracy,
            "ttv": quality(train, test, embed, visualizer.inverse_transform, head),
            "umap": quality(train, test, lambda _: umap_embedding, None, head),
            "knn_test": neighbour_bound(train, test, head)}


def neighbour_bound(train: np.ndarray, test: np.ndarray, head) -> float | None:
    """Share of test samples the head predicts as the majority of their K nearest training samples (in D).

    What a map that keeps neighbourhoods can reach in test PPR: it draws a test sample among those
    training samples, where the territory is theirs. Below 1 where the head decides along directions the
    neighbourhoods do not follow (a class-blind representation, an epoch of fast change).
    """
    from ttv_core.fit.graph import nearest_neighbors_between

    if not len(test):
        return None
    predicted, indices = head.predict(train), nearest_neighbors_between(test, train, K)[0]
    votes = np.zeros((len(test), int(predicted.max()) + 1), np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(test)), K), predicted[indices].ravel()), 1)
    return float(np.mean(votes.argmax(1) == head.predict(test)))


def rotation_from_previous(dynamics, visualization, epoch: int):
    """best_rotation of the chain's map of ``epoch`` onto the previous epoch's (None at the first epoch)."""
    from ttv_core.fit.alignment import best_rotation

    index = dynamics.epochs.index(epoch)
    if index == 0:
        return None
    embeddings = [visualization.results_[e].embeddings["train"] for e in dynamics.epochs[index - 1: index + 1]]
    return best_rotation(*embeddings)


def movement(dynamics, visualization, epoch: int) -> float | None:
    """How far the samples moved from the previous epoch's map: mean displacement over that map's size."""
    from ttv_core.fit.proxy import layout_spread

    index = dynamics.epochs.index(epoch)
    if index == 0:
        return None
    before, now = (visualization.results_[e].embeddings["train"] for e in dynamics.epochs[index - 1: index + 1])
    return float(np.linalg.norm(now - before, axis=1).mean() / layout_spread(before))


def bench_run(name: str, dynamics, arguments: argparse.Namespace, config, epochs_text: str | None) -> dict:
    """Everything measured on one run, as plain data (also what --json writes)."""
    from ttv_core.evaluate import metrics
    from ttv_core.fit.alignment import align_to
    from ttv_core.run.cli import parse_epochs
    from ttv_core.evaluate.figures import temporal_figures
    from ttv_core.run.chain import is_keyframe_index

    epochs = parse_epochs(epochs_text, dynamics.epochs)
    print(f"{name}: {dynamics!r}, comparing epochs {epochs[0]}-{epochs[-1]}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="ttv-chain-") as cache:
        visualization, seconds, wall, umap_fits = fit_chain(dynamics, arguments.method, config, epochs, cache)
    rows = []
    for epoch in epochs:
        row = score_epoch(dynamics, visualization, epoch, umap_fits[epoch][1])
        rotation = rotation_from_previous(dynamics, visualization, epoch)
        index = dynamics.epochs.index(epoch)
        row.update(seconds=seconds[epoch], umap_seconds=umap_fits[epoch][0],
                   move=movement(dynamics, visualization, epoch),
                   stretch_start=index > 0 and is_keyframe_index(index, config.layout.stretch_epochs),
                   rotation=None if rotation is None else rotation.angle_degrees,
                   reflection=None if rotation is None else rotation.reflection)
        rows.append(row)
    train = [np.asarray(dynamics.representations(e)) for e in epochs]
    procrustes = list(accumulate((umap_fits[e][1] for e in epochs),
                                 lambda previous, current: align_to(previous, current, allow_reflection=True)))
    result = {"run": name, "location": str(dynamics.location), "method": arguments.method,
              "overrides": overrides_of(arguments.set), "epochs": epochs, "rows": rows,
              "early_epochs": sorted(early_epochs(dynamics.epochs)),
              "chain_seconds": sum(seconds[e] for e in epochs), "chain_wall_seconds": wall,
              "chain_epochs": len(seconds), "umap_seconds": sum(umap_fits[e][0] for e in epochs),
              "temporal": {"ttv": visualization.temporal(), "umap": temporal_figures(train, procrustes)}}
    if arguments.aligned_umap and len(epochs) >= 2:
        aligned_seconds, aligned = fit_aligned_umap(train, config.seed)
        result["aligned_umap_seconds"] = aligned_seconds
        result["temporal"]["aligned_umap"] = temporal_figures(train, aligned)
        for row, x, embedding in zip(rows, train, aligned):
            row["aligned_umap_nn"] = metrics.neighbor_preservation(x, embedding, K)["rate"]
    result["verdicts"] = [{"ok": ok, "text": text} for ok, text in verdicts(result)]
    return result


def nn_ratio(row: dict) -> float:
    return row["ttv"]["nn"] / row["umap"]["nn"]


def trust_gap(row: dict) -> float:
    return row["ttv"]["tw"] - row["umap"]["tw"]


def _worst(rows: list[dict], value, lowest: bool = True) -> tuple[float, int]:
    """(the lowest, or highest, value over the rows, its epoch)."""
    row = (min if lowest else max)(rows, key=value)
    return value(row), row["epoch"]


def _ppr_verdict(rows: list[dict], target: float, where: str) -> tuple[bool | None, str]:
    text = f"PPR train and test >= {target} {where}"
    if not rows:
        return None, f"{text}: no such epoch compared"
    train, test = (_worst(rows, lambda r, s=split: r["ttv"][f"ppr_{s}"]) for split in ("train", "test"))
    bound = next(r.get("knn_test") for r in rows if r["epoch"] == test[1])
    at_bound = "" if bound is None else f"; test's neighbour bound there {bound:.3f}"
    return (min(train[0], test[0]) >= target,
            f"{text}: lowest {train[0]:.3f} (epoch {train[1]}) / {test[0]:.3f} (epoch {test[1]}{at_bound})")


def _temporal_verdict(ttv: dict, umap: dict, n_epochs: int) -> tuple[bool | None, str]:
    """TNN and TLR above umap-learn's. TNN compares each epoch's TEMPORAL_K nearest epochs: with no more
    epochs than TEMPORAL_K + 1 every map scores 1.0, so only TLR is judged."""
    from ttv_core.evaluate.figures import TEMPORAL_K

    text = "TNN and TLR better than Procrustes-aligned umap-learn's"
    if n_epochs < 3:
        return None, f"{text}: needs 3 epochs or more"
    figures = f"TNN {ttv['tnn']:.3f} vs {umap['tnn']:.3f}, TLR {ttv['tlr']:.3f} vs {umap['tlr']:.3f}"
    if n_epochs <= TEMPORAL_K + 1:
        return ttv["tlr"] > umap["tlr"], f"{text}: {figures} (TNN not judged: {n_epochs} epochs, all compared)"
    return ttv["tnn"] > umap["tnn"] and ttv["tlr"] > umap["tlr"], f"{text}: {figures}"


def verdicts(result: dict) -> list[tuple[bool | None, str]]:
    """One (ok, text) per goal of issue 9; ok is None where the run does not allow judging it."""
    rows, early = result["rows"], set(result["early_epochs"])
    ratios = [nn_ratio(row) for row in rows]
    worst_ratio, worst_gap = _worst(rows, nn_ratio), _worst(rows, trust_gap)
    out = [(worst_ratio[0] >= TARGET_NN_RATIO,
            f"NN rate (k={K}, no self) >= {TARGET_NN_RATIO} x umap-learn's at every epoch: min {worst_ratio[0]:.3f} "
            f"(epoch {worst_ratio[1]}), median {statistics.median(ratios):.3f} (aim {AIM_NN_RATIO})"),
           (worst_gap[0] >= -TARGET_TW_GAP,
            f"trustworthiness (k={K}) >= umap-learn's - {TARGET_TW_GAP} at every epoch: worst {worst_gap[0]:+.4f} "
            f"(epoch {worst_gap[1]})"),
           _ppr_verdict([r for r in rows if r["epoch"] not in early], TARGET_PPR,
                        f"past the run's first {len(early)} epochs"),
           _ppr_verdict([r for r in rows if r["epoch"] in early], TARGET_PPR_EARLY,
                        f"in the run's first {len(early)} epochs")]
    out.append(_temporal_verdict(result["temporal"]["ttv"], result["temporal"]["umap"], len(rows)))
    turned = [r for r in rows if r["rotation"] is not None]
    if turned:
        angle = _worst(turned, lambda r: abs(r["rotation"]), lowest=False)
        mirrored = [r["epoch"] for r in turned if r["reflection"]]
        out.append((angle[0] <= MAX_ROTATION_DEGREES and not mirrored,
                    f"consecutive maps within {MAX_ROTATION_DEGREES:g} degrees, never mirrored: max {angle[0]:.1f} "
                    f"degrees (epoch {angle[1]}), mirrored at epochs {mirrored or 'none'}"))
    starts = [r for r in rows if r.get("stretch_start")]
    inside = [r for r in rows if r.get("move") is not None and not r.get("stretch_start")]
    if starts and inside:
        jump, step = _worst(starts, lambda r: r["move"], lowest=False), _worst(inside, lambda r: r["move"], lowest=False)
        out.append((jump[0] <= step[0], f"stretch starts move the map no more than an epoch inside a stretch: "
                                        f"max {jump[0]:.3f} (epoch {jump[1]}) vs {step[0]:.3f} (epoch {step[1]})"))
    drift = ratios[-1] - ratios[0]
    out.append((drift >= -MAX_DRIFT if len(rows) > 1 else None,
                f"no drift: last epoch's NN ratio at most {MAX_DRIFT} below the first's: {ratios[0]:.3f} -> "
                f"{ratios[-1]:.3f} ({drift:+.3f})"))
    ratio = result["chain_seconds"] / result["umap_seconds"]
    out.append((ratio <= TARGET_TIME_RATIO,
                f"not slower: chain <= {TARGET_TIME_RATIO:g} x umap-learn's fits of the same epochs: "
                f"{result['chain_seconds']:.1f} s vs {result['umap_seconds']:.1f} s ({ratio:.2f})"))
    return out


COLUMNS = [  # (header, width, format, value of a row); None prints as "-"
    ("epoch", 5, "d", lambda r: r["epoch"]),
    ("acc", 5, ".3f", lambda r: r["accuracy"]),
    ("ttv s", 6, ".2f", lambda r: r["seconds"]),
    ("NN", 5, ".3f", lambda r: r["ttv"]["nn"]),
    ("umap NN", 7, ".3f", lambda r: r["umap"]["nn"]),
    ("NN/umap", 7, ".3f", nn_ratio),
    ("TW-umap", 7, "+.4f", trust_gap),
    ("PPR tr", 6, ".3f", lambda r: r["ttv"]["ppr_train"]),
    ("PPR te", 6, ".3f", lambda r: r["ttv"]["ppr_test"]),
    ("kNN te", 6, ".3f", lambda r: r.get("knn_test")),
    ("rot deg", 7, "+.1f", lambda r: r["rotation"]),
    ("mirror", 6, "s", lambda r: None if r["reflection"] is None else ("YES" if r["reflection"] else "no")),
    ("move", 6, "s", lambda r: None if r.get("move") is None else f"{r['move']:.3f}{'*' if r['stretch_start'] else ''}"),
    ("umap s", 6, ".2f", lambda r: r["umap_seconds"]),
]
ALIGNED_COLUMN = ("AU NN", 5, ".3f", lambda r: r["aligned_umap_nn"])


def _cell(value, width: int, spec: str) -> str:
    return ("-" if value is None else format(value, spec)).rjust(width)


def _temporal_text(figures: dict) -> str:
    return " ".join(f"{name.upper()} {'-' if figures[name] is None else format(figures[name], '.3f')}"
                    for name in ("tnn", "tlr"))


def report(result: dict) -> str:
    """The per-epoch table, the run's temporal figures and times, and the PASS/FAIL lines, as text."""
    columns = COLUMNS + ([ALIGNED_COLUMN] if "aligned_umap_seconds" in result else [])
    out = [f"== {result['run']} ({result['location']}): method={result['method']} overrides={result['overrides']}",
           " ".join(header.rjust(width) for header, width, _, _ in columns)]
    out += [" ".join(_cell(value(row), width, spec) for _, width, spec, value in columns) for row in result["rows"]]
    temporal = result["temporal"]
    out += ["", f"temporal: ttv chain {_temporal_text(temporal['ttv'])}; umap-learn per epoch, Procrustes-aligned "
                f"{_temporal_text(temporal['umap'])}"]
    if "aligned_umap" in temporal:
        out.append(f"          umap-learn AlignedUMAP {_temporal_text(temporal['aligned_umap'])} "
                   f"in {result['aligned_umap_seconds']:.1f} s")
    out += [f"time: chain {result['chain_seconds']:.1f} s on the compared epochs (whole chain, "
            f"{result['chain_epochs']} epochs: {result['chain_wall_seconds']:.1f} s wall); "
            f"umap-learn {result['umap_seconds']:.1f} s", ""]
    labels = {True: "PASS", False: "FAIL", None: "SKIP"}
    out += [f"{labels[verdict['ok']]}  {verdict['text']}" for verdict in result["verdicts"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    os.environ.setdefault("NUMBA_NUM_THREADS", str(arguments.threads))
    import torch

    import ttv_core
    from ttv_core.config import VisConfig

    torch.set_num_threads(arguments.threads)
    config = VisConfig.of(**overrides_of(arguments.set))
    results = []
    for index, (name, path, epochs_text) in enumerate(runs_of(arguments)):
        dynamics = ttv_core.load_dynamics(path)
        if index == 0:
            warm_up(dynamics, arguments.method, config, arguments.aligned_umap)
        results.append(bench_run(name, dynamics, arguments, config, epochs_text))
        print(report(results[-1]) + "\n", flush=True)
    if arguments.json:
        arguments.json.write_text(json.dumps({"threads": arguments.threads, "runs": results}, indent=1))
    return 1 if any(verdict["ok"] is False for result in results for verdict in result["verdicts"]) else 0


if __name__ == "__main__":
    sys.exit(main())
