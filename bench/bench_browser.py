"""Browser benchmark: the Territories player's playback speed and epoch switch, in Chromium.

Measures, against the targets of the dashboard issue (at least 4 frames per second on the demo and 2
on a 20,000-sample run, on 2 cores):
- page load: from opening ``/territories?run=...&method=proxy`` until every frame is decoded
  (``data-ready="1"``), on the first visit (the server renders the frames) and on a second one (a new
  session, frames read from the cache);
- playback: frames drawn per second (``data-frames`` of the frame canvas) with the speed set to its
  highest value, median of 1-second windows;
- epoch switch: from moving the epoch slider (value set, ``input`` and ``change`` fired) until the new
  epoch's frame is painted (``data-epoch`` shows it, then two animation frames), median of switches;
  and until the app's rerun (the player reports the epoch to Python) has come back and been applied,
  with the kilobytes that rerun sent to the browser (the frames and points are not sent again).

Runs: (a) the built-in demo (1,437 + 360 samples, 20 epochs) and (b) a synthetic 20,000-sample run
(10 Gaussian classes in 64-D drifting apart over 10 epochs, a nearest-centre linear head per epoch,
plus 2,000 test samples). Both are fitted here first with the default ``VisConfig`` (the settings a
new dashboard session shows), in the cache folder the server then reads; the fitting time is printed.

``--run PATH`` (repeatable) benches that run instead, e.g. the 60,000-sample synthetic run of
``bench_scale.py``: its proxy maps are fitted into ``--cache-dir`` if they are not there, then only the
maps are copied into a fresh cache for the server, with the dashboard's opening frames rendered there as
``ttv proxy RUN`` renders them after fitting (:func:`ttv_core.run.frames.render_opening_frames`; with
``--no-frames``, as after ``ttv proxy RUN --no-frames``: the dashboard renders every frame itself). For every run it also
reports the first picture (the epoch shown painted) on the first visit and again, and the server's
peak memory. ``--fill-maps`` gives the epochs past the last fitted one copies of its map
(:func:`fill_maps`), to open a 200-epoch run of that size without fitting it.

``--first-visit N`` measures instead what a newcomer meets (issue 12): N times, a fresh server with an
empty cache (it builds the demo run, then trains the demo's maps unasked);
the browser opens the root URL, presses nothing, and the seconds until the first frame is painted and
until the whole demo plays by itself are reported (medians), against 60 s and 3 minutes.

Usage: ``python bench/bench_browser.py [--cache-dir DIR] [--run PATH] [--seconds 5] [--switches 10]
[--first-visit N]``. Needs
``chromium`` (Debian's package) and ``playwright`` (the ``test`` extra: ``pip install -e ".[test]"``). Without
``--cache-dir`` a throw-away cache is used (fitting the 20k run takes ~3 min on 2 cores); with one, a
second invocation reuses the maps. The server and browser plumbing is ``tests/browser.py``, shared
with the browser test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

import browser  # noqa: E402  (tests/browser.py)

TARGET_FPS = {"demo": 4.0, "gauss-20k": 2.0}  # any other run: the 20k run's
TARGET_PICTURE = 3.0  # seconds from opening Territories to the first picture (issue 11, at 60,000 samples)
TARGET_SWITCH_MS = 1500  # an epoch switch, until the app's rerun is back (issue 11)
TARGET_FIRST_FRAME, TARGET_PLAYABLE = 60.0, 180.0  # a cold first visit to the demo (issue 12)

# Frames drawn (data-frames) over `ms` milliseconds, timed in the page.
_COUNT_FRAMES = """(canvas, ms) => new Promise((resolve) => {
  const frames = Number(canvas.dataset.frames), start = performance.now();
  setTimeout(() => resolve([Number(canvas.dataset.frames) - frames, performance.now() - start]), ms);
})"""
def gaussian_run(path: Path, *, n_train: int = 20_000, n_test: int = 2_000, dim: int = 64, n_classes: int = 10,
                 epochs: int = 10, seed: int = 0) -> Path:
    """A synthetic run: Gaussian classes whose centres drift apart epoch by epoch (mixed at epoch 1,
    separated at the last), each epoch with the nearest-centre linear head."""
    import torch
    from torch import nn

    import ttv_core

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim))
    train_labels, test_labels = np.arange(n_train) % n_classes, np.arange(n_test) % n_classes
    train_noise, test_noise = rng.normal(size=(n_train, dim)), rng.normal(size=(n_test, dim))
    with ttv_core.Recorder(path, classes=[f"class {c}" for c in range(n_classes)], train_labels=train_labels,
                           test_labels=test_labels) as recorder:
        for epoch in range(1, epochs + 1):
            spread = (0.05 + 0.45 * (epoch - 1) / max(epochs - 1, 1)) * centres
            head = nn.Linear(dim, n_classes)
            with torch.no_grad():
                head.weight.copy_(torch.from_numpy(spread).float())
                head.bias.copy_(torch.from_numpy(-0.5 * (spread**2).sum(1)).float())
            recorder.log_epoch(epoch, train=(spread[train_labels] + train_noise).astype(np.float32),
                               test=(spread[test_labels] + test_noise).astype(np.float32), head=head)
    return path


def prepare(cache: Path, chosen: list[Path]) -> dict[str, tuple[Path, int, int]]:
    """Fit the runs' proxy maps (default VisConfig) into ``cache``; name -> (run, samples, epochs).
    The runs: ``chosen``, else the demo and the 20k Gaussian run."""
    import ttv_core
    from ttv_core.run.visualize import Visualization

    if chosen:
        runs = {path.name: path for path in chosen}
    else:
        runs = {"demo": ttv_core.ensure_demo(cache), "gauss-20k": cache / "runs" / "gauss-20k"}
        if not runs["gauss-20k"].exists():
            gaussian_run(runs["gauss-20k"])
    prepared = {}
    for name, run in runs.items():
        dynamics = ttv_core.load_dynamics(run, cache_dir=cache)  # its files' digests with the maps, as `ttv proxy` leaves them
        start = time.perf_counter()
        statuses = []
        Visualization(dynamics, "proxy", cache_dir=cache).fit(on_epoch_end=lambda p: statuses.append(p.status))
        print(f"{name}: {dynamics.n_train:,} + {dynamics.n_test:,} samples, {len(dynamics.epochs)} epochs; proxy maps "
              f"in {time.perf_counter() - start:.1f} s ({statuses.count('computed')} computed, "
              f"{statuses.count('cached')} cached)", flush=True)
        prepared[name] = (run, dynamics.n_train + dynamics.n_test, list(dynamics.epochs))
    return prepared


def fill_maps(run: Path, cache: Path) -> int:
    """Give every epoch of ``run`` past its last fitted one a proxy map: a copy of that map (embeddings
    jittered by 1 % of their spread, so that frames differ), stored under the key the chain would store
    it under. The dashboard's cost depends on how many maps and samples it shows, not on what they show:
    this opens a 200-epoch, 60,000-sample view without 2.6 hours of fitting. Returns the epochs filled."""
    import ttv_core
    from ttv_core.run.visualize import Visualization

    dynamics = ttv_core.load_dynamics(run, cache_dir=cache)
    maps = Visualization(dynamics, "proxy", cache_dir=cache).fit(compute=False)
    if not maps.results_:  # nothing fitted yet: the first epoch, for real
        print(f"{run.name}: fitting epoch {dynamics.epochs[0]}", flush=True)
        maps = Visualization(dynamics, "proxy", cache_dir=cache).fit([dynamics.epochs[0]])
    from ttv_core.run.chain import chain_basis, chain_of, landing_of

    last, run_epochs, stretch = max(maps.results_), list(dynamics.epochs), maps.config.layout.stretch_epochs
    template = maps.store.get(maps.chained_keys_[last])
    rng = np.random.default_rng(0)
    results, filled = {epoch: maps.store.get(key) for epoch, key in maps.chained_keys_.items()}, 0
    for epoch in chain_of(run_epochs, run_epochs, stretch):  # keyframes first: a stretch's key names its keyframes'
        if epoch in results:
            continue

        def copy() -> dict:
            spread = {split: float(np.ptp(points)) for split, points in template.embeddings.items()}
            return {"state": template.state, "embeddings": {
                split: (points + rng.normal(scale=0.01 * spread[split], size=points.shape)).astype(np.float32)
                for split, points in template.embeddings.items()}}
        index = run_epochs.index(epoch)
        basis, landing = chain_basis(index, stretch), landing_of(index, stretch, len(run_epochs))
        results[epoch], cached = maps._stored(epoch, "proxy", results[run_epochs[basis]], copy, lambda: False,
                                              landing=None if landing is None else results[run_epochs[landing]])
        filled += not cached
    return filled


def opening_frames(runs: list[Path], cache: Path) -> None:
    """Render the dashboard's opening frames of ``runs`` into ``cache``, as ``ttv proxy`` does after fitting."""
    import ttv_core
    from ttv_core.run.frames import render_opening_frames
    from ttv_core.run.visualize import Visualization

    for run in runs:
        start = time.perf_counter()
        visualization = Visualization(ttv_core.load_dynamics(run, cache_dir=cache), "proxy", cache_dir=cache)
        epochs = render_opening_frames(visualization)
        print(f"{run.name}: {len(epochs)} opening frames rendered as `ttv proxy` renders them, in "
              f"{time.perf_counter() - start:.1f} s", flush=True)


