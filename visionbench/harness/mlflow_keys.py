"""Metric keys MLflow accepts, and the way back to the names the record uses.

MLflow (``mlflow/utils/validation.py``) allows only alphanumerics, ``_ - . /``, spaces and (off
Windows) colons in metric names, no more than 250 characters, and a name must equal its own
``posixpath.normpath`` (no empty, ``.`` or ``..`` segment, no leading ``/``). A class called
``dog (husky)`` gives the key ``f1/dog (husky)``, which MLflow refuses. :func:`sanitise` replaces
each refused character with ``_`` (colons too, so a Windows client accepts the key), keeps keys
distinct, and returns the mapping original -> MLflow key of the keys it changed. The mapping is kept
in the record (``tracking.key_map``) and in the run's ``vb.key_map*`` tags, from which
:func:`restore` gives the leaderboard the original names back.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_KEY = 250
MAX_TAG_VALUE = 8000
KEY_MAP_TAG = "vb.key_map"
_REFUSED = re.compile(r"[^/\w.\- ]")


def mlflow_key(name: str) -> str:
    """``name`` with every character and path segment MLflow refuses replaced by ``_``."""
    key = _REFUSED.sub("_", name)
    for _ in range(4):  # a fixed segment may lengthen the key past the limit: cut and check again
        segments = [s if s not in ("", ".", "..") else "_" * max(len(s), 1) for s in key.split("/")]
        fixed = "/".join(segments)[:MAX_KEY].rstrip("/") or "_"
        if fixed == key:
            break
        key = fixed
    return key


def sanitise(metrics: dict[str, float]) -> tuple[dict[str, float], dict[str, str]]:
    """``(metrics under MLflow keys, {original: mlflow key} for the keys that changed)``."""
    out: dict[str, float] = {}
    changed: dict[str, str] = {}
    taken = {k for k in metrics if mlflow_key(k) == k}
    for key, value in metrics.items():
        new = mlflow_key(key)
        if new != key:
            base, n = new, 2
            while new in taken:
                suffix = f"-{n}"
                new, n = base[: MAX_KEY - len(suffix)] + suffix, n + 1
            taken.add(new)
            changed[key] = new
        out[new] = value
    return out, changed


def key_map_tags(changed: dict[str, str]) -> dict[str, str]:
    """The mapping as run tags (``vb.key_map``, ``vb.key_map.2``, ...), each value within MLflow's limit."""
    tags: dict[str, str] = {}
    part: dict[str, str] = {}
    for original, key in changed.items():
        candidate = {**part, key: original}
        if part and len(json.dumps(candidate)) > MAX_TAG_VALUE:
            tags[_tag_name(len(tags))] = json.dumps(part)
            candidate = {key: original}
        part = candidate
    if part:
        tags[_tag_name(len(tags))] = json.dumps(part)
    return tags


def _tag_name(index: int) -> str:
    return KEY_MAP_TAG if index == 0 else f"{KEY_MAP_TAG}.{index + 1}"


def restore(metrics: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """Metrics read from an MLflow run under the record's original names (from its ``vb.key_map*`` tags)."""
    back: dict[str, str] = {}
    for name, value in tags.items():
        if name == KEY_MAP_TAG or name.startswith(KEY_MAP_TAG + "."):
            try:
                back.update(json.loads(value))
            except (TypeError, ValueError):
                continue
    if not back:
        return dict(metrics)
    return {back.get(key, key): value for key, value in metrics.items()}
