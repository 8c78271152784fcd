"""Device selection and the environment description recorded with every result."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError

PRECISIONS = ("fp32", "fp16", "bf16")


def select_device(requested: str = "auto") -> str:
    """``auto`` picks cuda > mps > cpu; an explicit device that is not available is an error."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = requested.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {requested}: CUDA is not available on this machine")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {requested}: MPS is not available on this machine")
    if kind not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device must be auto, cpu, cuda[:N] or mps, not '{requested}'")
    return requested


def check_precision(precision: str, device: str) -> str:
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, not '{precision}'")
    return precision


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    if device == "mps":
        return "Apple MPS"
    return platform.processor() or platform.machine() or "cpu"


@lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """Package version and, when run from a git checkout, the commit and whether the tree is dirty."""
    from visionbench import __version__

    root = Path(__file__).resolve().parents[2]
    info: dict[str, Any] = {"version": __version__, "git_sha": None, "dirty": None}
    if (root / ".git").exists():
        try:
            sha = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
            )
            if sha.returncode == 0:
                info["git_sha"] = sha.stdout.strip()
                status = subprocess.run(
                    ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                info["dirty"] = bool(status.stdout.strip())
        except (OSError, subprocess.TimeoutExpired):
            pass
    return info


def environment(
    device: str, precision: str, batch_size: int, num_workers: int, *, model_ran: bool = True
) -> dict[str, Any]:
    """The machine and software a run used; ``libraries`` lists the metric and model libraries' versions.

    ``model_ran=False`` (scoring prediction files, where no model runs) leaves torch unimported:
    its version is read from the installed package and the thread counts are None.
    """
    from visionbench.harness.identity import library_versions

    torch = None
    if model_ran:
        import torch
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__ if torch is not None else installed_torch_version(),
        "cuda": torch.version.cuda if torch is not None and device.startswith("cuda") else None,
        "device": device,
        "device_name": device_name(device),
        "hardware": device_name(device) if device != "cpu" else f"cpu ({_cpu_count()} cores)",
        "hardware_fingerprint": hardware_fingerprint(device, model_ran=model_ran),
        "precision": precision,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "num_threads": torch.get_num_threads() if torch is not None else None,
        "libraries": library_versions(),
    }


@lru_cache(maxsize=1)
def installed_torch_version() -> str | None:
    """``torch.__version__`` read from the installed package's ``version.py``, without importing torch."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        try:
            text = (Path(folder) / "version.py").read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"^__version__\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", text, re.MULTILINE)
        if found:
            return found.group(1)
    return None


def hardware_fingerprint(device: str, *, model_ran: bool = True) -> dict[str, Any]:
    """CPU model and cores, GPU model and driver, torch/CUDA/cuDNN versions and thread counts.

    ``model_ran=False``: torch is not imported (CPU only); torch's version comes from the
    installed package and the thread counts are None.
    """
    import os

    if not model_ran and not device.startswith("cuda"):
        return {
            "cpu_model": _cpu_model(),
            "cpu_cores_usable": _cpu_count(),
            "cpu_logical": os.cpu_count(),
            "gpu_model": None,
            "gpu_driver": None,
            "gpu_capability": None,
            "torch": installed_torch_version(),
            "cuda": None,
            "cudnn": None,
            "torch_threads": None,
            "torch_interop_threads": None,
        }
    import torch

    cuda = device.startswith("cuda")
    cudnn = torch.backends.cudnn.version() if cuda and torch.backends.cudnn.is_available() else None
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores_usable": _cpu_count(),
        "cpu_logical": os.cpu_count(),
        "gpu_model": device_name(device) if cuda else None,
        "gpu_driver": _gpu_driver() if cuda else None,
        "gpu_capability": ".".join(map(str, torch.cuda.get_device_capability(torch.device(device))))
        if cuda
        else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": cudnn,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
    }


@lru_cache(maxsize=1)
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@lru_cache(maxsize=1)
def _gpu_driver() -> str | None:
    """The NVIDIA driver version from ``nvidia-smi`` (None where it is missing)."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = done.stdout.strip().splitlines()[:1]
    return first[0].strip() if done.returncode == 0 and first else None


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
