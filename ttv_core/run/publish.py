"""Publishing a run with its maps to the Hugging Face Hub, and opening a published run ready to play.

A published dataset repository holds the ttv run itself (its manifest, labels, per-epoch arrays and
heads: no code) and, under ``ttv_results/``, the computed results of the chosen methods::

    ttv_results/manifest.json      format, code version, the VisConfig, seed, methods and their epochs
    ttv_results/<key>.ttvr         one stored result (maps and fitted models, figures), by its cache key

Results are stored by the same keys the cache uses, in the cache's own format (arrays and JSON,
:mod:`ttv_core.run.codec`; never pickles). Keys come from the run's file contents, the configuration
and the code version, so a viewer who downloads the repository computes the same keys: opening it
(:func:`import_results`) copies the results it lacks into the local cache and nothing is trained. A
viewer whose ttv stores results differently (another code version) is told so instead.

Re-publishing uploads only files whose content changed (compared with what the repository holds).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import VisConfig
from ..errors import ConfigError, DataError
from . import codec
from .store import CODE_VERSION, ResultStore

RESULTS = "ttv_results"
MANIFEST = f"{RESULTS}/manifest.json"
FORMAT = "ttv-results"
SUFFIX = ".ttvr"
_KEY_FILE = re.compile(r"^([0-9a-f]{64})(\.slim)?\.ttvr$")
TOKEN_HINT = ("set the HF_TOKEN environment variable, run `hf auth login`, or put HF_TOKEN in the app's secrets "
              "(a token with write access: huggingface.co/settings/tokens)")


def _file_name(key: str) -> str:
    return key.replace("/slim", ".slim") + SUFFIX


def _key_of(name: str) -> str | None:
    match = _KEY_FILE.match(name)
    return None if match is None else match.group(1) + ("/slim" if match.group(2) else "")


class _Reads:
    """A result store that remembers which keys were read with a value: what viewing a method needs."""

    def __init__(self, store: ResultStore):
        self._store, self.read = store, set()

    def get(self, key: str, default: Any = None) -> Any:
        value = self._store.get(key, default)
        if value is not default:
            self.read.add(key)
        return value

    def __contains__(self, key: str) -> bool:
        return key in self._store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def results_to_publish(dynamics, methods: list[str], config: VisConfig, cache_dir=None) -> tuple[dict[str, bytes], dict]:
    """The stored results viewing ``methods`` needs (every epoch's map with its model, its slim copy and
    its figures where computed), encoded by key file name, and the manifest. Raises ConfigError naming
    a method without maps."""
    from .visualize import Visualization

    files: dict[str, bytes] = {}
    listed: dict[str, Any] = {}
    store = ResultStore(cache_dir)
    for method in methods:
        visualization = Visualization(dynamics, method, config, cache_dir)
        reads = _Reads(visualization.store)
        visualization.store = reads
        visualization.fit(compute=False, slim=True)
        if not visualization.results_:
            raise ConfigError(f"--methods: {method} has no maps of this run with these settings; compute them first "
                              f"(ttv {method} RUN, or the dashboard's Train page).")
        for epoch in visualization.results_:
            visualization.figures(epoch, compute=False)
        for key in reads.read | set(visualization.keys_):  # slim copies and figures as read, whole maps with models
            value = store.get(key)
            if value is not None:
                files[f"{RESULTS}/{_file_name(key)}"] = codec.encode(value)
        listed[method] = {"epochs": sorted(int(e) for e in visualization.results_)}
    manifest = {"format": FORMAT, "version": 1, "code_version": CODE_VERSION, "config": config.to_dict(),
                "seed": config.seed, "methods": listed}
    return files, manifest


CARD_FIGURES = {"train_acc": "train accuracy", "test_acc": "test accuracy", "nn_rate_train": "NN rate (train)",
                "trustworthiness_train": "trustworthiness (train)", "ppr_train": "PPR (train)", "ppr_test": "PPR (test)"}


def dataset_card(dynamics, repo: str, manifest: dict, figures: dict[str, dict | None], gif: str | None = None) -> str:
    """The repository's README.md: what the run is, how to open it, the animation (``gif``: its path in the
    repository) and the last epoch's figures of each method (``figures``: method -> figures or None)."""
    from ..data.runformat import read_manifest

    def text(value) -> str:  # the run's own names: shown as text in Markdown tables
        return "".join(c if c.isprintable() and c not in "|<>[]`*_\\" else " " for c in str(value))[:80]

    name = text(read_manifest(Path(dynamics.folder)).get("name") or repo.split("/")[-1])
    methods = manifest["methods"]
    lines = ["---", "tags:", "- ttv", "- training-dynamics", "- visualization", "---", "", f"# {name}", "",
             f"A classifier's training, {len(dynamics.epochs)} epochs of {dynamics.n_train:,} training and "
             f"{dynamics.n_test:,} test samples ({dynamics.n_classes} classes: "
             f"{', '.join(text(c) for c in dynamics.classes[:12])}{', ...' if dynamics.n_classes > 12 else ''}), "
             f"recorded for [ttv](https://pypi.org/project/ttv/) with the maps of {', '.join(methods)} computed.", ""]
    if gif:
        lines += [f"![The map of every epoch, animated]({gif})", ""]
    lines += ["Open it ready to play, nothing to train:", "", "```", f"ttv app   # then open ?run=hf://{repo}",
              f"python -c \"import ttv_core; ttv_core.load_dynamics('hf://{repo}')\"", "```", ""]
    rows = [(method, figures.get(method)) for method in methods if figures.get(method)]
    if rows:
        last = {method: max(spec["epochs"]) for method, spec in methods.items()}
        lines += ["| method | epoch | " + " | ".join(CARD_FIGURES.values()) + " |",
                  "|---|---|" + "---|" * len(CARD_FIGURES)]
        for method, values in rows:
            cells = [f"{values[k]:.3f}" if isinstance(values.get(k), (int, float)) else "–" for k in CARD_FIGURES]
            lines.append(f"| {method} | {last[method]} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(f"Published with ttv (results format {manifest['version']}, code version {manifest['code_version']}).")
    return "\n".join(lines) + "\n"


def read_card(card: str) -> dict[str, Any]:
    """What a dataset card says, for a list of published runs: its ``title`` (the first heading), its
    ``summary`` (the paragraph after it, Markdown links reduced to their text) and its ``figures`` (the
    rows of its table, header -> cell, as text). The inverse of :func:`dataset_card` for what it wrote;
    any other card gives what it has (empty where it has nothing)."""
    lines = card.splitlines()
    if lines and lines[0].strip() == "---":  # the YAML front matter
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1:]
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
    after = lines[next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0):]
    paragraph = []
    for line in after:
        if line.strip().startswith(("#", "|", "```", "![")) or (not line.strip() and paragraph):
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    summary = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", " ".join(paragraph)).strip()
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines if line.strip().startswith("|")]
    rows = [row for row in rows if not all(re.fullmatch(r":?-+:?", cell) for cell in row)]
    figures = [dict(zip(rows[0], row)) for row in rows[1:] if len(row) == len(rows[0])] if rows else []
    return {"title": title[:200], "summary": summary[:600], "figures": figures[:20]}


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class PublishReport:
    repo: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    url: str = ""


