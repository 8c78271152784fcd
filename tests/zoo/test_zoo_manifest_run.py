"""The zoo manifest and catalogue describe the same models.

The figures themselves are checked through the real command line by
``tests/golden/test_golden_records.py``, which runs every zoo model on its task with
``visionbench run`` once and compares the same run with the golden record and the manifest.
"""

from __future__ import annotations

import json

from visionbench.zoo.catalog import MANIFEST_NAME, WEIGHTS_DIR, ZOO

HEADLINES = ("test_top1", "test_map", "test_miou", "test_cider")


def test_manifest_and_catalogue_name_the_same_models() -> None:
    manifest = json.loads((WEIGHTS_DIR / MANIFEST_NAME).read_text(encoding="utf-8"))["models"]
    assert set(manifest) == set(ZOO)
    for name, record in manifest.items():
        assert record["name"] == name and record["kind"] == ZOO[name].kind
        assert record["dataset"] == ZOO[name].dataset
        assert any(key in record for key in HEADLINES), f"{name}: no headline figure in the manifest"
        assert record["test_samples"] > 0
