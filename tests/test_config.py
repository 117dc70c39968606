"""Configuration is validated once, with messages that name the field, the rule, the value."""

import dataclasses

import pytest

from ttv_core import ConfigError, DemoConfig
from ttv_core.config import VisConfig

INVALID_VIS = {
    "n_neighbors": 1, "min_dist": -0.1, "spread": 0, "negative_sample_rate": 0, "hidden": 1,
    "n_hidden_layers": 0, "lambda_reconstruction": -1, "lambda_temporal": -1, "learning_rate": 0,
    "weight_decay": -1e-5, "batch_size": 0, "max_passes": 0, "patience": 0, "min_improvement": -1,
    "resolution": 1, "boundary_threshold": 1.5, "seed": -1, "device": "tpu",
}


def test_every_vis_field_has_an_invalid_case():
    assert set(INVALID_VIS) == {field.name for field in dataclasses.fields(VisConfig)}


@pytest.mark.parametrize("field, value", INVALID_VIS.items())
def test_invalid_vis_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"'{field}' parameter of VisConfig .* Got {value!r} instead"):
        VisConfig(**{field: value})


def test_booleans_are_not_integers_and_min_dist_is_bounded_by_spread():
    with pytest.raises(ConfigError, match="'hidden'"):
        VisConfig(hidden=True)
    with pytest.raises(ConfigError, match="must not exceed 'spread'"):
        VisConfig(min_dist=2.0, spread=1.0)


def test_config_key_is_canonical_and_replace_revalidates():
    assert VisConfig().key() == VisConfig(**VisConfig().to_dict()).key()
    assert VisConfig().key() != VisConfig(seed=1).key()
    with pytest.raises(ConfigError, match="'seed'"):
        VisConfig().replace(seed=-3)


@pytest.mark.parametrize(
    "field, value",
    [("epochs", 0), ("seed", -1), ("hidden", 1), ("dim", 1), ("learning_rate", 0.0), ("batch_size", 0),
     ("test_fraction", 1.0)],
)
def test_invalid_demo_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"'{field}' parameter of DemoConfig"):
        DemoConfig(**{field: value})
