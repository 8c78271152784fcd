"""``visionbench demo``: the built-in zoo on the built-in tasks, logged, then ranked in the terminal."""

from __future__ import annotations

import argparse
from pathlib import Path

from visionbench.harness.report import print_leaderboard


def demo_plan() -> list[tuple[str, str]]:
    """(model spec, task spec) pairs for every zoo model on the task it was built for."""
    from visionbench.harness.specs import TASK_ALIASES
    from visionbench.zoo.catalog import ZOO

    plan = []
    for name, entry in ZOO.items():
        task = TASK_ALIASES.get(entry.dataset, entry.dataset)
        if entry.dataset == "fashion-mnist" and not _fashion_available():
            continue
        if entry.kind == "captioning":
            # 50 scenes: beam search runs image by image; METEOR's JVM takes seconds to start (twice,
            # with the rescore check), so the demo leaves it out
            task += "?n=50&meteor=off"
        plan.append((f"zoo:{name}", task))
    plan += [(model, DEMO_ROBUSTNESS) for model in ("zoo:digits-linear", "zoo:digits-cnn")]
    return plan


# Two zoo digits models under attack (FGSM and PGD at two radii, with the honesty checks) and a small
# corruption grid with digits-linear as the mCE baseline: a few seconds each on a CPU.
DEMO_ROBUSTNESS = (
    "robustness:digits?attacks=fgsm,pgd&eps=8/255,0.1&n=64"
    "&corruptions=gaussian_noise,contrast&severities=1,3,5&baseline=zoo:digits-linear"
)


def _fashion_available() -> bool:
    from visionbench.tasks.data.idx import DEFAULT_FASHION_MNIST_DIR

    return Path(DEFAULT_FASHION_MNIST_DIR).is_dir()


def run_demo(args: argparse.Namespace) -> int:
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    records, directories = [], []
    plan = demo_plan()
    for number, (model, task) in enumerate(plan, start=1):
        spec = RunSpec(
            parse_model_spec(model),
            parse_task_spec(task),
            args.device,
            args.precision,
            args.batch_size,
            args.limit,
            channels_last=args.channels_last,
            compile=args.compile,
        )
        if not args.quiet:
            print(f"[{number}/{len(plan)}] {model} on {task}", flush=True)
        outcome = execute(
            spec,
            output=Path(args.output),
            suite=args.suite,
            tracking_uri=args.tracking_uri,
            track=not args.no_track,
            quiet=args.quiet,
            bootstrap_reps=args.bootstrap,
            workers=args.workers,
            on_bad_sample=args.on_bad_sample,
            use_store=not args.no_cache,
        )
        records.append(outcome.record)
        directories.append(outcome.directory)
    print_leaderboard(records)
    if not args.quiet:
        _rescore_check(directories)
    runs: dict[str, Path] = {}
    for record, directory in zip(records, directories, strict=True):  # a model's first run: its own task
        runs.setdefault(record["model"]["spec"], directory)
    compare_and_gate(runs.get("zoo:digits-mlp"), runs.get("zoo:digits-cnn"))
    compare_and_gate(runs.get("zoo:shapes-captioner-tiny"), runs.get("zoo:shapes-captioner"))
    tracking = {r.get("tracking", {}).get("uri") for r in records} - {None}
    if tracking:
        print(f"logged to MLflow at {', '.join(sorted(tracking))}; records under {args.output}")
    return 0


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
