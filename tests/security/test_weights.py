"""Weights files are read without running code: a malicious pickle is refused, never executed.

A ``.pth`` file is a pickle; unpickling may call any function. Every ``torch.load`` in visionbench
passes ``weights_only=True``, and library loads during model building (torchvision's and timm's
hub cache) are forced to it too, so a booby-trapped file ends in a one-line ModelError (exit 2)
and the payload never runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "visionbench"


class _Payload:
    """Unpickling this runs ``exec``: it would write ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _evil_weights(path: Path, marker: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"fc.weight": torch.zeros(2, 2), "payload": _Payload(marker)}, path)
    return path


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("model", ["torchvision:resnet18", "timm:resnet18"])
def test_malicious_weights_file_is_refused_not_executed(workdir, cli, model):
    if model.startswith("timm"):
        pytest.importorskip("timm")
    marker = workdir / "PWNED"
    weights = _evil_weights(workdir / "evil.pth", marker)
    code, _, err = cli("run", "--model", model, "--weights", str(weights), "--task", "digits", "--no-track")
    assert code == 2, err
    line = _one_line(err)
    assert "refused to load weights" in line and "evil.pth" in line and "weights_only=True" in line
    assert not marker.exists(), "the pickle's payload ran"


def test_tampered_torch_hub_cache_is_refused(workdir, cli, monkeypatch):
    """Named torchvision weights come from the hub cache; a file swapped in there does not run either."""
    monkeypatch.setenv("TORCH_HOME", str(workdir / "torch-home"))
    marker = workdir / "PWNED"
    _evil_weights(workdir / "torch-home" / "hub" / "checkpoints" / "resnet18-f37072fd.pth", marker)
    code, _, err = cli("run", "--model", "torchvision:resnet18", "--weights", "DEFAULT", "--task", "digits",
                       "--no-track")  # fmt: skip
    assert code == 2, err
    assert "refused to load weights" in _one_line(err)
    assert not marker.exists(), "the pickle's payload ran"


def test_zoo_weights_are_read_weights_only(tmp_path, monkeypatch):
    from visionbench.errors import ModelError
    from visionbench.zoo import catalog

    marker = tmp_path / "PWNED"
    evil = _evil_weights(tmp_path / "evil.pt", marker)
    monkeypatch.setattr(catalog, "weights_path", lambda name: evil)
    with pytest.raises(ModelError, match="refused to load weights"):
        catalog.load_model("digits-linear")
    assert not marker.exists()


def test_a_plain_state_dict_file_loads_and_is_recorded(workdir, cli):
    import torch
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(num_classes=10)
    torch.save(net.state_dict(), workdir / "plain.pth")
    code, out, err = cli("run", "--model", "torchvision:resnet18", "--weights", str(workdir / "plain.pth"),
                         "--model-arg", "num_classes=10", "--task", "digits", "--limit", "4", "--no-track",
                         "--json", "--bootstrap", "0")  # fmt: skip
    assert code == 0, err
    record = json.loads(Path(json.loads(out)["record"]).read_text())
    assert record["model"]["source"]["weights"] == str(workdir / "plain.pth")
    from visionbench.adapters.pixels import state_dict_digest

    assert record["model"]["fingerprint"] == state_dict_digest(net)


def test_not_a_state_dict_is_a_clear_error(tmp_path):
    import torch

    from visionbench.adapters.weights_file import load_state_dict
    from visionbench.errors import ModelError

    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(ModelError, match="not a state_dict"):
        load_state_dict(tmp_path / "list.pt", "test")
    (tmp_path / "junk.pt").write_bytes(b"not a pickle at all")
    with pytest.raises(ModelError, match="cannot load weights"):
        load_state_dict(tmp_path / "junk.pt", "test")


def test_no_unsafe_loader_in_the_package():
    """Source guard: no pickle/yaml full loaders, and every torch.load passes weights_only=True."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for pattern in (r"\bpickle\.loads?\(", r"\bdill\b", r"\byaml\.(unsafe_)?load\(", r"yaml\.(Unsafe|Full)?Loader\b",
                        r"\bjoblib\.load\(", r"allow_pickle\s*=\s*True"):  # fmt: skip
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(PACKAGE)}: {pattern}")
        for call in re.finditer(r"torch\.load\(([^)]*)\)", text):
            if "weights_only=True" not in call.group(1):
                offenders.append(f"{path.relative_to(PACKAGE)}: {call.group(0)}")
    assert not offenders, offenders
