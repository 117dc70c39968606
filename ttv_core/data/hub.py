"""Training dynamics from a dataset repository on the Hugging Face Hub.

A reference looks like ``hf://owner/name[@revision][/subfolder]`` (``hf://datasets/owner/name`` is
accepted too, as is a bare ``owner/name`` when no local folder has that name). The repository is
fetched with :func:`huggingface_hub.snapshot_download` into the Hub's usual cache (``HF_HUB_CACHE``),
so a second open reads from disk and ``HF_HUB_OFFLINE=1`` works once it is there. The snapshot is
then read like any local folder; nothing is written into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

PREFIX = "hf://"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_REFERENCE = re.compile(rf"^(?P<repo>{_NAME}/{_NAME})(?:@(?P<revision>[^/]+))?(?:/(?P<subfolder>.+))?$")
_BARE_REPO = re.compile(rf"^{_NAME}/{_NAME}$")
_PART = re.compile(r"^[A-Za-z0-9._-]+$")  # one subfolder name: never "..", never a separator


@dataclass(frozen=True)
class HubReference:
    """A parsed ``hf://`` reference."""

    repo_id: str
    revision: str | None = None
    subfolder: str | None = None

    def __str__(self) -> str:
        text = PREFIX + self.repo_id
        if self.revision:
            text += "@" + self.revision
        if self.subfolder:
            text += "/" + self.subfolder
        return text


def is_hub_reference(text: str) -> bool:
    """True for ``hf://...`` and for a bare ``owner/name`` (checked only when no local folder matches)."""
    return text.startswith(PREFIX) or bool(_BARE_REPO.match(text))


def parse_reference(text: str) -> HubReference:
    """Split ``hf://owner/name[@revision][/subfolder]`` into its parts; raises DataError if malformed."""
    body = text[len(PREFIX) :] if text.startswith(PREFIX) else text
    if body.startswith("datasets/"):
        body = body[len("datasets/") :]
    match = _REFERENCE.match(body)
    if not match:
        raise DataError(
            f"{text}: not a Hugging Face dataset reference. Write hf://owner/name, optionally with "
            "@revision and /subfolder, e.g. hf://yvonne1123/training_dynamic@main/cifar10."
        )
    subfolder = (match.group("subfolder") or "").strip("/") or None
    if subfolder is not None and any(part in ("", ".", "..") or not _PART.match(part) for part in subfolder.split("/")):
        raise DataError(f"{text[:120]}: the subfolder must be a path inside the dataset, made of names (letters, "
                        "digits, '.', '_', '-'), without '..'. E.g. hf://yvonne1123/training_dynamic@main/cifar10.")
    return HubReference(match.group("repo"), match.group("revision"), subfolder)


