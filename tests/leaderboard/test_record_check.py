"""The compiled record check gives jsonschema's verdict on randomly damaged records of every kind."""

from __future__ import annotations

import copy
import os
import random
from typing import Any

import jsonschema
import pytest

from visionbench.harness.record import schema, validate
from visionbench.harness.record_check import compile_schema, record_check
from visionbench.leaderboard.synthetic import many_records

REPLACEMENTS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2.0,
    2.5,
    -0.5,
    "",
    "x" * 9,
    [],
    ["a"],
    [1],
    {},
    {"k": 1},
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:3]):
            found += _paths(item, (*prefix, index))
    return found


def _damage(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(record)
    path = rng.choice(_paths(out)[1:])
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    last, action = path[-1], rng.random()
    if action < 0.25 and isinstance(parent, dict):
        del parent[last]
    elif action < 0.4 and isinstance(parent[last], dict):
        parent[last][rng.choice(["extra", "zz", "per_class"])] = rng.choice(REPLACEMENTS)
    else:
        parent[last] = copy.deepcopy(rng.choice(REPLACEMENTS))
    return out


def test_verdicts_equal_jsonschema_on_damaged_records() -> None:
    seed = int(os.environ.get("VB_TEST_SEED", random.randrange(2**31)))
    print(f"VB_TEST_SEED={seed}")
    rng = random.Random(seed)
    reference = jsonschema.Draft202012Validator(schema())
    check = record_check()
    records = many_records(25)
    assert {r["task"]["kind"] for r in records} >= {"classification", "detection", "segmentation"}
    invalid = 0
    for i in range(1500):
        damaged = _damage(rng.choice(records), rng)
        expected = reference.is_valid(damaged)
        assert check(damaged) == expected, f"case {i}: fast check disagrees with jsonschema"
        invalid += not expected
    assert 300 < invalid < 1500  # both verdicts are exercised
    for record in records:
        assert check(record)


def test_invalid_record_still_names_the_field() -> None:
    record = copy.deepcopy(many_records(5)[0])
    record["task"]["num_samples"] = -3
    with pytest.raises(Exception, match=r"task/num_samples"):
        validate(record, source="r.json")


def test_unsupported_keyword_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="pattern"):
        compile_schema({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}})


@pytest.mark.parametrize(
    ("schema_part", "value", "valid"),
    [
        ({"type": "integer"}, 2.0, True),
        ({"type": "integer"}, True, False),
        ({"type": "number"}, False, False),
        ({"enum": [1, 2]}, 1.0, True),
        ({"enum": [1, 2]}, True, False),
        ({"minimum": 0}, "x", True),
        ({"type": ["string", "null"]}, None, True),
    ],
)
def test_json_schema_corner_cases(schema_part: dict, value: Any, valid: bool) -> None:
    assert jsonschema.Draft202012Validator(schema_part).is_valid(value) is valid
    assert compile_schema(schema_part)(value) is valid
