"""The run driver: per-epoch results are memoized, resumable, cancellable, and drawn in one frame."""

import json

import numpy as np
import pytest

import ttv_core
from ttv_core.run.cli import main
from ttv_core.config import Runtime, VisConfig
from ttv_core.errors import ConfigError
from ttv_core.fit.proxy import ProxyVisualizer
import ttv_core.fit.proxy as proxy_module
from ttv_core.run.chain import chain_basis, chain_of, landing_of, landing_share, mapped_through, unmapped
from ttv_core.run.frames import cached_frame, opening_style
from ttv_core.run.store import ResultStore
from ttv_core.run.visualize import SLIM, Visualization, load_visualizer

FAST = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=2, resolution=24)


@pytest.fixture(scope="module")
def run(small_demo):
    return small_demo


@pytest.fixture(scope="module")
def dynamics(run):
    return ttv_core.load_dynamics(run)


def _statuses(_=None):
    seen = []
    return seen, (lambda progress: seen.append((progress.epoch, progress.status)))


def test_second_fit_reads_everything_from_the_cache(dynamics, cache_dir):
    first_seen, first_report = _statuses(None)
    first = Visualization(dynamics, "proxy", FAST, cache_dir).fit(on_epoch_end=first_report)
    again_seen, again_report = _statuses(None)
    again = Visualization(dynamics, "proxy", FAST, cache_dir).fit(on_epoch_end=again_report)
    assert first_seen == [(e, "computed") for e in (1, 2, 3, 4)]
    assert again_seen == [(e, "cached") for e in (1, 2, 3, 4)]
    np.testing.assert_array_equal(first.results_[4].embeddings["train"], again.results_[4].embeddings["train"])
    assert first.results_[4].embeddings["train"].shape == (dynamics.n_train, 2)
    assert first.results_[4].embeddings["test"].shape == (dynamics.n_test, 2)


def test_interrupted_run_resumes_without_recomputing(dynamics, cache_dir):
    finished = []
    stopped = Visualization(dynamics, "proxy", FAST, cache_dir).fit(
        on_epoch_end=lambda p: finished.append(p.epoch), should_stop=lambda: len(finished) >= 2)
    assert stopped.cancelled_ and sorted(stopped.results_) == [1, 2]
    seen, report = _statuses(None)
    resumed = Visualization(dynamics, "proxy", FAST, cache_dir).fit(on_epoch_end=report)
    assert seen == [(1, "cached"), (2, "cached"), (3, "computed"), (4, "computed")]
    assert not resumed.cancelled_


def test_an_epoch_cut_short_is_not_stored(dynamics, cache_dir):
    calls = {"n": 0}

    def stop_during_training():
        calls["n"] += 1
        return calls["n"] > 1  # the first check (before epoch 1) passes; training then sees a stop

    cut = Visualization(dynamics, "proxy", FAST, cache_dir).fit([1], should_stop=stop_during_training)
    assert cut.cancelled_ and cut.results_ == {}
    seen, report = _statuses(None)
    Visualization(dynamics, "proxy", FAST, cache_dir).fit([1], on_epoch_end=report)
    assert seen == [(1, "computed")]


def test_one_extent_holds_every_epoch_and_territories_use_it(dynamics, cache_dir):
    visualization = Visualization(dynamics, "proxy", FAST, cache_dir).fit([2, 3, 4])
    extent = visualization.extent_
    for epoch in (2, 3, 4):
        assert extent.contains(visualization.results_[epoch].embeddings["train"]).all()
        territory = visualization.territory(epoch)
        assert territory.image.shape == (24, 24, 3) and territory.extent == extent
    assert visualization.territory(3).png().startswith(b"\x89PNG")


def test_chain_starts_at_the_first_epoch_so_results_do_not_depend_on_the_range(dynamics, cache_dir):
    whole = Visualization(dynamics, "proxy", FAST, cache_dir).fit()
    late = Visualization(dynamics, "proxy", FAST, cache_dir).fit([3])
    np.testing.assert_array_equal(whole.results_[3].embeddings["train"], late.results_[3].embeddings["train"])


