"""Proxy training: the proxy tree, the graph's vertex indices, the two training stages, and the fitted
visualizer's quality."""

import copy

import numpy as np
import pytest
import torch

from ttv_core.evaluate import metrics
from ttv_core.config import VisConfig
from ttv_core.fit.graph import nearest_neighbors, nearest_neighbors_between
from ttv_core.fit.graph import find_ab_params
from ttv_core.data.head import Head
from ttv_core.run.visualize import neighbourhood_kept
from ttv_core.fit.model import NotFittedError, VisModel, Visualizer
from ttv_core.fit.alignment import best_rotation
from ttv_core.fit import proxies as proxy_module
from ttv_core.fit.proxy import ProxyVisualizer, hierarchical_proxies, stage2_passes, layout_spread, unturned, vertex_strengths, proxy_graph, weaken_cross_class_edges
from ttv_core.fit.train import Trainer, TrainingGraph, _Rollback, cpu_threads, initial_layout, optimize_layout, position_weights
from helpers import gaussian_blobs

SMALL = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=20, batch_size=256, edge_samples_per_pass=2.0,
                  vertex_batch_size=32, warm_max_passes=10, layout_epochs=100, n_neighbors=10)


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs in 12-D and a linear head that tells them apart."""
    return gaussian_blobs(3, scale=6.0)


@pytest.fixture(scope="module")
def fitted(blobs):
    points, _, head = blobs
    return ProxyVisualizer(config=SMALL).fit(points, head=head)


def test_proxy_tree_has_the_mean_the_first_level_and_splits(blobs):
    points, _, _ = blobs
    coarse = hierarchical_proxies(points, 3, min_split=500, dunn_threshold=1.0, seed=0)
    assert len(coarse.centres) == 4  # global mean + one per first-level cluster (all too small to split)
    np.testing.assert_allclose(coarse.centres[0], points.mean(0), rtol=1e-5, atol=1e-5)
    assert coarse.sizes[0] == len(points) and coarse.sizes[1:].sum() == len(points)
    fine = hierarchical_proxies(points, 1, min_split=20, dunn_threshold=10.0, seed=0)
    assert len(fine.centres) > 4 and (fine.radii >= 0).all()


def test_a_large_proxy_tree_grows_on_a_sample_with_the_same_shape(blobs, monkeypatch):
    points, _, _ = blobs
    whole = hierarchical_proxies(points, 3, min_split=20, dunn_threshold=10.0, seed=0)
    monkeypatch.setattr(proxy_module, "PROXY_SAMPLE", len(points) // 2)
    sampled = hierarchical_proxies(points, 3, min_split=20, dunn_threshold=10.0, seed=0)
    assert 0.5 * len(whole.centres) <= len(sampled.centres) <= 1.5 * len(whole.centres)
    assert sampled.sizes[0] == len(points)  # sizes count all points, not the sample
    assert sampled.sizes.max() == len(points) and (sampled.radii >= 0).all()
    assert np.linalg.norm(sampled.centres[0] - points.mean(0)) < 0.1 * np.linalg.norm(points.std(0))


def test_stage_two_passes_shrink_as_the_square_root_past_the_reference_size():
    config = VisConfig.of(max_passes=80, warm_max_passes=50, passes_reference=10_000)
    assert stage2_passes(config, 5_000, warm=False) == 80
    assert stage2_passes(config, 40_000, warm=False) == 40  # 4x the vertices, half the passes: 2x the steps
    assert stage2_passes(config, 5_000, warm=True, strength=np.full(10, 0.5)) == 50
    assert stage2_passes(config, 5_000, warm=True, strength=np.full(10, 0.95)) == 25  # settled: half
    assert stage2_passes(config, 40_000, warm=True, strength=np.full(10, 0.95)) == 12
    assert stage2_passes(config, 10**9, warm=False) >= 1


def test_cpu_blocks_flush_denormals_and_restore_on_leaving():
    tiny = torch.tensor([1e-39], dtype=torch.float32)  # a float32 denormal
    assert float(tiny * 1.0) > 0
    with cpu_threads(torch.device("cpu"), 1):
        with cpu_threads(torch.device("cpu"), 1):
            assert float(tiny * 1.0) == 0.0
        assert float(tiny * 1.0) == 0.0  # an inner block leaving keeps the outer one's setting
    assert float(tiny * 1.0) > 0


def test_proxy_graph_offsets_sample_indices_by_the_number_of_proxies(blobs):
    points, _, _ = blobs
    proxies = hierarchical_proxies(points, 3, min_split=500, dunn_threshold=1.0, seed=0).centres
    p, k = len(proxies), 5
    graph = proxy_graph(points, proxies, k=k, n_epochs=1000)
    np.testing.assert_array_equal(graph.vertices[:p], proxies)
    np.testing.assert_array_equal(graph.vertices[p:], points)
    pairs = set(zip(graph.heads.tolist(), graph.tails.tolist()))
    assert all((t, h) in pairs for h, t in pairs), "edges must be listed in both directions"
    nearest_samples, _ = nearest_neighbors_between(proxies, points, k)
    for proxy in range(p):  # proxy -> sample edges point at that proxy's nearest samples, offset by p
        linked = {t - p for h, t in pairs if h == proxy and t >= p}
        assert linked and linked <= set(nearest_samples[proxy].tolist())
    knn, _ = nearest_neighbors(points, k)
    for sample in range(0, len(points), 17):  # sample -> sample edges join kNN pairs, both offset by p
        linked = {t - p for h, t in pairs if h == p + sample and t >= p}
        assert set(knn[sample].tolist()) <= linked | {sample}


def test_fitted_shapes_dtypes_and_quality(blobs, fitted):
    points, labels, head = blobs
    embedding = fitted.transform(points)
    assert embedding.shape == (180, 2) and embedding.dtype == np.float32
    decoded = fitted.inverse_transform(embedding)
    assert decoded.shape == (180, 12) and decoded.dtype == np.float32
    assert metrics.prediction_preserving_rate(head.predict(points), head.predict(decoded)) >= 0.95
    assert metrics.trustworthiness(points, embedding, 10) >= 0.85
    assert fitted.history_ and all(np.isfinite(entry["loss"]) for entry in fitted.history_)
    assert "prediction" in fitted.history_[0], "a head enables the prediction-preserving loss"


def test_same_seed_same_embedding(blobs, fitted):
    points, _, head = blobs
    again = ProxyVisualizer(config=SMALL).fit(points, head=head)
    np.testing.assert_array_equal(again.transform(points), fitted.transform(points))
    other = ProxyVisualizer(config=SMALL.replace(seed=1)).fit(points, head=head)
    assert not np.allclose(other.transform(points), fitted.transform(points))


def test_fitting_does_not_change_the_config(blobs, fitted):
    assert fitted.config == SMALL


def test_warm_start_with_temporal_anchor(blobs, fitted):
    points, _, head = blobs
    moved = points + np.float32(0.05)
    following = ProxyVisualizer(config=SMALL).fit(moved, head=head, previous=fitted, temporal_strength=0.9)
    shift = np.linalg.norm(following.transform(moved) - fitted.transform(points), axis=1).mean()
    cold = ProxyVisualizer(config=SMALL.replace(seed=3)).fit(moved, head=head)
    cold_shift = np.linalg.norm(cold.transform(moved) - fitted.transform(points), axis=1).mean()
    assert shift < cold_shift, "warm-starting must keep the map closer to the previous epoch's"


def test_state_round_trip(blobs, fitted):
    points, _, _ = blobs
    rebuilt = Visualizer.from_state(fitted.state())
    np.testing.assert_array_equal(rebuilt.transform(points), fitted.transform(points))
    restored = ProxyVisualizer.from_state(fitted.state())  # keeps the proxy tree: al need not rebuild it
    np.testing.assert_array_equal(restored.proxies_.centres, fitted.proxies_.centres)
    np.testing.assert_array_equal(restored.proxies_.radii, fitted.proxies_.radii)


def test_unfitted_visualizer_refuses_to_transform():
    with pytest.raises(NotFittedError, match="not fitted"):
        ProxyVisualizer().transform(np.zeros((2, 3), np.float32))


def test_transform_checks_the_dimension(fitted):
    with pytest.raises(ValueError, match=r"\(n_samples, 12\)"):
        fitted.transform(np.zeros((2, 5), np.float32))


# -- the two stages --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blob_graph(blobs):
    points, _, _ = blobs
    proxies = hierarchical_proxies(points, 3, min_split=500, dunn_threshold=1.0, seed=0).centres
    return proxy_graph(points, proxies, k=10, n_epochs=10), len(proxies)


def _layout(graph, start, seed=0, **options):
    a, b = find_ab_params(1.0, 0.6)
    return optimize_layout(graph, start, n_epochs=60, a=a, b=b, negative_rate=5, seed=seed,
                           device=torch.device("cpu"), **options)


def test_initial_layout_is_the_scaled_principal_plane(blobs):
    points, _, _ = blobs
    start = initial_layout(points)
    assert start.shape == (180, 2) and start.dtype == np.float32
    assert np.isclose(np.abs(start).max(), 10.0) and start[:, 0].var() >= start[:, 1].var()
    np.testing.assert_array_equal(initial_layout(points), start)


def test_optimize_layout_is_seeded_and_makes_a_faithful_map(blobs, blob_graph):
    points, _, _ = blobs
    graph, p = blob_graph
    start = initial_layout(graph.vertices)
    layout = _layout(graph, start)
    assert layout.shape == (len(graph.vertices), 2) and np.isfinite(layout).all()
    np.testing.assert_array_equal(_layout(graph, start), layout)
    assert not np.allclose(_layout(graph, start, seed=1), layout)
    before = metrics.neighbor_preservation(points, start[p:], 10)["rate"]
    after = metrics.neighbor_preservation(points, layout[p:], 10)["rate"]
    assert after > before + 0.05 and metrics.trustworthiness(points, layout[p:], 10) >= 0.9


def test_layout_anchor_keeps_vertices_near_their_start(blob_graph):
    graph, _ = blob_graph
    start = _layout(graph, initial_layout(graph.vertices))
    free = _layout(graph, start, seed=1, learning_rate=0.5)
    anchored = _layout(graph, start, seed=1, learning_rate=0.5, anchor_strength=0.9)
    moved = [np.linalg.norm(layout - start, axis=1).mean() for layout in (free, anchored)]
    assert moved[1] < 0.8 * moved[0]


def test_position_weights_favour_dense_regions():
    rng = np.random.default_rng(0)
    layout = np.concatenate([rng.normal(scale=0.1, size=(50, 2)), rng.normal(scale=5.0, size=(50, 2)) + 20])
    weights = position_weights(layout.astype(np.float32), 5)
    assert weights.shape == (100,) and weights.dtype == np.float32 and (weights > 0).all() and weights.max() <= 10
    assert weights[:50].min() > weights[50:].max()


def test_a_diverged_stage_two_pass_goes_back_to_the_best_model_at_half_the_rate():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    rollback = _Rollback(model, optimizer, schedule)
    best = model.weight.detach().clone()
    assert not rollback.diverged(0.01)
    with torch.no_grad():
        model.weight.mul_(100.0)
    assert not rollback.diverged(0.05)  # worse, but not 10x: training goes on from here
    assert torch.equal(model.weight, best * 100.0)
    assert rollback.diverged(0.5)  # 50x the best: back to it
    assert torch.equal(model.weight, best) and schedule.base_lrs == [0.05]
    assert rollback.diverged(float("nan")) and schedule.base_lrs == [0.025]


def test_a_fit_at_a_rate_that_blows_up_rolls_back(blobs):
    points, _, _ = blobs
    torch.manual_seed(0)
    layout = initial_layout(points)
    graph = TrainingGraph(points, np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32))
    model = VisModel(points.shape[1], 32, 2).set_units(torch.from_numpy(points), torch.from_numpy(layout))
    history = Trainer(SMALL, torch.device("cpu")).run(model, graph, layout=layout, learning_rate=30.0, max_passes=12)
    assert any("rolled_back" in entry for entry in history)
    assert all(np.isfinite(entry["position"]) for entry in history)


def test_weakening_scales_exactly_the_edges_between_classes(blob_graph):
    graph, _ = blob_graph
    classes = (graph.vertices[:, 0] > np.median(graph.vertices[:, 0])).astype(np.int64)
    weakened = weaken_cross_class_edges(graph, classes, 0.25)
    crossing = classes[graph.heads] != classes[graph.tails]
    assert crossing.any() and (~crossing).any()
    np.testing.assert_allclose(weakened.weights[crossing], 0.25 * graph.weights[crossing], rtol=1e-6)
    np.testing.assert_array_equal(weakened.weights[~crossing], graph.weights[~crossing])
    assert weakened.heads is graph.heads and weakened.vertices is graph.vertices


def test_model_units_standardise_and_states_without_them_still_load(blobs, fitted):
    points, _, _ = blobs
    model, vertices = fitted.model_, np.concatenate([fitted.proxies_.centres, points])
    np.testing.assert_allclose(model.encoder.input_shift.numpy(), vertices.mean(0), atol=1e-4)
    np.testing.assert_allclose(model.decoder.output_scale.numpy(), vertices.std(0, ddof=1), rtol=1e-4)
    assert float(model.encoder.output_scale[0]) == float(model.encoder.output_scale[1]) > 0, "isotropic canvas"
    state = fitted.state()
    state["weights"] = {k: v for k, v in state["weights"].items() if "shift" not in k and "scale" not in k}
    old = Visualizer.from_state(state)  # as saved before the units existed: identity units
    assert float(old.model_.encoder.input_scale.min()) == 1.0 and old.transform(points).shape == (180, 2)



def test_the_training_samples_map_is_the_layout_on_the_canvas_and_the_encoder_lies_close_to_it(blobs, fitted):
    points, _, head = blobs
    grown = ProxyVisualizer(config=SMALL).fit(points * np.float32(3.0), head=_shrunk(head, 3.0), previous=fitted)
    assert grown.canvas_["scale"] > 1.2, "the canvas grows with the representations"
    for visualizer in (fitted, grown):
        np.testing.assert_allclose(visualizer.embedding_, visualizer.layout_ * visualizer.canvas_["scale"], rtol=1e-6)
    distance = np.linalg.norm(fitted.transform(points) - fitted.embedding_, axis=1)
    assert np.median(distance) < 0.1 * layout_spread(fitted.embedding_), "new points land in the same frame"
    decoded = fitted.inverse_transform(fitted.embedding_)
    assert metrics.prediction_preserving_rate(head.predict(points), head.predict(decoded)) >= 0.95


def test_the_decoder_learns_from_the_layouts_positions_not_the_encoders_output(blobs):
    points, _, _ = blobs
    layout = initial_layout(points)
    graph = TrainingGraph(points, np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32))
    model = VisModel(points.shape[1], 32, 2).set_units(torch.from_numpy(points), torch.from_numpy(layout))
    seen = []
    model.decoder.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach().clone()))
    Trainer(SMALL, torch.device("cpu")).run(model, graph, layout=layout, max_passes=1)
    decoded = torch.cat(seen).numpy()
    assert len(decoded) > 0
    rows = {tuple(row) for row in layout.astype(np.float32).tolist()}
    assert all(tuple(row) in rows for row in decoded.tolist()), "the decoder read the encoder's output"


def test_fit_records_the_two_stage_losses_and_warm_starts_take_fewer_passes(blobs, fitted):
    points, _, head = blobs
    assert {"position", "reconstruction", "prediction", "loss"} <= set(fitted.history_[0])
    assert len(fitted.history_) == SMALL.train.max_passes and fitted.layout_.shape == (180, 2)
    following = ProxyVisualizer(config=SMALL).fit(points, head=head, previous=fitted)
    assert len(following.history_) == SMALL.train.warm_max_passes < SMALL.train.max_passes


def test_new_units_keep_the_models_function():
    """A warm start re-standardises the model for the new epoch without changing what it computes."""
    model = VisModel(6, 16, 2)
    generator = torch.Generator().manual_seed(0)
    vertices, layout = torch.randn(40, 6, generator=generator) * 3 + 1, torch.randn(40, 2, generator=generator)
    model.set_units(vertices, layout)
    before = [part.detach().clone() for part in model(vertices)]
    grown = vertices * torch.linspace(0.5, 4.0, 6) - 2.0
    model.set_units(grown, layout * 5.0 + 3.0, keep_function=True)
    np.testing.assert_allclose(model.encoder.input_scale.numpy(), grown.std(0).numpy(), rtol=1e-5)
    for old, new in zip(before, model(vertices)):
        np.testing.assert_allclose(new.detach().numpy(), old.numpy(), rtol=1e-4, atol=1e-4)


def _shrunk(head: Head, factor: float) -> Head:
    """The linear ``head`` applied to representations ``factor`` times larger: the same decisions."""
    linear = copy.deepcopy(head.module)
    with torch.no_grad():
        linear.weight /= factor
    return Head(linear, dim=head.dim, n_classes=head.n_classes)


def test_the_map_grows_with_the_representations_only_as_canvas_growth_says(blobs):
    """Representations usually grow over training (here x2 an epoch, 18x on the demo); the map grows as
    their spread ** canvas_growth, and with 0 it keeps its size.

    A warm start used to inherit the representations' scale through the previous encoder, and each
    epoch's layout came out larger than the last, in ways the encoder fitted worse and worse.
    """
    points, _, head = blobs
    for growth in (0.0, SMALL.layout.canvas_growth):
        config = SMALL.replace(canvas_growth=growth)
        first = ProxyVisualizer(config=config).fit(points, head=head)
        previous, size = first, layout_spread(first.transform(points))
        for epoch in range(1, 4):
            grown = points * np.float32(2.0**epoch)
            previous = ProxyVisualizer(config=config).fit(grown, head=_shrunk(head, 2.0**epoch), previous=previous,
                                                         temporal_strength=1.0)
            expected = size * 2.0 ** (growth * epoch)
            assert layout_spread(previous.transform(grown)) == pytest.approx(expected, rel=0.15), (growth, epoch)


def test_temporal_strength_is_each_samples_share_of_neighbours_kept():
    previous = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    current = np.array([[3, 2, 1], [2, 3, 0], [0, 1, 2], [3, 2, 1]])  # order does not matter
    np.testing.assert_allclose(neighbourhood_kept(previous, current), [1.0, 1.0, 2 / 3, 2 / 3])
    strengths = vertex_strengths(np.array([1.0, 0.5]), n_proxies=2, n_samples=2)
    np.testing.assert_allclose(strengths, [0.75, 0.75, 1.0, 0.5])  # proxies take the samples' mean


def test_a_warm_layout_is_turned_back_but_never_mirrored():
    rng = np.random.default_rng(0)
    start = rng.normal(size=(50, 2)).astype(np.float32)
    angle = np.radians(40.0)
    turned = start @ np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]).T + 3.0
    back = unturned(start, turned.astype(np.float32))
    assert best_rotation(start, back).angle_degrees == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_allclose(back.mean(0), turned.mean(0), atol=1e-4)  # turned about its own centre
    mirror_image = start * np.array([-1.0, 1.0], np.float32)
    assert best_rotation(start, unturned(start, mirror_image)).reflection, "only turned, never flipped"


def test_an_epoch_whose_neighbourhoods_mostly_changed_is_laid_out_afresh_in_the_same_frame():
    """Dimensions rescaled at random between epochs change most neighbourhoods: a layout optimised from
    the previous map kept an arrangement the data no longer had (NN rate 0.92 -> 0.17 in 4 epochs)."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(20, 12))
    points = (np.repeat(centres, 12, axis=0) + rng.normal(scale=0.5, size=(240, 12))).astype(np.float32)
    head = Head(torch.nn.Linear(12, 3), dim=12, n_classes=3)
    config = SMALL.replace(warm_max_passes=SMALL.train.max_passes)
    previous, before = ProxyVisualizer(config=config).fit(points, head=head), points
    embedding, keyframes = previous.transform(points), []
    for epoch in range(1, 6):
        scales = np.exp(np.random.default_rng(epoch).normal(scale=0.5 * epoch, size=12)).astype(np.float32)
        now = points * scales + np.float32(3.0 * epoch)
        kept = neighbourhood_kept(nearest_neighbors(before, 10)[0], nearest_neighbors(now, 10)[0])
        previous = ProxyVisualizer(config=config).fit(now, head=head, previous=previous, temporal_strength=kept,
                                                      previous_embedding=embedding)
        shown = previous.transform(now)
        keyframes.append(previous.keyframe_)
        assert previous.keyframe_ == (kept.mean() < config.layout.keyframe_below)
        assert metrics.neighbor_preservation(now, shown, 10)["rate"] >= 0.6, f"epoch {epoch}"
        turn = best_rotation(embedding, shown)
        assert not turn.reflection and abs(turn.angle_degrees) < 15.0, f"epoch {epoch}"
        before, embedding = now, shown
    assert any(keyframes) and not all(keyframes)