def maps_only(cache: Path, fresh: Path) -> None:
    """Copy the maps (and nothing the dashboard derives from them) from ``cache`` into ``fresh``, and the
    digests of the run's files: what ``ttv proxy RUN --cache-dir`` leaves for the dashboard (a run recorded
    before its files' digests carried their size and time would otherwise be hashed again: 28 GB, ~30 s)."""
    import shutil

    from ttv_core.run.results import EpochResult
    from ttv_core.run.store import ResultStore

    with ResultStore(cache) as source, ResultStore(fresh) as target:
        for key in source.keys():
            value = source.get(key)
            if isinstance(value, EpochResult):
                target.put(key, value)
    if (cache / "file-digests").is_dir():
        shutil.copytree(cache / "file-digests", fresh / "file-digests", dirs_exist_ok=True)


def open_player(page, url: str) -> tuple[float, float]:
    """Open the Territories page; seconds until the epoch shown is painted, and until every frame is decoded."""
    start = time.perf_counter()
    page.goto(url)
    browser.wait_first_picture(page, timeout=300)
    picture = time.perf_counter() - start
    browser.wait_player_ready(page, timeout=1800)
    loaded = time.perf_counter() - start
    play = page.locator(browser.PLAY)
    if play.get_attribute("aria-label") == "Pause":  # a session's first view plays by itself: stop it for the timings
        play.click()
        page.locator(f'{browser.PLAY}[aria-label="Play"]').wait_for()
    return picture, loaded


