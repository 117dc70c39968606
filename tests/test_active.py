"""Active-learning refinement: the probe grid, the probe vertices' indices, and the refined model."""

import numpy as np
import pytest

from ttv_core import ConfigError, DataError

from ttv_core.evaluate import metrics
from ttv_core.fit.active import ActiveVisualizer, TrustMap, choose_probes, inside_proxy_balls, probe_mask, with_probes
from ttv_core.config import VisConfig
from ttv_core.fit.graph import nearest_neighbors_between
from ttv_core.fit.model import NotFittedError, Visualizer
from ttv_core.fit.proxy import Proxies, ProxyVisualizer, hierarchical_proxies, proxy_graph
from ttv_core.canvas import Extent, grid_points
from helpers import gaussian_blobs

# A small, briefly trained proxy model whose territory is poor near the data: its decoder is right on
# the samples (PPR ~1) but about half of the probe cells around them lose their class in the round trip.
SMALL = VisConfig.of(hidden=32, n_hidden_layers=2, max_passes=10, batch_size=256, n_neighbors=10, layout_epochs=50,
                  probe_resolution=40, al_max_passes=3, max_new_vertices=200,
                  al_learning_rate_factor=0.1)  # a pass over this tiny graph is ~10 steps: refine at 10x the default


@pytest.fixture(scope="module")
def blobs():
    """Four overlapping Gaussian blobs in 12-D and a linear head scoring each by closeness to its centre."""
    blobs_made = gaussian_blobs(4, scale=3.0)
    points, _, head = blobs_made
    return points, head


@pytest.fixture(scope="module")
def proxy(blobs):
    points, head = blobs
    return ProxyVisualizer(config=SMALL).fit(points, head=head)


@pytest.fixture(scope="module")
def refined(blobs, proxy):
    points, head = blobs
    before = {name: value.copy() for name, value in proxy.state()["weights"].items()}
    active = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy)
    return active, before


def _ppr(visualizer, points, head) -> float:
    return metrics.prediction_preserving_rate(head.predict(points),
                                              head.predict(visualizer.inverse_transform(visualizer.transform(points))))


def test_refinement_makes_more_probes_trustworthy_without_lowering_ppr(blobs, proxy, refined):
    points, head = blobs
    active, _ = refined
    trust = active.trust_map_
    assert trust.preserved_before < 0.9, "the fixture must leave refinement something to fix"
    assert 1 - trust.preserved_after <= 0.5 * (1 - trust.preserved_before), "at least half of the failures fixed"
    floor = _ppr(proxy, points, head) - SMALL.active.al_ppr_tolerance - 1e-9
    assert _ppr(active, points, head) >= floor
    assert active.history_ and any(entry["kept"] for entry in active.history_)
    assert all(entry["ppr"] >= floor for entry in active.history_ if entry["kept"]), "no pass below the PPR floor"
    assert active.history_[0]["added"] > 0 and all(np.isfinite(entry["loss"]) for entry in active.history_)


def test_the_refined_model_is_returned_and_the_proxy_is_unchanged(blobs, proxy, refined):
    points, head = blobs
    active, proxy_weights = refined
    for name, value in proxy.state()["weights"].items():
        np.testing.assert_array_equal(value, proxy_weights[name])
    refined_weights = active.state()["weights"]
    assert any(not np.array_equal(refined_weights[name], value) for name, value in proxy_weights.items())
    assert not np.allclose(active.transform(points), proxy.transform(points))
    # The trust map's verdicts are those of the two models on the same decoded probes.
    trust = active.trust_map_
    probes = proxy.inverse_transform(grid_points(trust.extent, trust.resolution)[trust.probe_mask.ravel()])
    for model, verdict in ((proxy, trust.untrustworthy_before), (active, trust.untrustworthy_after)):
        round_trip = head.predict(model.inverse_transform(model.transform(probes)))
        np.testing.assert_array_equal(round_trip != head.predict(probes), verdict[trust.probe_mask])
    rebuilt = Visualizer.from_state(active.state())
    np.testing.assert_array_equal(rebuilt.transform(points), active.transform(points))


def test_same_seed_same_result(blobs, proxy, refined):
    points, head = blobs
    active, _ = refined
    again = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy)
    np.testing.assert_array_equal(again.transform(points), active.transform(points))
    np.testing.assert_array_equal(again.trust_map_.untrustworthy_after, active.trust_map_.untrustworthy_after)
    assert [entry["untrustworthy"] for entry in again.history_] == [e["untrustworthy"] for e in active.history_]


def test_a_proxy_rebuilt_from_its_state_gives_the_same_refinement(blobs, proxy, refined):
    """A proxy restored from its state keeps its tree; one without a tree gets the same one rebuilt."""
    points, head = blobs
    active, _ = refined
    rebuilt = ProxyVisualizer.from_state(proxy.state())
    np.testing.assert_array_equal(rebuilt.proxies_.centres, proxy.proxies_.centres)
    treeless = ProxyVisualizer.from_state(proxy.state())
    del treeless.proxies_
    for source in (rebuilt, treeless):
        again = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=source, proxy_embedding=proxy.embedding_)
        np.testing.assert_array_equal(again.proxies_.centres, active.proxies_.centres)
        np.testing.assert_array_equal(again.transform(points), active.transform(points))
        np.testing.assert_array_equal(again.embedding_, active.embedding_)


