"""Text from results (model names, tags, captions) shown safely: as text, never as HTML or markup.

Dataframe cells, ``st.text`` and chart labels are inert. Anything placed into Markdown
(headers, captions, ``st.markdown``) goes through :func:`md` first, which backslash-escapes
every character Markdown, Streamlit's directives (``:red[...]``, ``:emoji:``) or LaTeX
(``$``) would interpret, and ``<``/``>`` so no tag can form.
"""

from __future__ import annotations

import re
from typing import Any

_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&=\"'])")


def md(value: Any) -> str:
    """``value`` as a string that Markdown renders literally (one line: newlines become spaces)."""
    text = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", text)