def test_chain_basis_starts_each_stretch_from_the_keyframe_before():
    assert [chain_basis(i, 3) for i in range(8)] == [None, 0, 1, 0, 3, 4, 3, 6]
    assert [chain_basis(i, 0) for i in range(4)] == [None, 0, 1, 2]
    epochs = list(range(1, 201))
    keyframes = list(range(1, 182, 20))  # 1, 21, ..., 181
    assert chain_of(epochs, [190], 20) == [*keyframes, *range(182, 191)]  # 19 fits, not 190
    assert chain_of(epochs, [5, 190], 20) == [*keyframes, 2, 3, 4, 5, *range(182, 191)]  # keyframes first
    assert chain_of(epochs, [5], 20) == [1, 21, 2, 3, 4, 5]  # and the keyframe epoch 5's stretch lands on
    assert chain_of(epochs, [5], 20, lands=False) == [1, 2, 3, 4, 5]  # the umap baseline never lands
    assert chain_of(epochs, [190], 20, known=(181,)) == list(range(182, 191))  # a worker given its keyframe
    assert chain_of(epochs, [175], 20, known=(161, 181)) == list(range(162, 176))  # ... and the one it lands on
    assert [landing_of(i, 3, 8) for i in range(8)] == [None, 3, 3, None, 6, 6, None, None]  # none after the last
    assert [landing_share(i, 4) for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 0.0]
    now, then = np.array([[1, 2], [0, 2], [0, 1]]), np.array([[1, 2], [0, 1], [0, 1]])
    np.testing.assert_allclose(landing_share(2, 4, now, then), [0.5, 0.25, 0.5])  # times the neighbours in common
    assert landing_of(5, 0, 8) is None
    assert chain_of(epochs, [190], 0) == list(range(1, 191))
    assert chain_of([2, 4, 6, 8], [8], 2) == [2, 6, 8]  # positions in the run, not epoch numbers


def test_a_late_epoch_computes_only_its_stretch_and_the_keyframes(dynamics, tmp_path, monkeypatch):
    config = FAST.replace(stretch_epochs=2)
    seen, report = _statuses(None)
    long_steps = []
    fit = ProxyVisualizer.fit
    monkeypatch.setattr(ProxyVisualizer, "fit", lambda self, *args, **kwargs: long_steps.append(kwargs["long_step"])
                        or fit(self, *args, **kwargs))
    late = Visualization(dynamics, "proxy", config, tmp_path).fit([4], on_epoch_end=report)
    assert [epoch for epoch, _ in seen] == [1, 3, 4] and sorted(late.results_) == [1, 3, 4]
    assert long_steps == [False, True, False]  # epoch 3 starts a stretch, from epoch 1: a long step
    whole = Visualization(dynamics, "proxy", config, tmp_path).fit()  # the same maps, read back
    np.testing.assert_array_equal(whole.results_[4].embeddings["train"], late.results_[4].embeddings["train"])
    assert whole.results_[3].key != Visualization(dynamics, "proxy", FAST, tmp_path).fit([3]).results_[3].key


def test_a_long_chains_keys_are_computed_in_a_loop_in_any_order():
    from types import SimpleNamespace

    from ttv_core.run.chain import _stored

    run = SimpleNamespace(epochs=tuple(range(1, 1501)), fingerprint=str)  # one chain of 1,500 epochs
    stored = _stored(run, "proxy", VisConfig().replace(stretch_epochs=0), set())
    assert stored(1499) is False and stored(0) is False  # the last epoch first: no RecursionError


