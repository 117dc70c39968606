"""Publishing a run with its maps, and opening it by link, offline: the upload is stopped at the HfApi
boundary (which files, which paths), and the repository it would make is laid out as a Hub snapshot
(HF_HUB_OFFLINE=1, HF_HUB_CACHE), so the dashboard reads it with the code a hosted app uses."""

import hashlib
import json
import shutil
from types import SimpleNamespace

import pytest

import ttv_core
from helpers import VIEW_CONFIG, make_small_run, open_app
from ttv_core.errors import ConfigError, DataError
from ttv_core.run import publish as published
from ttv_core.run.store import ResultStore

COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


class FakeHub:
    """HfApi's three calls ttv makes, remembering the repository's files."""

    def __init__(self, fail: Exception | None = None):
        self.files: dict[str, bytes] = {}
        self.commits: list[list[str]] = []
        self.fail = fail

    def create_repo(self, repo, **kwargs):
        if self.fail:
            raise self.fail

    def list_repo_tree(self, repo, **kwargs):
        return [SimpleNamespace(path=path, lfs={"sha256": hashlib.sha256(data).hexdigest()}, blob_id="x")
                for path, data in self.files.items()]

    def create_commit(self, repo, operations, **kwargs):
        self.commits.append([op.path_in_repo for op in operations])
        for op in operations:
            self.files[op.path_in_repo] = op.path_or_fileobj


def lay_out(hub_cache, repo, files):
    storage = hub_cache / f"datasets--{repo.replace('/', '--')}"
    shutil.rmtree(storage, ignore_errors=True)
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(COMMIT)
    for path, data in files.items():
        target = storage / "snapshots" / COMMIT / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


@pytest.fixture()
def fitted(tmp_path):
    run = make_small_run(tmp_path / "run")
    cache = tmp_path / "publisher-cache"
    dynamics = ttv_core.load_dynamics(run)
    for method in ("proxy", "umap"):
        visualization = ttv_core.Visualization(dynamics, method, VIEW_CONFIG, cache_dir=cache).fit()
        for epoch in visualization.results_:
            visualization.figures(epoch)
    return run, cache


def test_publish_sends_the_run_and_its_results_in_one_commit_and_then_only_what_changed(fitted):
    run, cache = fitted
    hub = FakeHub()
    report = published.publish(run, "alice/tiny", methods=["proxy"], config=VIEW_CONFIG, cache_dir=cache,
                               card="# tiny\n", api=hub)
    assert len(hub.commits) == 1 and report.url == "hf://alice/tiny"
    paths = hub.commits[0]
    assert {"ttv_run.json", "labels/train.npy", "epochs/epoch_0003/head.npz", "README.md",
            published.MANIFEST} <= set(paths)
    results = [p for p in paths if p.endswith(published.SUFFIX)]
    assert len(results) >= 3 * 3  # per epoch: the map with its model, its slim copy and its figures
    manifest = json.loads(hub.files[published.MANIFEST])
    assert manifest["methods"] == {"proxy": {"epochs": [1, 2, 3]}} and manifest["config"] == VIEW_CONFIG.to_dict()
    from ttv_core.run import codec

    for path in results:  # every result travels in the cache's own format, which decodes without unpickling
        codec.decode(hub.files[path])
    again = published.publish(run, "alice/tiny", methods=["proxy"], config=VIEW_CONFIG, cache_dir=cache,
                              card="# tiny, new card\n", api=hub)
    assert hub.commits[-1] == ["README.md"] and again.uploaded == ["README.md"]


def test_publish_refuses_what_it_cannot_send(fitted, tmp_path):
    run, cache = fitted
    with pytest.raises(ConfigError, match="--methods: al has no maps"):
        published.publish(run, "alice/tiny", methods=["al"], config=VIEW_CONFIG, cache_dir=cache, api=FakeHub())
    with pytest.raises(ConfigError, match="--repo must be owner/name"):
        published.publish(run, "tiny", methods=["proxy"], config=VIEW_CONFIG, cache_dir=cache, api=FakeHub())
    with pytest.raises(DataError, match="needs a Hugging Face token with write access: set the HF_TOKEN"):
        published.publish(run, "alice/tiny", methods=["proxy"], config=VIEW_CONFIG, cache_dir=cache,
                          api=FakeHub(fail=RuntimeError("401 Client Error: Unauthorized")))


