"""Text that came with the data, shown as text.

Streamlit reads Markdown in almost every string it shows: titles, captions, messages, metric labels and
values, image captions, radio options, tooltips. A run's name, its class names, a folder path or an error
message quoting them come from whoever made the dataset (or from a link's ``?run=``), so shown as they are,
``[click](http://evil)`` would be a link, ``![x](http://evil/x.png)`` an image fetched from elsewhere and
``**bold**`` bold. Every such string goes through :func:`plain` before it meets the page's own Markdown.
"""

from __future__ import annotations

import re

# CommonMark lets any ASCII punctuation be escaped with a backslash and then shows it literally; these are the
# characters that start Markdown (links, images, emphasis, code, headings, lists, tables, HTML, entities), GFM
# autolinks (the ':' of http://, the '.' of www.) and Streamlit's own directives (:red[...], :material/x:, $LaTeX$).
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=@^])")


def plain(value: object) -> str:
    """``value`` as Markdown that shows exactly its text, on one line (a line break could start a heading)."""
    return _MARKUP.sub(r"\\\1", " ".join(str(value).split()))
