"""A rough forecast of a fit's duration, shown before a job starts and until its first epoch is timed.

Measured on 2 shared cores (2026-12-01, ``bench/bench_chain.py`` and ``bench/bench_scale.py``): a proxy
epoch costs about 1 ms per training sample when laid out afresh (the first epoch, a stretch's
keyframe) and 0.35-0.6 ms when it continues the epoch before, from 1,437 x 64 (demo) to 60,000 x 512;
a fit's worker takes about 4 s to start. Active learning refines each proxy map (2-3x a proxy fit);
umap-learn costs about a warm proxy epoch. Once a job has timed an epoch, its own mean takes over
(:attr:`ttv_core.app.jobs.Job.eta`).
"""

from __future__ import annotations

from ..run.chain import is_keyframe_index

COLD_S_PER_SAMPLE, WARM_S_PER_SAMPLE = 1.0e-3, 0.5e-3
START_S = 4.0  # spawning the fit's worker process and importing torch there
METHOD_FACTOR = {"proxy": 1.0, "al": 3.0, "umap": 1.0}


def fit_seconds(n_train: int, method: str, epochs: list[int], computed: list[int], stretch_epochs: int = 0) -> float:
    """Seconds to compute the maps of ``computed``, a subset of the chain ``epochs`` (the others cached)."""
    if not computed:
        return 0.0
    index = {epoch: position for position, epoch in enumerate(epochs)}
    cold = sum(is_keyframe_index(index[e], stretch_epochs) for e in computed)
    per_sample = cold * COLD_S_PER_SAMPLE + (len(computed) - cold) * WARM_S_PER_SAMPLE
    return START_S + per_sample * n_train * METHOD_FACTOR.get(method, 1.0)


def roughly(seconds: float) -> str:
    """``seconds`` as a person would round them: "about 40 s", "about 3 min", "about 2 h 10 min"."""
    if seconds < 90:
        return f"about {max(5, int(round(seconds / 5.0)) * 5)} s"
    minutes = int(round(seconds / 60.0))
    if minutes < 90:
        return f"about {minutes} min"
    hours, minutes = divmod(int(round(seconds / 600.0)) * 10, 60)
    return f"about {hours} h" + (f" {minutes} min" if minutes else "")
