"""visionbench: benchmark and evaluate vision models, log to MLflow, publish a leaderboard."""

from __future__ import annotations

__version__ = "0.1.0"
