"""Suite files shipped with visionbench (``demo.yaml``: what ``visionbench demo`` runs)."""

from __future__ import annotations

from pathlib import Path

SUITES_DIR = Path(__file__).resolve().parent
DEMO_SUITE = SUITES_DIR / "demo.yaml"
