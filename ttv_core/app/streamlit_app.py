"""The dashboard's main script, as ``ttv app`` runs it: ``streamlit run`` re-executes this file on every interaction."""

from ttv_core.app.router import main

# A fit's worker process is spawned from a script run, where this file is __main__: multiprocessing then
# imports it again in the worker as "__mp_main__", which must not start a second dashboard there.
if __name__ != "__mp_main__":
    main()