def publish(run_folder: str | Path, repo: str, *, methods: list[str], config: VisConfig | None = None,
            cache_dir=None, token: str | None = None, card: str | Callable[[dict], str] | None = None,
            extra: dict[str, bytes] | None = None, api=None) -> PublishReport:
    """Upload the ttv run at ``run_folder`` and the results of ``methods`` to the dataset repository
    ``repo`` (``owner/name``; created if missing) in one commit, skipping files the repository already
    holds with the same content. ``card``: the dataset card (README.md), or a function of the results'
    manifest that writes it (:func:`dataset_card`); ``extra``: more files by path
    (e.g. the animation's GIF). ``api``: an ``huggingface_hub.HfApi`` (tests pass a stand-in)."""
    from ..data.load import load_dynamics
    from ..data.runformat import is_run

    folder = Path(run_folder)
    if not is_run(folder):
        raise ConfigError(f"{folder}: only ttv runs can be published (an original-layout folder ships code). "
                          "Record the run with ttv.Recorder, then publish that folder.")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo or ""):
        raise ConfigError(f"--repo must be owner/name, e.g. alice/digits-run; got {str(repo)[:60]!r}.")
    config = config or VisConfig()
    dynamics = load_dynamics(folder, cache_dir=cache_dir)
    files: dict[str, bytes | Path] = {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*"))
                                      if path.is_file() and not path.name.startswith(".")}
    results, manifest = results_to_publish(dynamics, methods, config, cache_dir)
    files.update(results)
    files[MANIFEST] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    if card is not None:
        files["README.md"] = (card(manifest) if callable(card) else card).encode()
    files.update(extra or {})
    api = api or _api(token)
    try:
        api.create_repo(repo, repo_type="dataset", exist_ok=True, token=token)
        remote = {item.path: item for item in api.list_repo_tree(repo, repo_type="dataset", recursive=True, token=token)
                  if hasattr(item, "blob_id")}
    except Exception as error:  # noqa: BLE001 - huggingface_hub raises many kinds; all mean "could not publish"
        raise _hub_error(repo, error) from None
    from huggingface_hub import CommitOperationAdd

    report, operations = PublishReport(repo), []
    for path, content in sorted(files.items()):
        data = content.read_bytes() if isinstance(content, Path) else content
        if _same(remote.get(path), data):
            report.unchanged.append(path)
            continue
        operations.append(CommitOperationAdd(path_in_repo=path, path_or_fileobj=data))
        report.uploaded.append(path)
    if operations:
        try:
            api.create_commit(repo, operations, commit_message=f"ttv publish: {', '.join(methods)}", repo_type="dataset",
                              token=token)
        except Exception as error:  # noqa: BLE001
            raise _hub_error(repo, error) from None
    report.url = f"hf://{repo}"
    return report


