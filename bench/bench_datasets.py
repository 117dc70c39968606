"""The Datasets page's listing: how long 100 runs under a data root take to appear (issue 15: within 1 s).

Run from the repository root::

    python bench/bench_datasets.py                   # 100 runs of 20 epochs, 500 samples, with thumbnails
    python bench/bench_datasets.py --runs 300 --epochs 50

Builds ``--runs`` small ttv runs (random representations, 28 x 28 thumbnails) and 5 broken folders under a
temporary data root, then prints:

- ``scan``: :func:`ttv_core.data.catalog.scan` of the root, from manifests alone (median of 5);
- ``page, cold``: the whole Datasets page in Streamlit's AppTest with every cache of the page empty: the
  scan, and for the 12 cards on show their thumbnails and which maps the cache holds;
- ``page, warm``: the page run again (what a visitor waits for on each click once the scan is cached).

The AppTest time includes running the router script, not the browser's drawing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]


def build(root: Path, runs: int, epochs: int, n_train: int) -> None:
    import numpy as np
    from torch import nn

    from ttv_core import Recorder

    rng = np.random.default_rng(0)
    labels = np.arange(n_train) % 10
    for index in range(runs):
        with Recorder(root / f"group-{index % 4}" / f"run-{index:03d}", classes=[f"c{c}" for c in range(10)],
                      train_labels=labels, test_labels=labels[: n_train // 5], head=nn.Linear(16, 10),
                      train_thumbnails=rng.integers(0, 255, (n_train, 28, 28), dtype=np.uint8)) as recorder:
            for epoch in range(1, epochs + 1):
                recorder.log_epoch(epoch, train=rng.normal(size=(n_train, 16)).astype(np.float32),
                                   test=rng.normal(size=(n_train // 5, 16)).astype(np.float32))
    for index in range(5):
        (root / f"broken-{index}").mkdir()
        (root / f"broken-{index}" / "ttv_run.json").write_text("{damaged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--n-train", type=int, default=500)
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ttv-bench-datasets-"))
    os.environ.update(TTV_CACHE_DIR=str(work / "cache"), TTV_DATA_ROOT=str(work / "root"), TTV_TRAIN_DEMO="0",
                      HF_HUB_OFFLINE="1")
    start = time.perf_counter()
    build(work / "root", arguments.runs, arguments.epochs, arguments.n_train)
    print(f"built {arguments.runs} runs of {arguments.epochs} epochs in {time.perf_counter() - start:.1f} s")

    from streamlit.testing.v1 import AppTest

    import ttv_core
    from ttv_core.app import page_path
    from ttv_core.data.catalog import scan

    ttv_core.ensure_demo()  # the demo's card reads its manifest; building it is not the listing's cost
    times = []
    for _ in range(5):
        start = time.perf_counter()
        found = scan([work / "root"])
        times.append(time.perf_counter() - start)
    print(f"scan:        {statistics.median(times) * 1000:7.1f} ms for {len(found)} folders "
          f"({sum(entry.broken for entry in found)} broken)")

    at = AppTest.from_file(str(HERE.parent / "streamlit_app.py"), default_timeout=60)
    at.run()  # the root address: the demo on Territories
    at.switch_page(page_path("datasets"))
    start = time.perf_counter()
    at.run()
    cold = time.perf_counter() - start
    start = time.perf_counter()
    at.run()
    warm = time.perf_counter() - start
    assert not at.exception, at.exception
    cards = sum(1 for button in at.button if button.key.startswith("datasets_open:"))
    print(f"page, cold:  {cold * 1000:7.1f} ms ({cards} cards with an Open button on show)")
    print(f"page, warm:  {warm * 1000:7.1f} ms")
    print(f"{'PASS' if cold <= 1.0 else 'FAIL'}: the listing of {arguments.runs} runs appears within 1 s")


if __name__ == "__main__":
    main()
