"""Suite files: a declared matrix of models x tasks, with per-entry options and generalisation pairings.

A suite file is YAML (safe loader). Its keys::

    name: my-suite                  # the MLflow experiment (default: the file's stem)
    defaults: {precision: fp16}     # entry options every entry inherits
    runs:                           # the matrix: each entry expands to tasks x models
      - models: [zoo:digits-mlp, zoo:digits-cnn]
        task: digits
        limit: 200                  # + any entry option
    generalisation:                 # pairings: in-distribution task vs shifted tasks, per model
      - name: digits-vs-opencv
        models: [zoo:digits-cnn]
        in_distribution: digits
        shifted: [classification:opencv-digits]
        metric: top1                # default: the kind's headline

Entry options (:data:`ENTRY_OPTIONS`) override ``defaults``, which override the command line's flags.
Every problem is a :class:`ConfigError` naming the file, the entry (``runs[2]``) and the key at fault.
Expansion is deterministic; :func:`shard` cuts it into disjoint slices for job arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionbench.errors import ConfigError, VisionbenchError
from visionbench.schema import Option

TOP_KEYS = ("name", "description", "defaults", "runs", "generalisation")
# entry option -> how its value is checked
ENTRY_OPTIONS: dict[str, Option] = {
    "weights": Option("str"),
    "model_args": Option("json"),
    "task_args": Option("json"),
    "label_map": Option("any"),
    "trust_remote_code": Option("bool"),
    "precision": Option(choices=("fp32", "fp16", "bf16")),
    "batch_size": Option("any"),
    "limit": Option("int", minimum=1),
    "device": Option("str"),
    "channels_last": Option("bool"),
    "compile": Option("bool"),
    "bootstrap": Option("int", minimum=0, maximum=100_000),
    "requires": Option("any"),
    "hint": Option("str"),
}
RUN_KEYS = ("model", "models", "task", "tasks", *ENTRY_OPTIONS)
PAIRING_KEYS = ("name", "model", "models", "in_distribution", "shifted", "metric", *ENTRY_OPTIONS)
# options that change what is run, hence part of a run's key in the matrix (requires/hint do not)
KEYED = tuple(k for k in ENTRY_OPTIONS if k not in ("requires", "hint"))


@dataclass(frozen=True)
class Pairing:
    """A shifted run's link to its in-distribution run (``reference``: that run's matrix key)."""

    name: str
    metric: str
    reference: str
    where: str


@dataclass
class SuiteRun:
    """One (model, task, options) of an expanded suite; ``where`` names the entry it came from."""

    model: str
    task: str
    options: dict[str, Any]
    where: str
    task_id: str = ""  # the canonical task id (aliases resolved, options sorted): what keys the run
    pairing: Pairing | None = None
    shard_anchor: str = ""

    @property
    def key(self) -> str:
        return run_key(self.model, self.task_id or self.task, self.options)

    def label(self) -> str:
        extra = ", ".join(f"{k}={self.options[k]}" for k in KEYED if k in self.options)
        return f"{self.model} on {self.task}" + (f" ({extra})" if extra else "")


@dataclass
class Suite:
    """A loaded, checked suite file: its experiment name and its runs in a fixed order."""

    path: Path
    name: str
    runs: list[SuiteRun] = field(default_factory=list)
    description: str = ""


def run_key(model: str, task: str, options: dict[str, Any]) -> str:
    import json

    keyed = {k: options[k] for k in KEYED if k in options}
    return json.dumps([model, task, keyed], sort_keys=True, default=str)


def load_suite(path: str | Path) -> Suite:
    """Read, check and expand a suite file; ConfigError/DataError name the file, entry and key."""
    import yaml

    from visionbench.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"suite file {path}: not found" if not path.is_dir() else f"suite file {path}: is a folder"
        )
    try:
        data = yaml.safe_load(path.read_bytes().decode("utf-8-sig"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"suite file {path}: not valid YAML{at}: {exc.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"suite file {path}: not valid YAML: {type(exc).__name__}: {exc}") from None
    return parse_suite(data, path)


def parse_suite(data: Any, path: Path) -> Suite:
    """The checked suite from already-parsed YAML ``data`` (``path`` names it in messages)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"suite file {path}: must be a mapping with 'runs' (and optionally 'generalisation')"
        )
    _unknown(data, TOP_KEYS, f"suite file {path}", "top-level key")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name.strip() or any(ord(c) < 32 for c in name):
        raise ConfigError(f"suite file {path}: name: must be non-empty text (the MLflow experiment)")
    defaults = _entry_options(data.get("defaults") or {}, path, "defaults", allowed=tuple(ENTRY_OPTIONS))
    runs_data, pairings_data = data.get("runs") or [], data.get("generalisation") or []
    for key, value in (("runs", runs_data), ("generalisation", pairings_data)):
        if not isinstance(value, list):
            raise ConfigError(f"suite file {path}: {key}: must be a list of entries")
    if not runs_data and not pairings_data:
        raise ConfigError(f"suite file {path}: declares no runs (add a 'runs' or 'generalisation' list)")
    suite = Suite(path, name.strip(), description=str(data.get("description") or ""))
    found: dict[str, SuiteRun] = {}

    def add(run: SuiteRun) -> SuiteRun:
        if run.key in found:
            return found[run.key]
        found[run.key] = run
        suite.runs.append(run)
        return run

    for i, entry in enumerate(runs_data):
        where = f"runs[{i}]"
        options = {**defaults, **_entry(entry, path, where, RUN_KEYS)}
        for task in _specs(entry, "task", "tasks", path, where):
            for model in _specs(entry, "model", "models", path, where):
                add(_checked_run(model, task, options, path, where))
    for i, entry in enumerate(pairings_data):
        where = f"generalisation[{i}]"
        options = {**defaults, **_entry(entry, path, where, PAIRING_KEYS)}
        reference_task = _one_spec(entry, "in_distribution", path, where)
        shifted = entry.get("shifted")
        shifted_tasks = [shifted] if isinstance(shifted, str) else shifted
        if (
            not isinstance(shifted_tasks, list)
            or not shifted_tasks
            or not all(isinstance(t, str) for t in shifted_tasks)
        ):
            raise ConfigError(f"suite file {path}: {where}.shifted: must be a task spec or a list of them")
        kind, metric = _pairing_metric(entry, reference_task, shifted_tasks, path, where)
        for model in _specs(entry, "model", "models", path, where):
            reference = add(_checked_run(model, reference_task, options, path, where))
            for task in shifted_tasks:
                run = add(_checked_run(model, task, options, path, f"{where}.shifted"))
                name = str(entry.get("name") or f"{reference_task} -> {task}")
                pairing = Pairing(name, metric, reference.key, where)
                if run is reference:
                    raise ConfigError(
                        f"suite file {path}: {where}: shifted task {task} is the in-distribution task"
                    )
                if run.pairing is not None and run.pairing != pairing:
                    raise ConfigError(
                        f"suite file {path}: {where}: {run.label()} is already the shifted side of {run.pairing.where}"
                    )
                run.pairing = pairing
    for run in suite.runs:  # a shifted run goes to the shard of its in-distribution run
        run.shard_anchor = run.pairing.reference if run.pairing else run.key
    return suite