def test_a_stretch_lands_on_the_next_keyframe(dynamics, tmp_path, monkeypatch):
    config = FAST.replace(stretch_epochs=2)  # keyframes 1 and 3; epoch 2 lands on 3, epoch 4 on none
    calls, fit = [], ProxyVisualizer.fit

    def recorded(self, representations, **kwargs):
        calls.append((kwargs["landing"], kwargs["landing_share"]))
        return fit(self, representations, **kwargs)

    monkeypatch.setattr(ProxyVisualizer, "fit", recorded)
    seen, report = _statuses(None)
    chain = Visualization(dynamics, "proxy", config, tmp_path / "landing").fit(on_epoch_end=report)
    assert [epoch for epoch, _ in seen] == [1, 3, 2, 4]  # the keyframes first
    third = chain.results_[3]
    layout = third.embeddings["train"] / np.float32(third.state["canvas"]["scale"])
    assert calls[0][0] is None and calls[1][0] is None and calls[3][0] is None
    np.testing.assert_allclose(calls[2][0], layout, rtol=1e-6)
    share = calls[2][1]  # half way through the stretch, times each sample's neighbours shared with epoch 3
    assert share.shape == (300,) and 0 < share.mean() and share.max() <= 0.5
    with ResultStore(tmp_path / "landing") as store:  # the keys of stretch maps, computed without reading one
        assert mapped_through(dynamics, "proxy", config, store) == 4
    Visualization(dynamics, "proxy", config, tmp_path / "keyframes").fit([1, 3])
    with ResultStore(tmp_path / "keyframes") as store:
        assert mapped_through(dynamics, "proxy", config, store) == 1
        assert unmapped(dynamics, "proxy", config, store, [2]) == [2]  # its keyframes are there
        assert unmapped(dynamics, "proxy", config.replace(seed=1), store, [2]) == [1, 3, 2]  # 3: where 2 lands
    viewed = Visualization(dynamics, "proxy", config, tmp_path / "keyframes").fit(compute=False)
    assert sorted(viewed.results_) == [1] and viewed.missing_ == [2, 3, 4]  # a prefix, as views expect
    # Without landing (the start left where the previous map puts the samples), epoch 2 ends farther from 3.
    monkeypatch.setattr(proxy_module, "landing_toward", lambda start, landing, share: start)
    free = Visualization(dynamics, "proxy", config, tmp_path / "free").fit()

    def gap(visualization):
        maps = [visualization.results_[e].embeddings["train"] for e in (2, 3)]
        return float(np.linalg.norm(maps[0] - maps[1], axis=1).mean() / maps[1].std())

    assert gap(chain) < 0.9 * gap(free), (gap(chain), gap(free))


def test_a_view_of_a_grown_run_shows_its_stretch_from_before_until_it_lands(tmp_path):
    import torch

    from helpers import make_small_run

    config, cache = FAST.replace(stretch_epochs=2), tmp_path / "cache"
    runs = []
    for name, epochs in (("early", (1, 2)), ("grown", (1, 2, 3, 4))):  # the same run, before and after epochs 3-4
        torch.manual_seed(0)
        runs.append(ttv_core.load_dynamics(make_small_run(tmp_path / name, epochs=epochs, n_train=40, dim=6)))
    early, grown = runs
    before = Visualization(early, "proxy", config, cache).fit()  # epoch 2: no keyframe after it yet, no landing
    viewed = Visualization(grown, "proxy", config, cache).fit(compute=False)
    assert sorted(viewed.results_) == [1, 2] and viewed.missing_ == [3, 4]  # not [1]: the map from before
    np.testing.assert_array_equal(viewed.results_[2].embeddings["train"], before.results_[2].embeddings["train"])
    landed = Visualization(grown, "proxy", config, cache).fit()
    assert landed.results_[2].key != before.results_[2].key  # refitted to land on epoch 3
    viewed = Visualization(grown, "proxy", config, cache).fit(compute=False)
    assert sorted(viewed.results_) == [1, 2, 3, 4] and viewed.results_[2].key == landed.results_[2].key


