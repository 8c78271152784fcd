"""The corruption grid on any task kind (detection and segmentation included): mPC and rPC.

Each cell (corruption type x severity) is an ordinary run of the task on a
:class:`~visionbench.robustness.corruptions.CorruptedDataset` (same annotations, corrupted pixels,
its own content fingerprint, so its state never mixes with the clean run's). The summary follows
the benchmark papers that carried ImageNet-C to detection and segmentation: ``P_clean`` is the
headline on clean images (detection ``map``, segmentation ``miou``, classification ``top1``),
``mPC`` the mean of the headline over every cell and ``rPC = mPC / P_clean``. With tracking on,
the summary is also an MLflow run of its own (:mod:`~visionbench.robustness.grid_tracking`).
Keys: ``corrupt_map/<type>/<severity>`` (detection), ``corrupt_miou/<type>/<severity>``
(segmentation), ``corrupt_top1/<type>/<severity>`` (classification), with ``mpc`` and ``rpc``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from visionbench.robustness.corruptions import POLICY, CorruptedDataset

HEADLINES = {"detection": "map", "segmentation": "miou", "classification": "top1"}


def run_grid(
    model: str,
    task: str,
    *,
    corruptions: tuple[str, ...] | list[str],
    severities: tuple[int, ...] | list[int] = (1, 2, 3, 4, 5),
    output: str | Path,
    seed: int = 0,
    min_side: int = 32,
    device: str = "cpu",
    limit: int | None = None,
    track: bool = False,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """Run ``model`` on ``task`` clean and under every (corruption, severity); returns and writes the summary."""
    from visionbench.errors import ConfigError
    from visionbench.harness.runner import build_dataset, execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    task_spec = parse_task_spec(task)
    if task_spec.kind not in HEADLINES:
        raise ConfigError(
            f"corruption grid: task kind '{task_spec.kind}' has no grid (one of {', '.join(HEADLINES)})"
        )
    headline = HEADLINES[task_spec.kind]
    run = RunSpec(parse_model_spec(model), task_spec, device=device, limit=limit, seed=seed)
    output = Path(output)
    base = build_dataset(task_spec)

    runs: list[dict[str, Any]] = []

    def score(dataset: Any, corruption: str | None = None, severity: int | None = None) -> float:
        outcome = execute(
            run,
            output=output,
            track=track,
            tracking_uri=tracking_uri,
            quiet=True,
            bootstrap_reps=0,
            dataset=dataset,
        )
        record = outcome.record
        runs.append(
            {
                "corruption": corruption,
                "severity": severity,
                "run_fingerprint": record["run_fingerprint"],
                "mlflow_run_id": (record.get("tracking") or {}).get("run_id"),
            }
        )
        return float(record["metrics"][headline])

    started_ms = int(time.time() * 1000)
    clean = score(base)
    cells = {
        c: {int(s): score(CorruptedDataset(base, c, int(s), seed, min_side), c, int(s)) for s in severities}
        for c in corruptions
    }
    summary = summarise(task_spec.kind, clean, cells)
    summary["runs"], summary["created_ms"] = runs, started_ms
    summary["grid"] = {
        "corruptions": list(corruptions),
        "severities": [int(s) for s in severities],
        "seed": seed,
        "limit": limit,
    }
    summary = write_summary(summary, output, model, task, min_side)
    if track:
        from visionbench.robustness.grid_tracking import log_grid_summary

        summary["tracking"] = log_grid_summary(summary, "visionbench", tracking_uri)
        Path(summary["files"]["summary"]).write_text(_summary_json(summary))
    return summary


def summarise(kind: str, clean: float, cells: dict[str, dict[int, float]]) -> dict[str, Any]:
    """mPC, rPC and the per-cell keys of a grid of headline values."""
    headline = HEADLINES[kind]
    metrics: dict[str, float] = {headline: clean}
    values = []
    for corruption, row in sorted(cells.items()):
        for severity, value in sorted(row.items()):
            metrics[f"corrupt_{headline}/{corruption}/{severity}"] = value
            values.append(value)
    metrics["mpc"] = sum(values) / len(values) if values else float("nan")
    metrics["rpc"] = metrics["mpc"] / clean if clean else float("nan")
    return {"kind": kind, "headline": headline, "metrics": metrics}


def write_summary(
    summary: dict[str, Any], output: Path, model: str, task: str, min_side: int
) -> dict[str, Any]:
    from visionbench.robustness.plots import plot_heatmap

    summary = {**summary, "model": model, "task": task, "policy": {**POLICY, "min_side": min_side}}
    folder = output / "corruption-grid"
    folder.mkdir(parents=True, exist_ok=True)
    stem = "".join(ch if ch.isalnum() else "-" for ch in f"{model}-{task}")[:120]
    (folder / f"{stem}.json").write_text(_summary_json(summary))
    prefix = f"corrupt_{summary['headline']}/"
    as_top1 = {
        "corrupt_top1/" + k[len(prefix) :]: v for k, v in summary["metrics"].items() if k.startswith(prefix)
    }
    if as_top1:
        plot_heatmap(as_top1, folder / f"{stem}.png", label=summary["headline"])
    summary["files"] = {"summary": str(folder / f"{stem}.json"), "heatmap": str(folder / f"{stem}.png")}
    return summary


def _summary_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=1, sort_keys=True) + "\n"
