"""``visionbench demo``: the built-in suite file (``visionbench/suites/demo.yaml``), logged, then ranked in the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from visionbench.harness.report import print_leaderboard

if TYPE_CHECKING:
    from visionbench.harness.suite_file import Suite, SuiteRun


def demo_suite() -> Suite:
    """The built-in demo suite file, ``visionbench/suites/demo.yaml`` (loaded and checked)."""
    from visionbench.harness.suite_file import load_suite
    from visionbench.suites import DEMO_SUITE

    return load_suite(DEMO_SUITE)


def demo_plan() -> list[tuple[str, str]]:
    """(model spec, task spec) of the demo suite's ``runs:``, in order, leaving out runs whose data is absent.

    The generalisation pairings' shifted runs are not part of it: ``run_demo`` adds those of the
    models whose in-distribution run is in the plan.
    """
    return [(run.model, run.task) for run in _matrix(demo_suite()) if not _missing(run)]


def _matrix(suite: Suite) -> list[SuiteRun]:
    return [run for run in suite.runs if run.pairing is None and run.where.startswith("runs[")]


def _missing(run: SuiteRun) -> str:
    """The first required path of ``run`` that does not exist ("" when all do)."""
    return next((p for p in run.options.get("requires", []) if not Path(p).exists()), "")


def run_demo(args: argparse.Namespace) -> int:
    from visionbench.harness.suite_file import SuiteRun
    from visionbench.harness.suite_run import run_suite

    suite = demo_suite()
    by_pair = {(run.model, run.task): run for run in _matrix(suite)}
    plan = [by_pair.get(pair) or SuiteRun(pair[0], pair[1], {}, "demo_plan") for pair in demo_plan()]
    keys = {run.key for run in plan}
    runs = plan + [run for run in suite.runs if run.pairing is not None and run.pairing.reference in keys]
    if not args.quiet:
        for run in _matrix(suite):
            if _missing(run):
                hint = run.options.get("hint")
                print(f"skipped {run.label()}: {_missing(run)} not found" + (f" ({hint})" if hint else ""))
    outcomes = run_suite(runs, args, experiment=args.suite, quiet=args.quiet)
    done = [o for o in outcomes if o.record is not None]
    records = [o.record for o in done]
    directories = [o.directory for o in done]
    print_leaderboard(records)
    if not args.quiet:
        _rescore_check(directories)
        _print_gaps(records)
    runs_by_model: dict[str, Path] = {}
    for record, directory in zip(records, directories, strict=True):  # a model's first run: its own task
        runs_by_model.setdefault(record["model"]["spec"], directory)
    compare_and_gate(runs_by_model.get("zoo:digits-mlp"), runs_by_model.get("zoo:digits-cnn"))
    compare_and_gate(
        runs_by_model.get("zoo:shapes-captioner-tiny"), runs_by_model.get("zoo:shapes-captioner")
    )
    tracking = {r.get("tracking", {}).get("uri") for r in records} - {None}
    if tracking:
        print(f"logged to MLflow at {', '.join(sorted(tracking))}; records under {args.output}")
    return 0


def _print_gaps(records: list[dict]) -> None:
    """The generalisation pairings' gaps, one line each."""
    from visionbench.harness.suite_run import gap_line

    for record in records:
        if record.get("generalisation"):
            print(f"{record['model']['spec']}: {gap_line(record['generalisation'])}")


def _rescore_check(directories: list[Path]) -> None:
    """Recompute every run from its stored per-sample state (no model, no images) and say whether it agrees."""
    import time

    from visionbench.harness.record import RECORD_FILE, read_record
    from visionbench.harness.rescore import rescore

    start, differ = time.perf_counter(), []
    for directory in directories:
        _, _, result = rescore(directory)
        stored = read_record(directory / RECORD_FILE)["metrics"]
        if any(
            stored.get(k) != v and not (stored.get(k) is None and v != v) for k, v in result.metrics.items()
        ):
            differ.append(directory)
    verdict = "identical metrics and intervals" if not differ else f"{len(differ)} differ: {differ}"
    print(
        f"rescored {len(directories)} runs from their stored state in {time.perf_counter() - start:.1f} s: {verdict}"
    )


def compare_and_gate(baseline: Path | None, candidate: Path | None) -> None:
    """The paired comparison of two zoo models on one task, then a gate of one against the other."""
    if baseline is None or candidate is None:
        return
    from visionbench.harness.compare import compare_runs, comparison_lines, load
    from visionbench.harness.gate import gate_runs
    from visionbench.harness.gate_report import gate_lines

    a, b = load(baseline), load(candidate)
    print()
    print(f"$ visionbench compare {baseline} {candidate}")
    print("\n".join(comparison_lines(compare_runs(a, b))))
    print()
    print(
        f"$ visionbench gate --baseline {baseline} --candidate {candidate}   # default rules: {a.task.headline[0]}, margin 0.01"
    )
    print("\n".join(gate_lines(gate_runs(a, b))))
