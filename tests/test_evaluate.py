"""Evaluation figures: perfect for an identity map, poor for a random one, None where they cannot exist."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from ttv_core.evaluate import figures as evaluate
from ttv_core.errors import ConfigError, DataError
from ttv_core.evaluate.figures import epoch_figures, temporal_figures, to_original_json
from ttv_core.data.head import Head

K = 10


def _identity(points):
    return np.array(points, dtype=np.float32)


def _random_embed(points):
    """A layout that ignores the data (same points for the same number of rows)."""
    return np.random.default_rng(99).normal(size=(len(points), 2)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    """2-D points in 3 clusters (80 train, 40 test) and a linear head that separates the clusters."""
    rng = np.random.default_rng(0)
    centres = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    train_labels, test_labels = np.arange(80) % 3, np.arange(40) % 3
    train = (centres[train_labels] + rng.normal(scale=1.5, size=(80, 2))).astype(np.float32)
    test = (centres[test_labels] + rng.normal(scale=1.5, size=(40, 2))).astype(np.float32)
    linear = nn.Linear(2, 3)
    with torch.no_grad():  # logits -|x - c|^2 / 2 up to a per-sample constant: nearest centre wins
        linear.weight.copy_(torch.from_numpy(centres.astype(np.float32)))
        linear.bias.copy_(torch.from_numpy(-0.5 * (centres**2).sum(axis=1).astype(np.float32)))
    return {"train": train, "test": test, "train_labels": train_labels, "test_labels": test_labels,
            "head": Head(linear, dim=2, n_classes=3)}


def _figures(data, seed=0, **overrides):
    arguments = dict(data, embed=_identity, decode=_identity, k=K, rng=np.random.default_rng(seed))
    arguments.update(overrides)
    return epoch_figures(**arguments)


def test_identity_map_is_perfect(data):
    figures = _figures(data)
    for split in ("train", "test"):
        assert figures[f"nn_rate_{split}"] == 1.0
        assert figures[f"nn_{split}"] == K  # legacy count, self included
        assert figures[f"ppr_{split}"] == 1.0
        assert figures[f"vis_error_{split}"] == 0
        assert figures[f"trustworthiness_{split}"] == pytest.approx(1.0)
        assert figures[f"b_{split}"] == 1.0
        expected = np.mean(data["head"].predict(data[split]) == data[f"{split}_labels"])
        assert figures[f"{split}_acc"] == pytest.approx(expected)
    assert 0.7 < figures["train_acc"] < 1.0  # overlapping clusters: the accuracy is a real figure
    assert list(figures) == list(evaluate.FIGURE_KEYS) + ["k"] and figures["k"] == K
    assert all(type(value) in (float, int) for value in figures.values())  # plain Python numbers only


def test_random_layout_keeps_few_neighbours(data):
    figures = _figures(data, embed=_random_embed)
    assert figures["nn_rate_train"] < 0.3 and figures["nn_rate_test"] < 0.4
    assert 1.0 <= figures["nn_train"] < 4.0
    assert figures["trustworthiness_train"] < 0.8
    assert figures["b_train"] < 0.5


def test_decoder_that_loses_the_class_lowers_ppr(data):
    def collapse(low):  # every reconstruction lands at the origin, in one class
        return np.zeros_like(low)

    figures = _figures(data, decode=collapse)
    n_other = np.count_nonzero(data["head"].predict(data["train"]) != data["head"].predict(np.zeros((1, 2)))[0])
    assert figures["vis_error_train"] == n_other > 0
    assert figures["ppr_train"] == pytest.approx(1 - n_other / 80)


def test_without_decoder_ppr_is_none(data):
    figures = _figures(data, decode=None)
    for key in ("ppr_train", "ppr_test", "vis_error_train", "vis_error_test"):
        assert figures[key] is None
    assert figures["nn_rate_train"] == 1.0


def test_split_too_small_for_k_gives_none(data):
    figures = _figures(data, test=data["test"][:K], test_labels=data["test_labels"][:K])
    for key in ("nn_test", "nn_rate_test", "trustworthiness_test"):
        assert figures[key] is None
    assert figures["test_acc"] is not None and figures["ppr_test"] == 1.0
    assert figures["nn_rate_train"] == 1.0


def test_trustworthiness_needs_k_below_half_the_split(data):
    n = 2 * K  # nn works (k < n), sklearn's trustworthiness does not (k >= n / 2)
    figures = _figures(data, test=data["test"][:n], test_labels=data["test_labels"][:n])
    assert figures["nn_rate_test"] == 1.0 and figures["trustworthiness_test"] is None


def test_empty_test_split_gives_none_for_every_test_figure(data):
    figures = _figures(data, test=np.empty((0, 2), np.float32), test_labels=np.empty(0, np.int64))
    assert all(figures[key] is None for key in evaluate.FIGURE_KEYS if "test" in key)
    assert figures["nn_rate_train"] == 1.0


def test_no_boundary_points_gives_none(data):
    assert _figures(data, n_boundary=0)["b_train"] is None
    assert _figures(data, n_boundary=K)["b_test"] is None  # k boundary points: every overlap would be k
    assert _figures(data, n_boundary=K + 1)["b_test"] == 1.0


def test_a_classifier_of_one_class_has_every_figure_but_the_boundary(data):
    single = Head(nn.Linear(2, 1), dim=2, n_classes=1)
    labels = {f"{split}_labels": np.zeros(len(data[split]), np.int64) for split in ("train", "test")}
    figures = _figures(data, head=single, **labels)
    assert figures["b_train"] is None and figures["b_test"] is None
    assert figures["ppr_train"] == 1.0 and figures["nn_rate_train"] == 1.0


def test_memory_mapped_representations(data, tmp_path):
    np.save(tmp_path / "train.npy", data["train"])
    mapped = np.load(tmp_path / "train.npy", mmap_mode="r")
    assert _figures(data, train=mapped) == _figures(data)


def test_same_seed_same_figures_and_seed_matters(data, monkeypatch):
    monkeypatch.setattr(evaluate, "TRUSTWORTHINESS_MAX_SAMPLES", 30)  # exercise the subsample on tiny data
    first = _figures(data, seed=5, embed=_random_embed)
    assert first == _figures(data, seed=5, embed=_random_embed)
    other = _figures(data, seed=6, embed=_random_embed)
    assert other["trustworthiness_train"] != first["trustworthiness_train"]
    assert other["nn_rate_train"] == first["nn_rate_train"]  # neighbour figures use every sample


@pytest.mark.parametrize("k", [0, -3, True, 2.5, "15"])
def test_invalid_k_raises(data, k):
    with pytest.raises(ConfigError, match="'k' parameter of epoch_figures"):
        _figures(data, k=k)


def test_invalid_arguments_are_named(data):
    with pytest.raises(DataError, match="'train_labels'"):
        _figures(data, train_labels=data["train_labels"][:-1])
    with pytest.raises(DataError, match=r"'embed\(.*\)' argument of epoch_figures"):
        _figures(data, embed=lambda x: np.zeros((len(x), 3)))
    with pytest.raises(ConfigError, match="'n_boundary'"):
        _figures(data, n_boundary=-1)
    with pytest.raises(ConfigError, match="'rng'"):
        _figures(data, rng=0)


@pytest.fixture(scope="module")
def run():
    """30 samples over 6 epochs, 3-D representations drifting at different speeds."""
    rng = np.random.default_rng(3)
    start, velocity = rng.normal(size=(30, 3)), rng.normal(size=(30, 3))
    return [(start + np.sqrt(epoch) * velocity + rng.normal(scale=0.2, size=(30, 3))).astype(np.float32)
            for epoch in range(6)]


def test_temporal_figures(run):
    perfect = temporal_figures(run, run, k=3)
    assert perfect == {"tnn": pytest.approx(1.0), "tlr": pytest.approx(1.0), "k": 3}
    random = temporal_figures(run, [_random_embed(epoch) + i for i, epoch in enumerate(run)], k=3)
    assert random["tnn"] < perfect["tnn"] and random["tlr"] < 0.9
    assert temporal_figures(run[:2], run[:2]) == {"tnn": pytest.approx(1.0), "tlr": None, "k": 1}
    assert temporal_figures(run[:1], run[:1]) == {"tnn": None, "tlr": None, "k": None}
    with pytest.raises(ConfigError, match="'k' parameter of temporal_figures"):
        temporal_figures(run, run, k=0)


def test_temporal_rows_score_every_sample_while_they_fit_and_a_sample_past_it(monkeypatch):
    rng = np.random.default_rng(0)
    assert evaluate.temporal_rows(1_437, 20, 64, rng) is None  # the demo: 7 MB, every sample
    rows = evaluate.temporal_rows(60_000, 200, 512, rng)  # 24.6 GB held whole
    assert len(rows) == evaluate.TEMPORAL_MIN_SAMPLES and np.all(np.diff(rows) > 0) and rows[-1] < 60_000
    assert 4 * 200 * 512 * len(rows) <= 2 * evaluate.TEMPORAL_MAX_BYTES  # bounded, whatever the run's size
    assert len(evaluate.temporal_rows(60_000, 20, 128, rng)) == evaluate.TEMPORAL_MAX_BYTES // (4 * 20 * 128)  # 26,214
    assert evaluate.temporal_rows(900, 10**6, 10**4, rng) is None  # fewer samples than the floor: all of them


def test_a_large_runs_temporal_figures_score_a_sample_of_its_training_samples(small_demo, cache_dir, monkeypatch):
    import ttv_core

    visualization = ttv_core.Visualization(ttv_core.load_dynamics(small_demo), "proxy", cache_dir=cache_dir,
                                           config=ttv_core.VisConfig.of(hidden=32, max_passes=2, resolution=16))
    visualization.fit([1, 2, 3])
    whole = visualization.temporal()
    monkeypatch.setattr(evaluate, "TEMPORAL_MAX_BYTES", 1)  # as if the run were too large to hold
    monkeypatch.setattr(evaluate, "TEMPORAL_MIN_SAMPLES", 100)
    sampled = visualization.temporal()
    rows = evaluate.temporal_rows(visualization.dynamics.n_train, 3, visualization.dynamics.dim,
                                  np.random.default_rng(visualization.config.seed))
    assert len(rows) == 100
    dynamics = visualization.dynamics
    assert sampled == temporal_figures([dynamics.representations(e)[rows] for e in (1, 2, 3)],
                                       [visualization.results_[e].embeddings["train"][rows] for e in (1, 2, 3)])
    assert sampled != whole and abs(sampled["tnn"] - whole["tnn"]) < 0.1


def test_original_json_shape(data, run):
    per_epoch = {12: _figures(data), 3: _figures(data, decode=None)}
    result = to_original_json(per_epoch, temporal_figures(run, run), k=K)
    assert set(result) == {
        "train_acc", "test_acc", "nn_train", "nn_test", "ppr_train", "ppr_test", "vis_error_train",
        "vis_error_test", "b_train", "b_test", "nn_rate_train", "nn_rate_test", "trustworthiness_train",
        "trustworthiness_test", "temporal"}
    assert list(result["nn_train"]) == ["3", "12"]  # string epochs, in order
    assert result["nn_train"]["12"] == {str(K): float(K)}
    assert result["nn_rate_test"]["3"] == {str(K): 1.0}
    assert result["b_train"]["12"] == {str(K): 1.0}
    assert result["ppr_train"] == {"3": None, "12": 1.0} and result["vis_error_test"]["12"] == 0
    assert result["train_acc"]["3"] == per_epoch[3]["train_acc"]
    assert result["temporal"] == {"tnn": pytest.approx(1.0), "tlr": pytest.approx(1.0), "k": 5}
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # strict JSON, no NaN
    assert to_original_json({})["temporal"] == {"tnn": None, "tlr": None, "k": None}


def test_original_json_refuses_figures_of_another_k(data):
    with pytest.raises(DataError, match="k = 15"):
        to_original_json({1: _figures(data)}, k=15)
    with pytest.raises(DataError, match="without"):
        to_original_json({1: {"train_acc": 0.5}}, k=K)


def test_stored_embeddings_replace_embed_calls():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(40, 2)).astype(np.float32), rng.normal(size=(30, 2)).astype(np.float32)
    head = lambda values: np.stack([values[:, 0], -values[:, 0]], axis=1)  # noqa: E731
    common = dict(train=train, test=test, train_labels=(train[:, 0] < 0).astype(int),
                  test_labels=(test[:, 0] < 0).astype(int), head=head, k=5, n_boundary=0)
    by_call = epoch_figures(embed=lambda v: v, rng=np.random.default_rng(1), **common)
    stored = epoch_figures(embed=None, embeddings={"train": train, "test": test}, rng=np.random.default_rng(1), **common)
    assert stored == by_call and stored["nn_rate_train"] == 1.0
    with pytest.raises(ValueError, match="'embed'"):
        epoch_figures(embed=None, embeddings={"train": train}, rng=np.random.default_rng(1), **common)


# -- umap-learn's reference figures of one epoch --------------------------------------------------
def test_the_umap_reference_of_an_epoch_equals_the_umap_methods_figures_and_is_memoized(tmp_path, cache_dir, monkeypatch):
    """Fitted on epoch 2 alone, it gives what the aligned umap chain gives at epoch 2 (alignment moves no
    distance), and a second call reads the cache instead of fitting umap-learn again."""
    import ttv_core
    from helpers import make_small_run
    from ttv_core.config import VisConfig

    config = VisConfig.of(n_neighbors=10)
    dynamics = ttv_core.load_dynamics(make_small_run(tmp_path / "run", epochs=(1, 2), n_train=60, n_test=30))
    assert evaluate.reference_figures(dynamics, 2, config, cache_dir=cache_dir, compute=False) is None

    reference = evaluate.reference_figures(dynamics, 2, config, cache_dir=cache_dir)
    chain = ttv_core.Visualization(dynamics, "umap", config, cache_dir).fit().figures(2)
    for key in ("nn_rate_train", "nn_rate_test", "trustworthiness_train", "trustworthiness_test"):
        assert reference[key] == pytest.approx(chain[key], abs=1e-6), key
    assert reference["ppr_train"] is None and reference["b_train"] is None  # umap-learn has no inverse
    monkeypatch.setattr(evaluate, "umap_reference_figures", lambda **_: pytest.fail("fitted twice"))
    assert evaluate.reference_figures(dynamics, 2, config, cache_dir=cache_dir) == reference
    assert evaluate.reference_figures(dynamics, 1, config, cache_dir=cache_dir, compute=False) is None  # per epoch


def test_umap_reference_keeps_well_separated_clusters(data):
    figures = evaluate.umap_reference_figures(**data, k=K, n_neighbors=K)

    assert figures["trustworthiness_train"] >= 0.8 and figures["trustworthiness_test"] >= 0.8
    assert figures["nn_rate_train"] > 0.3  # a random layout keeps about k / n = 0.12
    assert figures["ppr_test"] is None and figures["k"] == K
