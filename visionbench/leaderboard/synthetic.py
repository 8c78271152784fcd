"""Synthetic, schema-valid results records for every task kind, and a fast way to put them into MLflow.

The dashboard's tests and benchmark use them to fill a store with many models and all
five task kinds without evaluating anything. The figures are made up but consistent
(a headline metric with or without a 95% interval, efficiency, per-class tables), so
tie groups, Pareto fronts and the per-kind views all have something to show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path
from typing import Any

from visionbench.declarations import DECLARATIONS, declaration

CLASSES = ("cat", "dog", "bird")

TASK_IDS = {
    "classification": "classification:digits",
    "detection": "detection:shapes",
    "segmentation": "segmentation:shapes",
    "captioning": "captioning:shapes",
    "robustness": "robustness:digits",
}


def _hash(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def synthetic_record(
    model: str,
    kind: str = "classification",
    *,
    task_id: str | None = None,
    name: str | None = None,
    family: str | None = None,
    licence: str = "MIT",
    headline: float = 0.8,
    ci: float | None = 0.02,
    hardware: str = "cpu (2 cores)",
    precision: str = "fp32",
    throughput: float = 1000.0,
    latency_ms: float = 5.0,
    params_m: float = 1.0,
    gflops: float = 0.1,
    peak_mem_mb: float = 200.0,
    classes: tuple[str, ...] = CLASSES,
    num_samples: int = 100,
    suite: str = "visionbench",
    created_at: dt.datetime | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """One valid results record; ``ci=None`` leaves the headline without an interval."""
    rng = random.Random(f"{model}|{kind}|{seed}")
    task_id = task_id or TASK_IDS[kind]
    keys = declaration(kind).keys
    metrics: dict[str, float | None] = {keys[0]: headline}
    for key in keys[1:]:
        metrics[key] = round(min(1.0, max(0.0, headline + rng.uniform(-0.15, 0.1))), 6)
    if kind == "classification":
        metrics["top5"] = min(1.0, headline + 0.15)
        metrics["ece"] = round(rng.uniform(0.01, 0.1), 6)
    if kind == "captioning":
        metrics["cider"] = headline  # CIDEr is not bounded by 1 but stays comparable here
    if kind == "robustness":
        metrics["clean_top1"] = round(min(1.0, headline + rng.uniform(0.05, 0.2)), 6)
        metrics["honesty_flags"] = 0.0
        for eps in ("0.007843", "0.03137", "0.1"):
            worst = headline + 0.1 - float(eps)
            for attack in ("fgsm", "pgd"):
                drop = float(eps) * (4 if attack == "pgd" else 2.5)
                value = round(max(0.0, headline - drop - rng.uniform(0, 0.05)), 6)
                metrics[f"robust_top1/{attack}/linf/{eps}"] = value
                worst = min(worst, value)
            metrics[f"robust_top1/linf/{eps}"] = round(max(0.0, worst), 6)
            metrics[f"attack_success_rate/linf/{eps}"] = round(1 - max(0.0, worst) / metrics["clean_top1"], 6)
        for corruption in ("gaussian_noise", "motion_blur", "fog"):
            for severity in range(1, 6):
                metrics[f"corrupt_top1/{corruption}/{severity}"] = round(
                    max(0.0, headline - 0.06 * severity - rng.uniform(0, 0.04)), 6
                )
        metrics["mce"] = round(rng.uniform(0.5, 1.2), 6)
    per_class: dict[str, dict[str, Any]] = {}
    prefix = declaration(kind).per_class_prefix or None
    if prefix:
        for cls in classes:
            value = round(min(1.0, max(0.0, headline + rng.uniform(-0.2, 0.1))), 6)
            metrics[f"{prefix}/{cls}"] = value
            per_class[cls] = {prefix: value, "support": num_samples // max(len(classes), 1)}
    if ci is not None:
        metrics[f"{keys[0]}_ci_low"] = max(0.0, headline - ci)
        metrics[f"{keys[0]}_ci_high"] = min(1.0, headline + ci) if kind != "captioning" else headline + ci
    created = created_at or dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=seed)
    family = family or model.split(":", 1)[0]
    return {
        "schema_version": 1,
        "run_fingerprint": _hash("run", model, task_id, precision, hardware, seed),
        "created_at": created.isoformat(timespec="seconds"),
        "suite": suite,
        "model": {
            "spec": model,
            "family": family,
            "name": name or model,
            "fingerprint": _hash("model", model),
            "weights": None,
            "preprocess": {"mode": "RGB", "size": [32, 32]},
            "params_m": params_m,
            "licence": licence,
            "options": {},
            "label_map": None,
        },
        "task": {
            "id": task_id,
            "kind": kind,
            "version": "1",
            "dataset": task_id.split(":", 1)[-1] + "-test",
            "dataset_fingerprint": _hash("data", task_id),
            "num_samples": num_samples,
            "limit": None,
            "classes": list(classes),
        },
        "code": {"version": "0.1.0", "git_sha": None, "dirty": None},
        "environment": {
            "python": "3.11",
            "torch": "2.4.0",
            "cuda": None if hardware.startswith("cpu") else "12.4",
            "device": "cpu" if hardware.startswith("cpu") else "cuda",
            "device_name": hardware,
            "hardware": hardware,
            "precision": precision,
            "batch_size": 64,
            "num_workers": 0,
        },
        "metrics": metrics,
        "efficiency": {
            "throughput_ips": throughput,
            "latency_ms_p50": latency_ms,
            "latency_ms_p90": latency_ms * 1.2,
            "latency_ms_p99": latency_ms * 1.5,
            "peak_mem_mb": peak_mem_mb,
            "params_m": params_m,
            "gflops": gflops,
        },
        "per_class": per_class,
        "artifacts": {"predictions": "predictions.parquet"},
    }


def synthetic_predictions(record: dict[str, Any], *, seed: int = 0) -> Any:
    """Per-sample classification predictions whose accuracy matches the record's headline."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    classes = record["task"]["classes"]
    n = record["task"]["num_samples"]
    key = declaration(record["task"]["kind"]).headline
    correct = rng.random(n) < float(record["metrics"][key])
    target = rng.integers(0, len(classes), n)
    wrong = (target + rng.integers(1, len(classes), n)) % len(classes)
    prediction = np.where(correct, target, wrong)
    target_probability = np.where(correct, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.4, n))
    return pd.DataFrame(
        {
            "sample_id": [f"sample-{i:05d}" for i in range(n)],
            "target": [classes[t] for t in target],
            "prediction": [classes[p] for p in prediction],
            "confidence": np.maximum(target_probability, rng.uniform(0.4, 1.0, n)),
            "target_probability": target_probability,
            "correct": correct,
        }
    )


