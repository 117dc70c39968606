"""Dashboard support that is plain Python (no Streamlit), so it can be unit-tested: the job registry."""
