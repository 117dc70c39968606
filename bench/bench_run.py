"""Run-level benchmark on the built-in demo: the whole animation through the memoized driver.

Measures, in one invocation and against targets from the compute-core issue:
- the whole demo (all epochs) through ``proxy`` from a fresh process (< 60 s), and the same command
  again, which must compute nothing (< 3 s);
- no flips: the best orthogonal alignment between consecutive epochs' maps is within 15 degrees of
  the identity and never a reflection;
- ``al`` against ``proxy`` on the second half of the epochs: a higher share of round-trip-preserved
  probe cells on every epoch, PPR not lower, at no more than twice proxy's cost.

Usage: ``python bench/bench_run.py [--epochs 11:20]``. Uses a throw-away cache folder.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

_CHILD = """
import json, sys, time
start = time.perf_counter()
import ttv_core
from ttv_core.run.visualize import Visualization
dynamics = ttv_core.load_dynamics(sys.argv[1])
statuses = []
Visualization(dynamics, "proxy", cache_dir=sys.argv[2]).fit(on_epoch_end=lambda p: statuses.append(p.status))
print(json.dumps({"seconds": time.perf_counter() - start, "statuses": statuses}))
"""


def fresh_process_run(run: Path, cache: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", _CHILD, str(run), str(cache)], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", default="11:20", help="epochs for the al-vs-proxy comparison")
    args = parser.parse_args()
    import ttv_core
    from ttv_core.fit.alignment import flip_report
    from ttv_core.run.cli import parse_epochs
    from ttv_core.run.visualize import Visualization

    cache = Path(tempfile.mkdtemp(prefix="ttv-bench-"))
    run = ttv_core.ensure_demo(cache)
    verdicts = []

    first, second = fresh_process_run(run, cache), fresh_process_run(run, cache)
    print(f"whole demo, fresh process: {first['seconds']:.1f} s ({first['statuses'].count('computed')} computed); "
          f"again: {second['seconds']:.2f} s ({second['statuses'].count('cached')} cached)")
    verdicts += [("whole demo < 60 s", first["seconds"] < 60),
                 ("re-run computes nothing, < 3 s", second["seconds"] < 3 and "computed" not in second["statuses"])]

    dynamics = ttv_core.load_dynamics(run)
    proxy = Visualization(dynamics, "proxy", cache_dir=cache).fit()
    alignments = flip_report([proxy.results_[e].embeddings["train"] for e in dynamics.epochs])
    angles = [abs(a.angle_degrees) for a in alignments]
    print(f"consecutive maps: max rotation {max(angles):.1f} deg, median {np.median(angles):.1f} deg, "
          f"reflections {sum(a.reflection for a in alignments)}")
    verdicts.append(("no flips (<= 15 deg, no reflection)", max(angles) <= 15 and not any(a.reflection for a in alignments)))

    epochs = parse_epochs(args.epochs, dynamics.epochs)
    proxy_seconds = {e: proxy.results_[e].seconds for e in epochs}
    start = time.perf_counter()
    al = Visualization(dynamics, "al", cache_dir=cache).fit(epochs)
    print(f"al over {len(epochs)} epochs: {time.perf_counter() - start:.1f} s (proxies cached)")
    print(f"{'epoch':>5} {'preserved proxy':>15} {'preserved al':>12} {'PPR proxy tr/te':>16} {'PPR al tr/te':>13} {'cost al/proxy':>13}")
    ok_share = ok_ppr = ok_cost = True
    for e in epochs:
        trust, p_fig, a_fig = al.results_[e].trust_map, proxy.figures(e), al.figures(e)
        cost = (proxy_seconds[e] + al.results_[e].seconds) / proxy_seconds[e]  # al = its proxy fit + refinement
        print(f"{e:>5} {trust.preserved_before:>15.3f} {trust.preserved_after:>12.3f} "
              f"{p_fig['ppr_train']:>8.3f}/{p_fig['ppr_test']:.3f} {a_fig['ppr_train']:>6.3f}/{a_fig['ppr_test']:.3f} {cost:>13.2f}")
        ok_share &= trust.preserved_after > trust.preserved_before
        ok_ppr &= a_fig["ppr_train"] >= p_fig["ppr_train"] - 0.005 and a_fig["ppr_test"] >= p_fig["ppr_test"] - 0.01
        ok_cost &= cost <= 2.0
    verdicts += [("al raises the preserved probe share on every epoch", ok_share),
                 ("al keeps PPR (train -0.005, test -0.01 at most)", ok_ppr), ("al costs <= 2x proxy", ok_cost)]
    for name, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