def write_run_folder(record: dict[str, Any], directory: Path, *, predictions: Any = None) -> Path:
    """Write ``record.json`` (validated) and, for classification, a predictions file into ``directory``."""
    from visionbench.harness.record import PREDICTIONS_FILE, validate, write_record

    directory.mkdir(parents=True, exist_ok=True)
    if predictions is None and record["task"]["kind"] in ("classification", "robustness"):
        predictions = synthetic_predictions(record)
    if predictions is not None:
        predictions.to_parquet(directory / PREDICTIONS_FILE, index=False)
    validate(record)
    return write_record(record, directory)


def fast_seed(records: list[dict[str, Any]], tracking_uri: str) -> list[str]:
    """Log records as MLflow runs (tags, params, metrics; no artifacts) with as few store calls as possible.

    Uses the same record -> MLflow mapping as ``visionbench run``; returns the run ids.
    """
    import time

    from mlflow.entities import Metric, Param, RunTag

    from visionbench.harness.record import to_mlflow
    from visionbench.harness.tracking import artifact_root, client_for

    client = client_for(tracking_uri)
    experiments: dict[str, str] = {}
    run_ids = []
    now = int(time.time() * 1000)
    for record in records:
        suite = record["suite"]
        if suite not in experiments:
            found = client.get_experiment_by_name(suite)
            experiments[suite] = (
                found.experiment_id
                if found
                else client.create_experiment(suite, artifact_location=artifact_root(tracking_uri))
            )
        tags, params_map, metrics_map = to_mlflow(record)
        run = client.create_run(experiments[suite], tags=tags, run_name=tags["mlflow.runName"])
        metrics = [Metric(k, v, now, 0) for k, v in metrics_map.items()]
        params = [Param(k, v) for k, v in params_map.items()]
        client.log_batch(
            run.info.run_id, metrics=metrics, params=params, tags=[RunTag("vb.record", "record.json")]
        )
        client.set_terminated(run.info.run_id, "FINISHED")
        run_ids.append(run.info.run_id)
    return run_ids


def many_records(n: int, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` records spread over all kinds, two hardware types and two precisions (for load tests)."""
    rng = random.Random(seed)
    kinds = list(DECLARATIONS)
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        hardware = "cpu (2 cores)" if i % 3 else "NVIDIA H100"
        precision = "fp32" if i % 2 else "fp16"
        headline = round(rng.uniform(0.3, 0.95), 4)
        out.append(
            synthetic_record(
                f"family{i % 7}:model-{i // len(kinds):04d}",
                kind,
                headline=headline,
                ci=None if i % 4 == 0 else round(rng.uniform(0.005, 0.04), 4),
                hardware=hardware,
                precision=precision,
                throughput=round(rng.uniform(50, 5000), 2),
                latency_ms=round(rng.uniform(1, 200), 3),
                params_m=round(rng.uniform(0.1, 300), 3),
                gflops=round(rng.uniform(0.01, 50), 3),
                licence=("MIT", "Apache-2.0", "CC-BY-NC-4.0")[i % 3],
                seed=i,
            )
        )
    return out