def shard(suite: Suite, index: int, count: int) -> list[SuiteRun]:
    """Slice ``index`` of ``count`` (0-based): anchors dealt round-robin, shifted runs with their reference.

    The slices are disjoint and together cover the suite; the order inside a slice is the file's,
    with each shifted run after the run it is compared with.
    """
    anchors = list(dict.fromkeys(run.shard_anchor for run in suite.runs))
    mine = {key for position, key in enumerate(anchors) if position % count == index}
    picked = [run for run in suite.runs if run.shard_anchor in mine]
    return [run for run in picked if run.pairing is None] + [run for run in picked if run.pairing is not None]


def parse_shard(text: str, flag: str = "--shard") -> tuple[int, int]:
    """``i/N`` with 0 <= i < N (a job array's 0-based index over its size)."""
    index, slash, count = str(text).partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i, n = -1, 0
    if not slash or n < 1 or not 0 <= i < n:
        raise ConfigError(
            f"{flag} {text!r}: must be i/N with 0 <= i < N (e.g. 0/4, from $SLURM_ARRAY_TASK_ID)"
        )
    return i, n


# ---------------------------------------------------------------------- checks
def _unknown(data: dict[str, Any], allowed: tuple[str, ...], where: str, what: str = "key") -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(f"{where}: unknown {what} {key!r} (known: {', '.join(allowed)})")


