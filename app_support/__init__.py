"""What the dashboard's pages share, kept out of the pages so they stay thin (widgets -> core -> render).

- :mod:`app_support.session`: the opened run, the chosen method, epoch and selection (mirrored in the
  URL), the maps and predictions read from the cache, the server's job registry.
- :mod:`app_support.jobs`: background fits and figure evaluations, shared by sessions (no Streamlit).
- :mod:`app_support.player`: the Territories player, a custom component (``player.js``, ``player.css``).
- :mod:`app_support.figures`: the accuracy and faithfulness figures as tables, charts and verdicts.
"""
