"""`torchrun --nproc-per-node 2 -m visionbench run` on CPU (gloo) equals the single-process run, for every
task kind the runner shards (robustness included: attacks, honesty checks and corruptions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

LIMIT = 301  # odd: the two ranks get 151 and 150 samples, no padding
ROBUST = (
    "robustness:digits?attacks=fgsm,pgd&eps=24/255&n=41&chunk=8&corruptions=gaussian_noise&severities=1,3"
)
CASES = {  # model, task, extra options, samples
    "classification": ("zoo:digits-cnn", "digits", ["--limit", str(LIMIT)], LIMIT),
    "detection": ("zoo:shapes-centernet-tiny", "detection:shapes?n=31", [], 31),
    "segmentation": ("zoo:shapes-fcn", "segmentation:shapes?n=31", [], 31),
    # attacks (PGD's random starts too), their honesty checks and corruptions; ranks take whole chunks
    "robustness": ("zoo:digits-cnn", ROBUST, [], 41),
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], cwd: Path, *, ranks: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_TRACKING_URI": f"sqlite:///{cwd / 'mlflow.db'}"}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(ranks)]
    launcher += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    prefix = launcher if ranks > 1 else [sys.executable]
    cmd = [*prefix, "-m", "visionbench", "run", *args, "--json", "--bootstrap", "200", "--device", "cpu"]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, f"expected one JSON document from rank 0, got: {done.stdout[-2000:]}"
    return json.loads(lines[0])


def _state(root: Path, out: dict) -> pa.Table:
    """The run's stored state, every chunk, ordered by sample index."""
    record = json.loads((root / out["record"]).read_text())
    store = ((root / out["record"]).parent / record["state"]["path"]).resolve()
    table = pa.concat_tables(pq.read_table(chunk) for chunk in sorted(store.glob("chunk-*.parquet")))
    return table.sort_by("index")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(CASES))
def test_two_rank_run_equals_single_process(kind: str, tmp_path: Path) -> None:
    model, task, extra, samples = CASES[kind]
    args = ["--model", model, "--task", task, *extra]
    single = _run([*args, "--output", "single", "--no-track"], tmp_path, ranks=1)
    multi = _run([*args, "--output", "multi"], tmp_path, ranks=2)
    assert multi["metrics"] == single["metrics"]
    # and sample by sample: the stored state rows (scores, confusion counts, attack outcomes). The
    # detector's box scores move in the last bits with the batch's composition (its convolutions
    # take other kernels), so its rows are left to the metrics' equality above.
    if kind != "detection":
        assert _state(tmp_path, multi).equals(_state(tmp_path, single)), kind
    record = json.loads(Path(tmp_path / multi["record"]).read_text())
    assert record["distributed"]["world_size"] == 2 and record["distributed"]["backend"] == "gloo"
    total = record["task"]["num_samples"]
    assert total == samples
    assert record["distributed"]["images"] == total
    assert record["efficiency"]["throughput_ips"] == pytest.approx(total / record["distributed"]["wall_s"])
    # each rank wrote its own rows to the store: disjoint sample sets that cover the subset
    store = (tmp_path / multi["record"]).parent / record["state"]["path"]
    ids: dict[str, list[int]] = {"r0": [], "r1": []}
    for chunk in sorted(store.resolve().glob("chunk-*.parquet")):
        rank = next(part for part in chunk.stem.split("-") if part in ids)
        ids[rank] += pq.read_table(chunk).column("index").to_pylist()
    assert not set(ids["r0"]) & set(ids["r1"])
    assert sorted(ids["r0"] + ids["r1"]) == list(range(total))
    if kind == "robustness":  # chunks of 8 in turn: r0 gets 0-7, 16-23, 32-39; r1 8-15, 24-31, 40
        assert sorted(ids["r0"]) == [*range(0, 8), *range(16, 24), *range(32, 40)]
        assert sorted(ids["r1"]) == [*range(8, 16), *range(24, 32), 40]
    else:
        assert sorted(len(v) for v in ids.values()) == [total // 2, total - total // 2]
    # one MLflow run, logged by rank 0
    assert multi["tracking"]["status"] == "logged"
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("visionbench")
    assert len(client.search_runs([experiment.experiment_id])) == 1


def test_shards_are_disjoint_cover_every_position_and_keep_blocks_whole() -> None:
    from visionbench.harness.distributed import Distributed

    for world in (1, 2, 3, 4):
        for unit in (1, 3, 8):
            for total in (0, 1, 7, 8, 30):
                shards = [Distributed(rank, world).shard(total, unit) for rank in range(world)]
                flat = [p for shard in shards for p in shard]
                assert sorted(flat) == list(range(total)), (world, unit, total)
                owner = {p: rank for rank, shard in enumerate(shards) for p in shard}
                for p in range(total):  # a block belongs to one rank, blocks dealt in turn
                    assert owner[p] == (p // unit) % world, (world, unit, total, p)