def test_the_refined_map_moves_the_proxys_map_by_what_refinement_moved(blobs, proxy, refined):
    points, head = blobs
    active, _ = refined
    moved = active.transform(points) - proxy.transform(points)
    np.testing.assert_allclose(active.embedding_, proxy.embedding_ + moved, atol=1e-5)
    unrefined = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy, should_stop=lambda: True)
    assert unrefined.history_ == []
    np.testing.assert_array_equal(unrefined.embedding_, proxy.embedding_)  # no pass kept: the proxy's map
    with pytest.raises(DataError, match="proxy_embedding"):
        ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy, proxy_embedding=proxy.embedding_[:-1])


def test_progress_callback_and_stop_request(blobs, proxy):
    points, head = blobs
    seen = []
    active = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy, on_pass_end=seen.append)
    assert seen == active.history_
    stopped = ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=proxy, should_stop=lambda: True)
    assert stopped.history_ == []
    np.testing.assert_array_equal(stopped.transform(points), proxy.transform(points))
    trust = stopped.trust_map_
    np.testing.assert_array_equal(trust.untrustworthy_after, trust.untrustworthy_before)


def test_probe_vertices_come_after_the_graph_and_link_to_samples_only(blobs):
    points, _ = blobs
    centres = hierarchical_proxies(points, 4, min_split=500, dunn_threshold=1.0, seed=0).centres
    n_proxies, n_samples, k = len(centres), len(points), 5
    graph = proxy_graph(points, centres, k=k, n_epochs=1000)
    n_existing = len(graph.vertices)
    probes = points[[3, 70, 150]] + np.float32(0.3)
    probes[1] = points[70]  # a probe on a sample: that sample is a full member (weight 1)
    extended = with_probes(graph, probes, first_sample=n_proxies, n_samples=n_samples, k=k, n_epochs=1000)
    np.testing.assert_array_equal(extended.vertices[:n_existing], graph.vertices)
    np.testing.assert_array_equal(extended.vertices[n_existing:], probes)
    n_edges = len(graph.heads)
    for name in ("heads", "tails", "weights"):
        np.testing.assert_array_equal(getattr(extended, name)[:n_edges], getattr(graph, name))
    heads, tails, weights = extended.heads[n_edges:], extended.tails[n_edges:], extended.weights[n_edges:]
    is_probe = heads >= n_existing
    probe_end, other_end = np.where(is_probe, heads, tails), np.where(is_probe, tails, heads)
    assert (probe_end >= n_existing).all() and (probe_end < n_existing + len(probes)).all()
    assert ((other_end >= n_proxies) & (other_end < n_proxies + n_samples)).all(), "probes link to samples only"
    edges = {(h, t): w for h, t, w in zip(heads.tolist(), tails.tolist(), weights.tolist())}
    assert all(edges.get((t, h)) == w for (h, t), w in edges.items()), "both directions, same weight"
    nearest, _ = nearest_neighbors_between(probes, points, k)
    for index in range(len(probes)):
        linked = {t - n_proxies for h, t in edges if h == n_existing + index}
        assert nearest[index, 0] in linked and linked <= set(nearest[index].tolist())
    assert edges[(n_existing + 1, n_proxies + 70)] == 1.0


def test_probe_mask_is_in_image_order():
    """Row 0 is the top of the extent: a point near the top-left corner marks top-left cells."""
    extent = Extent(0.0, 0.0, 1.0, 1.0)
    mask = probe_mask(np.array([[0.05, 0.95], [0.95, 0.05]]), extent, 20, 0.1).reshape(20, 20)
    assert mask[0, 0] and mask[19, 19] and not mask[19, 0] and not mask[0, 19]
    assert mask.sum() < 40, "only cells within 10 % of the side of a point"


def test_inside_proxy_balls_ignores_the_root():
    proxies = Proxies(np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 0.0]], np.float32),
                      np.array([100.0, 1.0, 1.0], np.float32), np.array([3, 1, 1]))
    inside = inside_proxy_balls(np.array([[0.5, 0.0], [5.0, 0.0], [10.0, 0.9]], np.float32), proxies)
    np.testing.assert_array_equal(inside, [True, False, True])


def test_choose_probes_takes_failing_probes_inside_balls_first():
    failing = np.array([True, True, True, True, False])
    inside = np.array([False, True, False, True, True])
    rng = np.random.default_rng(0)
    assert set(choose_probes(failing, inside, 2, rng).tolist()) == {1, 3}
    three = choose_probes(failing, inside, 3, rng)
    assert {1, 3} < set(three.tolist()) <= {0, 1, 2, 3} and len(three) == 3
    assert choose_probes(failing, inside, 10, rng).tolist() == [0, 1, 2, 3]


def test_trust_map_shares_and_checks():
    mask = np.array([[True, True], [True, False]])
    trust = TrustMap(Extent(0, 0, 1, 1), 2, mask, np.array([[True, True], [False, False]]),
                     np.array([[False, True], [False, False]]))
    assert trust.n_probes == 3
    assert trust.preserved_before == pytest.approx(1 / 3) and trust.preserved_after == pytest.approx(2 / 3)
    with pytest.raises(DataError, match="False outside probe_mask"):
        TrustMap(Extent(0, 0, 1, 1), 2, mask, np.zeros((2, 2), bool), np.array([[False, False], [False, True]]))


def test_fit_needs_a_fitted_proxy_of_the_same_data_and_architecture(blobs, proxy):
    points, head = blobs
    with pytest.raises(NotFittedError, match="not fitted.*ProxyVisualizer"):
        ActiveVisualizer(config=SMALL).fit(points, head=head, proxy=ProxyVisualizer(config=SMALL))
    with pytest.raises(DataError, match="dimension"):
        ActiveVisualizer(config=SMALL).fit(points[:, :6], head=head, proxy=proxy)
    with pytest.raises(ConfigError, match="architecture"):
        ActiveVisualizer(config=SMALL.replace(hidden=16)).fit(points, head=head, proxy=proxy)
