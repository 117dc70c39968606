"""The dashboard's main script at the repository root, for ``streamlit run streamlit_app.py`` and Streamlit
Community Cloud; installed, ``ttv app`` runs the same app. Everything lives in :mod:`ttv_core.app.router`."""

from ttv_core.app.router import main

main()
