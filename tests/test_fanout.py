"""Stretches fitted in parallel: the same maps from every backend, the driver alone writes the cache."""

import numpy as np
import pytest

import ttv_core
from ttv_core.config import VisConfig
from ttv_core.errors import ConfigError
from ttv_core.run.fanout import EpochSlice, fit_parallel, stretches_of
from ttv_core.run.visualize import Visualization

FAST = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=2, warm_max_passes=2, layout_epochs=40,
                    resolution=24, stretch_epochs=2)


@pytest.fixture(scope="module")
def dynamics(small_demo):
    return ttv_core.load_dynamics(small_demo)


@pytest.fixture(scope="module")
def sequential(dynamics, tmp_path_factory):
    """The maps of every epoch, fitted the plain way in this process."""
    return Visualization(dynamics, "proxy", FAST, tmp_path_factory.mktemp("plain")).fit()


def _same_maps(one: Visualization, other: Visualization) -> None:
    assert sorted(one.results_) == sorted(other.results_) == list(one.dynamics.epochs)
    for epoch, result in one.results_.items():
        assert result.key == other.results_[epoch].key
        for split in ("train", "test"):
            np.testing.assert_array_equal(result.embeddings[split], other.results_[epoch].embeddings[split])


def test_stretches_group_what_the_asked_epochs_need():
    epochs = list(range(1, 11))
    assert stretches_of(epochs, epochs, 4) == [(1, [2, 3, 4]), (5, [6, 7, 8]), (9, [10])]
    assert stretches_of(epochs, [7], 4) == [(5, [6, 7])]
    assert stretches_of(epochs, [1], 4) == []
    assert stretches_of(epochs, [3], 0) == [(1, [2, 3])]  # one chain: one stretch


def test_a_slice_holds_its_epochs_only_and_keeps_the_runs_epoch_list(dynamics):
    part = EpochSlice.of(dynamics, [1, 3])
    assert part.epochs == dynamics.epochs and part.fingerprint(3) == dynamics.fingerprint(3)
    np.testing.assert_array_equal(part.representations(3, "test"), dynamics.representations(3, "test"))
    with pytest.raises(ConfigError, match="epoch 2 is not in this slice"):
        part.representations(2)


def test_local_processes_store_the_same_maps_as_one_process(dynamics, sequential, tmp_path):
    landed = []
    fanned = fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), backend="loky", jobs=2,
                          on_stretch_end=landed.append)
    assert sorted(landed) == [[2], [4]]  # epoch 3 is a keyframe: fitted here, after epoch 1
    _same_maps(fanned, sequential)
    again = []
    fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), on_stretch_end=again.append)
    assert again == [], "a cached stretch is not sent again"


def test_a_dask_cluster_stores_the_same_maps_as_one_process(dynamics, sequential, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        fanned = fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), backend="dask",
                              scheduler=cluster.scheduler_address)
    _same_maps(fanned, sequential)


def test_al_fans_out_too(dynamics, tmp_path_factory):
    plain = Visualization(dynamics, "al", FAST, tmp_path_factory.mktemp("al")).fit([2, 4])
    landed, sent = [], []
    fanned = fit_parallel(Visualization(dynamics, "al", FAST, tmp_path_factory.mktemp("al-fan")), [2, 4],
                          backend="sequential", on_stretches=sent.append, on_stretch_end=landed.append)
    assert sent == [[[2], [4]]] and landed == [[2], [4]]  # two stretches: through joblib, not the plain fit
    for epoch in (2, 4):
        np.testing.assert_array_equal(plain.results_[epoch].embeddings["train"], fanned.results_[epoch].embeddings["train"])


def test_bad_backends_are_clear_errors(dynamics, tmp_path):
    with pytest.raises(ConfigError, match="'backend'"):
        fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), backend="spark")
    with pytest.raises(ConfigError, match="'scheduler'"):
        fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), backend="dask")


def test_an_unreachable_scheduler_is_a_clear_error_before_any_fit(dynamics, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("ttv_core.run.fanout.SCHEDULER_TIMEOUT", 2)
    reading = Visualization.fit

    def read_only(self, *args, compute=True, **kwargs):
        assert not compute, "fitted before connecting"
        return reading(self, *args, compute=compute, **kwargs)

    monkeypatch.setattr(Visualization, "fit", read_only)
    with pytest.raises(ConfigError, match="Could not reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        fit_parallel(Visualization(dynamics, "proxy", FAST, tmp_path), backend="dask", scheduler="tcp://127.0.0.1:9")


def test_a_grown_run_has_its_stretch_refitted_to_land_on_the_keyframe_it_now_has(tmp_path):
    import torch

    from helpers import make_small_run

    runs = []
    for name, epochs in (("early", (1, 2, 3, 4)), ("grown", tuple(range(1, 9)))):  # the same run, four epochs later
        torch.manual_seed(0)
        runs.append(ttv_core.load_dynamics(make_small_run(tmp_path / name, epochs=epochs, n_train=40, dim=6)))
    early, grown = runs
    cache = tmp_path / "cache"
    before = Visualization(early, "proxy", FAST, cache).fit()  # epoch 4: no keyframe 5 yet, fitted without landing
    # Stretches [4] (landing on 5 now), [6] and [8] to fit, on two jobs: the read-only view shows epoch 4's map
    # from before, which must not count as done.
    after = fit_parallel(Visualization(grown, "proxy", FAST, cache), jobs=2, backend="sequential")
    assert after.results_[2].key == before.results_[2].key  # it landed on 3 already: read, not refitted
    assert after.results_[4].key != before.results_[4].key
    assert Visualization(grown, "proxy", FAST, cache).fit(compute=False).results_[4].key == after.results_[4].key
