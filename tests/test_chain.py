"""The warm-started chain keeps each epoch's map faithful: issue 9's property test on a tiny synthetic run.

The chain is fitted exactly as the product fits it (``Visualization(...).fit()``, every epoch
warm-started from the one before) with the default VisConfig, on an 8-epoch synthetic run of 300
training samples whose classes separate, merge and split (:mod:`ttv_core.data.synthetic`). Its last epoch
is compared with umap-learn fitted on the same representations, as ``bench/bench_chain.py`` does on
the demo and the 100-epoch synthetic run.
"""

import warnings

import numpy as np

from ttv_core import load_dynamics
from ttv_core.fit.alignment import flip_report
from ttv_core.fit.baseline import UmapBaseline
from ttv_core.config import VisConfig
from ttv_core.evaluate.metrics import neighbor_preservation, prediction_preserving_rate
from ttv_core.data.synthetic import SyntheticConfig, ensure_synthetic
from ttv_core.run.visualize import Visualization

K = 15  # neighbours of the NN rate, self excluded; umap-learn's n_neighbors (which counts the sample itself)
TINY = SyntheticConfig(n_train=300, n_test=100, dim=16, n_classes=6, epochs=8)
CONFIG = VisConfig()  # the product's defaults: what a user's chain is fitted with


def test_last_epoch_of_a_chain_keeps_neighbours_and_predictions_and_never_turns_or_mirrors(tmp_path):
    dynamics = load_dynamics(ensure_synthetic(tmp_path, config=TINY))
    chain = Visualization(dynamics, "proxy", CONFIG, cache_dir=tmp_path).fit()
    last = dynamics.epochs[-1]
    train, head = np.asarray(dynamics.representations(last)), dynamics.head(last)
    embedding = chain.results_[last].embeddings["train"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap-learn: "n_jobs value 1 overridden ... by setting random_state"
        umap_embedding = UmapBaseline(n_neighbors=K, min_dist=0.1, seed=CONFIG.seed).fit(train).embedding_
    nn, umap_nn = (neighbor_preservation(train, points, K)["rate"] for points in (embedding, umap_embedding))
    round_trip = head.predict(chain.visualizer(last).inverse_transform(embedding))
    ppr = prediction_preserving_rate(head.predict(train), round_trip)
    turns = dict(zip(dynamics.epochs[1:], flip_report([chain.results_[e].embeddings["train"]
                                                        for e in dynamics.epochs])))
    mirrored = [epoch for epoch, alignment in turns.items() if alignment.reflection]
    turned = {epoch: round(alignment.angle_degrees, 1) for epoch, alignment in turns.items()
              if abs(alignment.angle_degrees) > 15.0}
    figures = f"NN {nn:.3f} vs umap-learn {umap_nn:.3f} (ratio {nn / umap_nn:.3f}), PPR train {ppr:.3f}"
    assert nn >= 0.8 * umap_nn, figures
    assert ppr >= 0.95, figures
    assert mirrored == [], f"consecutive maps mirrored at epochs {mirrored}"
    assert turned == {}, f"consecutive maps turned more than 15 degrees: {turned}"
