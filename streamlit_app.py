"""The dashboard's main script at the repository root, for ``streamlit run streamlit_app.py`` and Streamlit
Community Cloud; installed, ``ttv app`` runs the same app. Everything lives in :mod:`ttv_core.app.router`."""

from ttv_core.app.router import main

# A fit's worker process is spawned from a script run, where this file is __main__: multiprocessing then
# imports it again in the worker as "__mp_main__", which must not start a second dashboard there.
if __name__ != "__mp_main__":
    main()
