"""Third-party loaders found through real ``importlib.metadata`` entry points (a ``*.dist-info`` on ``sys.path``)."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

import visionbench.registry as registry

PACKAGE = """
import torch

from visionbench.adapters.objects import model_for_object


def toy(spec, kind):
    \"\"\"A new family serving two kinds.\"\"\"
    torch.manual_seed(0)
    if kind == "classification":
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
        pre = {"mode": "L", "size": [8, 8], "mean": [0.3], "std": [0.4]}
        return model_for_object(net, kind, name=spec.spec, preprocess=pre, classes=[str(i) for i in range(10)])
    net = torch.nn.Conv2d(3, 6, 1)
    return model_for_object(net, kind, name=spec.spec, preprocess={"size": [32, 32]})


toy.kinds = ("classification", "segmentation")


def timm_segmentation(spec, kind):
    \"\"\"A kind added to the built-in timm family.\"\"\"
    torch.manual_seed(1)
    return model_for_object(torch.nn.Conv2d(3, 6, 1), kind, name=spec.spec, preprocess={"resize": 48})


timm_segmentation.kinds = ("segmentation",)
"""


@pytest.fixture
def plugin(tmp_path: Path):
    (tmp_path / "vbplug.py").write_text(textwrap.dedent(PACKAGE))
    info = tmp_path / "vbplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vbplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[visionbench.adapters]\ntoy = vbplug:toy\ntimm = vbplug:timm_segmentation\n"
    )
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    registry.reset_adapters()
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("vbplug", None)
        importlib.invalidate_caches()
        registry.reset_adapters()


def _run(cli, *args: str) -> dict:
    code, out, err = cli("run", *args, "--no-track", "--json", "--bootstrap", "10")
    assert code == 0, err
    return json.loads(out)


def test_new_family_and_new_kind_end_to_end(plugin: Path, workdir: Path, cli) -> None:
    table = registry.adapter_table()
    assert ("toy", "classification", "vbplug") in table and ("toy", "segmentation", "vbplug") in table
    assert ("timm", "segmentation", "vbplug") in table and ("timm", "classification", "built-in") in table
    digits = _run(cli, "--model", "toy:tiny", "--task", "digits")
    assert digits["model"] == "toy:tiny" and 0.0 <= digits["metrics"]["top1"] <= 1.0
    shapes = _run(cli, "--model", "toy:tiny", "--task", "segmentation:shapes?n=4")
    assert 0.0 <= shapes["metrics"]["miou"] <= 1.0
    added = _run(cli, "--model", "timm:anything", "--task", "segmentation:shapes?n=4")
    assert 0.0 <= added["metrics"]["pixel_accuracy"] <= 1.0
    code, out, _ = cli("list", "adapters")
    assert code == 0
    rows = {tuple(line.split()) for line in out.splitlines()[1:]}
    assert {
        ("toy", "classification", "vbplug"),
        ("timm", "segmentation", "vbplug"),
        ("zoo", "detection", "built-in"),
    } <= rows


def test_without_the_plugin_the_family_is_unknown(cli, workdir: Path) -> None:
    registry.reset_adapters()
    assert "toy" not in registry.adapter_families()
    code, _, err = cli("run", "--model", "toy:tiny", "--task", "digits", "--no-track")
    assert code == 2 and "unknown model family 'toy'" in err
