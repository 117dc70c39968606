"""The dashboard's main script, as ``ttv app`` runs it: ``streamlit run`` re-executes this file on every interaction."""

from ttv_core.app.router import main

main()
