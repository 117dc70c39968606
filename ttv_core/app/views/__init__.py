"""The dashboard's pages: scripts that Streamlit runs through :func:`ttv_core.app.router.main`, never imported."""