def playback_fps(page, seconds: float) -> tuple[float, list[float]]:
    """Play at the highest speed; median (and all) frames per second over 1-second windows."""
    speeds = page.locator(browser.SPEED).locator("option").all_inner_texts()
    page.locator(browser.SPEED).select_option(max(speeds, key=float))
    if page.locator(browser.PLAY).get_attribute("aria-label") != "Pause":  # not already playing by itself
        page.locator(browser.PLAY).click()
    page.locator(f'{browser.PLAY}[aria-label="Pause"]').wait_for()
    canvas = page.locator(browser.FRAME)
    windows = []
    for _ in range(max(1, round(seconds))):
        frames, ms = canvas.evaluate(_COUNT_FRAMES, 1000)
        windows.append(frames / (ms / 1000))
    page.locator(browser.PLAY).click()  # pause
    page.locator(f'{browser.PLAY}[aria-label="Play"]').wait_for()
    return statistics.median(windows), windows


def epoch_switches(page, epochs: list[int], switches: int,
                   received: list[int]) -> tuple[float, float | None, float]:
    """Median ms until the new frame is painted, until the app's rerun has come back, and KB the
    browser received for the switch (``received``: sizes of the websocket messages, appended by a listener)."""
    canvas = page.locator(browser.FRAME)
    rng = np.random.default_rng(0)
    painted, settled, kilobytes = [], [], []
    for _ in range(switches):
        current = browser.frame_state(page)["epoch"]
        index = int(rng.choice([i for i, e in enumerate(epochs) if e != current]))
        received.clear()
        frame_ms, rerun_ms = canvas.evaluate(browser.SWITCH, [index, epochs[index], 15_000])[:2]
        if frame_ms is not None:  # None: not painted within the wait (counted as not settled either)
            painted.append(frame_ms)
        if rerun_ms is not None:
            settled.append(rerun_ms)
        browser.wait_until_idle(page)
        kilobytes.append(sum(received) / 1000)
    return (statistics.median(painted) if painted else float("nan"), statistics.median(settled) if settled else None,
            statistics.median(kilobytes))


