"""Declared options: a name, a type, allowed values and bounds, checked where input enters.

Dataset factories, model loaders and the command line declare the options they accept as a
mapping ``name -> Option``; :func:`check_options` refuses unknown names (listing the accepted
ones) and values of the wrong type or out of range, with a :class:`ConfigError` naming the
option and the value. Values are checked, not converted: a spec's options stay as the user
wrote them, so fingerprints do not change.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from visionbench.errors import ConfigError

TYPES = ("str", "int", "float", "bool", "json", "any")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
NULL_WORDS = ("none", "null", "")


@dataclass(frozen=True)
class Option:
    """One accepted option: ``type`` (str, int, float, bool, json, any), ``choices``, bounds, ``nullable``."""

    type: str = "str"
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    help: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"option type must be one of {TYPES}, not {self.type!r}")

    def describe(self) -> str:
        """``int 1..4096``, ``test|train|all``, ``bool``: how the accepted list shows this option."""
        if self.choices:
            return "|".join(map(str, self.choices))
        if self.minimum is not None and self.maximum is not None:
            return f"{self.type} {_number(self.minimum)}..{_number(self.maximum)}"
        if self.minimum is not None:
            return f"{self.type} >= {_number(self.minimum)}"
        if self.maximum is not None:
            return f"{self.type} <= {_number(self.maximum)}"
        return self.type

    def check(self, name: str, value: Any, where: str = "") -> Any:
        """The value as this option's type (ints for int, bools for bool); ConfigError naming ``name``.

        Messages read ``where: option name=value ...``; without ``where`` (command-line flags)
        ``name value ...``.
        """
        if self.nullable and (
            value is None or (isinstance(value, str) and value.strip().lower() in NULL_WORDS)
        ):
            return None
        label = f"{where}: option {name}={_show(value)}" if where else f"{name} {_show(value)}"
        parsed = _parse(self.type, value)
        if parsed is _BAD:
            raise ConfigError(f"{label}: must be {_article(self.type)}")
        if self.choices and parsed not in self.choices:
            raise ConfigError(f"{label}: not allowed (allowed: {'|'.join(map(str, self.choices))})")
        if (
            self.minimum is not None
            and parsed < self.minimum
            or self.maximum is not None
            and parsed > self.maximum
        ):
            raise ConfigError(f"{label}: out of range ({self.describe()})")
        return parsed


_BAD = object()


def _parse(kind: str, value: Any) -> Any:
    if kind in ("any", "json"):
        return value
    if kind == "str":
        return value if isinstance(value, str) and value else (str(value) if _scalar(value) else _BAD)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if _scalar(value) else None
        return True if text in TRUE_WORDS else False if text in FALSE_WORDS else _BAD
    if isinstance(value, bool) or not _scalar(value):
        return _BAD
    try:
        number = float(value) if kind == "float" else _int(value)
    except (TypeError, ValueError, OverflowError):
        return _BAD
    return number if kind == "int" or math.isfinite(number) else _BAD


def _int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(str(value).strip())


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not (isinstance(value, str) and not value.strip())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _article(kind: str) -> str:
    return {"int": "an integer", "float": "a finite number", "bool": "true or false"}.get(
        kind, f"a non-empty {kind}"
    )


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def describe_options(schema: Mapping[str, Option]) -> str:
    """``split=test|train|all, n=int 1..`` -- the accepted options in messages and ``list``."""
    return ", ".join(f"{name}={opt.describe()}" for name, opt in schema.items()) or "none"


def check_options(
    options: Mapping[str, Any], schema: Mapping[str, Option] | None, where: str
) -> dict[str, Any]:
    """Checked (typed) values of ``options`` against ``schema``; None accepts anything unchecked.

    An unknown name is a :class:`ConfigError` listing the accepted options, as is a value of
    the wrong type, outside ``choices`` or out of range.
    """
    if schema is None:
        return dict(options)
    unknown = [str(k) for k in options if k not in schema]
    if unknown:
        raise ConfigError(
            f"{where}: unknown option {', '.join(repr(k) for k in sorted(unknown))} "
            f"(accepted: {describe_options(schema)})"
        )
    return {name: schema[name].check(name, value, where) for name, value in options.items()}


_ANNOTATIONS = {"str": "str", "int": "int", "float": "float", "bool": "bool"}


def signature_options(
    factory: Callable[..., Any], skip: tuple[str, ...] = ("path",)
) -> dict[str, Option] | None:
    """Options read from a factory's keyword parameters (type from the annotation); None if it takes ``**kwargs``."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    out: dict[str, Option] = {}
    for p in params:
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.name in skip or p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY):
            continue
        annotation = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        kinds = [a.strip() for a in str(annotation).split("|")]
        kind = next((_ANNOTATIONS[k] for k in kinds if k in _ANNOTATIONS), "any")
        if "str" in kinds and kind != "str":
            kind = "any"  # e.g. ``str | int``: accept both, the factory converts
        out[p.name] = Option(kind, nullable="None" in kinds or p.default is None)
    return out
