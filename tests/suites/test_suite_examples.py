"""The Slurm job array and Kubernetes indexed Job examples run a valid ``visionbench suite run --shard`` command.

Each example is executed by the shell with its scheduler's index variable set and ``visionbench``
replaced on the PATH by a recorder; the recorded command line is then parsed by the real command
line with ``--dry-run`` added, which checks every option and lists the runs of that shard.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SBATCH = ROOT / "examples" / "slurm" / "suite.sbatch"
K8S_JOB = ROOT / "examples" / "k8s" / "suite-job.yaml"

RECORDER = """#!{python}
import json, sys
with open({out!r}, "w") as handle:
    json.dump(sys.argv[1:], handle)
"""


def recorder(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose ``visionbench`` writes its arguments to a JSON file (returned)."""
    bin_dir, out = tmp_path / "bin", tmp_path / "argv.json"
    bin_dir.mkdir()
    shim = bin_dir / "visionbench"
    shim.write_text(RECORDER.format(python=sys.executable, out=str(out)))
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "MLFLOW_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env, out


def dry_run(cli, argv: list[str]) -> dict:
    from visionbench.harness.suite_file import load_suite, parse_shard, shard

    assert argv[:2] == ["suite", "run"]
    code, out, err = cli(*argv, "--dry-run", "--json")
    assert code == 0, err
    listed = json.loads(out)
    suite_file = argv[2]
    index, count = parse_shard(argv[argv.index("--shard") + 1])
    expected = [(r.model, r.task) for r in shard(load_suite(suite_file), index, count)]
    assert [(r["model"], r["task"]) for r in listed["runs"]] == expected and expected
    return listed


def test_slurm_array_script(tmp_path: Path, cli, monkeypatch) -> None:
    check = subprocess.run(["bash", "-n", str(SBATCH)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    text = SBATCH.read_text()
    first, last = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)", text, re.M).groups())
    assert first == 0
    env, out = recorder(tmp_path)
    env.update(
        SLURM_ARRAY_TASK_ID="1",
        SLURM_ARRAY_TASK_COUNT=str(last + 1),
        MLFLOW_TRACKING_URI="http://mlflow:5000",
    )
    done = subprocess.run(
        ["bash", str(SBATCH)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    argv = json.loads(out.read_text())
    assert argv[argv.index("--shard") + 1] == f"1/{last + 1}"
    monkeypatch.chdir(ROOT)
    assert dry_run(cli, argv)["shard"] == f"1/{last + 1}"
    # outside a job array (or without a tracking server) it stops with a message, before running anything
    env.pop("SLURM_ARRAY_TASK_ID")
    out.unlink()
    done = subprocess.run(
        ["bash", str(SBATCH)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "run under sbatch --array=0-(N-1)" in done.stderr and not out.exists()


def test_kubernetes_indexed_job(tmp_path: Path, cli) -> None:
    documents = list(yaml.safe_load_all(K8S_JOB.read_text()))
    job = next(d for d in documents if d["kind"] == "Job")
    config = next(d for d in documents if d["kind"] == "ConfigMap")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed" and spec["completions"] == spec["parallelism"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    container = pod["containers"][0]
    assert container["command"] == ["/bin/sh", "-c"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["suite"]["configMap"]["name"] == config["metadata"]["name"]
    # the mounted suite file, where the pod would see it
    suite_file = tmp_path / mounts["suite"].strip("/") / "suite.yaml"
    suite_file.parent.mkdir(parents=True)
    suite_file.write_text(config["data"]["suite.yaml"])
    script = container["args"][0].replace(mounts["suite"] + "/", str(suite_file.parent) + "/")
    env, out = recorder(tmp_path)
    last = spec["completions"] - 1
    env["JOB_COMPLETION_INDEX"] = str(last)
    done = subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    argv = json.loads(out.read_text())
    assert argv[argv.index("--shard") + 1] == f"{last}/{spec['completions']}"  # N equals completions
    assert dry_run(cli, argv)["suite"] == "generalisation"
