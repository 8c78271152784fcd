"""How each zoo captioner decodes: recorded in a run's preprocessing under ``generation`` (imports nothing)."""

from __future__ import annotations

from typing import Any

# How each captioner decodes (recorded in the run's preprocessing under ``generation``).
GENERATION: dict[str, dict[str, Any]] = {
    "shapes-captioner": {"decoding": "greedy", "beams": 1, "max_words": 40, "sampling": False},
    "shapes-captioner-tiny": {"decoding": "greedy", "beams": 1, "max_words": 40, "sampling": False},
}


def generation_of(name: str) -> dict[str, Any]:
    return dict(
        GENERATION.get(name) or {"decoding": "greedy", "beams": 1, "max_words": 40, "sampling": False}
    )
