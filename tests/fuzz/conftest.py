"""The fuzzing profile: deterministic, bounded, no deadline (CI machines are slow and shared).

``HYPOTHESIS_PROFILE=dev`` runs more examples locally.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=1000, derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder for one example (function-scoped fixtures are shared across examples)."""
    with tempfile.TemporaryDirectory(prefix="vbfuzz-") as name:
        yield Path(name)
