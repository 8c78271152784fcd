"""``--model-arg`` options: each loader declares the ones it reads, unknown keys are refused.

Families whose builders take arbitrary keyword arguments (torchvision, timm, a Python
factory) declare only the options the adapter itself reads and pass the rest on; a
``TypeError`` or ``ValueError`` from the builder becomes a :class:`ConfigError` naming the option.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from visionbench.contracts import ModelSpec
from visionbench.errors import ConfigError, ModelOptionError
from visionbench.schema import Option, check_options, describe_options

PREPROCESS = {
    "mode": Option(choices=("RGB", "BGR", "L")),
    "resize": Option("json", help="shorter side, or [H, W]"),
    "size": Option("json", help="exact [H, W]"),
    "crop": Option("json", help="centre crop [H, W]"),
    "interpolation": Option(choices=("nearest", "bilinear", "bicubic", "lanczos")),
    "mean": Option("json"),
    "std": Option("json"),
    "scale": Option("float", minimum=0),
}
_KEYWORD = re.compile(r"keyword argument '([^']+)'")


def where(spec: ModelSpec) -> str:
    return f"--model-arg of {spec.spec}"


def check_model_options(spec: ModelSpec, schema: Mapping[str, Option]) -> dict[str, Any]:
    """``spec``'s options checked against ``schema`` (unknown key or bad value -> ConfigError listing the accepted)."""
    try:
        return check_options(spec.option_dict, schema, where(spec))
    except ConfigError as exc:
        raise ModelOptionError(str(exc)) from None


def builder_error(
    exc: Exception, spec: ModelSpec, passed: Mapping[str, Any], own: Mapping[str, Option]
) -> ModelOptionError:
    """A builder's TypeError/ValueError about the options it was passed, as a ConfigError naming the option."""
    text = " ".join(str(exc).split())[:300]
    found = _KEYWORD.search(text)
    key = found.group(1) if found and found.group(1) in passed else None
    reads = describe_options(own)
    if key is not None:
        return ModelOptionError(
            f"{where(spec)}: unknown option '{key}' ({type(exc).__name__}: {text}); "
            f"the adapter reads: {reads}; any other key goes to the model builder"
        )
    keys = ", ".join(f"{k}={passed[k]!r}" for k in passed) or "none"
    return ModelOptionError(
        f"{where(spec)}: the model builder rejected the options ({keys}): {type(exc).__name__}: {text}"
    )


def check_factory_options(
    factory: Callable[..., Any], spec: ModelSpec, options: Mapping[str, Any], own: Mapping[str, Option]
) -> None:
    """The options a Python factory is called with must fit its signature (unless it takes ``**kwargs``)."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**options)
    except TypeError as exc:
        accepted = [
            name
            for name, p in signature.parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        unknown = sorted(set(options) - set(accepted))
        detail = f"unknown option {', '.join(map(repr, unknown))}" if unknown else str(exc)
        raise ModelOptionError(
            f"{where(spec)}: {detail} (the factory accepts: {', '.join(accepted) or 'none'}; "
            f"the adapter reads: {describe_options(own)})"
        ) from None


def check_own_options(spec: ModelSpec, own: Mapping[str, Option]) -> dict[str, Any]:
    """The values of the options the adapter reads itself (others pass through unchecked), typed."""
    options = spec.option_dict
    try:
        return {key: own[key].check(key, options[key], where(spec)) for key in own if key in options}
    except ConfigError as exc:
        raise ModelOptionError(str(exc)) from None


def refuse_weights(spec: ModelSpec, why: str) -> None:
    """A family that has no use for ``--weights`` refuses it rather than record it as if applied."""
    if spec.weights is not None:
        raise ModelOptionError(f"--weights {spec.weights} does not apply to {spec.spec}: {why}")
