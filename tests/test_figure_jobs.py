"""Figure jobs, without Streamlit: cached figures at once, the rest in the background, shared, stoppable."""


import pytest

import ttv_core
from ttv_core.app.jobs import FigureJob, JobRegistry, cached_figures, figure_key, job_key, time_left
from helpers import GatedStore, make_small_run, wait_for
from ttv_core.config import VisConfig
from ttv_core.run.visualize import Visualization

TINY = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=2, layout_epochs=20, warm_max_passes=2, resolution=24)


@pytest.fixture(scope="module")
def dynamics(tmp_path_factory):
    return ttv_core.load_dynamics(make_small_run(tmp_path_factory.mktemp("runs") / "tiny", epochs=(1, 2, 3),
                                                 n_train=60, n_test=20))


@pytest.fixture()
def maps(dynamics, cache_dir):
    """The proxy maps of every epoch in a fresh cache, read back as a page reads them (no figures yet)."""
    Visualization(dynamics, "proxy", TINY, cache_dir).fit()
    return Visualization(dynamics, "proxy", TINY, cache_dir).fit(compute=False)


def test_a_job_evaluates_every_mapped_epoch_then_the_run(maps, registry):
    assert cached_figures(maps) == {1: None, 2: None, 3: None}
    job = wait_for(registry.evaluate(maps))

    assert isinstance(job, FigureJob) and job.status == "done", job.error
    assert job.progress == 1.0 and job.eta is None and set(job.seconds) == {1, 2, 3}
    assert job.figures == {epoch: maps.figures(epoch) for epoch in (1, 2, 3)}  # the core's own figures
    assert 0.0 <= job.figures[3]["ppr_train"] <= 1.0
    assert set(job.temporal) == {"tnn", "tlr", "k"} and 0.0 <= job.temporal["tnn"] <= 1.0
    assert cached_figures(maps) == job.figures  # stored for every later reader


def test_cached_figures_are_there_when_the_job_is_made(maps, registry, dynamics, cache_dir):
    maps.figures(2)  # evaluated earlier, e.g. by the command line
    job = registry.evaluate(maps)
    assert job.figures[2] == maps.figures(2) and job.completed >= 1
    wait_for(job)
    assert set(job.seconds) == {1, 3}  # epoch 2 was read, not computed

    again = JobRegistry()  # a server started later finds everything cached
    try:
        reread = Visualization(dynamics, "proxy", TINY, cache_dir).fit(compute=False)
        fresh = again.evaluate(reread)
        assert fresh.completed == fresh.total == 3
        wait_for(fresh)
        assert fresh.status == "done" and not fresh.seconds and fresh.temporal == job.temporal
    finally:
        again.shutdown()


def test_same_maps_share_one_job_and_more_maps_make_a_new_one(maps, registry, dynamics, cache_dir):
    first = registry.evaluate(maps)
    assert registry.evaluate(maps) is first
    assert registry.evaluate(Visualization(dynamics, "proxy", TINY, cache_dir).fit(compute=False)) is first
    assert registry.get(figure_key(maps)) is first
    wait_for(first)
    assert registry.evaluate(maps) is first  # a finished job too
    shorter = Visualization(dynamics, "proxy", TINY, cache_dir).fit([2], compute=False)
    assert figure_key(shorter) != figure_key(maps)
    assert registry.evaluate(shorter) is not first
    assert figure_key(maps)[2:4] == ("proxy", (1, 2, 3)) and figure_key(maps) != job_key(dynamics, "proxy", TINY, None)


def test_stop_ends_the_job_between_epochs_and_a_new_submit_resumes(maps, registry):
    gated = GatedStore(maps.store)
    maps.store = gated
    job = registry.evaluate(maps)
    assert gated.entered.wait(10)  # epoch 1 is being evaluated
    assert registry.busy
    job.stop()
    gated.release.set()
    wait_for(job)

    assert job.status == "stopped"
    assert job.completed == 1 and job.figures[1] is not None and job.temporal is None
    resumed = wait_for(registry.evaluate(maps))  # a stopped job is replaced
    assert resumed is not job and resumed.status == "done"
    assert set(resumed.seconds) == {2, 3}  # epoch 1 was kept
    assert not registry.busy


def test_a_failed_evaluation_is_reported_and_not_retried(maps, registry):
    class BrokenStore(GatedStore):
        def get_or_compute(self, key, compute, **options):
            raise ttv_core.DataError("epoch_0001/train.npy holds NaN")

    maps.store = BrokenStore(maps.store)
    job = wait_for(registry.evaluate(maps))
    assert job.status == "failed" and "NaN" in job.error
    assert registry.evaluate(maps) is job  # pages ask on every run: the same failure is not redone


def test_time_left_uses_each_jobs_pace_and_the_others_before_it_has_one():
    slow = FigureJob(("a",), {1: {}, 2: None, 3: None}, status="running", seconds={1: 2.0})
    queued = FigureJob(("b",), {1: None, 2: None}, status="queued")
    assert time_left([queued]) is None
    assert time_left([slow, queued]) == pytest.approx(2 * 2.0 + 2 * 2.0)
    assert time_left([FigureJob(("c",), {1: {}}, status="done", seconds={1: 1.0})]) == 0


def test_generation_and_busy_follow_the_jobs_and_fits_outlive_figure_jobs(maps, dynamics, cache_dir):
    registry = JobRegistry(keep_finished=1)
    try:
        fit = wait_for(registry.submit(job_key(dynamics, "proxy", TINY, [1]), dynamics, "proxy", TINY, [1], cache_dir))
        before = registry.generation
        wait_for(registry.evaluate(maps))
        assert registry.generation == before  # figures change no map: views of the maps need no redraw
        shorter = Visualization(dynamics, "proxy", TINY, cache_dir).fit([2], compute=False)
        wait_for(registry.evaluate(shorter))
        assert registry.get(figure_key(maps)) is None  # the older figure job is forgotten...
        assert registry.get(fit.key) is fit  # ...but the finished fit is kept: eviction is by kind
    finally:
        registry.shutdown()
