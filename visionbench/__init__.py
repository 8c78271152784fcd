"""visionbench: benchmark and evaluate vision models, log to MLflow, publish a leaderboard.

The Python API (:func:`evaluate`, :func:`score`, :func:`load_run`) is imported on first use, so
``import visionbench`` and ``visionbench --help`` stay instant.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "load_run", "score"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from visionbench.harness import api

        return getattr(api, name)
    raise AttributeError(f"module 'visionbench' has no attribute {name!r}")
