"""Run many ``visionbench`` commands as forked children of one warmed-up interpreter.

A fresh ``python -m visionbench run`` spends most of its time importing torch, scikit-learn and
MLflow; a crash-consistency test needs many such processes. This script imports everything once,
warms the lazy imports with an untracked run into a scratch folder (no MLflow store is opened before
forking; torch on one thread, so no thread pool is forked), then forks one child per job; a child sets ``VB_TEST_KILL_AT`` if its job names a kill point
and calls the real CLI entry point. The jobs of one phase run at the same time; phases run in order.

Usage: ``python vbtest_fork_runs.py JOBS.json`` where the file holds
``{"scratch": DIR, "phases": [[{"argv": [...], "kill_at": "after_create_run" | null}, ...], ...]}``.
Prints one JSON line: per job, ``{"kill_at", "exit", "signal"}`` in job order.
"""

from __future__ import annotations

import json
import os
import sys


def main(path: str) -> None:
    with open(path) as handle:
        spec = json.load(handle)
    import mlflow.tracking  # noqa: F401 - imported before forking, opened only in the children
    import torch

    torch.set_num_threads(1)  # no intra-op thread pool whose locks a forked child would inherit held
    from visionbench.harness.cli import main as cli_main

    warm = ["run", "--model", "zoo:digits-linear", "--task", "digits", "--limit", "20", "--bootstrap", "5"]
    cli_main([*warm, "--output", spec["scratch"], "--no-track", "--quiet"])
    sys.stdout.flush()
    outcomes = []
    for phase in spec["phases"]:
        children = []
        for job in phase:
            pid = os.fork()
            if pid == 0:  # child: run the job, never return into this loop
                code = 1
                try:
                    if job.get("kill_at"):
                        os.environ["VB_TEST_KILL_AT"] = job["kill_at"]
                    code = cli_main(job["argv"])
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            children.append((pid, job))
        for pid, job in children:
            _, status = os.waitpid(pid, 0)
            outcomes.append(
                {
                    "kill_at": job.get("kill_at"),
                    "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                    "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                }
            )
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main(sys.argv[1])
