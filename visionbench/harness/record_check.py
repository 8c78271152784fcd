"""A fast yes/no check of a results record against ``record_schema.json``.

Reading a results folder validates every record, and jsonschema's general machinery costs about
1.5 ms a record (most of a leaderboard's first render over 1,000 runs). The record schema uses a
small set of keywords, so this module turns it once into nested Python checks. Only the verdict
comes from here: when a record fails, ``record.validate`` asks jsonschema for the message, and a
record this check rejects but jsonschema accepts is accepted. The keywords follow JSON Schema
2020-12 as jsonschema applies them (``integer`` accepts 2.0, booleans are not numbers, ``format``
is an annotation). A schema keyword outside the supported set is an error when the check is built,
so the schema cannot grow a rule this check would silently skip; the tests compare verdicts with
jsonschema on randomly damaged records.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

Check = Callable[[Any], bool]

# keywords that only annotate
_ANNOTATIONS = {"$schema", "$id", "title", "description", "format", "$comment", "examples", "default"}
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "enum",
    "minimum",
    "additionalProperties",
    "items",
    "minLength",
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality as jsonschema's ``enum`` uses it: 1 equals 1.0, but never true or false."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def compile_schema(schema: dict[str, Any] | bool, where: str = "#") -> Check:
    """A function that says whether an instance is valid under ``schema``."""
    if schema is True:
        return lambda _: True
    if schema is False:
        return lambda _: False
    unknown = set(schema) - _SUPPORTED
    if unknown:
        raise ValueError(
            f"record schema at {where}: keyword(s) {sorted(unknown)} not supported by the fast check"
        )
    checks: list[Check] = []
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        tests = [_TYPES[name] for name in names]
        checks.append(lambda v: any(test(v) for test in tests))
    if "enum" in schema:
        allowed = list(schema["enum"])
        checks.append(lambda v: any(_same(v, e) for e in allowed))
    if "minimum" in schema:
        low = schema["minimum"]
        checks.append(lambda v: not _is_number(v) or v >= low)
    if "minLength" in schema:
        shortest = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= shortest)
    if "required" in schema:
        needed = tuple(schema["required"])
        checks.append(lambda v: not isinstance(v, dict) or all(k in v for k in needed))
    properties = {
        key: compile_schema(sub, f"{where}/properties/{key}")
        for key, sub in schema.get("properties", {}).items()
    }
    extra = (
        compile_schema(schema["additionalProperties"], f"{where}/additionalProperties")
        if "additionalProperties" in schema
        else None
    )
    if properties or extra is not None:

        def members(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key, value in v.items():
                check = properties.get(key, extra)
                if check is not None and not check(value):
                    return False
            return True

        checks.append(members)
    if "items" in schema:
        item = compile_schema(schema["items"], f"{where}/items")
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    return lambda v: all(check(v) for check in checks)


@lru_cache(maxsize=1)
def record_check() -> Check:
    from visionbench.harness.record import schema

    return compile_schema(schema())