def _same(remote, data: bytes) -> bool:
    if remote is None:
        return False
    lfs = getattr(remote, "lfs", None)
    if lfs is not None:
        sha = lfs.get("sha256") if isinstance(lfs, dict) else getattr(lfs, "sha256", None)
        return sha == hashlib.sha256(data).hexdigest()
    return getattr(remote, "blob_id", None) == _git_blob_sha1(data)


def _api(token: str | None):
    from huggingface_hub import HfApi

    return HfApi(token=token)


def _hub_error(repo: str, error: Exception) -> DataError:
    text = f"{type(error).__name__}: {error}"
    if any(word in text for word in ("401", "403", "Token", "token", "login", "Unauthorized")):
        return DataError(f"Publishing to {repo} needs a Hugging Face token with write access: {TOKEN_HINT}.")
    return DataError(f"Could not publish to {repo} on the Hugging Face Hub ({text[:200]}).")


@dataclass(frozen=True)
class Published:
    """What :func:`import_results` found in a published run."""

    config: VisConfig
    methods: dict[str, list[int]]
    imported: int
    same_code: bool


def import_results(folder: str | Path, cache_dir=None) -> Published | None:
    """Copy the results a published run ships (``ttv_results/``) into the local cache, those it lacks;
    None when ``folder`` holds none. Nothing is executed: values are decoded by the codec, which builds
    only arrays, JSON and ttv's own result types."""
    root = Path(folder) / RESULTS
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        config = VisConfig.from_dict(manifest["config"])
        methods = {str(m): [int(e) for e in spec["epochs"]] for m, spec in manifest["methods"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise DataError(f"{manifest_path}: not a readable ttv results manifest ({type(error).__name__}). "
                        "Publish the run again with a current ttv.") from None
    same_code = str(manifest.get("code_version")) == CODE_VERSION
    imported = 0
    if same_code:
        with ResultStore(cache_dir) as store:
            for path in sorted(root.glob(f"*{SUFFIX}")):
                key = _key_of(path.name)
                if key is None or key in store:
                    continue
                try:
                    store.put(key, codec.decode(path.read_bytes()))
                except codec.CodecError:
                    continue  # a damaged file: the viewer computes that result instead
                imported += 1
    return Published(config, methods, imported, same_code)


# -- the command line: ttv publish RUN --repo owner/name [--methods proxy,al] ------------------------------
def add_parser(commands, add_visualization_arguments) -> None:
    """``ttv publish``: its flags are the visualization's (the maps published are those of these settings)."""
    command = commands.add_parser("publish", help="upload a ttv run with its maps (computed first if missing) to a "
                                  "Hugging Face dataset repository, with a dataset card and the animation")
    add_visualization_arguments(command)
    command.add_argument("--repo", required=True, help="owner/name of the dataset repository (created if missing)")
    command.add_argument("--methods", default="proxy", help="comma-separated: proxy, al, umap (default %(default)s)")
    command.set_defaults(handler=command_publish)


def command_publish(args) -> int:
    """Compute what is missing, then publish (the token: HF_TOKEN or `hf auth login`)."""
    from .cli import _figures, _progress, _visualization
    from .render import animation_gif
    from .visualize import METHODS

    methods = [name.strip() for name in str(args.methods).split(",") if name.strip()]
    if not methods or any(name not in METHODS for name in methods):
        raise ConfigError(f"--methods {str(args.methods)[:60]!r}: list some of {', '.join(METHODS)}, comma-separated.")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", args.repo or ""):
        raise ConfigError(f"--repo must be owner/name, e.g. alice/digits-run; got {str(args.repo)[:60]!r}.")
    fitted = {}
    for method in methods:
        fitted[method] = _visualization(args, method)
        _figures(fitted[method])
    first = fitted[methods[0]]
    gif = animation_gif(first)

    def card(manifest: dict) -> str:
        last = {name: v.figures(max(v.results_)) for name, v in fitted.items() if v.results_}
        return dataset_card(first.dynamics, args.repo, manifest, last, gif="animation.gif")

    report = publish(first.dynamics.folder, args.repo, methods=methods, config=first.config, cache_dir=args.cache_dir,
                     card=card, extra={"animation.gif": gif})
    _progress(f"published {len(report.uploaded)} changed file(s), {len(report.unchanged)} unchanged: open it with "
              f"ttv app and ?run={report.url}, or load_dynamics({report.url!r})")
    return 0
