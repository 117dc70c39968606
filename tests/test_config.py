"""Configuration is validated once, with messages that name the field, the rule, the value."""

import dataclasses
import re

import numpy as np
import pytest

from ttv_core import ConfigError, DemoConfig
from ttv_core.config import Runtime, VisConfig
from ttv_core.draw.frames import FrameStyle

RUNTIME = {field.name for field in dataclasses.fields(Runtime)}

INVALID_VIS = {
    "n_neighbors": 1, "min_dist": -0.1, "spread": 0, "negative_sample_rate": 0, "hidden": 1,
    "n_hidden_layers": 0, "lambda_reconstruction": -1, "lambda_temporal": -1, "learning_rate": 0,
    "weight_decay": -1e-5, "batch_size": 0, "max_passes": 0, "patience": 0, "min_improvement": -1,
    "resolution": 1, "boundary_threshold": 1.5, "seed": -1, "device": "tpu", "figures_k": 0,
    "proxy_min_split": 1, "proxy_dunn_threshold": -1.0, "lambda_prediction": -1.0, "edge_samples_per_pass": 0.0,
    "graph_epochs": 0, "lr_decay_passes": -1, "passes_reference": 0, "stretch_epochs": -1,
    "layout_epochs": -1, "warm_layout_epochs": -1, "warm_layout_rate": 0.0, "canvas_growth": 1.5, "keyframe_below": 1.5, "warm_learning_rate": 0.0, "vertex_batch_size": 0,
    "warm_max_passes": 0, "warmup_share": 1.5, "cross_class_weight": 1.5,
    "decoder_share": 0.0, "cpu_threads": -1, "jobs": -1, "backend": "spark", "scheduler": 5,
    "probe_resolution": 1, "probe_radius": 0.0, "al_max_passes": 0, "al_patience": 0,
    "al_learning_rate_factor": -0.1, "max_new_vertices": 0, "al_ppr_tolerance": 1.5,
}


def test_every_setting_has_an_invalid_case():
    assert set(INVALID_VIS) == set(VisConfig.field_names()) | RUNTIME


@pytest.mark.parametrize("field, value", INVALID_VIS.items())
def test_invalid_vis_config_names_the_field(field, value):
    got = re.escape(repr(value))
    owner = "Runtime" if field in RUNTIME else r"(VisConfig|\w+Config)"  # the section holding it
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of {owner} must .* Got {got} instead"):
        Runtime(**{field: value}) if field in RUNTIME else VisConfig.of(**{field: value})


def test_booleans_are_not_integers_and_min_dist_is_bounded_by_spread():
    message = "The 'hidden' parameter of ModelConfig must be an int in the range [2, 4096]. Got True instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig.of(hidden=True)
    message = "The 'min_dist' parameter of GraphConfig must be a float in the range [0.0, 1.0] (spread). Got 2.0 instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig.of(min_dist=2.0, spread=1.0)


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    config = VisConfig.of(n_neighbors=np.int64(10), spread=np.float32(2.0), min_dist=0)
    assert type(config.graph.n_neighbors) is int and type(config.graph.spread) is float and type(config.graph.min_dist) is float
    assert config.key() == VisConfig.of(n_neighbors=10, spread=2.0, min_dist=0.0).key()
    seed = np.int64(-1)
    message = f"The 'seed' parameter of VisConfig must be an int in the range [0, 4294967295]. Got {seed!r} instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig.of(seed=seed)


def test_config_key_is_canonical_and_replace_revalidates():
    assert VisConfig.from_dict(VisConfig().to_dict()) == VisConfig()
    assert VisConfig().key() == VisConfig.from_dict(VisConfig().to_dict()).key()
    assert VisConfig().key() != VisConfig.of(seed=1).key()
    with pytest.raises(ConfigError, match="'seed' parameter of VisConfig .* Got -3 instead"):
        VisConfig().replace(seed=-3)


def test_each_result_is_keyed_by_exactly_the_sections_it_reads():
    base = VisConfig()
    changes = {"hidden": 32, "probe_resolution": 100, "resolution": 50, "figures_k": 10, "n_neighbors": 10, "seed": 1}
    changed = {name: {result for result in VisConfig.READS
                      if base.replace(**{name: value}).key_for(result) != base.key_for(result)}
               for name, value in changes.items()}
    assert changed == {
        "hidden": {"proxy", "al"},  # the model: not the baseline, not the drawing, not the yardstick
        "probe_resolution": {"al"},
        "resolution": {"territory"},
        "figures_k": {"figures"},  # the figures' k is not the graph's
        "n_neighbors": {"proxy", "al", "umap"},
        "seed": {"proxy", "al", "umap", "figures"},
    }


