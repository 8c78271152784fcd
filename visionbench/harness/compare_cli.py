"""The ``compare``, ``gate`` and ``score --output`` handlers of the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _emit_json(obj: Any) -> None:
    from visionbench.harness.record import clean

    sys.stdout.write(json.dumps(clean(obj), sort_keys=False) + "\n")


def compare_command(args: argparse.Namespace) -> int:
    from visionbench.harness.compare import compare_runs, comparison_lines, comparison_markdown, load

    output = Path(args.output)
    a, b = load(args.run_a, output=output), load(args.run_b, output=output)
    report = compare_runs(a, b, resamples=args.bootstrap, seed=args.seed)
    if args.json:
        _emit_json(report)
    elif args.markdown:
        sys.stdout.write(comparison_markdown(report))
    else:
        print("\n".join(comparison_lines(report)))
    return 0


def gate_command(args: argparse.Namespace) -> int:
    """Exit 0 pass, 1 fail, 2 inconclusive; the last stdout line (or ``verdict`` in ``--json``) says which."""
    from visionbench.harness.compare import load
    from visionbench.harness.gate import gate_runs, read_rules
    from visionbench.harness.gate_report import gate_junit, gate_lines, gate_markdown
    from visionbench.harness.store import atomic_write_text

    rules = read_rules(args.rules)
    output = Path(args.output)
    baseline, candidate = load(args.baseline, output=output), load(args.candidate, output=output)
    report = gate_runs(baseline, candidate, rules, resamples=args.bootstrap, seed=args.seed)
    if args.markdown:
        atomic_write_text(Path(args.markdown), gate_markdown(report))
    if args.junit:
        atomic_write_text(Path(args.junit), gate_junit(report))
    if args.json:
        _emit_json(report)
    else:
        print("\n".join(gate_lines(report)))
    return int(report["exit_code"])


def plan_gate_command(args: argparse.Namespace) -> int:
    from visionbench.harness.compare import load
    from visionbench.harness.plan_gate import plan, plan_lines
    from visionbench.harness.record import clean
    from visionbench.harness.store import atomic_write_text

    report = plan(
        load(args.run_dir),
        drop=args.drop,
        margin=args.margin,
        alpha=args.alpha,
        power=args.power,
        metric=args.metric,
        seed=args.seed,
    )
    if args.write and report.get("samples"):
        from visionbench.errors import VisionbenchError
        from visionbench.registry import dataset_factory

        try:  # a run scored from prediction files has no dataset that run could load
            dataset_factory(report["base"]["kind"], report["base"]["source"])
            report["task_spec"] = f"{report['base']['kind']}:subset:{args.write}"
            report["command"] = f"visionbench run --task '{report['task_spec']}' --model MODEL"
        except VisionbenchError:
            report["note"] = "the run was scored from files: score the listed samples' predictions instead"
    if args.write:
        atomic_write_text(Path(args.write), json.dumps(clean(report), indent=2) + "\n")
    if args.json:
        _emit_json(report)
    else:
        print("\n".join(plan_lines(report)))
    return 0


def write_score_run(args: argparse.Namespace) -> str | None:
    """The run folder of ``visionbench score``'s files (its record.json path), or None without boxes."""
    from visionbench.harness import scoring_runs

    gt, pred = Path(args.gt), Path(args.pred)
    intervals = None
    if args.kind == "classification":
        built = scoring_runs.classification_task(gt, pred)
    elif args.kind == "detection":
        # drawn in a thread from score's evaluation while the state rows are built and stored
        intervals = scoring_runs.detection_intervals(gt, pred, reps=scoring_runs.BOOTSTRAP_REPS, seed=0)
        built = scoring_runs.detection_task(gt, pred)
    else:
        built = scoring_runs.segmentation_task(
            gt,
            pred,
            num_classes=args.num_classes,
            ignore_index=args.ignore_index,
            class_names=args.class_names,
        )
    if built is None:
        return None
    task, spec = built
    directory = scoring_runs.publish_score_run(task, spec, pred, Path(args.output), intervals=intervals)
    return str(directory / "record.json")
