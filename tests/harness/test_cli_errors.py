"""User errors exit with code 2 and one line that names the culprit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from vbtest_data import write_image_folder


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("visionbench: error: ")
    return lines[0]


def test_unknown_model_family(workdir: Path, cli) -> None:
    code, _, err = cli("run", "--model", "nosuchfamily:thing", "--task", "digits", "--no-track")
    assert code == 2
    assert "nosuchfamily" in _one_line(err)


def test_unknown_model_name(workdir: Path, cli) -> None:
    code, _, err = cli(
        "run", "--model", "torchvision:resnet_does_not_exist", "--task", "digits", "--no-track"
    )
    assert code == 2
    assert "resnet_does_not_exist" in _one_line(err)


def test_unknown_zoo_model(workdir: Path, cli) -> None:
    code, _, err = cli("run", "--model", "zoo:nope", "--task", "digits", "--no-track")
    assert code == 2
    assert "nope" in _one_line(err)


def test_malformed_model_spec(workdir: Path, cli) -> None:
    code, _, err = cli("run", "--model", "resnet18", "--task", "digits", "--no-track")
    assert code == 2
    assert "'resnet18'" in _one_line(err)


def test_unknown_task(workdir: Path, cli) -> None:
    code, _, err = cli("run", "--model", "zoo:digits-cnn", "--task", "classification:nowhere", "--no-track")
    assert code == 2
    assert "nowhere" in _one_line(err)


def test_missing_dataset_path(workdir: Path, cli) -> None:
    missing = workdir / "no_such_dir"
    code, _, err = cli(
        "run", "--model", "zoo:digits-cnn", "--task", f"classification:imagefolder:{missing}", "--no-track"
    )
    assert code == 2
    assert str(missing) in _one_line(err)


def test_missing_manifest(workdir: Path, cli) -> None:
    code, _, err = cli(
        "run", "--model", "zoo:digits-cnn", "--task", "classification:csv:absent.csv", "--no-track"
    )
    assert code == 2
    assert "absent.csv" in _one_line(err)


def test_unreadable_image(workdir: Path, cli) -> None:
    root = write_image_folder(workdir / "data", n_per_class=2, classes=tuple("0123456789"))
    bad = root / "3" / "broken.png"
    bad.write_bytes(b"this is not a png")
    code, _, err = cli(
        "run", "--model", "zoo:digits-cnn", "--task", f"classification:imagefolder:{root}", "--no-track"
    )
    assert code == 2
    line = _one_line(err)
    assert "broken.png" in line


def test_class_count_mismatch(workdir: Path, cli) -> None:
    root = write_image_folder(workdir / "data", n_per_class=2, classes=("0", "1", "2"))
    code, _, err = cli(
        "run", "--model", "torchvision:resnet18", "--model-arg", "num_classes=5",
        "--model-arg", 'preprocess={"size": [16, 16]}',
        "--task", f"classification:imagefolder:{root}", "--no-track",
    )  # fmt: skip
    assert code == 2
    line = _one_line(err)
    assert "outputs 5 classes" in line and "has 3" in line and "--label-map" in line


def test_label_map_fixes_mismatch(workdir: Path, cli) -> None:
    root = write_image_folder(workdir / "data", n_per_class=2, classes=("0", "1", "2"))
    code, _, err = cli(
        "run", "--model", "torchvision:resnet18", "--model-arg", "num_classes=5",
        "--model-arg", 'preprocess={"size": [16, 16]}', "--label-map", "0=4,1=0,2=2",
        "--task", f"classification:imagefolder:{root}", "--no-track", "--json",
    )  # fmt: skip
    assert code == 0, err


def test_bad_label_map_entry(workdir: Path, cli) -> None:
    root = write_image_folder(workdir / "data", n_per_class=1, classes=("0", "1", "2"))
    code, _, err = cli(
        "run", "--model", "torchvision:resnet18", "--model-arg", "num_classes=5",
        "--model-arg", 'preprocess={"size": [16, 16]}', "--label-map", "0=4,1=9,2=2",
        "--task", f"classification:imagefolder:{root}", "--no-track",
    )  # fmt: skip
    assert code == 2
    assert "index 9" in _one_line(err)


def test_exit_code_from_the_real_executable(workdir: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "visionbench.harness.cli",
            "run",
            "--model",
            "bogus:x",
            "--task",
            "digits",
            "--no-track",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "bogus" in _one_line(proc.stderr)


@pytest.mark.parametrize("option", [["--device", "tpu"], ["--device", "cuda:7"]])
def test_bad_device(workdir: Path, cli, option: list[str]) -> None:
    import torch

    if option[1].startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    code, _, err = cli("run", "--model", "zoo:digits-linear", "--task", "digits", "--no-track", *option)
    assert code == 2
    assert "--device" in _one_line(err)
