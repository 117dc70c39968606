"""Configuration is validated once, with messages that name the field, the rule, the value."""

import dataclasses
import re

import numpy as np
import pytest

from ttv_core import ConfigError, DemoConfig
from ttv_core.config import VisConfig

INVALID_VIS = {
    "n_neighbors": 1, "min_dist": -0.1, "spread": 0, "negative_sample_rate": 0, "hidden": 1,
    "n_hidden_layers": 0, "lambda_reconstruction": -1, "lambda_temporal": -1, "learning_rate": 0,
    "weight_decay": -1e-5, "batch_size": 0, "max_passes": 0, "patience": 0, "min_improvement": -1,
    "resolution": 1, "boundary_threshold": 1.5, "seed": -1, "device": "tpu",
    "proxy_min_split": 1, "proxy_dunn_threshold": -1.0, "lambda_prediction": -1.0, "edge_samples_per_pass": 0.0,
    "graph_epochs": 0, "lr_decay_passes": -1,
    "layout_epochs": -1, "warm_layout_epochs": -1, "warm_layout_rate": 0.0, "canvas_growth": 1.5, "keyframe_below": 1.5, "warm_learning_rate": 0.0, "vertex_batch_size": 0,
    "warm_max_passes": 0, "warmup_share": 1.5, "cross_class_weight": 1.5,
    "decoder_share": 0.0, "cpu_threads": -1,
    "probe_resolution": 1, "probe_radius": 0.0, "al_max_passes": 0, "al_patience": 0,
    "al_learning_rate_factor": -0.1, "max_new_vertices": 0, "al_ppr_tolerance": 1.5,
}


def test_every_vis_field_has_an_invalid_case():
    assert set(INVALID_VIS) == {field.name for field in dataclasses.fields(VisConfig)}


@pytest.mark.parametrize("field, value", INVALID_VIS.items())
def test_invalid_vis_config_names_the_field(field, value):
    got = re.escape(repr(value))
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of VisConfig must .* Got {got} instead"):
        VisConfig(**{field: value})


def test_booleans_are_not_integers_and_min_dist_is_bounded_by_spread():
    message = "The 'hidden' parameter of VisConfig must be an int in the range [2, inf). Got True instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig(hidden=True)
    message = "The 'min_dist' parameter of VisConfig must be a float in the range [0.0, 1.0] (spread). Got 2.0 instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig(min_dist=2.0, spread=1.0)


def test_numpy_scalars_are_accepted_and_stored_as_python_numbers():
    config = VisConfig(n_neighbors=np.int64(10), spread=np.float32(2.0), min_dist=0)
    assert type(config.n_neighbors) is int and type(config.spread) is float and type(config.min_dist) is float
    assert config.key() == VisConfig(n_neighbors=10, spread=2.0, min_dist=0.0).key()
    seed = np.int64(-1)
    message = f"The 'seed' parameter of VisConfig must be an int in the range [0, inf). Got {seed!r} instead."
    with pytest.raises(ConfigError, match=re.escape(message)):
        VisConfig(seed=seed)


def test_config_key_is_canonical_and_replace_revalidates():
    assert VisConfig().key() == VisConfig(**VisConfig().to_dict()).key()
    assert VisConfig().key() != VisConfig(seed=1).key()
    with pytest.raises(ConfigError, match="'seed' parameter of VisConfig .* Got -3 instead"):
        VisConfig().replace(seed=-3)


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("seed", -1), ("hidden", 1), ("dim", 1), ("learning_rate", 0.0), ("batch_size", 0),
     ("test_fraction", 1.0)],
)
def test_invalid_demo_config_names_the_field(field, value):
    got = re.escape(repr(value))
    with pytest.raises(ConfigError, match=rf"^The '{field}' parameter of DemoConfig must .* Got {got} instead"):
        DemoConfig(**{field: value})
