"""Suite files: checking (file, entry and key named), expansion, and shards that cover the matrix disjointly.

Randomised tests print their seed; ``VB_TEST_SEED=<seed>`` replays one.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import yaml

from visionbench.errors import ConfigError, DataError, SpecError
from visionbench.harness.suite_file import load_suite, parse_shard, shard


def write(tmp_path: Path, data: object, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_expansion_order_dedupe_options_and_pairings(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "nightly",
            "defaults": {"limit": 100},
            "runs": [
                {
                    "models": ["zoo:digits-linear", "zoo:digits-cnn"],
                    "tasks": ["digits", "digits?split=train"],
                },
                {"model": "zoo:digits-cnn", "task": "classification:digits"},  # same run as above: once
                {"model": "zoo:digits-cnn", "task": "digits", "precision": "bf16", "batch_size": 8},
            ],
            "generalisation": [
                {
                    "name": "digits-vs-opencv",
                    "models": ["zoo:digits-cnn", "zoo:digits-mlp"],
                    "in_distribution": "digits",
                    "shifted": "classification:opencv-digits",
                }
            ],
        },
    )
    suite = load_suite(path)
    assert suite.name == "nightly"
    labels = [(r.model, r.task, r.options.get("precision")) for r in suite.runs]
    assert labels == [
        ("zoo:digits-linear", "digits", None),
        ("zoo:digits-cnn", "digits", None),
        ("zoo:digits-linear", "digits?split=train", None),
        ("zoo:digits-cnn", "digits?split=train", None),
        ("zoo:digits-cnn", "digits", "bf16"),
        ("zoo:digits-cnn", "classification:opencv-digits", None),
        ("zoo:digits-mlp", "digits", None),
        ("zoo:digits-mlp", "classification:opencv-digits", None),
    ]
    assert all(r.options["limit"] == 100 for r in suite.runs)  # defaults reach every entry
    shifted = [r for r in suite.runs if r.pairing]
    assert [r.model for r in shifted] == ["zoo:digits-cnn", "zoo:digits-mlp"]
    by_key = {r.key: r for r in suite.runs}
    # digits-cnn's in-distribution run is the matrix's run (alias and full spec are one run)
    assert by_key[shifted[0].pairing.reference] is suite.runs[1]
    assert shifted[0].pairing.metric == "top1"  # the kind's headline by default


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, {"runs": [{"model": "zoo:digits-linear", "task": "digits"}]}, "weekly.yaml")
    assert load_suite(path).name == "weekly"


@pytest.mark.parametrize(
    ("data", "error", "fragment"),
    [
        ("runs: [a, b", ConfigError, "not valid YAML (line 1"),
        ({"run": []}, ConfigError, "unknown top-level key 'run'"),
        ({"runs": []}, ConfigError, "declares no runs"),
        ({"runs": [{"model": "zoo:digits-linear"}]}, ConfigError, "runs[0]: give exactly one of 'task' or 'tasks'"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits", "precison": "fp16"}]}, ConfigError,
         "runs[0]: unknown key 'precison'"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits", "precision": "fp64"}]}, ConfigError,
         "runs[0].precision"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits", "batch_size": 0}]}, ConfigError,
         "runs[0].batch_size: 0: must be a whole number"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits", "limit": -1}]}, ConfigError, "runs[0].limit"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits", "device": "tpu"}]}, ConfigError,
         "runs[0].device: 'tpu'"),
        ({"runs": [{"model": "zoo:nope", "task": "digits"}]}, SpecError, "runs[0]: model 'zoo:nope': unknown zoo model"),
        ({"runs": [{"model": "zoo:digits-linear", "task": "digits?colour=blue"}]}, ConfigError,
         "runs[0]: task 'digits?colour=blue'"),
        ({"defaults": {"limt": 3}, "runs": [{"model": "zoo:digits-linear", "task": "digits"}]}, ConfigError,
         "defaults: unknown key 'limt'"),
        ({"generalisation": [{"models": ["zoo:digits-cnn"], "in_distribution": "digits",
                              "shifted": "segmentation:shapes"}]}, ConfigError,
         "generalisation[0].shifted: segmentation:shapes is a segmentation task"),
        ({"generalisation": [{"models": ["zoo:digits-cnn"], "in_distribution": "digits",
                              "shifted": "classification:opencv-digits", "metric": "miou"}]}, ConfigError,
         "generalisation[0].metric: 'miou' is not a classification metric"),
        ({"generalisation": [{"models": ["zoo:digits-cnn"], "in_distribution": "digits"}]}, ConfigError,
         "generalisation[0].shifted: must be a task spec"),
    ],
)  # fmt: skip
def test_bad_suite_files_name_file_entry_and_key(
    tmp_path: Path, data: object, error: type, fragment: str
) -> None:
    path = write(tmp_path, data)
    with pytest.raises(error) as caught:
        load_suite(path)
    message = str(caught.value)
    assert str(path) in message and fragment in message, message


def test_missing_suite_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_suite(tmp_path / "absent.yaml")


@pytest.mark.parametrize("text", ["2/2", "-1/3", "1", "a/b", "0/0", "1/2/3"])
def test_bad_shards(text: str) -> None:
    with pytest.raises(ConfigError, match="must be i/N with 0 <= i < N"):
        parse_shard(text)


def _random_suite(rng: random.Random) -> dict:
    models = ["zoo:digits-linear", "zoo:digits-mlp", "zoo:digits-cnn"]
    tasks = ["digits", "digits?split=train", "digits?split=all", "classification:opencv-digits"]
    runs = []
    for _ in range(rng.randint(1, 6)):
        entry = {
            "models": rng.sample(models, rng.randint(1, 3)),
            "tasks": rng.sample(tasks[:3], rng.randint(1, 3)),
        }
        if rng.random() < 0.4:
            entry["limit"] = rng.choice([10, 20])
        runs.append(entry)
    pairings = [
        {"models": rng.sample(models, rng.randint(1, 3)), "in_distribution": rng.choice(tasks[:3]),
         "shifted": [tasks[3]], "limit": rng.choice([10, 20])}
        for _ in range(rng.randint(0, 2))
    ]  # fmt: skip
    return {"runs": runs, "generalisation": pairings} if pairings else {"runs": runs}


def test_shards_are_disjoint_cover_the_suite_and_keep_pairs_together(tmp_path: Path) -> None:
    seed = int(os.environ.get("VB_TEST_SEED", random.SystemRandom().randrange(2**32)))
    print(f"VB_TEST_SEED={seed}")
    rng = random.Random(seed)
    for trial in range(12):
        data = _random_suite(rng)
        try:
            suite = load_suite(write(tmp_path, data, f"s{trial}.yaml"))
        except ConfigError as exc:  # a random pairing whose shifted run is already another pairing's
            assert "already the shifted side" in str(exc)
            continue
        for count in (1, 2, 3, 5):
            slices = [shard(suite, i, count) for i in range(count)]
            keys = [run.key for part in slices for run in part]
            assert sorted(keys) == sorted(run.key for run in suite.runs), (seed, count)  # covered once each
            assert len(keys) == len(set(keys)), (seed, count)  # disjoint
            assert slices == [shard(suite, i, count) for i in range(count)]  # deterministic
            for part in slices:
                mine = {run.key for run in part}
                seen: set[str] = set()
                for run in part:
                    if run.pairing:  # the in-distribution run is in the same shard, and runs first
                        assert run.pairing.reference in mine and run.pairing.reference in seen, (seed, count)
                    seen.add(run.key)
