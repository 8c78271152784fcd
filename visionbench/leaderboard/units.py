"""Efficiency figures as people read them, with the conditions they were measured under.

Small pure functions (no Streamlit): readable magnitudes (``1.53 M img/s``, ``4.21 ms``,
``1.2 GiB``), column labels that say per image or per batch and which memory, and a one-line
description of a run's conditions (batch size, resolution, precision, knobs, hardware).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MISSING = "—"
MEMORY_KINDS = {
    "cuda_max_allocated": "peak CUDA memory allocated",
    "cpu_rss_increase": "peak process memory increase (RSS)",
    "": "peak memory (kind not recorded)",
}
_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _finite(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def si(value: Any, unit: str, digits: int = 3) -> str:
    """``1530000, "img/s"`` -> ``1.53 M img/s``; below 1000 no prefix (``912 img/s``, ``0.5 img/s``)."""
    found = _finite(value)
    if found is None:
        return MISSING
    for scale, prefix in _SI:
        if abs(found) >= scale:
            return f"{found / scale:.{digits}g} {prefix} {unit}".rstrip()
    return f"{found:.{digits}g} {unit}".rstrip()


def throughput(value: Any) -> str:
    return si(value, "img/s")


def milliseconds(value: Any) -> str:
    """Milliseconds: ``0.123 ms``, ``41.2 ms``; from one second up in seconds (``1.5 s``)."""
    found = _finite(value)
    if found is None:
        return MISSING
    if found >= 1000:
        return f"{found / 1000:.3g} s"
    return f"{found:.3g} ms"


def mebibytes(value: Any) -> str:
    """MiB -> ``350 MiB`` or ``1.2 GiB``."""
    found = _finite(value)
    if found is None:
        return MISSING
    if abs(found) >= 1024:
        return f"{found / 1024:.3g} GiB"
    return f"{found:.3g} MiB"


def seconds(value: Any) -> str:
    found = _finite(value)
    return MISSING if found is None else f"{found:.3g} s"


def share(value: Any) -> str:
    found = _finite(value)
    return MISSING if found is None else f"{100 * found:.1f} %"


def format_value(key: str, value: Any) -> str:
    """Any efficiency figure of a record with its unit; raises KeyError for a key that is not one."""
    if key in ("throughput_ips", "end_to_end_ips"):
        return throughput(value)
    if key.startswith("latency_ms"):
        return milliseconds(value)
    if key == "peak_mem_mb":
        return mebibytes(value)
    if key == "params_m":
        found = _finite(value)
        return MISSING if found is None else si(found * 1e6, "params")
    if key == "gflops":
        found = _finite(value)
        return MISSING if found is None else f"{found:.3g} GFLOPs"
    if key in ("end_to_end_s", "model_time_s", "compile_s"):
        return seconds(value)
    if key in ("data_loading_share", "throughput_spread"):
        return share(value)
    raise KeyError(key)


def resolution(value: Any) -> str:
    """``[224, 224]`` or ``"224x224"`` -> ``224×224``; missing -> em dash."""
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{int(value[0])}×{int(value[1])}"
    text = str(value or "").strip()
    return text.replace("x", "×") if text else MISSING


def _int(value: Any) -> int | None:
    found = _finite(value)
    return None if found is None else int(found)


def latency_label(key: str, batch_size: Any = None) -> str:
    """``latency_ms_b1_p50`` -> ``latency p50 per image (batch 1)``; ``latency_ms_p90`` -> per batch of N."""
    quantile = key.rsplit("_", 1)[-1]
    if key.startswith("latency_ms_b1_"):
        return f"latency {quantile} per image (batch 1)"
    size = _int(batch_size)
    return f"latency {quantile} per batch" + (f" of {size}" if size else "")


def memory_label(kind: Any) -> str:
    return MEMORY_KINDS.get(str(kind or ""), f"peak memory ({kind})")


def column_label(key: str, row: Mapping[str, Any] | None = None) -> str:
    """The header of an efficiency column, with the condition that changes its meaning."""
    row = row or {}
    if key == "throughput_ips":
        size = _int(row.get("batch_size"))
        return "throughput, model only" + (f" (batch {size})" if size else "")
    if key == "end_to_end_ips":
        return "throughput, end to end"
    if key.startswith("latency_ms"):
        return latency_label(key, row.get("batch_size"))
    if key == "peak_mem_mb":
        return memory_label(row.get("peak_mem_kind"))
    if key == "gflops":
        return "GFLOPs per image (2 per multiply-add)"
    return {
        "params_m": "parameters",
        "compile_s": "compile time",
        "end_to_end_s": "end-to-end time",
        "model_time_s": "model time",
        "data_loading_share": "data-loading share",
        "throughput_spread": "throughput spread over repeats",
    }.get(key, key)


def conditions(row: Mapping[str, Any]) -> str:
    """``batch 64 · 224×224 · bf16 · channels-last · compiled · NVIDIA H100`` (the parts that are known)."""
    parts = []
    size = _int(row.get("batch_size"))
    if size:
        parts.append(f"batch {size}")
    res = resolution(row.get("resolution"))
    if res != MISSING:
        parts.append(res)
    if row.get("precision"):
        parts.append(str(row["precision"]))
    knobs = str(row.get("knobs") or "")
    parts.extend(k for k in knobs.split(",") if k)
    if row.get("hardware"):
        parts.append(str(row["hardware"]))
    return " · ".join(parts) if parts else MISSING
