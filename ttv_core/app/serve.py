"""The dashboard's server process: Streamlit's command line, once the pages' heavy modules are imported.

A page needs torch and ttv's compute modules (about 1.2 s to import on 2 cores, torch 0.85 s of it). A
server started by ``streamlit run`` imports them on its first visit, so the first visitor of every new
server waited for them before the first picture. ``ttv app`` starts Streamlit through this module
(``python -m ttv_core.app.serve run SCRIPT [OPTIONS]``), which imports them first, in the main thread
(an import in a thread beside Streamlit's start could deadlock on the import locks): the server
answers 1.4 s later (its health check: 0.4 s -> 1.8 s on 2 cores), and every visit, the first one too,
finds them loaded.
"""

from __future__ import annotations

import importlib
import sys

# What a first visit's pages import that takes time: the compute core (torch with it), the views' own, and
# pandas, which Streamlit imports when it first looks for data frames in the player's data (0.2 s; py-spy,
# first visit of the 60,000-sample run).
PRELOADED = ("ttv_core", "ttv_core.run.visualize", "ttv_core.run.frames", "ttv_core.evaluate.predictions",
             "ttv_core.app.router", "ttv_core.app.framejob", "ttv_core.app.player", "pandas")


def preload() -> None:
    """Import :data:`PRELOADED`; a module that fails is left for the page, which reports the error to the visitor."""
    for name in PRELOADED:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page imports it again and shows what went wrong
            pass


def main() -> int:
    preload()
    from streamlit.web import cli

    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
