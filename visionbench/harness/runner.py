"""Run one model on one task: load, predict in batches, score, measure, record, log.

The runner stays small: datasets decode, adapters preprocess and predict, tasks
score. It owns only batching, device/precision, timing and bookkeeping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionbench.contracts import Adapter, Dataset, ImageMeta, Task, TaskResult, TaskSpec
from visionbench.errors import DataError, VisionbenchError
from visionbench.harness import timing
from visionbench.harness.environment import check_precision, code_version, environment, select_device
from visionbench.harness.record import (
    PREDICTIONS_FILE,
    SCHEMA_VERSION,
    run_dir,
    validate,
    write_predictions,
    write_record,
)
from visionbench.harness.specs import RunSpec
from visionbench.harness.statistics import bootstrap_intervals


@dataclass
class RunOutcome:
    record: dict[str, Any]
    directory: Path
    result: TaskResult


def build_dataset(spec: TaskSpec) -> Dataset:
    from visionbench.registry import dataset_factory

    return dataset_factory(spec.kind, spec.source)(spec.path, **spec.option_dict)


def build_task(spec: TaskSpec, dataset: Dataset | None = None) -> Task:
    from visionbench.registry import task_class

    return task_class(spec.kind)(dataset if dataset is not None else build_dataset(spec), spec)


def build_adapter(run: RunSpec, kind: str) -> Adapter:
    from visionbench.registry import adapter_class

    return adapter_class(run.model.family, kind)(run.model)


class _LoaderView:
    """Decodes and transforms samples inside DataLoader workers; errors travel back as messages."""

    def __init__(self, dataset: Dataset, transform: Any, length: int) -> None:
        self.dataset, self.transform, self.length = dataset, transform, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple:
        try:
            sample = self.dataset.load(index)
            width, height = sample.image.size
            return (
                ImageMeta(index, sample.sample_id, width, height),
                self.transform(sample.image),
                sample.target,
                None,
            )
        except VisionbenchError as exc:
            return (None, None, None, str(exc))
        except Exception as exc:  # noqa: BLE001 - a transform failing on one sample names that sample
            return (None, None, None, f"sample {index} of {self.dataset.name}: {type(exc).__name__}: {exc}")


class _Collate:
    def __init__(self, collate: Any) -> None:
        self.collate = collate

    def __call__(self, items: list[tuple]) -> tuple:
        errors = [item[3] for item in items if item[3] is not None]
        if errors:
            return None, None, None, errors[0]
        metas, inputs, targets, _ = zip(*items, strict=True)
        return list(metas), self.collate(list(inputs)), list(targets), None


def default_workers(dataset: Dataset, requested: int | None) -> int:
    if requested is not None:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if len(dataset) < 2000 or cores <= 2 else min(4, cores - 1)


def _autocast(device: str, precision: str) -> Any:
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def _progress(total: int, label: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    )
    progress.start()
    progress.add_task(label, total=total)
    return progress


def execute(
    run: RunSpec,
    *,
    output: Path,
    suite: str = "visionbench",
    tracking_uri: str | None = None,
    track: bool = True,
    quiet: bool = False,
    bootstrap_reps: int = 1000,
    workers: int | None = None,
) -> RunOutcome:
    """Evaluate ``run.model`` on ``run.task``, write the run folder under ``output`` and log it."""
    import torch

    device = select_device(run.device)
    precision = check_precision(run.precision, device)
    torch.manual_seed(run.seed)
    task = build_task(run.task)
    dataset = task.dataset
    adapter = build_adapter(run, task.kind)
    adapter.prepare(task.info(), device=device, precision=precision)
    total = len(dataset) if run.limit is None else min(run.limit, len(dataset))
    if total == 0:
        raise DataError(f"dataset {dataset.name} has no samples to evaluate")
    num_workers = default_workers(dataset, workers)
    loader = torch.utils.data.DataLoader(
        _LoaderView(dataset, adapter.transform(), total),
        batch_size=run.batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=device.startswith("cuda"),
        collate_fn=_Collate(adapter.collate),
        persistent_workers=False,
    )
    meter = timing.ThroughputMeter(device)
    timing.reset_peak_memory(device)
    show = not quiet and sys.stderr.isatty()
    progress = _progress(total, f"{adapter.spec.spec} on {run.task.id}", show)
    first_input = None
    try:
        with torch.inference_mode():
            for metas, inputs, targets, error in loader:
                if error is not None:
                    raise DataError(error)
                if first_input is None:
                    first_input = inputs
                with _autocast(device, precision):
                    predictions = meter.time_call(lambda m=metas, x=inputs: adapter.predict(x, m), len(metas))
                try:
                    task.update([m.index for m in metas], predictions, targets, [m.sample_id for m in metas])
                except VisionbenchError as exc:
                    if adapter.spec.spec in str(exc):
                        raise
                    raise type(exc)(f"predictions of '{adapter.spec.spec}': {exc}") from None
                if progress is not None:
                    progress.advance(progress.task_ids[0], len(metas))
    finally:
        if progress is not None:
            progress.stop()
    result = task.compute()
    intervals = bootstrap_intervals(
        task.num_updated(), task.bootstrap_metrics, reps=bootstrap_reps, seed=run.seed
    )
    for key, (low, high) in intervals.items():
        result.metrics[f"{key}_ci_low"], result.metrics[f"{key}_ci_high"] = low, high
    efficiency = {
        **meter.summary(),
        "peak_mem_mb": timing.peak_memory_mb(device),
        "params_m": timing.count_params_m(adapter.module),
        "gflops": _gflops(adapter, first_input),
    }
    record = build_record(
        run,
        adapter,
        task,
        result,
        efficiency,
        device=device,
        num_workers=num_workers,
        suite=suite,
        total=total,
    )
    directory = run_dir(output, run.task.id, run.model.spec, precision)
    write_outputs(record, result, directory)
    if track:
        from visionbench.harness.tracking import log_record

        log_record(record, directory, tracking_uri)
    else:
        record["tracking"] = {
            "uri": None,
            "experiment": None,
            "run_id": None,
            "status": "disabled",
            "error": None,
        }
        write_record(record, directory)
    return RunOutcome(record, directory, result)


def _gflops(adapter: Adapter, batch: Any) -> float:
    import torch

    if not isinstance(batch, torch.Tensor) or adapter.module is None:
        return float("nan")
    return timing.gflops_per_image(adapter.module, batch[:1].to(adapter.device))


def build_record(
    run: RunSpec,
    adapter: Adapter,
    task: Task,
    result: TaskResult,
    efficiency: dict[str, float],
    *,
    device: str,
    num_workers: int,
    suite: str,
    total: int,
) -> dict[str, Any]:
    described = adapter.describe()
    return {
        "schema_version": SCHEMA_VERSION,
        "run_fingerprint": run.fingerprint,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "suite": suite,
        "model": {
            "spec": run.model.spec,
            "family": adapter.family,
            "name": described.get("name", run.model.spec),
            "fingerprint": adapter.fingerprint(),
            "weights": run.model.weights,
            "preprocess": described.get("preprocess", {}),
            "params_m": efficiency["params_m"],
            "licence": adapter.licence(),
            "options": dict(run.model.options),
            "label_map": dict(run.model.label_map) or None,
        },
        "task": {
            "id": run.task.id,
            "kind": task.kind,
            "version": task.version,
            "dataset": task.dataset.name,
            "dataset_fingerprint": task.dataset.fingerprint(),
            "num_samples": total,
            "limit": run.limit,
            "classes": list(task.dataset.classes),
        },
        "code": code_version(),
        "environment": environment(device, run.precision, run.batch_size, num_workers),
        "metrics": result.metrics,
        "efficiency": efficiency,
        "per_class": result.per_class,
        "artifacts": {"predictions": PREDICTIONS_FILE},
    }


def write_outputs(record: dict[str, Any], result: TaskResult, directory: Path) -> None:
    """Predictions, artifacts and the record (validated) into the run folder."""
    directory.mkdir(parents=True, exist_ok=True)
    write_predictions(result.per_sample, directory / PREDICTIONS_FILE)
    for name, writer in result.artifacts.items():
        writer(directory / name)
        record["artifacts"][Path(name).stem + Path(name).suffix.replace(".", "_")] = name
    from visionbench.harness.record import clean

    cleaned = clean(record)
    validate(cleaned, source=str(directory))
    record.clear()
    record.update(cleaned)
    write_record(record, directory)