def test_settings_are_set_and_read_by_name_whatever_their_section():
    config = VisConfig.of(n_neighbors=30, hidden=64, seed=2)
    assert (config.graph.n_neighbors, config.model.hidden, config.seed) == (30, 64, 2)
    assert config.value("hidden") == 64 and config.value("seed") == 2
    with pytest.raises(ConfigError, match="'device' parameter of VisConfig"):
        VisConfig.of(device="cpu")  # where a fit runs is not a setting of the map: see Runtime


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("seed", -1), ("hidden", 1), ("dim", 1), ("learning_rate", 0.0), ("batch_size", 0),
     ("test_fraction", 1.0)],
)
def test_invalid_demo_config_names_the_field(field, value):
    got = re.escape(repr(value))
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of DemoConfig must .* Got {got} instead"):
        DemoConfig(**{field: value})


# Every size-like setting has an upper bound (issue 13, item 6: --resolution 40000 asked for 11.9 GiB).
UPPER_BOUNDS = {
    "n_neighbors": 200, "figures_k": 200, "negative_sample_rate": 100, "layout_epochs": 5000,
    "warm_layout_epochs": 5000, "hidden": 4096, "n_hidden_layers": 16, "batch_size": 65_536,
    "vertex_batch_size": 65_536, "max_passes": 1000, "warm_max_passes": 1000, "edge_samples_per_pass": 10.0,
    "probe_resolution": 1000, "al_max_passes": 100, "al_patience": 100, "max_new_vertices": 100_000,
    "resolution": 2000, "seed": 2**32 - 1, "cpu_threads": 1024, "jobs": 1024,
}
NOT_SIZES = {  # thresholds and periods: a larger value asks for less work (or no more), never for memory
    "proxy_min_split", "graph_epochs", "passes_reference", "lr_decay_passes", "patience", "stretch_epochs",
}


def _build(field, value):
    return Runtime(**{field: value}) if field in RUNTIME else VisConfig.of(**{field: value})


def test_every_count_setting_is_bounded_or_asks_for_less_when_larger():
    counts = {name for name in VisConfig.field_names() if type(VisConfig().value(name)) is int}
    counts |= {field.name for field in dataclasses.fields(Runtime) if field.type == "int"}
    assert counts - NOT_SIZES <= set(UPPER_BOUNDS) and not NOT_SIZES & set(UPPER_BOUNDS)


@pytest.mark.parametrize("field, bound", UPPER_BOUNDS.items())
def test_each_upper_bound_is_enforced_with_a_message_naming_the_field(field, bound):
    assert _build(field, bound) is not None  # the bound itself is allowed
    too_large = bound + 1
    kind = "float" if isinstance(bound, float) else "int"
    owner = "Runtime" if field in RUNTIME else r"(VisConfig|\w+Config)"
    rule = rf"must be an? {kind} in the range [\[(][\d.]+, {re.escape(str(bound))}\]"
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of {owner} {rule}\. Got {too_large!r} instead"):
        _build(field, too_large)


def test_a_wide_and_deep_model_is_refused_for_the_memory_it_would_need():
    assert VisConfig.of(hidden=4096, n_hidden_layers=4).model.hidden == 4096  # 134 million weights: allowed
    message = (r"^The 'hidden' parameter of ModelConfig must keep 2 x n_hidden_layers x hidden\*\*2 within "
               r"134,217,728 weights \(2 GiB to train\), not 536,870,912 with n_hidden_layers=16\. Got 4096 instead\. "
               r"Lower hidden or n_hidden_layers\.$")
    with pytest.raises(ConfigError, match=message):
        VisConfig.of(hidden=4096, n_hidden_layers=16)


@pytest.mark.parametrize("build, field, bound", [
    (lambda value: DemoConfig(epochs=value), "epochs", 1000),
    (lambda value: DemoConfig(hidden=value), "hidden", 4096),
    (lambda value: DemoConfig(dim=value), "dim", 4096),
    (lambda value: DemoConfig(batch_size=value), "batch_size", 65_536),
    (lambda value: DemoConfig(seed=value), "seed", 2**32 - 1),
    (lambda value: FrameStyle(size=value), "size", 2000),
    (lambda value: FrameStyle(radius=value), "radius", 32),
])
def test_demo_and_frame_sizes_are_bounded(build, field, bound):
    build(bound)
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of \w+ must be an int in the range \[\d+, {bound}\]"):
        build(bound + 1)