def test_a_stretch_start_stays_warm_however_much_changed(blobs, fitted):
    """A stretch's start (a long step from the keyframe before) is never laid out afresh: a fresh layout
    had a new arrangement, and the animation jumped there (bench_chain's move 0.55-0.68, mirrored)."""
    points, _, head = blobs
    shifted = points + np.float32(1.0)
    plain = ProxyVisualizer(config=SMALL).fit(shifted, head=head, previous=fitted, temporal_strength=0.1)
    long = ProxyVisualizer(config=SMALL).fit(shifted, head=head, previous=fitted, temporal_strength=0.1, long_step=True)
    assert plain.keyframe_ and not long.keyframe_
    turn = best_rotation(fitted.transform(shifted), long.transform(shifted))
    assert not turn.reflection and abs(turn.angle_degrees) < 15.0


@pytest.mark.parametrize("strength, previous_embedding, message", [
    (np.full(7, 0.5), None, r"temporal_strength.*one per sample, shape \(180,\)"),
    (1.5, None, r"temporal_strength.*lie in \[0, 1\]"),
    (0.5, np.zeros((7, 2)), r"previous_embedding.*one row per sample, shape \(180, 2\)"),
])
def test_a_warm_start_with_mismatched_chain_inputs_is_a_clear_error(blobs, fitted, strength, previous_embedding,
                                                                     message):
    points, _, head = blobs
    with pytest.raises(ValueError, match=message):
        ProxyVisualizer(config=SMALL).fit(points, head=head, previous=fitted, temporal_strength=strength,
                                          previous_embedding=previous_embedding)