def test_load_visualizer(run, cache_dir):
    visualizer = load_visualizer(run, "proxy", 2, cache_dir=cache_dir, config=FAST)
    points = visualizer.transform(np.asarray(ttv_core.load_dynamics(run).representations(2)))
    assert points.shape[1] == 2 and visualizer.inverse_transform(points[:3]).shape == (3, 64)


def test_an_unfitted_visualization_says_fit_first(dynamics):
    with pytest.raises(ConfigError, match="call fit first"):
        Visualization(dynamics, "proxy", FAST).extent_


def test_unknown_method_is_a_clear_error(dynamics):
    with pytest.raises(ValueError, match="'method'"):
        Visualization(dynamics, "tsne")


def test_cli_writes_outputs_and_refuses_to_overwrite(run, tmp_path, capsys):
    flags = ["--cache-dir", str(tmp_path / "cache"), "--hidden", "32", "--max-passes", "2", "--resolution", "24"]
    out = tmp_path / "out"
    assert main(["proxy", str(run), "--epochs", "2:3", "--out", str(out), *flags]) == 0
    for epoch in (2, 3):
        assert np.load(out / f"epoch_{epoch}" / "embedding.npy").shape == (300, 2)
        assert (out / f"epoch_{epoch}" / "territory.png").read_bytes().startswith(b"\x89PNG")
        assert set(json.loads((out / f"epoch_{epoch}" / "extent.json").read_text())) == {"x_min", "y_min", "x_max", "y_max"}
    assert "ppr_train" in json.loads((out / "proxy_eval.json").read_text())
    err = capsys.readouterr().err
    assert "figures: 100%" in err and "frames: 100%" in err  # the evaluation and the frames show their progress
    # the frames a first visit of the dashboard shows are in the cache: it opens on a picture at once
    view = Visualization(ttv_core.load_dynamics(run), "proxy", VisConfig.of(hidden=32, max_passes=2, resolution=24),
                         tmp_path / "cache").fit(compute=False, slim=True)
    assert sorted(view.results_) == [1, 2, 3]  # the chain fits from the first epoch; all three are shown
    assert all(cached_frame(view, e, opening_style(view.dynamics)) is not None for e in (1, 2, 3))
    bare = [*flags[2:], "--cache-dir", str(tmp_path / "bare")]
    assert main(["proxy", str(run), "--epochs", "1", "--no-frames", *bare]) == 0
    view = Visualization(view.dynamics, "proxy", view.config, tmp_path / "bare").fit(compute=False, slim=True)
    assert cached_frame(view, 1, opening_style(view.dynamics)) is None
    assert main(["proxy", str(run), "--epochs", "2:3", "--out", str(out), *flags]) == 2
    assert "--overwrite" in capsys.readouterr().err
    original = tmp_path / "original"
    assert main(["export", str(run), "--epochs", "2", "--method", "proxy", "--out", str(original), *flags]) == 0
    model = original / "Model"
    assert np.load(model / "Epoch_2" / "scale.npy").shape == (4,)
    assert (model / "Epoch_2" / "bgimg.png").is_file() and (model / "proxy_eval.json").is_file()
    assert set(json.loads((model / "subject_model_eval.json").read_text())) == {"train_acc", "test_acc"}


def test_cli_rejects_bad_epoch_ranges(run, tmp_path, capsys):
    assert main(["proxy", str(run), "--epochs", "7:9", "--cache-dir", str(tmp_path)]) == 2
    assert "--epochs '7:9'" in capsys.readouterr().err


def test_umap_baseline_has_maps_and_figures_but_no_territory(dynamics, cache_dir):
    from ttv_core.fit.alignment import flip_report

    visualization = Visualization(dynamics, "umap", FAST, cache_dir).fit([1, 2, 3])
    assert visualization.territory(2) is None and visualization.visualizer(2) is None
    figures = visualization.figures(2)
    assert figures["ppr_train"] is None and figures["b_train"] is None and figures["nn_rate_train"] > 0.2
    for alignment in flip_report([visualization.results_[e].embeddings["train"] for e in (1, 2, 3)]):
        assert not alignment.reflection, "the baseline is aligned to its previous epoch"