def _entry(entry: Any, path: Path, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise ConfigError(f"suite file {path}: {where}: must be a mapping (model/task and options)")
    _unknown(entry, allowed, f"suite file {path}: {where}")
    return _entry_options({k: v for k, v in entry.items() if k in ENTRY_OPTIONS}, path, where, allowed)


def _entry_options(values: Any, path: Path, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise ConfigError(f"suite file {path}: {where}: must be a mapping of entry options")
    _unknown(values, allowed, f"suite file {path}: {where}")
    out = {}
    for key, value in values.items():
        at = f"suite file {path}: {where}.{key}"
        if key in ("model_args", "task_args") and not isinstance(value, dict):
            raise ConfigError(f"{at}: must be a mapping of option: value")
        if key == "batch_size":
            if value != "auto" and (
                not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65536
            ):
                raise ConfigError(f"{at}: {value!r}: must be a whole number of images in 1..65536 or auto")
        elif key == "device":
            from visionbench.harness.cli_checks import DEVICE

            if not DEVICE.match(str(value)):
                raise ConfigError(f"{at}: {value!r}: must be auto, cpu, mps, cuda or cuda:N")
        elif key == "requires":
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{at}: must be a path or a list of paths")
        elif key == "label_map":
            if not isinstance(value, str | dict):
                raise ConfigError(f"{at}: must be a mapping, a JSON/YAML file or 'a=x,b=y'")
        elif key not in ("model_args", "task_args"):
            try:
                value = ENTRY_OPTIONS[key].check(key, value, at)
            except ConfigError as exc:
                raise ConfigError(str(exc) if str(exc).startswith(at) else f"{at}: {exc}") from None
        out[key] = value
    return out


def _specs(entry: dict[str, Any], one: str, many: str, path: Path, where: str) -> list[str]:
    if (one in entry) == (many in entry):
        raise ConfigError(f"suite file {path}: {where}: give exactly one of '{one}' or '{many}'")
    values = [entry[one]] if one in entry else entry[many]
    key = one if one in entry else many
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and v.strip() for v in values)
    ):
        raise ConfigError(
            f"suite file {path}: {where}.{key}: must be a spec string or a non-empty list of them"
        )
    return [v.strip() for v in values]


def _one_spec(entry: dict[str, Any], key: str, path: Path, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"suite file {path}: {where}.{key}: must be a task spec (e.g. digits)")
    return value.strip()


def _checked_run(model: str, task: str, options: dict[str, Any], path: Path, where: str) -> SuiteRun:
    """Parse the model and task specs now, so a typo fails before anything runs."""
    from visionbench.harness.specs import parse_model_spec, parse_task_spec

    try:
        parse_model_spec(model, weights=options.get("weights"), options=options.get("model_args"))
        if model.startswith("zoo:"):  # the catalogue is cheap to ask (no torch): a typo fails now
            from visionbench.zoo.catalog import get_entry

            get_entry(model.split(":", 1)[1])
    except VisionbenchError as exc:
        raise type(exc)(f"suite file {path}: {where}: model {model!r}: {exc}") from None
    try:
        task_id = parse_task_spec(task, _stringified(options.get("task_args"))).id
    except VisionbenchError as exc:
        raise type(exc)(f"suite file {path}: {where}: task {task!r}: {exc}") from None
    return SuiteRun(model, task, dict(options), where, task_id)


def _stringified(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Task options as ``--task-arg`` would give them (YAML numbers and booleans as JSON text)."""
    import json

    if not values:
        return None
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def _pairing_metric(
    entry: dict[str, Any], reference: str, shifted: list[str], path: Path, where: str
) -> tuple[str, str]:
    from visionbench.declarations import declaration
    from visionbench.harness.specs import parse_task_spec

    kinds = {}
    for task in [reference, *shifted]:
        try:
            kinds[task] = parse_task_spec(task).kind
        except VisionbenchError as exc:
            raise type(exc)(f"suite file {path}: {where}: task {task!r}: {exc}") from None
    kind = kinds[reference]
    other = next((t for t in shifted if kinds[t] != kind), None)
    if other is not None:
        raise ConfigError(
            f"suite file {path}: {where}.shifted: {other} is a {kinds[other]} task; the in-distribution task "
            f"{reference} is {kind} (a gap compares one metric of one kind)"
        )
    declared = declaration(kind)
    metric = entry.get("metric", declared.headline)
    if metric not in declared.keys:
        raise ConfigError(
            f"suite file {path}: {where}.metric: {metric!r} is not a {kind} metric (one of: {', '.join(declared.keys)})"
        )
    return kind, metric
