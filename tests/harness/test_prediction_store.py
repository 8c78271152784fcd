"""The prediction store: reruns reuse stored predictions, a killed run resumes, ``--no-cache`` recomputes.

The model is a ``callable:`` whose forward appends one line per image to a log file: the process
id and a digest of the image's pixels. The tests read which samples the model was shown, in each
process; the timing pass after the evaluation shows the model one batch again, so "not predicted"
means "not among the images shown, apart from at most that one batch".
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

MODULE = """
import hashlib
import os

import torch


class Counting(torch.nn.Module):
    def __init__(self, log):
        super().__init__()
        torch.manual_seed(0)
        self.log = log
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))

    def forward(self, x):
        with open(self.log, "a") as handle:
            for image in x.detach().to("cpu").contiguous():
                handle.write(f"{os.getpid()} {hashlib.sha1(image.numpy().tobytes()).hexdigest()[:12]}\\n")
        return self.net(x)


def build(log):
    return Counting(log)
"""
LIMIT = 160
BATCH = 16


def _lines(log: Path) -> list[tuple[str, str]]:
    """``(pid, image digest)`` per image shown to the model, in order."""
    if not log.is_file():
        return []
    return [tuple(line.split()) for line in log.read_text().split("\n") if line]  # type: ignore[misc]


def _order(log: Path) -> dict[str, int]:
    """Image digest -> sample index, from a run that predicted every sample in order (first sightings)."""
    order: dict[str, int] = {}
    for _, image in _lines(log):
        order.setdefault(image, len(order))
    assert len(order) == LIMIT, "the digits images are not distinct"
    return order


def _argv(module_dir: Path, log: Path, output: Path, *extra: str) -> list[str]:
    from visionbench.zoo.catalog import DIGITS_PREPROCESS

    return [
        "run", "--model", "callable:vb_counting_model:build",
        "--model-arg", f"preprocess={json.dumps(DIGITS_PREPROCESS)}", "--model-arg", f"log={json.dumps(str(log))}",
        "--task", "digits", "--limit", str(LIMIT), "--batch-size", str(BATCH), "--bootstrap", "50",
        "--json", "--no-track", "--device", "cpu", "--output", str(output), *extra,
        "--no-checks",  # the checks' probe shows the model images of its own; this counts the run's
    ]  # fmt: skip


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "vb_counting_model.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def test_rerun_reuses_store_and_no_cache_recomputes(workdir: Path, cli, model_dir: Path) -> None:
    log, output = workdir / "calls.log", workdir / "runs"
    code, out, err = cli(*_argv(model_dir, log, output))
    assert code == 0, err
    first = json.loads(out)
    order = _order(log)
    record = json.loads(Path(first["record"]).read_text())
    assert (record["state"]["reused"], record["state"]["inferred"]) == (0, LIMIT)

    seen = len(_lines(log))
    code, out, err = cli(*_argv(model_dir, log, output))
    assert code == 0, err
    second = json.loads(out)
    shown = {order[image] for _, image in _lines(log)[seen:]}
    assert len(shown) <= BATCH, f"an unchanged rerun showed the model {len(shown)} samples"
    record = json.loads(Path(second["record"]).read_text())
    assert (record["state"]["reused"], record["state"]["inferred"]) == (LIMIT, 0)
    assert second["metrics"] == first["metrics"]
    assert second["record"] != first["record"]  # a new run folder all the same

    seen = len(_lines(log))
    code, out, err = cli(*_argv(model_dir, log, output, "--no-cache"))
    assert code == 0, err
    assert {order[image] for _, image in _lines(log)[seen:]} == set(range(LIMIT)), (
        "--no-cache skipped samples"
    )
    third = json.loads(out)
    assert third["metrics"] == first["metrics"]
    record = json.loads(Path(third["record"]).read_text())
    assert (record["state"]["reused"], record["state"]["inferred"]) == (0, LIMIT)


def test_metric_change_rescores_from_store(
    workdir: Path, cli, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from visionbench.tasks.classification import ClassificationTask

    log, output = workdir / "calls.log", workdir / "runs"
    code, out, err = cli(*_argv(model_dir, log, output))
    assert code == 0, err
    before = json.loads(Path(json.loads(out)["record"]).read_text())
    monkeypatch.setattr(ClassificationTask, "metric_version", before["task"]["metric_version"] + "-changed")
    code, out, err = cli(*_argv(model_dir, log, output))
    assert code == 0, err
    after = json.loads(Path(json.loads(out)["record"]).read_text())
    assert after["state"]["inferred"] == 0, "a metric-code change ran the model again"
    assert after["state"]["identity"] == before["state"]["identity"]
    assert after["run_fingerprint"] != before["run_fingerprint"]
    assert after["metrics"] == before["metrics"]


def _subprocess(argv: list[str], model_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(model_dir), *sys.path]), **env}
    return subprocess.run(
        [sys.executable, "-m", "visionbench.harness.cli", *argv],
        capture_output=True, text=True, env=environ, check=False,
    )  # fmt: skip


def _stored_indices(output: Path) -> set[int]:
    """The sample indices in the state chunks on disk (read with pyarrow, not through the harness)."""
    import pyarrow.parquet as pq

    out: set[int] = set()
    for chunk in output.glob("state/*/chunk-*.parquet"):
        out.update(pq.read_table(chunk, columns=["index"]).column("index").to_pylist())
    return out


@pytest.mark.parametrize("kill_at", ["after_chunk_write@2", "after_state_write"])
def test_killed_run_resumes_without_recomputing(
    workdir: Path, cli, model_dir: Path, monkeypatch: pytest.MonkeyPatch, kill_at: str
) -> None:
    log, output = workdir / "calls.log", workdir / "runs"
    monkeypatch.setenv("VB_STATE_CHUNK_ROWS", "32")
    killed = _subprocess(_argv(model_dir, log, output), model_dir, VB_TEST_KILL_AT=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not list(output.glob("classification-digits/*/*/record.json")), "a killed run published a folder"
    stored = _stored_indices(output)
    assert stored and (len(stored) < LIMIT) == (kill_at != "after_state_write")
    before = len(_lines(log))
    code, out, err = cli(*_argv(model_dir, log, output))  # the resumed run, in this process
    assert code == 0, err
    resumed = json.loads(out)

    code, out, err = cli(*_argv(model_dir, workdir / "whole.log", workdir / "fresh"))
    assert code == 0, err
    order = _order(workdir / "whole.log")
    shown = {order[image] for _, image in _lines(log)[before:]}
    left = set(range(LIMIT)) - stored
    if left:  # the evaluation showed the rest; the timing pass only repeats its first batch
        assert shown == left, f"the resumed run predicted {sorted(shown & stored)[:10]}... again"
    else:
        assert len(shown) <= BATCH, "a run with every sample stored predicted again"
    record = json.loads(Path(resumed["record"]).read_text())
    assert (record["state"]["reused"], record["state"]["inferred"]) == (len(stored), len(left))
    fresh = json.loads(Path(json.loads(out)["record"]).read_text())
    assert record["metrics"] == fresh["metrics"]
    assert record["per_class"] == fresh["per_class"]