def test_a_published_run_opens_by_link_with_its_maps_and_trains_nothing(fitted, hub_cache):
    run, cache = fitted
    hub = FakeHub()
    published.publish(run, "alice/played", methods=["proxy", "umap"], config=VIEW_CONFIG, cache_dir=cache, api=hub)
    lay_out(hub_cache, "alice/played", hub.files)
    at = open_app("territories", run="hf://alice/played", method="proxy", epoch="2")  # no view_config: from the repo
    assert not at.exception and not at.error
    (player,) = at.get("bidi_component")
    data = json.loads(player.proto.json)
    assert data["epochs"] == [1, 2, 3] and data["epoch"] == 2
    from ttv_core.app.session import registry

    assert not [job for job in registry()._jobs.values() if getattr(job, "key", ("",))[0] == "hf://alice/played"
                and job.__class__.__name__ == "Job"], "a fit was started"
    second = open_app("metrics", run="hf://alice/played", method="umap")
    assert not second.exception and not second.error


def test_importing_skips_what_the_cache_has_and_never_unpickles(fitted, tmp_path):
    run, cache = fitted
    hub = FakeHub()
    published.publish(run, "alice/x", methods=["proxy"], config=VIEW_CONFIG, cache_dir=cache, api=hub)
    folder = tmp_path / "snapshot"
    for path, data in hub.files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(data)
    import pickle

    planted = folder / published.RESULTS / ("0" * 64 + published.SUFFIX)
    planted.write_bytes(pickle.dumps({"x": 1}))  # not the codec's format: refused, never unpickled
    viewer = tmp_path / "viewer-cache"
    first = published.import_results(folder, viewer)
    assert first.same_code and first.imported == len(list((folder / published.RESULTS).glob("*.ttvr"))) - 1
    assert ("0" * 64) not in ResultStore(viewer)
    assert published.import_results(folder, viewer).imported == 0  # the second open copies nothing


def test_the_dataset_card_shows_the_link_the_animation_and_the_figures(fitted):
    run, cache = fitted
    dynamics = ttv_core.load_dynamics(run)
    figures = ttv_core.Visualization(dynamics, "proxy", VIEW_CONFIG, cache_dir=cache).fit(compute=False).figures(3)
    manifest = {"methods": {"proxy": {"epochs": [1, 2, 3]}}, "version": 1, "code_version": "9"}
    card = published.dataset_card(dynamics, "alice/tiny", manifest, {"proxy": figures}, gif="animation.gif")
    assert card.startswith("---\ntags:\n- ttv") and "?run=hf://alice/tiny" in card and "](animation.gif)" in card
    row = next(line for line in card.splitlines() if line.startswith("| proxy | 3 |"))
    assert f"{figures['ppr_train']:.3f}" in row and row.count("|") == 2 + 1 + len(published.CARD_FIGURES)


def test_ttv_publish_computes_what_is_missing_and_uploads_the_card_and_animation(tmp_path, monkeypatch, capsys):
    from ttv_core.run.cli import main as cli

    run = make_small_run(tmp_path / "run")
    hub = FakeHub()
    monkeypatch.setattr(published, "_api", lambda token: hub)
    flags = ["--cache-dir", str(tmp_path / "cache"), "--max-passes", "2", "--warm-max-passes", "2", "--resolution", "24"]
    assert cli(["publish", str(run), "--repo", "alice/cli-run", "--methods", "proxy", *flags]) == 0
    assert {"README.md", "animation.gif", published.MANIFEST, "ttv_run.json"} <= set(hub.files)
    assert "](animation.gif)" in hub.files["README.md"].decode() and "?run=hf://alice/cli-run" in capsys.readouterr().err
    assert cli(["publish", str(run), "--repo", "alice/cli-run", "--methods", "tsne", *flags]) == 2
    assert "--methods 'tsne': list some of proxy, al, umap" in capsys.readouterr().err


def test_the_share_page_publishes_and_gives_the_link(mapped_run, monkeypatch):
    hub = FakeHub()
    monkeypatch.setattr(published, "_api", lambda token: hub)
    at = open_app("share", view_config=VIEW_CONFIG, run=str(mapped_run), method="proxy")
    assert not at.exception
    at.text_input(key="share_repo").input("alice/shared").run()
    at.button(key="share_publish").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {"animation.gif", "README.md", published.MANIFEST} <= set(hub.files)
    assert any("run=hf://alice/shared" in code.value for code in at.code)
    assert json.loads(hub.files[published.MANIFEST])["methods"] == {"proxy": {"epochs": [1, 2, 3, 4]}}