def first_visits(times: int) -> int:
    """The newcomer's first visit, ``times`` times on fresh servers: seconds to the first frame and to
    the whole demo playing, nothing pressed."""
    import shutil

    firsts, playables = [], []
    for attempt in range(times):
        cache = Path(tempfile.mkdtemp(prefix="ttv-bench-first-"))  # empty: the server builds the demo run too
        with browser.streamlit_server(cache, env={"TTV_TRAIN_DEMO": "1"}) as server, browser.chromium() as page:
            page.set_default_timeout(300_000)
            start = time.perf_counter()
            page.goto(server.url)
            browser.wait_first_picture(page, timeout=300)
            firsts.append(time.perf_counter() - start)
            play = page.locator(browser.PLAY)
            page.wait_for_function("button => button.textContent === 'Pause'", arg=play.element_handle(),
                                   timeout=600_000)  # every epoch trained and drawn: it plays by itself
            playables.append(time.perf_counter() - start)
            print(f"visit {attempt + 1}: first frame {firsts[-1]:.1f} s, whole demo playing {playables[-1]:.1f} s, "
                  f"server peak {server.peak_memory_mb() or 0:.0f} MB", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    first, playable = statistics.median(firsts), statistics.median(playables)
    print(f"{'PASS' if first <= TARGET_FIRST_FRAME else 'FAIL'} first frame within {TARGET_FIRST_FRAME:g} s: "
          f"median {first:.1f} s ({os.cpu_count()} CPU cores)")
    print(f"{'PASS' if playable <= TARGET_PLAYABLE else 'FAIL'} whole demo playing within {TARGET_PLAYABLE:g} s: "
          f"median {playable:.1f} s")
    return 0


def measure(served: Path, prepared: dict[str, tuple[Path, int, int]], args: argparse.Namespace) -> list[tuple]:
    """Open each prepared run's player on a server of ``served``: one row of timings per run."""
    rows = []
    with browser.streamlit_server(served) as server, browser.chromium() as page:
        page.set_default_timeout(120_000)
        received: list[int] = []
        page.on("websocket", lambda socket: socket.on("framereceived", lambda message: received.append(len(message))))
        for name, (run, samples, epochs) in prepared.items():
            query = urllib.parse.urlencode({"run": "demo" if name == "demo" else str(run), "method": "proxy"})
            url = f"{server.url}/territories?{query}"
            picture, first = open_player(page, url)
            picture_again, again = open_player(page, url)  # a new session: frames come from the cache
            fps, windows = playback_fps(page, args.seconds)
            frame_ms, rerun_ms, rerun_kb = epoch_switches(page, epochs, args.switches, received)
            rows.append((name, samples, len(epochs), picture, first, picture_again, again, fps, frame_ms, rerun_ms,
                         rerun_kb, server.peak_memory_mb()))
            print(f"{name}: fps windows {' '.join(f'{w:.1f}' for w in windows)}", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, help="keep the runs and maps here (default: a throw-away folder)")
    parser.add_argument("--seconds", type=float, default=5.0, help="playback measured over this many 1-s windows")
    parser.add_argument("--switches", type=int, default=10, help="epoch switches timed per run")
    parser.add_argument("--run", type=Path, action="append", default=[],
                        help="bench this run (repeatable) instead of the demo and the 20k run, from a cold cache")
    parser.add_argument("--fill-maps", action="store_true",
                        help="with --run: epochs past the last fitted one get copies of its map (see fill_maps)")
    parser.add_argument("--no-frames", dest="frames", action="store_false",
                        help="with --run: the server's cache gets the maps only, not the frames `ttv proxy` renders")
    parser.add_argument("--first-visit", type=int, default=0, metavar="N",
                        help="instead: N cold first visits to the demo, nothing pressed (see the module's help)")
    args = parser.parse_args()
    reason = browser.missing_tools()
    if reason:
        print(f"cannot run: {reason}")
        return 2
    if args.first_visit:
        return first_visits(args.first_visit)
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="ttv-bench-browser-"))
    cache.mkdir(parents=True, exist_ok=True)
    print(f"cache {cache}; {os.cpu_count()} CPU cores", flush=True)
    if args.fill_maps:
        for run in args.run:
            print(f"{run.name}: {fill_maps(run, cache)} epochs given copies of the last fitted map", flush=True)
    prepared = prepare(cache, args.run)
    served = cache
    if args.run:  # the server starts from what `ttv proxy` leaves: a cold first visit
        served = Path(tempfile.mkdtemp(prefix="ttv-bench-cold-"))
    try:
        if served != cache:
            maps_only(cache, served)
            if args.frames:
                opening_frames(args.run, served)
        rows = measure(served, prepared, args)
    finally:
        if served != cache:  # the cold copy (0.8 GB at 60,000 x 200): nothing of it is the user's
            shutil.rmtree(served, ignore_errors=True)

    print(f"\n{'run':<10} {'samples':>8} {'epochs':>6} {'picture s':>9} {'load s':>7} {'again s':>7} {'fps':>6} "
          f"{'target':>6} {'switch ms':>9} {'rerun ms':>8} {'rerun KB':>8} {'server MB':>9}")
    verdicts = []
    for name, samples, n_epochs, picture, first, picture_again, again, fps, frame_ms, rerun_ms, rerun_kb, memory in rows:
        target = TARGET_FPS.get(name, TARGET_FPS["gauss-20k"])
        rerun = f"{rerun_ms:8.0f}" if rerun_ms is not None else f"{'none':>8}"
        print(f"{name:<10} {samples:>8,} {n_epochs:>6} {picture:>4.1f}/{picture_again:<4.1f} {first:>7.1f} {again:>7.1f} "
              f"{fps:>6.1f} {target:>6.1f} {frame_ms:>9.0f} {rerun} {rerun_kb:>8.0f} {memory or 0:>9.0f}")
        verdicts.append((f"{name}: playback >= {target:g} fps: {fps:.1f}", fps >= target))
        verdicts.append((f"{name}: first picture within {TARGET_PICTURE:g} s on the first visit: {picture:.1f}",
                         picture <= TARGET_PICTURE))
        if rerun_ms is not None:
            verdicts.append((f"{name}: epoch switch settled within {TARGET_SWITCH_MS:g} ms: {rerun_ms:.0f}",
                             rerun_ms <= TARGET_SWITCH_MS))
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'} {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
