"""A rerun served wholly by the prediction store reuses the earlier run's measured efficiency figures.

The reused figures are marked (``measurement.reused_from`` names the run that timed them); a
different hardware fingerprint or ``remeasure=True`` times the model again, and a run that had to
predict anything always measures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionbench.harness import efficiency


def _spec(limit: int | None = None, batch_size: int = 64):
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    model, task = parse_model_spec("zoo:digits-linear"), parse_task_spec("classification:digits")
    return RunSpec(model, task, "cpu", batch_size=batch_size, limit=limit)


@pytest.fixture
def timed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the timing step (``RunMeasurement.finish``)."""
    calls: list[int] = []
    original = efficiency.RunMeasurement.finish

    def finish(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(efficiency.RunMeasurement, "finish", finish)
    return calls


def _run(output: Path, **options):
    from visionbench.harness.runner import execute

    outcome = execute(
        _spec(options.pop("limit", None), options.pop("batch_size", 64)),
        output=output,
        track=False,
        quiet=True,
        bootstrap_reps=20,
        **options,
    )
    return outcome.record, outcome.directory


def test_store_served_rerun_reuses_measurement(tmp_path: Path, timed: list[int]) -> None:
    output = tmp_path / "runs"
    first, first_dir = _run(output)
    assert len(timed) == 1 and first["state"]["inferred"] > 0
    assert "reused_from" not in first["measurement"]

    second, second_dir = _run(output)
    assert len(timed) == 1, "the rerun ran the timing protocol although nothing was inferred"
    assert second["state"]["inferred"] == 0 and second["state"]["reused"] == first["state"]["num_samples"]
    reused = second["measurement"]["reused_from"]
    assert reused["run"] == str(first_dir.relative_to(output))
    assert reused["run_fingerprint"] == first["run_fingerprint"]
    stored_first = json.loads((first_dir / "record.json").read_text())
    assert second["efficiency"] == stored_first["efficiency"]  # NaN is None in both (cleaned records)
    assert second["efficiency"]["throughput_ips"] == first["efficiency"]["throughput_ips"] > 0
    assert {k: v for k, v in second["measurement"].items() if k != "reused_from"} == stored_first[
        "measurement"
    ]
    assert second["metrics"] == first["metrics"]
    # the record on disk says so too
    on_disk = json.loads((second_dir / "record.json").read_text())
    assert on_disk["measurement"]["reused_from"]["run"] == reused["run"]

    # a third rerun still points at the run that really measured
    third, _ = _run(output)
    assert len(timed) == 1 and third["measurement"]["reused_from"] == reused

    # asked to, it measures again
    fresh, _ = _run(output, remeasure=True)
    assert len(timed) == 2 and "reused_from" not in fresh["measurement"]


def test_other_hardware_or_new_predictions_remeasure(tmp_path: Path, timed: list[int]) -> None:
    output = tmp_path / "runs"
    first, first_dir = _run(output)
    # the earlier record says it was measured on another machine (a results folder copied over)
    path = first_dir / "record.json"
    record = json.loads(path.read_text())
    record["environment"]["hardware_fingerprint"]["cpu_model"] = "another CPU"
    path.write_text(json.dumps(record))
    second, second_dir = _run(output)
    assert len(timed) == 2 and "reused_from" not in second["measurement"]
    assert second["state"]["inferred"] == 0  # served by the store, yet timed: the hardware differs

    # the rerun measured on this machine, so the next one reuses that run, not the copied one
    third, _ = _run(output)
    assert len(timed) == 2 and third["measurement"]["reused_from"]["run"] == str(
        second_dir.relative_to(output)
    )

    # another batch size predicts the same (batch size is no part of the identity): served by the
    # store, but measured under other conditions, so timed again
    batch, _ = _run(output, batch_size=32)
    assert len(timed) == 3 and batch["state"]["inferred"] == 0 and "reused_from" not in batch["measurement"]

    # a different sample subset is another prediction identity: it predicts, so it measures
    limited, _ = _run(output, limit=100)
    assert (
        len(timed) == 4
        and limited["state"]["inferred"] == 100
        and "reused_from" not in limited["measurement"]
    )


def test_command_line_remeasure(tmp_path: Path, cli) -> None:
    argv = ["run", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "120", "--bootstrap", "20"]
    argv += ["--device", "cpu", "--no-track", "--json", "--output", str(tmp_path / "runs")]

    def record(*extra: str) -> dict:
        code, out, err = cli(*argv, *extra)
        assert code == 0, err
        return json.loads(Path(json.loads(out)["record"]).read_text())  # one run: one JSON object

    first = record()
    assert "reused_from" not in first["measurement"]
    again = record()
    assert (
        again["state"]["inferred"] == 0
        and again["measurement"]["reused_from"]["run_fingerprint"] == first["run_fingerprint"]
    )
    timed = record("--remeasure")
    assert timed["state"]["inferred"] == 0 and "reused_from" not in timed["measurement"]
    assert timed["measurement"]["throughput"]["source"] != "none"