def test_where_a_fit_runs_changes_no_key(dynamics, cache_dir, monkeypatch):
    first = Visualization(dynamics, "proxy", FAST, cache_dir, Runtime(device="cpu", cpu_threads=1)).fit([1, 2])

    def no_refit(*args, **kwargs):
        raise AssertionError("another device or thread count must not recompute a cached map")

    monkeypatch.setattr("ttv_core.fit.proxy.ProxyVisualizer.fit", no_refit)
    seen, report = _statuses(None)
    again = Visualization(dynamics, "proxy", FAST, cache_dir, Runtime(device="auto", cpu_threads=2)).fit(
        [1, 2], on_epoch_end=report)
    assert seen == [(1, "cached"), (2, "cached")]
    np.testing.assert_array_equal(first.results_[2].embeddings["train"], again.results_[2].embeddings["train"])


def test_al_refines_the_cached_proxy_chain(dynamics, cache_dir, monkeypatch):
    proxy = Visualization(dynamics, "proxy", FAST, cache_dir).fit([1, 2])

    def no_refit(*args, **kwargs):
        raise AssertionError("the proxy chain must come from the cache")

    monkeypatch.setattr("ttv_core.fit.proxy.ProxyVisualizer.fit", no_refit)
    seen, report = _statuses(None)
    al = Visualization(dynamics, "al", FAST, cache_dir).fit([1, 2], on_epoch_end=report)
    assert seen == [(1, "computed"), (2, "computed")]  # the refinement is new work, on cached proxies
    trust = al.results_[2].trust_map
    assert trust.probe_mask.any() and 0.0 <= trust.preserved_before <= trust.preserved_after <= 1.0
    # a refined map differs from the proxy's exactly when a refinement pass was kept (it may not be: a
    # pass that would lower the samples' PPR is dropped)
    refined = not np.array_equal(al.results_[2].embeddings["train"], proxy.results_[2].embeddings["train"])
    assert refined == (trust.preserved_after > trust.preserved_before)
    assert al.territory(2) is not None and al.figures(2)["ppr_train"] is not None


def test_slim_maps_hold_embeddings_and_read_the_models_back(dynamics, cache_dir):
    whole = Visualization(dynamics, "al", FAST, cache_dir).fit([1, 2])
    slim = Visualization(dynamics, "al", FAST, cache_dir).fit([1, 2], compute=False, slim=True)
    held = slim.results_[2]
    assert held.state is None and held.trust_map is None and held.key == whole.results_[2].key
    np.testing.assert_array_equal(held.embeddings["train"], whole.results_[2].embeddings["train"])
    np.testing.assert_array_equal(slim.territory(2).image, whole.territory(2).image)  # the model, read back
    assert slim._result(2).trust_map is not None


def test_a_slim_read_reads_the_results_without_their_models(dynamics, tmp_path):
    whole = Visualization(dynamics, "proxy", FAST, tmp_path / "fitted").fit([1, 2])
    assert all(result.key + SLIM in whole.store for result in whole.results_.values())  # stored with each result
    landed = ResultStore(tmp_path / "landed")
    for key in whole.keys_:  # as a fan-out's results land in the driver: whole results only
        landed.put(key, whole.store.get(key))
    slim = Visualization(dynamics, "proxy", FAST, tmp_path / "landed").fit([1, 2], compute=False, slim=True)
    assert sorted(slim.results_) == [1, 2] and all(result.key + SLIM in landed for result in slim.results_.values())
    np.testing.assert_array_equal(slim.results_[2].embeddings["test"], whole.results_[2].embeddings["test"])


