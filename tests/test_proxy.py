"""Proxy training: the proxy tree, the graph's vertex indices, and the fitted visualizer's quality."""

import numpy as np
import pytest
import torch
from torch import nn

from ttv_core import metrics
from ttv_core.config import VisConfig
from ttv_core.graph import nearest_neighbors, nearest_neighbors_between
from ttv_core.head import Head
from ttv_core.model import NotFittedError, Visualizer
from ttv_core.proxy import ProxyVisualizer, hierarchical_proxies, proxy_graph

SMALL = VisConfig(hidden=32, n_hidden_layers=2, max_passes=6, batch_size=256, edge_samples_per_pass=2.0,
                  n_neighbors=10, device="cpu")


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated Gaussian blobs in 12-D and a linear head that tells them apart."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(3, 12))
    labels = np.repeat(np.arange(3), 60)
    points = (centres[labels] + rng.normal(size=(180, 12))).astype(np.float32)
    linear = nn.Linear(12, 3)
    with torch.no_grad():  # the head scores each blob by closeness to its centre
        linear.weight.copy_(torch.from_numpy(centres).float())
        linear.bias.copy_(torch.from_numpy(-0.5 * (centres**2).sum(1)).float())
    return points, labels, Head(linear, dim=12, n_classes=3)


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
    assert "temporal" in following.history_[0]
    shift = np.linalg.norm(following.transform(moved) - fitted.transform(points), axis=1).mean()
    cold = ProxyVisualizer(config=SMALL.replace(seed=3)).fit(moved, head=head)
    cold_shift = np.linalg.norm(cold.transform(moved) - fitted.transform(points), axis=1).mean()
    assert shift < cold_shift, "warm-starting must keep the map closer to the previous epoch's"


def test_state_round_trip(blobs, fitted):
    points, _, _ = blobs
    rebuilt = Visualizer.from_state(fitted.state())
    np.testing.assert_array_equal(rebuilt.transform(points), fitted.transform(points))


def test_unfitted_visualizer_refuses_to_transform():
    with pytest.raises(NotFittedError, match="not fitted"):
        ProxyVisualizer().transform(np.zeros((2, 3), np.float32))


def test_transform_checks_the_dimension(fitted):
    with pytest.raises(ValueError, match=r"\(n_samples, 12\)"):
        fitted.transform(np.zeros((2, 5), np.float32))
