"""The dashboard (Streamlit; install with ``pip install "ttv[app]"``, start with ``ttv app``).

- :mod:`.router`: the main script's body: page setup, the sidebar's run choice, the page list.
- ``views/``: the pages (Overview, Train, Territories, Metrics, Samples), thin scripts: widgets -> core -> render.
- :mod:`.session`: the opened run, the chosen method, epoch and selection (mirrored in the URL), the maps
  and predictions read from the cache, the server's job registry.
- :mod:`.jobs`: background fits and figure evaluations, shared by sessions (no Streamlit).
- :mod:`.player`: the Territories player, a custom component (``player.js``, ``player.css``).
- :mod:`.figures`: the accuracy and faithfulness figures as tables, charts and verdicts.

Nothing in :mod:`ttv_core` outside this package imports Streamlit.
"""

from pathlib import Path

VIEWS = Path(__file__).parent / "views"  # absolute: the main script may be anywhere (repo root, installed wheel)


def page_path(name: str) -> str:
    """The script of page ``name`` ("overview", "train", ...), as st.Page, st.page_link and AppTest take it."""
    return str(VIEWS / f"{name}.py")