def test_render_and_al_settings_do_not_invalidate_fitted_proxy_maps(dynamics, cache_dir):
    Visualization(dynamics, "proxy", FAST, cache_dir).fit([1])
    for changed in (FAST.replace(resolution=32), FAST.replace(al_max_passes=1, probe_resolution=50)):
        seen, report = _statuses(None)
        Visualization(dynamics, "proxy", changed, cache_dir).fit([1], on_epoch_end=report)
        assert seen == [(1, "cached")]
    seen, report = _statuses(None)
    Visualization(dynamics, "proxy", FAST.replace(seed=5), cache_dir).fit([1], on_epoch_end=report)
    assert seen == [(1, "computed")], "a setting the map depends on must change its key"


def test_umap_maps_do_not_depend_on_proxy_settings(dynamics, cache_dir):
    Visualization(dynamics, "umap", FAST, cache_dir).fit([1])
    seen, report = _statuses()
    Visualization(dynamics, "umap", FAST.replace(hidden=48, lambda_prediction=0.5), cache_dir).fit([1], on_epoch_end=report)
    assert seen == [(1, "cached")]


def test_runs_without_a_test_split_and_too_small_runs(tmp_path, cache_dir):
    from helpers import make_small_run

    no_test = make_small_run(tmp_path / "no-test", n_train=40, n_test=0, epochs=(1, 2))
    for method in ("proxy", "umap"):
        fitted = Visualization(ttv_core.load_dynamics(no_test), method, FAST.replace(n_neighbors=5), cache_dir).fit()
        assert fitted.results_[2].embeddings["test"].shape == (0, 2)
    tiny = ttv_core.load_dynamics(make_small_run(tmp_path / "tiny", n_train=8, n_test=2))
    with pytest.raises(ValueError, match="'n_neighbors' parameter .* 8 training samples.*--n-neighbors"):
        Visualization(tiny, "proxy", FAST, cache_dir).fit()


def test_read_only_fit_reads_the_cached_prefix_and_trains_nothing(dynamics, cache_dir):
    empty = Visualization(dynamics, "proxy", FAST, cache_dir).fit(compute=False)
    assert empty.results_ == {} and empty.missing_ == [1, 2, 3, 4] and empty.extent_ is None
    assert not empty.cancelled_
    assert len(empty.store._cache) == 0  # nothing was trained or stored

    trained = Visualization(dynamics, "proxy", FAST, cache_dir).fit([2])
    read = Visualization(dynamics, "proxy", FAST, cache_dir).fit(compute=False)
    assert sorted(read.results_) == [1, 2] and read.missing_ == [3, 4]
    np.testing.assert_array_equal(read.results_[2].embeddings["train"], trained.results_[2].embeddings["train"])
    other = Visualization(dynamics, "proxy", FAST.replace(seed=1), cache_dir).fit(compute=False)
    assert other.missing_ == [1, 2, 3, 4]  # another configuration's maps are other maps


def test_figures_can_be_read_without_computing(dynamics, cache_dir):
    viz = Visualization(dynamics, "proxy", FAST, cache_dir).fit([1])
    assert viz.figures(1, compute=False) is None
    computed = viz.figures(1)
    assert viz.figures(1, compute=False) == computed


def test_the_chain_computes_each_epochs_sample_neighbours_once(dynamics, tmp_path, monkeypatch):
    """The temporal strength and the proxy graph need the same exact kNN, the graph's largest cost on a
    large run: the chain hands it over instead of computing it twice."""
    import ttv_core.fit.graph

    searched = []
    original = ttv_core.fit.graph.nearest_neighbors

    def counted(points, k, **options):
        if len(points) == dynamics.n_train and np.shape(points)[1] == dynamics.dim:
            searched.append(k)
        return original(points, k, **options)

    monkeypatch.setattr("ttv_core.fit.graph.nearest_neighbors", counted)
    monkeypatch.setattr("ttv_core.run.visualize.nearest_neighbors", counted)
    Visualization(dynamics, "proxy", FAST, tmp_path).fit([1, 2, 3])
    assert len(searched) == 3, f"{len(searched)} kNN searches of the samples for 3 epochs"
