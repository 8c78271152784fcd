"""Parsing of model and task spec strings into frozen specs, and the run spec that ties them together."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionbench.contracts import TASK_KINDS, ModelSpec, TaskSpec, stable_hash
from visionbench.errors import ConfigError, SpecError

# Short names for the built-in tasks.
TASK_ALIASES = {
    "digits": "classification:digits",
    "fashion-mnist": "classification:fashion-mnist",
    "shapes-detection": "detection:shapes",
    "shapes-segmentation": "segmentation:shapes",
    "shapes-captions": "captioning:shapes",
}


def parse_model_spec(
    text: str,
    *,
    weights: str | None = None,
    options: dict[str, Any] | None = None,
    label_map: str | dict[str, str] | None = None,
) -> ModelSpec:
    """``family:target`` (e.g. ``torchvision:resnet18``, ``onnx:model.onnx``, ``callable:pkg.mod:factory``)."""
    if ":" not in text or not text.split(":", 1)[1]:
        raise SpecError(
            f"model spec '{text}' must look like family:name (e.g. torchvision:resnet18, zoo:digits-cnn)"
        )
    from visionbench.registry import adapter_families

    family = text.split(":", 1)[0]
    if family not in adapter_families():  # unknown family -> SpecError now, not mid-run
        raise SpecError(f"unknown model family '{family}' (known: {', '.join(adapter_families())})")
    return ModelSpec.create(text, weights, options, load_label_map(label_map))


def parse_task_spec(text: str, options: dict[str, Any] | None = None) -> TaskSpec:
    """``kind:source[:path][?k=v&...]`` or a built-in alias such as ``digits``."""
    text, _, raw = text.partition("?")
    text = TASK_ALIASES.get(text, text)
    query: dict[str, Any] = {}
    if raw:
        for part in filter(None, raw.split("&")):
            key, eq, value = part.partition("=")
            if not eq:
                raise SpecError(f"task option '{part}' must be key=value")
            query[key] = value
    query.update(options or {})
    parts = text.split(":", 2)
    if len(parts) < 2 or parts[0] not in TASK_KINDS:
        raise SpecError(
            f"task spec '{text}' must look like kind:source[:path] with kind one of {', '.join(TASK_KINDS)} "
            f"(or an alias: {', '.join(TASK_ALIASES)})"
        )
    from visionbench.registry import check_dataset_options

    check_dataset_options(parts[0], parts[1], query)  # unknown kind/source/option -> SpecError/ConfigError
    return TaskSpec(parts[0], parts[1], parts[2] if len(parts) == 3 else None, tuple(sorted(query.items())))


def load_label_map(value: str | dict[str, Any] | None) -> dict[str, str] | None:
    """A label map from a dict, a JSON/YAML file, or inline ``dataset_class=model_class,...``.

    Several model classes may feed one dataset class (many-to-one): inline as
    ``face=FACE_MALE|FACE_FEMALE``, in a file or dict as a list value. Each entry becomes
    one string with the model classes joined by ``|``.
    """
    if value is None or isinstance(value, dict):
        return {str(k): _label_targets(v, k) for k, v in value.items()} if value else None
    path = Path(value)
    if path.suffix.lower() in (".json", ".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"label map file not found: {path}")
        import yaml

        try:
            text = path.read_bytes().decode("utf-8-sig")
            data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            message = " ".join(str(exc).split())[:200]
            raise ConfigError(f"label map {path} is not valid: {type(exc).__name__}: {message}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"label map {path} must be a mapping dataset_class -> model class")
        return {str(k): _label_targets(v, k) for k, v in data.items()}
    pairs = {}
    for part in filter(None, value.split(",")):
        key, eq, target = part.partition("=")
        if not eq:
            raise ConfigError(f"label map entry '{part}' must be dataset_class=model_class")
        pairs[key.strip()] = _label_targets(target, key.strip())
    return pairs


def _label_targets(value: Any, key: Any) -> str:
    """One label-map value (a name, an index, ``a|b`` or a list) -> ``"a|b"``."""
    from visionbench.contracts import LABEL_ALTERNATIVES, label_targets

    if value is None or not str(value).strip():
        raise ConfigError(f"label map entry for '{key}' names no model class")
    return LABEL_ALTERNATIVES.join(label_targets(value))


def parse_key_values(items: list[str] | None, *, option: str) -> dict[str, Any]:
    """``k=v`` strings into a dict; values parsed as JSON where they are (numbers, booleans, lists)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"{option} '{item}' must be key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@dataclass(frozen=True)
class RunSpec:
    """One evaluation: model x task x execution settings. Its fingerprint is the cache key."""

    model: ModelSpec
    task: TaskSpec
    device: str = "auto"
    precision: str = "fp32"
    batch_size: int | str = 64  # an int, or "auto" (resolved by the runner)
    limit: int | None = None
    num_workers: int = 0
    seed: int = 0
    channels_last: bool = False
    compile: bool = False

    @property
    def fingerprint(self) -> str:
        return stable_hash(
            [
                self.model.fingerprint,
                self.task.fingerprint,
                self.precision,
                self.batch_size,
                self.limit,
                self.seed,
            ]
        )
