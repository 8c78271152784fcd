"""Run one model on one task: load, predict in batches, score, measure, record, log.

The runner stays small: datasets decode, adapters preprocess and predict, tasks
score. It owns only batching, device/precision, timing and bookkeeping.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionbench.contracts import Adapter, Dataset, ImageMeta, Task, TaskResult, TaskSpec
from visionbench.errors import DataError, ModelError, VisionbenchError
from visionbench.harness import timing
from visionbench.harness.batches import Collate, LoaderView
from visionbench.harness.environment import check_precision, code_version, environment, select_device
from visionbench.harness.faults import kill_point
from visionbench.harness.outputs import complete_store, publish, state_meta
from visionbench.harness.record import write_record
from visionbench.harness.specs import RunSpec
from visionbench.harness.statistics import add_task_intervals


@dataclass
class RunOutcome:
    """What a run produced; on ranks other than 0 of a distributed run only ``record`` is None."""

    record: dict[str, Any] | None
    directory: Path | None
    result: TaskResult | None


def build_dataset(spec: TaskSpec) -> Dataset:
    from visionbench.registry import check_dataset_options, dataset_factory

    check_dataset_options(spec.kind, spec.source, spec.option_dict)
    return dataset_factory(spec.kind, spec.source)(spec.path, **spec.option_dict)


def build_task(spec: TaskSpec, dataset: Dataset | None = None) -> Task:
    from visionbench.registry import task_class

    return task_class(spec.kind)(dataset if dataset is not None else build_dataset(spec), spec)


def build_adapter(run: RunSpec, kind: str) -> Adapter:
    from visionbench.registry import build_adapter as build

    return build(run.model, kind)


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
    adapter: Adapter | None = None,
    dataset: Dataset | None = None,
    on_bad_sample: str = "fail",
    use_store: bool = True,
    remeasure: bool = False,
    checks: bool = True,
    golden_dir: Path | None = None,
    reuse_stored: Any = None,
    annotate: Any = None,
) -> RunOutcome:
    """Evaluate ``run.model`` on ``run.task``, write the run folder under ``output`` and log it.

    ``adapter`` and ``dataset`` replace the ones the specs would build (the Python API passes
    in-memory models and datasets this way). Under torchrun every rank calls this; rank 0 alone
    writes the record and logs it. Samples whose state the store already holds for this
    prediction identity are not predicted again (``use_store=False``, ``--no-cache``: all are).
    When none was, the efficiency figures of an earlier run measured under the same conditions are
    reused and named in ``measurement.reused_from`` (``remeasure=True``: timed again; see
    :mod:`visionbench.harness.measurement_reuse`).
    ``checks`` runs the trust checks (:mod:`visionbench.checks`) into the record's ``checks`` section;
    ``golden_dir`` holds the preprocessing golden files (default: the package's own).
    ``reuse_stored(identity)`` may return the outcome of a stored run of the same content identity,
    which is then returned instead of running (suites skip what they hold); ``annotate(record, task)``
    may add sections to the record before it is published and logged (a suite's generalisation gap).
    """
    import torch

    from visionbench.harness import distributed as dist_mod
    from visionbench.harness.efficiency import Knobs, RunMeasurement
    from visionbench.harness.identity import (
        identities,
        prediction_components,
        subset_description,
    )
    from visionbench.harness.store import ChunkWriter, StateStore

    dist = dist_mod.from_environment(select_device(run.device))
    measure = None
    try:
        device = dist.device(select_device(run.device))
        precision = check_precision(run.precision, device)
        measure = RunMeasurement(device, precision, Knobs(run.channels_last, run.compile)).start()
        torch.manual_seed(run.seed)
        task = build_task(run.task, dataset)
        adapter = (
            adapter if adapter is not None else build_adapter(run, getattr(task, "adapter_kind", task.kind))
        )
        adapter.prepare(task.info(), device=device, precision=precision)
        total = len(task.dataset) if run.limit is None else min(run.limit, len(task.dataset))
        if total == 0:
            raise DataError(f"dataset {task.dataset.name} has no samples to evaluate")
        run = measure.prepare(run, adapter, task.dataset, total)
        statistics = {"bootstrap_reps": int(bootstrap_reps), "seed": int(run.seed)}
        if not use_store:  # --no-cache: hash the dataset's files again too (datasets keep the value)
            from visionbench.tasks.data.digest_cache import disabled

            with disabled():
                task.dataset.fingerprint()
        identity = identities(
            prediction_components(
                model_digest=adapter.fingerprint(),
                model_options={**dict(run.model.options), **measure.knobs.identity()},
                preprocess=adapter.describe().get("preprocess", {}),
                label_map=dict(run.model.label_map) or None,
                dataset_fingerprint=task.dataset.fingerprint(),
                subset=subset_description(total, run.limit),
                task_kind=task.kind,
                task_options=dict(run.task.options),
                task_version=task.version,
                precision=precision,
                device=device,
            ),
            metric_version=task.metric_version,
            bootstrap=statistics,
        )
        if reuse_stored is not None and not dist.enabled:
            stored = reuse_stored(identity)
            if stored is not None:
                return stored
        from visionbench.checks import finish_checks, start_checks

        checker = start_checks(
            checks and dist.is_main, adapter, task, compiled=run.compile,
            device=device, precision=precision, seed=run.seed, golden_dir=golden_dir,
        )  # fmt: skip
        store = StateStore.for_identity(output, identity["prediction"])
        if dist.is_main:
            store.write_meta(state_meta(run, task, total, identity))
        dist.barrier()
        from visionbench.harness.prediction_store import chunk_rows, remaining, stored_rows

        reuse = stored_rows(store, task.state_schema(), total, use_store)
        if dist.is_main and reuse.count:
            task.state.extend([reuse.table])
        positions = remaining(dist.shard(total, getattr(task, "shard_unit", 1)), reuse)
        num_workers = default_workers(task.dataset, workers)
        dist.barrier()
        started = dist_mod.now()
        skipped: list[dict[str, Any]] = []
        from visionbench.harness.gallery import GalleryCollector

        gallery = GalleryCollector(task)
        # a task that drives the model itself (robustness: attacks need gradients, fp32) replaces the loop
        drive = getattr(task, "drive", None)
        meter, first_input = (_predict_all if drive is None else _driven(drive))(
            run,
            task,
            adapter,
            positions,
            device,
            precision,
            num_workers,
            ChunkWriter(store, rows=chunk_rows(), tag=f"r{dist.rank}" if dist.enabled else ""),
            quiet,
            on_bad_sample,
            skipped,
            gallery,
        )
        kill_point("after_state_write")
        rank_figures = {"rank": dist.rank, "images": len(positions), **meter.summary()}
        rank_figures["wall_s"] = dist_mod.now() - started
        gathered = dist.gather((rank_figures, dist_mod.table_bytes(task.state.table()), skipped))
        dist.barrier()
        wall_s = dist_mod.now() - started
        if not dist.is_main:
            return RunOutcome(None, None, None)
        distributed = None
        if dist.enabled:
            tables = [dist_mod.table_from_bytes(blob) for _, blob, _ in gathered[1:]]
            skipped = sorted((s for _, _, part in gathered for s in part), key=lambda s: s["index"])
            task.state.extend(tables)
            complete_store(store, task.state)
            distributed = {
                "world_size": dist.world_size,
                "backend": dist.backend,
                **dist_mod.throughput([figures for figures, _, _ in gathered], wall_s),
            }
        if task.num_updated() == 0:
            raise DataError(
                f"every sample of {task.dataset.name} was skipped; the first: {skipped[0]['error']}"
            )
        result = task.compute()
        add_task_intervals(task, result.metrics, reps=bootstrap_reps, seed=run.seed)
        result.artifacts.update(gallery.artifacts(result.per_sample))
        checks_section = finish_checks(checker, result)
        env = {**environment(device, run.precision, run.batch_size, num_workers), **measure.knob_settings()}
        from visionbench.harness.measurement_reuse import find_reusable

        reusable = not positions and use_store and not remeasure and distributed is None
        reused = reusable and find_reusable(
            output, run.task.id, run.model.spec, precision,
            prediction_identity=identity["prediction"], environment=env,
        )  # fmt: skip
        efficiency, measurement = reused or measure.finish(
            meter, adapter, run.batch_size, len(positions), task.dataset
        )
        if distributed is not None:
            efficiency["throughput_ips"] = distributed["throughput_ips"]
        from visionbench.harness.record import build_record

        record = build_record(
            run=run,
            adapter=adapter,
            task=task,
            result=result,
            efficiency=efficiency,
            environment=env,
            code=code_version(),
            suite=suite,
            total=total,
            identity=identity,
            state={
                "path": "",
                "identity": identity["prediction"],
                "num_samples": total - len(skipped),
                "reused": reuse.count,
                "inferred": total - len(skipped) - reuse.count,
            },
            statistics=statistics,
            distributed=distributed,
            skipped=skipped,
        )
        record["measurement"] = measurement
        if annotate is not None:
            annotate(record, task)
        if checks_section is not None:
            record["checks"] = checks_section
        directory = publish(
            record,
            result,
            output,
            run.task.id,
            run.model.spec,
            precision,
            store,
            track=track,
            tracking_uri=tracking_uri,
        )
        kill_point("after_publish")
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
    finally:
        if measure is not None:
            measure.stop()
        dist.close()


def _predict_all(
    run: RunSpec,
    task: Task,
    adapter: Adapter,
    positions: list[int],
    device: str,
    precision: str,
    num_workers: int,
    writer: Any,
    quiet: bool,
    on_bad_sample: str = "fail",
    skipped: list[dict[str, Any]] | None = None,
    gallery: Any = None,
) -> tuple[timing.ThroughputMeter, Any]:
    """Predict every sample position, fold the predictions into the task state and the store.

    A sample that cannot be decoded stops the run (``on_bad_sample="fail"``) or is appended to
    ``skipped`` with its error (``"skip"``).
    """
    skipped = skipped if skipped is not None else []
    import torch

    from visionbench.harness.batches import array_batches

    loader = array_batches(task.dataset, adapter.transform(), adapter.collate, positions, run.batch_size)
    if loader is None:
        loader = torch.utils.data.DataLoader(
            LoaderView(task.dataset, adapter.transform(), positions),
            batch_size=run.batch_size,
            shuffle=False,
            num_workers=num_workers,
            pin_memory=device.startswith("cuda"),
            collate_fn=Collate(adapter.collate),
            persistent_workers=False,
        )
    meter = timing.ThroughputMeter(device)
    timing.reset_peak_memory(device)
    show = not quiet and sys.stderr.isatty()
    progress = _progress(len(positions), f"{adapter.spec.spec} on {run.task.id}", show)
    first_input = None
    try:
        with torch.inference_mode():
            for metas, inputs, targets, errors in meter.iterate(loader):
                if errors and on_bad_sample == "fail":
                    raise DataError(f"{errors[0][1]} (--on-bad-sample skip evaluates the other samples)")
                skipped.extend({"index": int(i), "error": " ".join(msg.split())} for i, msg in errors)
                if not metas:
                    continue
                if first_input is None:
                    first_input = inputs
                meter.hold(inputs, metas, run.batch_size)
                with _autocast(device, precision):
                    predictions = meter.time_call(
                        lambda m=metas, x=inputs: _predict(adapter, x, m), len(metas)
                    )
                try:
                    rows = task.update(
                        [m.index for m in metas], predictions, targets, [m.sample_id for m in metas]
                    )
                except VisionbenchError as exc:
                    if adapter.spec.spec in str(exc):
                        raise
                    raise type(exc)(f"predictions of '{adapter.spec.spec}': {exc}") from None
                writer.add(rows)
                if gallery is not None:
                    gallery.observe([m.index for m in metas], predictions, rows)
                if progress is not None:
                    progress.advance(progress.task_ids[0], len(metas))
        writer.flush()
    finally:
        if progress is not None:
            progress.stop()
    return meter, first_input


def _driven(drive: Any) -> Any:
    """The prediction step of a task that drives the model itself, called like ``_predict_all``."""

    def predict_all(
        run: RunSpec, task: Task, adapter: Adapter, positions: list[int], device: str, *rest: Any
    ) -> Any:
        writer, quiet = rest[2], rest[3]
        return drive(adapter, positions, device, writer, quiet, run.seed)

    return predict_all


def _predict(adapter: Adapter, inputs: Any, metas: list[ImageMeta]) -> Any:
    """``adapter.predict``; a model that raises (an input of the wrong size, a bug in user code) is a ModelError."""
    try:
        return adapter.predict(inputs, metas)
    except (VisionbenchError, KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - the model's own code failed on this input
        first = metas[0].sample_id if metas else "?"
        text = " ".join(str(exc).split())[:300]
        if "out of memory" in text.lower():
            text += "; try a smaller --batch-size"
        raise ModelError(
            f"model '{adapter.spec.spec}' failed on the batch starting at sample '{first}': "
            f"{type(exc).__name__}: {text}"
        ) from exc
