"""Rescoring the demo suite from its stored state against rerunning it: the goal is at least 20x faster.

Both sides compute the same metrics and the same 1,000-resample intervals; the rerun also decodes
the images and runs the models. Each rescore is checked against its record's own headline metric
and interval (``declarations.headline_key`` of the record's task kind). ``VB_BENCH_ONLY`` keeps the
pairs whose "model | task" holds that text. Results go to ``results/bench/rescore.json`` with the
load average.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results" / "bench" / "rescore.json"
GOAL_RATIO = 20.0


def test_rescore_demo_suite_vs_rerun(benchmark, tmp_path: Path) -> None:
    from visionbench.declarations import headline_key
    from visionbench.harness.demo import demo_plan
    from visionbench.harness.rescore import rescore
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec
    from visionbench.zoo.catalog import weights_path

    # zoo models whose weights are not built yet are left out
    plan = [(m, t) for m, t in demo_plan() if weights_path(m.removeprefix("zoo:")).is_file()]
    only = os.environ.get("VB_BENCH_ONLY", "")  # a substring of "model | task": fewer pairs while developing
    plan = [(m, t) for m, t in plan if only in f"{m} | {t}"]
    specs = [RunSpec(parse_model_spec(m), parse_task_spec(t), "cpu") for m, t in plan]
    # warm-up: imports and one-off caches are paid by neither side
    execute(specs[0], output=tmp_path / "warm", track=False, quiet=True, bootstrap_reps=10)
    load_start = os.getloadavg()
    run_seconds, directories = {}, []
    for spec, (model, task) in zip(specs, plan, strict=True):
        start = time.perf_counter()
        outcome = execute(spec, output=tmp_path / "runs", track=False, quiet=True)
        run_seconds[f"{model} | {task}"] = time.perf_counter() - start
        directories.append(outcome.directory)
    rescore_seconds: dict[str, float] = {}

    def rescore_all() -> None:
        for directory, (model, task) in zip(directories, plan, strict=True):
            start = time.perf_counter()
            record, _, result = rescore(directory)
            rescore_seconds[f"{model} | {task}"] = time.perf_counter() - start
            key = headline_key(record["task"]["kind"])  # each record's own headline metric
            for name in (key, f"{key}_ci_low", f"{key}_ci_high"):
                old, new = record["metrics"].get(name), result.metrics.get(name)
                same = old == new or (old is None and (new is None or new != new))
                assert same, f"{model} on {task}: rescored {name} {new} != recorded {old}"

    benchmark.pedantic(rescore_all, rounds=1, iterations=1)
    total_run, total_rescore = sum(run_seconds.values()), sum(rescore_seconds.values())
    ratio = total_run / total_rescore
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "demo suite: rescore from stored state vs rerun (in-process, 1,000 bootstrap resamples)",
                "goal_ratio": GOAL_RATIO,
                "ratio": ratio,
                "rerun_seconds": total_run,
                "rescore_seconds": total_rescore,
                "per_run": {k: {"rerun": run_seconds[k], "rescore": rescore_seconds[k]} for k in run_seconds},
                "pairs": len(plan),
                "cpu": platform.processor() or platform.machine(),
                "cores": len(os.sched_getaffinity(0)),
                "load_average_start": load_start,
                "load_average_end": os.getloadavg(),
                "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            },
            indent=2,
        )
        + "\n"
    )
    assert ratio >= GOAL_RATIO, f"rescore is only {ratio:.1f}x faster than a rerun"
