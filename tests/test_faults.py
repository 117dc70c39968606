"""Faults survived (issue 13, "a fault suite"): a run killed with SIGKILL mid-epoch loses nothing, and
resumed, it gives exactly what an uninterrupted run gives. (Damaged and planted cache entries and a full
disk: tests/test_store_codec.py; two processes on one result: tests/test_memo.py.)"""

import os
import signal
import subprocess
import sys
import time

import numpy as np

import ttv_core
from helpers import make_small_run

FLAGS = ["--max-passes", "8", "--warm-max-passes", "8", "--resolution", "24"]
CONFIG = ttv_core.VisConfig.of(max_passes=8, warm_max_passes=8, resolution=24)


def proxy(run, cache):
    return [sys.executable, "-m", "ttv_core", "proxy", str(run), "--cache-dir", str(cache), *FLAGS]


def maps(run, cache) -> dict[int, dict[str, np.ndarray]]:
    fitted = ttv_core.Visualization(ttv_core.load_dynamics(run), "proxy", CONFIG, cache_dir=cache).fit(compute=False)
    return {epoch: result.embeddings for epoch, result in fitted.results_.items()}


def test_a_run_killed_mid_epoch_resumes_to_exactly_the_uninterrupted_maps(tmp_path):
    run = make_small_run(tmp_path / "run", epochs=(1, 2, 3, 4, 5), n_train=500, n_test=60, dim=32)
    subprocess.run(proxy(run, tmp_path / "whole"), check=True, capture_output=True, timeout=300)
    killed = subprocess.Popen(proxy(run, tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen, deadline = b"", time.time() + 240
    while b"epoch 2 computed" not in seen and time.time() < deadline:  # the progress bar names each stored epoch
        chunk = os.read(killed.stderr.fileno(), 256)
        if not chunk:
            break
        seen += chunk
    os.kill(killed.pid, signal.SIGKILL)  # while epoch 3 trains
    killed.wait(timeout=30)
    killed.stderr.close()
    assert killed.returncode == -signal.SIGKILL
    kept = maps(run, tmp_path / "killed")
    assert 2 <= len(kept) < 5, f"epochs kept after the kill: {sorted(kept)}"
    subprocess.run(proxy(run, tmp_path / "killed"), check=True, capture_output=True, timeout=300)
    whole, resumed = maps(run, tmp_path / "whole"), maps(run, tmp_path / "killed")
    assert sorted(resumed) == sorted(whole) == [1, 2, 3, 4, 5]
    for epoch in whole:
        for split in ("train", "test"):
            assert np.array_equal(resumed[epoch][split], whole[epoch][split]), (epoch, split)
