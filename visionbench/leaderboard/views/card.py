"""The model card and the run's environment as readable tables (field, value): no raw JSON, no blank cells.

The card reads the record's ``model`` section (licence, source, parameters, the data the weights were
trained on) and, where the weights are a local file, a ``<weights>.yaml`` or ``model_card.yaml`` beside
them (``licence``, ``source``, ``link``, ``training_data``, ``description``), which overrides nothing the
record states but fills what it lacks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionbench.leaderboard import fmt

CARD_KEYS = ("licence", "source", "link", "training_data", "description")


def card_yaml(weights: Any) -> dict[str, Any]:
    """The card file beside local weights, or ``{}`` (no file, unreadable, not a mapping)."""
    if not isinstance(weights, str) or not weights or "://" in weights:
        return {}
    path = Path(weights).expanduser()
    for candidate in (path.with_suffix(".yaml"), path.parent / "model_card.yaml"):
        try:
            if candidate.is_file():
                import yaml

                data = yaml.safe_load(candidate.read_text())
                return {k: data[k] for k in CARD_KEYS if isinstance(data, dict) and data.get(k) is not None}
        except (OSError, ValueError, ImportError):
            return {}
        except Exception:  # noqa: BLE001 - a malformed card file only costs its fields
            return {}
    return {}


def _source_text(source: Any) -> str:
    if isinstance(source, dict):
        parts = [
            f"{k}: {v}"
            for k, v in source.items()
            if v not in (None, "") and k not in ("dataset", "url", "link")
        ]
        return "; ".join(parts) or fmt.MISSING
    return fmt.text(source)


def model_card(row: Any, record: dict[str, Any] | None, *, tasks: int, runs: int) -> dict[str, str]:
    """Spec, name, family, licence, source or link, parameters and training data of one model."""
    model = (record or {}).get("model") or {}
    source = model.get("source") or {}
    extra = card_yaml(model.get("weights"))
    link = (source.get("url") or source.get("link")) if isinstance(source, dict) else None
    trained = (source.get("dataset") if isinstance(source, dict) else None) or extra.get("training_data")
    params = model.get("params_m", row.get("params_m"))
    return {
        "spec": fmt.text(row.get("model")),
        "name": fmt.text(row.get("model_name")),
        "family": fmt.text(row.get("family")),
        "licence": fmt.text(model.get("licence") or row.get("licence") or extra.get("licence")),
        "source": _source_text(source) if source else fmt.text(extra.get("source")),
        "link": fmt.text(link or extra.get("link")),
        "parameters": fmt.efficiency("params_m", params),
        "training data": fmt.text(trained),
        "description": fmt.text(extra.get("description")),
        "tasks": str(tasks),
        "runs": str(runs),
    }


def device_name(env: dict[str, Any]) -> str:
    """The processor that ran the model: GPU model, else CPU model with its usable cores."""
    prints = env.get("hardware_fingerprint") or {}
    if prints.get("gpu_model"):
        return str(prints["gpu_model"])
    cpu = prints.get("cpu_model") or env.get("device_name")
    cores = prints.get("cpu_cores_usable")
    if cpu and cores:
        return f"{cpu} ({cores} cores usable, {env.get('device_name') or 'CPU'})"
    return fmt.text(cpu or env.get("hardware"))


def environment_rows(env: dict[str, Any]) -> dict[str, str]:
    """The environment section flattened for a table; ``cuda`` says why it is empty on a CPU run."""
    out: dict[str, str] = {}
    for key, value in env.items():
        if key in ("libraries", "hardware_fingerprint"):
            continue
        if key == "cuda" and not value:
            out[key] = (
                "not used (CPU run)" if str(env.get("device", "cpu")).startswith("cpu") else "not available"
            )
        elif key == "device_name":
            out["device name"] = device_name(env)
        else:
            out[key] = fmt.text(value) if not isinstance(value, bool) else ("yes" if value else "no")
    return out


def preprocessing_rows(model: dict[str, Any]) -> dict[str, str]:
    """Preprocessing and model options as (step, value) rows."""
    rows: dict[str, str] = {}
    for key, value in (model.get("preprocess") or {}).items():
        if isinstance(value, list | tuple):
            value = " x ".join(map(str, value)) if key in ("resize", "crop") else ", ".join(map(str, value))
        rows[key] = fmt.text(value) if value is not None else "none"
    for key, value in (model.get("options") or {}).items():
        rows[f"option {key}"] = fmt.text(value)
    label_map = model.get("label_map")
    rows["label map"] = fmt.text(label_map) if label_map else "none (dataset labels)"
    return rows


def check_rows(record: dict[str, Any] | None) -> dict[str, list[str]]:
    """The run's trust-check findings as table columns (severity, check, finding), most serious first."""
    checks = (record or {}).get("checks")
    if not isinstance(checks, dict):
        return {}
    order = {"error": 0, "warning": 1, "info": 2}
    found = sorted(checks.get("findings") or [], key=lambda f: order.get(str(f.get("severity")), 3))
    return {
        "severity": [fmt.text(f.get("severity")) for f in found],
        "check": [fmt.text(str(f.get("check", "")).replace("_", " ")) for f in found],
        "finding": [fmt.text(f.get("message")) for f in found],
    }


def checks_summary(record: dict[str, Any] | None) -> str:
    """One line: the worst severity, the number of findings and the time the checks took."""
    checks = (record or {}).get("checks")
    if not isinstance(checks, dict):
        return "this run was recorded without trust checks"
    count = len(checks.get("findings") or [])
    spent = checks.get("seconds")
    took = f" in {spent:.2f} s" if isinstance(spent, int | float) else ""
    ran = len(checks.get("results") or {})
    return f"worst: {checks.get('worst', '?')} · {count} finding(s) · {ran} checks ran{took}"
