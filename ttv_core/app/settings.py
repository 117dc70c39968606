"""What the server's operator decides, never a visitor: which folders runs may be opened from, whose
dataset code may run, and which published runs the Datasets page offers.

Set in the environment, or in a ``[ttv]`` table of the app's secrets (``.streamlit/secrets.toml``, or
Streamlit Community Cloud's Secrets box); the environment wins::

    [ttv]
    hosted = true                       # TTV_HOSTED=1: visitors are strangers
    data_root = "/srv/runs"             # TTV_DATA_ROOT=/srv/runs (several: separated by os.pathsep)
    code_allowed = ["yvonne1123/training_dynamic", "/srv/runs/lab"]  # TTV_CODE_ALLOWED, comma-separated
    published = ["alice/digits-run", "bob/cifar-run"]   # TTV_PUBLISHED, comma-separated

- **Folders.** With a data root, a typed folder or ``?run=`` path opens only if it lies inside one (a
  relative path is read from the first); anything else is refused with one message that says nothing
  about whether it exists. Without one, folders open only for a visitor on this machine (loopback)
  of a server that is not hosted.
- **Dataset code** (an original-layout folder's ``Model/model.py``). A visitor on this machine of a
  server that is not hosted may allow it with a tick, as before. Anyone else gets it only for the
  datasets the operator listed in ``code_allowed``: a Hub dataset (``owner/name``), every dataset of an
  owner (``owner/*``) or a folder (every run under it). A hosted server runs no dataset code otherwise.
- **Published runs** (``published``): Hugging Face dataset repositories (``owner/name``, or any reference
  ``hf://`` takes) that the Datasets page lists with their dataset card, fetched when the page is shown
  (the card and its GIF only, never the run). The Datasets page also lists every run under the data
  roots, found from their manifests (:mod:`ttv_core.data.catalog`); without a data root it lists none.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from ttv_core.errors import ConfigError

OUTSIDE_ROOT = ("This server opens runs from its data folder only, and {name} is not a run there. Choose one "
                "listed on its pages, or ask its operator.")
NO_FOLDERS = ("This server does not open folders for visitors. Open the built-in demo or a Hugging Face dataset; "
              "its operator can set a data folder (TTV_DATA_ROOT) to offer runs from this machine.")


def _secrets() -> dict:
    try:
        table = st.secrets.get("ttv", {})
        return dict(table) if hasattr(table, "keys") else {}
    except Exception:  # no secrets file, or one Streamlit cannot read: the environment alone decides
        return {}


def _listed(value, separator: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(separator) if isinstance(value, str) else list(value)
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class ServerSettings:
    hosted: bool = False
    data_roots: tuple[Path, ...] = ()
    code_allowed: tuple[str, ...] = ()
    published: tuple[str, ...] = ()

    @classmethod
    def current(cls) -> "ServerSettings":
        """The settings in force: the environment, else the secrets' ``[ttv]`` table."""
        secrets = _secrets()
        hosted = os.environ.get("TTV_HOSTED", str(secrets.get("hosted", ""))).strip().lower() in ("1", "true", "yes")
        roots = _listed(os.environ.get("TTV_DATA_ROOT", secrets.get("data_root")), os.pathsep)
        allowed = _listed(os.environ.get("TTV_CODE_ALLOWED", secrets.get("code_allowed")), ",")
        published = _listed(os.environ.get("TTV_PUBLISHED", secrets.get("published")), ",")
        return cls(hosted, tuple(Path(root).expanduser().resolve() for root in roots), allowed, published)

    def trusted_visitor(self) -> bool:
        """Whether this visitor may decide for the server: on its own machine, of a server not hosted."""
        return not self.hosted and visitor_is_local()

    def folders_open(self) -> bool:
        return bool(self.data_roots) or self.trusted_visitor()

    def folder(self, typed: str) -> str:
        """The folder a typed path or ``?run=`` names, where this server lets it be opened; raises
        ConfigError (saying nothing about paths outside the data root) otherwise."""
        if not self.data_roots:
            if not self.trusted_visitor():
                raise ConfigError(NO_FOLDERS)
            return typed
        path = Path(typed).expanduser()
        resolved = (path if path.is_absolute() else self.data_roots[0] / path).resolve()
        if any(resolved == root or resolved.is_relative_to(root) for root in self.data_roots):
            return str(resolved)
        raise ConfigError(OUTSIDE_ROOT.format(name=_short(typed)))

    def code_may_run(self, reference: str, folder: str | None) -> bool:
        """Whether the operator allowed the code of the dataset ``reference`` (``hf://owner/name...``, or a
        folder, resolved as ``folder``)."""
        for entry in self.code_allowed:
            if reference.startswith("hf://"):
                repo = reference.removeprefix("hf://").removeprefix("datasets/").split("@")[0]
                owner, _, name = entry.partition("/")
                parts = repo.split("/")
                if len(parts) >= 2 and owner == parts[0] and name in ("*", "", parts[1].split("@")[0]):
                    return True
            elif folder is not None and ("/" in entry or os.sep in entry):
                root = Path(entry).expanduser().resolve()
                target = Path(folder).resolve()
                if target == root or target.is_relative_to(root):
                    return True
        return False


def _short(text: str, limit: int = 60) -> str:
    """A typed value, quoted, printable and short, for a message."""
    clean = "".join(c if c.isprintable() else "?" for c in str(text))
    return repr(clean if len(clean) <= limit else clean[: limit - 1] + "…")


def visitor_is_local() -> bool:
    """Whether the visitor connects from this machine (loopback, not through a proxy that forwards others);
    True outside a server (bare mode, tests)."""
    try:
        address, headers = st.context.ip_address, st.context.headers
    except Exception:  # outside a script run: bare mode
        return True
    try:
        names = list(headers.keys())
    except (AttributeError, TypeError):
        names = []
    return is_local(address if isinstance(address, str) else None, names)


def is_local(address: str | None, header_names) -> bool:
    """Whether a connection from ``address`` with these request headers comes from this machine itself.

    ``address`` None is how Streamlit reports a loopback connection (``st.context.ip_address``; AppTest too):
    local unless a reverse proxy forwarded it, which is also what a proxy on this machine looks like.
    """
    if {str(name).lower() for name in header_names} & {"x-forwarded-for", "x-real-ip", "forwarded"}:
        return False  # a reverse proxy on this machine speaks for visitors from anywhere
    if address is None:
        return True
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    parsed = getattr(parsed, "ipv4_mapped", None) or parsed  # "::ffff:127.0.0.1", as Streamlit reports it
    return parsed.is_loopback
