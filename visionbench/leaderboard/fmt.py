"""How every number reads on the dashboard and in the static export: one place for all formatting.

Labels, units and direction come from :mod:`visionbench.declarations`; efficiency figures go
through ``visionbench.leaderboard.units`` when that module exists (readable magnitudes such as
``1.53 M img/s``), else through the plain fallbacks here. A missing value reads as an em dash,
never ``None`` or ``nan``.
"""

from __future__ import annotations

import math
from typing import Any

from visionbench.declarations import EFFICIENCY, display_name, higher_is_better

MISSING = "—"
DIGITS = 4  # decimals of metrics in [0, 1]
EFFICIENCY_KEYS = {m.key for m in EFFICIENCY}


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (missing, NaN, not a number)."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) or math.isinf(out) else out


def metric(value: Any, digits: int = DIGITS) -> str:
    found = number(value)
    return MISSING if found is None else f"{found:.{digits}f}"


def interval(value: Any, low: Any, high: Any, digits: int = DIGITS) -> str:
    """``0.9889 [0.9796, 0.9963]``; the value alone when the run has no interval."""
    text = metric(value, digits)
    lo, hi = number(low), number(high)
    if text == MISSING or lo is None or hi is None:
        return text
    return f"{text} [{lo:.{digits}f}, {hi:.{digits}f}]"


def rank(value: Any, shared: bool) -> str:
    """``=1`` for a rank shared with another model, ``2`` for one held alone."""
    found = number(value)
    if found is None:
        return MISSING
    return f"={int(found)}" if shared else str(int(found))


def shared_ranks(ranks: Any) -> list[str]:
    """Rank cells of a whole column: a rank that appears more than once is shared."""
    values = [number(r) for r in ranks]
    counts: dict[float, int] = {}
    for v in values:
        if v is not None:
            counts[v] = counts.get(v, 0) + 1
    return [rank(v, v is not None and counts[v] > 1) for v in values]


def label(key: str, kind: str | None = None) -> str:
    """A column header: the display name, with the direction for a ranked metric."""
    name = display_name(key, kind)
    if name == key:
        name = key.replace("_", " ")
    return name


SAMPLE_SCORES = {"ap_50": "per-image AP@0.5", "f1_50": "per-image F1@0.5", "miou": "per-image mIoU",
                 "target_probability": "probability of the true class", "correct": "correctness",
                 "cider": "per-image CIDEr-D"}  # fmt: skip


def sample_score(key: str, kind: str | None = None) -> str:
    """The name of a per-sample score (the gallery's ranking)."""
    return SAMPLE_SCORES.get(key) or label(key, kind)


def direction(key: str, kind: str | None = None) -> str:
    return "higher is better" if higher_is_better(key, kind) else "lower is better"


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix} {unit}".replace("  ", " ")
    return f"{value:.3g} {unit}".strip()


def _units() -> Any:
    try:
        from visionbench.leaderboard import units  # written alongside the efficiency fields
    except ImportError:
        return None
    return units


def efficiency(key: str, value: Any) -> str:
    """An efficiency figure with its unit: ``1.53 M img/s``, ``4.21 ms``, ``0.0123 GFLOPs``."""
    found = number(value)
    if found is None:
        return MISSING
    units = _units()
    formatter = getattr(units, "format_value", None) if units is not None else None
    if formatter is not None:
        try:
            return str(formatter(key, found))
        except (KeyError, ValueError, TypeError):
            pass
    if key == "throughput_ips":
        return _si(found, "img/s")
    if key.startswith("latency_ms"):
        return f"{found:.3g} ms"
    if key == "peak_mem_mb":
        return f"{found:,.0f} MB"
    if key == "params_m":
        return _si(found * 1e6, "")
    if key == "gflops":
        return f"{found:.3g} GFLOPs"
    return f"{found:.4g}"


def value(key: str, raw: Any) -> str:
    """Any metric or efficiency figure as text (efficiency through ``units.format_value`` when it knows the key)."""
    units = _units()
    formatter = getattr(units, "format_value", None) if units is not None else None
    if formatter is not None and number(raw) is not None:
        try:
            return str(formatter(key, number(raw)))
        except (KeyError, ValueError, TypeError):
            pass
    if key in EFFICIENCY_KEYS:
        return efficiency(key, raw)
    return metric(raw)


def is_efficiency(key: str) -> bool:
    """Whether ``key`` is an efficiency figure (declared, or one ``units`` formats)."""
    if key in EFFICIENCY_KEYS:
        return True
    units = _units()
    try:
        units.format_value(key, 1.0)  # type: ignore[union-attr]
    except (AttributeError, KeyError, ValueError, TypeError):
        return False
    return True


def text(raw: Any) -> str:
    """A text cell: missing values read as an em dash."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or str(raw) in ("", "nan", "None", "NaT"):
        return MISSING
    return str(raw)
