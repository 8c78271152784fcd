"""The Python API that the command line sits on: ``evaluate``, ``score`` and ``load_run``.

A notebook user evaluates the model they hold (an ``nn.Module`` or any callable) on a built-in
task or their own dataset object, and gets back the same record ``visionbench run`` writes::

    import visionbench
    record = visionbench.evaluate(my_module, "digits", preprocess={"mode": "L", "size": [8, 8],
                                                                   "mean": [0.3056], "std": [0.376]})
    record["metrics"]["top1"]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visionbench.contracts import Adapter, Dataset, TaskSpec
from visionbench.errors import ConfigError, DataError

DEFAULT_OUTPUT = "results/runs"


def evaluate(
    model: Any,
    task: str | Dataset,
    *,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int | str = 64,
    limit: int | None = None,
    seed: int = 0,
    channels_last: bool = False,
    compile: bool = False,
    output: str | Path = DEFAULT_OUTPUT,
    suite: str = "visionbench",
    tracking_uri: str | None = None,
    track: bool = True,
    bootstrap: int = 1000,
    workers: int | None = None,
    weights: str | None = None,
    model_args: Mapping[str, Any] | None = None,
    label_map: str | Mapping[str, Any] | None = None,
    preprocess: Mapping[str, Any] | None = None,
    classes: list[str] | None = None,
    name: str | None = None,
    task_args: Mapping[str, Any] | None = None,
    quiet: bool = True,
    remeasure: bool = False,
    checks: bool = True,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``task`` and return the results record (the run folder is written too).

    ``model``: a spec string (``zoo:digits-cnn``, ``torchvision:resnet18``), a ``torch.nn.Module``,
    any callable, or an adapter. ``task``: a spec string (``digits``, ``detection:coco:FILE``) or a
    :class:`~visionbench.contracts.Dataset`. ``preprocess``, ``classes`` and ``name`` describe an
    in-memory model (see :func:`visionbench.adapters.adapter_for_object`). ``batch_size="auto"``,
    ``channels_last`` and ``compile`` are the command line's ``--batch-size auto``, ``--channels-last``
    and ``--compile``; ``remeasure`` is ``--remeasure`` (time the model again on a rerun that the
    prediction store served, instead of reusing the earlier run's efficiency figures); ``checks=False``
    is ``--no-checks`` (no trust checks, no ``checks`` section in the record).
    """
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, load_label_map, parse_model_spec, parse_task_spec

    for option, value, low in (("batch_size", batch_size, 1), ("bootstrap", bootstrap, 0)):
        if option == "batch_size" and value == "auto":
            continue
        if not isinstance(value, int) or value < low:
            raise ConfigError(f"{option} must be an integer >= {low}, not {value!r}")
    dataset = None
    if isinstance(task, Dataset):
        dataset = task
        task_spec = TaskSpec(task.kind, "python", task.name or type(task).__name__, ())
    elif isinstance(task, str):
        task_spec = parse_task_spec(task, dict(task_args or {}))
    else:
        raise ConfigError(f"task must be a spec string or a Dataset, not {type(task).__name__}")
    mapping = load_label_map(label_map) if label_map is not None else None
    adapter = None
    if isinstance(model, str):
        model_spec = parse_model_spec(
            model, weights=weights, options=dict(model_args or {}), label_map=mapping
        )
    else:
        adapter = (
            model
            if isinstance(model, Adapter)
            else _wrap(model, _adapter_kind(task_spec.kind), preprocess, classes, mapping, name)
        )
        model_spec = adapter.spec
    run = RunSpec(
        model_spec,
        task_spec,
        device,
        precision,
        batch_size,
        limit,
        seed=seed,
        channels_last=channels_last,
        compile=compile,
    )
    outcome = execute(
        run,
        output=Path(output),
        suite=suite,
        tracking_uri=tracking_uri,
        track=track,
        quiet=quiet,
        bootstrap_reps=bootstrap,
        workers=workers,
        adapter=adapter,
        dataset=dataset,
        remeasure=remeasure,
        checks=checks,
    )
    return outcome.record


def _adapter_kind(kind: str) -> str:
    """The kind of adapter a task kind drives (a robustness task attacks a classifier)."""
    from visionbench.registry import task_class

    return getattr(task_class(kind), "adapter_kind", kind)


def _wrap(obj: Any, kind: str, preprocess: Any, classes: Any, label_map: Any, name: str | None) -> Adapter:
    from visionbench.adapters import adapter_for_object

    return adapter_for_object(
        obj, kind, preprocess=preprocess, classes=classes, label_map=label_map, name=name
    )


def score(kind: str, gt: str | Path, pred: str | Path, **options: Any) -> dict[str, Any]:
    """Score prediction files without a model, as ``visionbench score KIND --gt GT --pred PRED`` does."""
    if kind == "classification":
        from visionbench.harness.scoring import score_classification

        return score_classification(Path(gt), Path(pred), **options)
    if kind == "detection":
        from visionbench.harness.scoring_detection import score_detection

        return score_detection(Path(gt), Path(pred), **options)
    if kind == "segmentation":
        from visionbench.harness.scoring_segmentation import score_segmentation

        return score_segmentation(Path(gt), Path(pred), **options)
    raise ConfigError(f"score: unknown kind '{kind}' (classification, detection or segmentation)")


def load_run(path_or_run_id: str | Path, *, tracking_uri: str | None = None) -> dict[str, Any]:
    """The record of a run: a run folder, a ``record.json`` path, or an MLflow run id."""
    from visionbench.harness.record import RECORD_FILE, read_record

    path = Path(path_or_run_id)
    if path.is_file():
        return read_record(path)
    if path.is_dir():
        return read_record(path / RECORD_FILE)
    text = str(path_or_run_id)
    if not text or any(sep in text for sep in "/\\"):
        raise DataError(f"no run folder or record at {text}")
    return _record_from_mlflow(text, tracking_uri)


def _record_from_mlflow(run_id: str, tracking_uri: str | None) -> dict[str, Any]:
    """The record.json artifact of an MLflow run (the folder the run logged)."""
    import tempfile

    from visionbench.harness.record import RECORD_FILE, validate
    from visionbench.harness.tracking import resolve_tracking_uri
    from visionbench.leaderboard.rows import client_for

    client = client_for(resolve_tracking_uri(tracking_uri))
    try:
        client.get_run(run_id)
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run_id, RECORD_FILE, tmp)
            record = json.loads(Path(local).read_text())
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; one clear line
        raise DataError(f"MLflow run {run_id}: cannot read its record: {type(exc).__name__}: {exc}") from None
    validate(record, source=f"MLflow run {run_id}")
    return record
