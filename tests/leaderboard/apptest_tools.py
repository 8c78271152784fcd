"""Small readers over an AppTest element tree, shared by the leaderboard tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

MARKDOWN_TYPES = {"markdown", "caption", "heading", "title", "header", "subheader", "latex", "divider"}


def all_nodes(at: Any) -> Iterator[Any]:
    """Every element and block of the main area and the sidebar."""
    yield from at.main
    yield from at.sidebar


def dataframe(at: Any, key: str) -> pd.DataFrame:
    """The table keyed ``key``: a selectable st.dataframe with that key, or the one inside a container with that key."""
    for node in all_nodes(at):
        if node.type == "dataframe" and node.key == key:
            return node.value
        if hasattr(node, "children") and node.key == key:
            inner = [child for child in node if child.type == "dataframe"]
            if inner:
                return inner[0].value
    raise AssertionError(f"no table with key {key!r}")


def charts(at: Any) -> list[str]:
    """Keys of the containers that hold a Vega-Lite (Altair) chart."""
    return [
        node.key
        for node in all_nodes(at)
        if hasattr(node, "children") and node.key and any(child.type == "vega_lite_chart" for child in node)
    ]


def texts(at: Any) -> list[str]:
    """Bodies of st.text elements."""
    return [node.value for node in all_nodes(at) if node.type == "text"]


def markdown_texts(at: Any) -> list[str]:
    """Everything the browser renders as Markdown: Markdown-like elements, widget labels and radio options."""
    bodies = []
    for node in all_nodes(at):
        proto = getattr(node, "proto", None)
        if proto is None:
            continue
        if node.type in MARKDOWN_TYPES and hasattr(proto, "body"):
            bodies.append(proto.body)
        if hasattr(proto, "label") and isinstance(proto.label, str):
            bodies.append(proto.label)
        if node.type in ("radio", "button_group") and hasattr(proto, "options"):
            bodies += [o if isinstance(o, str) else getattr(o, "content", "") for o in proto.options]
    return bodies


def assert_no_html(at: Any) -> None:
    """No raw HTML element, and no element that lets HTML through (``unsafe_allow_html``)."""
    assert not at.get("html"), "raw HTML element"
    for node in all_nodes(at):
        proto = getattr(node, "proto", None)
        if proto is not None and getattr(proto, "allow_html", False):
            raise AssertionError(f"{node.type} allows HTML")
