"""Reusing the efficiency figures of an earlier run when a rerun predicted nothing.

An unchanged rerun gets every prediction from the state store, so the evaluation pass runs no
model and the timing protocol would have to run it again just to measure it: seconds of work
that give the numbers the earlier run measured under the same conditions. Instead, when

* nothing had to be inferred (every sample's state was in the store),
* an earlier run folder of the same model, task and precision holds a record with the same
  prediction identity (model weights, preprocessing, data, subset, precision, device type),
* and its measuring conditions equal this run's: the hardware fingerprint (CPU model and cores,
  GPU model and driver, torch/CUDA/cuDNN versions, thread counts), the device, the batch size
  asked for and used, the DataLoader workers and the knobs (channels-last, compile),

the earlier record's ``efficiency`` and ``measurement`` sections are copied, and
``measurement.reused_from`` names the run that measured them (its folder relative to the output
root, its run fingerprint and creation time), so the figures are never mistaken for a fresh
timing. A reused measurement keeps pointing at the run that really measured. ``--remeasure``
(``remeasure=True``) or any difference in the conditions measures afresh.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

# environment keys whose values must match for a measurement to be reused
CONDITION_KEYS = (
    "hardware_fingerprint",
    "device",
    "precision",
    "batch_size",
    "batch_size_requested",
    "num_workers",
    "channels_last",
    "compile",
)
# earlier run folders looked at, newest first
MAX_CANDIDATES = 16


def conditions(environment: dict[str, Any]) -> dict[str, Any]:
    """The measuring conditions of a record's ``environment`` section (JSON-normalised)."""
    return json.loads(json.dumps({key: environment.get(key) for key in CONDITION_KEYS}, default=str))


def find_reusable(
    output: Path,
    task_id: str,
    model_spec: str,
    precision: str,
    *,
    prediction_identity: str,
    environment: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(efficiency, measurement)`` of the newest earlier run measured under the same conditions, or None."""
    from visionbench.harness.record import RECORD_FILE, run_dir

    folder = run_dir(Path(output), task_id, model_spec, precision)
    if not folder.is_dir():
        return None
    wanted = conditions(environment)
    candidates = sorted(
        (p for p in folder.iterdir() if (p / RECORD_FILE).is_file()),
        key=lambda p: _modified(p / RECORD_FILE),
        reverse=True,
    )  # newest record first (folder names hold the time to the second only)
    for directory in candidates[:MAX_CANDIDATES]:
        try:
            record = json.loads((directory / RECORD_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not _matches(record, prediction_identity, wanted):
            continue
        measurement = dict(record["measurement"])
        if "reused_from" not in measurement:
            measurement["reused_from"] = {
                "run": str(directory.relative_to(output)),
                "run_fingerprint": record.get("run_fingerprint"),
                "created_at": record.get("created_at"),
            }
        efficiency = {
            key: (math.nan if value is None else float(value)) for key, value in record["efficiency"].items()
        }
        return efficiency, measurement
    return None


def _modified(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:  # removed meanwhile
        return 0


def _matches(record: dict[str, Any], prediction_identity: str, wanted: dict[str, Any]) -> bool:
    if (record.get("state") or {}).get("identity") != prediction_identity:
        return False
    if not isinstance(record.get("measurement"), dict) or not isinstance(record.get("efficiency"), dict):
        return False
    numbers = (int, float, type(None))
    if not all(isinstance(v, numbers) and not isinstance(v, bool) for v in record["efficiency"].values()):
        return False
    if record.get("distributed") or record.get("rescored_from"):
        return False  # torchrun throughput, or a record no model ran for
    if not (record.get("state") or {}).get("num_samples"):
        return False
    return conditions(record.get("environment") or {}) == wanted
