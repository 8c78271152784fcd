"""Trust checks: catch a broken adapter or pipeline before its numbers reach the leaderboard.

:class:`RunChecks` is what ``visionbench run`` (unless ``--no-checks``) and ``visionbench check``
drive: :meth:`RunChecks.probe` before the evaluation pass (a few samples through the adapter:
:mod:`~visionbench.checks.probe`; the preprocessing against its golden file:
:mod:`~visionbench.checks.parity`; label space and metadata: :mod:`~visionbench.checks.static`)
and :meth:`RunChecks.finish` after ``compute()`` (chance level and permuted labels:
:mod:`~visionbench.checks.outcome`), which returns the record's ``checks`` section. Findings are
advice: a run with findings still completes and is recorded, with the findings beside its numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from visionbench.checks.findings import SEVERITIES, CheckReport, Finding, lines, worst

__all__ = [
    "SEVERITIES",
    "CheckReport",
    "Finding",
    "RunChecks",
    "finish_checks",
    "lines",
    "start_checks",
    "worst",
]


class RunChecks:
    """The checks of one run: ``probe()`` before the evaluation pass, ``finish(result)`` after compute."""

    def __init__(
        self,
        adapter: Any,
        task: Any,
        *,
        device: str,
        precision: str,
        seed: int = 0,
        golden_dir: Path | None = None,
        samples: int | None = None,
    ) -> None:
        self.adapter, self.task = adapter, task
        self.device, self.precision, self.seed = device, precision, seed
        self.golden_dir, self.samples = golden_dir, samples
        self.report = CheckReport()
        self.probed = False

    def probe(self) -> CheckReport:
        """Image dependence, output schema, batch invariance, preprocessing parity, label space, metadata."""
        from visionbench.checks.parity import check_parity
        from visionbench.checks.probe import run_probe
        from visionbench.checks.static import check_label_space, check_metadata

        start = time.perf_counter()
        kind = getattr(self.task, "adapter_kind", self.task.kind)
        steps = (
            ("probe", lambda: run_probe(
                self.adapter, self.task, self.report, device=self.device, precision=self.precision,
                seed=self.seed, samples=self.samples,
            )),
            ("preprocessing_parity", lambda: check_parity(self.adapter, kind, self.report, self.golden_dir)),
            ("label_space", lambda: check_label_space(self.adapter, self.task, self.report)),
            ("model_metadata", lambda: check_metadata(self.adapter, self.report)),
        )  # fmt: skip
        try:
            for name, step in steps:
                _guarded(self.report, name, step)
        finally:
            self.probed = True
            self.report.seconds += time.perf_counter() - start
        return self.report

    def finish(self, result: Any) -> dict[str, Any]:
        """Chance level and label permutation from the computed result; the record's ``checks`` section."""
        from visionbench.checks.outcome import check_outcome

        if not self.probed:
            self.probe()
        start = time.perf_counter()
        try:
            _guarded(self.report, "chance_level", lambda: check_outcome(self.task, result, self.report))
        finally:
            self.report.seconds += time.perf_counter() - start
        return self.report.section()


def start_checks(
    enabled: bool, adapter: Any, task: Any, *, compiled: bool, **options: Any
) -> RunChecks | None:
    """The checks of a run, probed at once (``None`` when off). A compiled model compiles on its first
    call, which the evaluation pass measures, so its probe waits for :meth:`RunChecks.finish`."""
    if not enabled:
        return None
    checker = RunChecks(adapter, task, **options)
    if not compiled:
        checker.probe()
    return checker


def finish_checks(checker: RunChecks | None, result: Any) -> dict[str, Any] | None:
    """The record's ``checks`` section, with ``findings.json`` added to the result's artifacts."""
    if checker is None:
        return None
    section = checker.finish(result)
    result.artifacts["findings.json"] = findings_artifact(section)
    return section


def _guarded(report: CheckReport, name: str, step: Any) -> None:
    """Run one check; a model or data error it meets is reported by the run itself, so the check is
    recorded as skipped with the reason instead of stopping the run (the run's own pass raises it)."""
    from visionbench.errors import VisionbenchError

    try:
        step()
    except VisionbenchError as exc:
        report.skipped[name] = f"{type(exc).__name__}: {exc}"


def findings_artifact(section: dict[str, Any]) -> Any:
    """A writer of ``findings.json`` (the run's ``checks`` section) for the task's artifacts."""
    import json

    def write(path: Path) -> None:
        Path(path).write_text(json.dumps(section, indent=2) + "\n")

    return write