def fetch(text: str) -> Path:
    """Download (or find in the cache) the dataset repository named by ``text``; return its local folder.

    Raises
    ------
    DataError
        The repository, revision or subfolder does not exist, or the Hub cannot be reached and the
        snapshot is not in the local cache; the message says which and what to do.
    """
    reference = parse_reference(text)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub import errors as hub_errors
    except ImportError:  # pragma: no cover - huggingface_hub is in requirements.txt
        raise DataError("Reading from the Hugging Face Hub needs huggingface_hub: pip install huggingface_hub") from None
    patterns = [f"{reference.subfolder}/*"] if reference.subfolder else None
    try:
        folder = Path(
            snapshot_download(
                reference.repo_id, repo_type="dataset", revision=reference.revision, allow_patterns=patterns
            )
        )
    except hub_errors.RevisionNotFoundError:
        raise DataError(f"{text}: the dataset {reference.repo_id} has no revision {reference.revision!r}.") from None
    except hub_errors.GatedRepoError:
        raise DataError(
            f"{text}: the dataset {reference.repo_id} is gated; accept its terms on the Hub and log in "
            "(`hf auth login`) first."
        ) from None
    except hub_errors.RepositoryNotFoundError:
        raise DataError(
            f"{text}: no dataset repository {reference.repo_id} on the Hugging Face Hub (or it is private: "
            "log in with `hf auth login`)."
        ) from None
    except getattr(hub_errors, "IncompleteSnapshotError", ()):
        raise DataError(
            f"{text}: the local Hugging Face cache holds only part of {reference.repo_id} and the Hub cannot be "
            "reached. Connect once to finish the download."
        ) from None
    except hub_errors.LocalEntryNotFoundError:
        raise DataError(
            f"{text}: the dataset {reference.repo_id} is not in the local Hugging Face cache and the Hub cannot be "
            "reached (offline, or HF_HUB_OFFLINE=1). Connect once to download it, or point HF_HUB_CACHE at a "
            "cache that has it."
        ) from None
    except (hub_errors.HFValidationError, hub_errors.HfHubHTTPError, OSError) as error:
        raise DataError(f"{text}: could not fetch the dataset from the Hugging Face Hub ({error}).") from None
    if reference.subfolder:
        snapshot, folder = folder, folder / reference.subfolder
        if not folder.resolve().is_relative_to(snapshot.resolve()):  # parse_reference already refuses ".."
            raise DataError(f"{text[:120]}: the subfolder leads outside the dataset.")
        if not folder.is_dir():
            raise DataError(f"{text}: the dataset {reference.repo_id} has no folder {reference.subfolder!r}.")
    return folder


CARD = "README.md"  # a published run's dataset card (ttv_core.run.publish.dataset_card)
CARD_ANIMATION = "animation.gif"  # the animation the card shows
CARD_LIMIT = 20_000_000  # bytes: a card's file larger than this is not read (a card is text and one GIF)


def fetch_card(text: str) -> tuple[str, bytes | None]:
    """The dataset card (README.md) of the repository ``text`` names, and its animation (animation.gif, None
    where it has none or it cannot be fetched): two files, downloaded into the Hub's cache or read from it,
    never the run itself. A ``/subfolder`` reference reads the files in that folder.

    Raises
    ------
    DataError
        The card cannot be fetched: offline and not in the cache, no such repository, or no card.
    """
    reference = parse_reference(text)
    try:
        from huggingface_hub import errors as hub_errors
        from huggingface_hub import hf_hub_download
    except ImportError:  # pragma: no cover - huggingface_hub is in requirements.txt
        raise DataError("Reading from the Hugging Face Hub needs huggingface_hub: pip install huggingface_hub") from None
    prefix = f"{reference.subfolder}/" if reference.subfolder else ""

    def read(name: str) -> bytes:
        path = Path(hf_hub_download(reference.repo_id, prefix + name, repo_type="dataset", revision=reference.revision))
        if path.stat().st_size > CARD_LIMIT:
            raise DataError(f"{text}: its {name} is over {CARD_LIMIT // 1_000_000} MB; not read.")
        return path.read_bytes()

    try:
        card = read(CARD).decode("utf-8", errors="replace")
    except hub_errors.LocalEntryNotFoundError:
        raise DataError(f"{text}: its card cannot be fetched: the Hub cannot be reached (offline, or HF_HUB_OFFLINE=1) "
                        "and it is not in the local Hugging Face cache.") from None
    except hub_errors.EntryNotFoundError:
        raise DataError(f"{text}: the dataset has no card ({prefix}{CARD}).") from None
    except hub_errors.RepositoryNotFoundError:
        raise DataError(f"{text}: no dataset repository {reference.repo_id} on the Hugging Face Hub (or it is "
                        "private or gated).") from None
    except (hub_errors.HFValidationError, hub_errors.HfHubHTTPError, OSError) as error:
        raise DataError(f"{text}: its card cannot be fetched from the Hugging Face Hub "
                        f"({type(error).__name__}).") from None
    try:
        animation = read(CARD_ANIMATION)
    except (DataError, hub_errors.EntryNotFoundError, hub_errors.HFValidationError, OSError):
        animation = None  # a card without its picture still says what the run is
    return card, animation
