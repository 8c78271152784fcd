"""Distributed evaluation on torch.distributed: ``torchrun --nproc-per-node N -m visionbench run ...``.

Each rank evaluates a disjoint shard of the samples (rank ``r`` of ``W`` takes positions
``r, r + W, r + 2W, ...``: no padding, no duplicates; a task whose samples go in blocks, such as a
robustness task's attack chunks, has each rank take whole blocks in turn), writes its state rows to
the store and sends them to rank 0, which merges them by sample index (the bootstrap and COCO's
tie-breaking depend on order), computes the metrics, writes the one record and logs the one MLflow
run. gloo serves CPU ranks and NCCL CUDA ranks; several nodes work the same way through torchrun's
rendezvous.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Distributed:
    """This process's place in a torchrun job (``world_size`` 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, total: int, unit: int = 1) -> list[int]:
        """The sample positions this rank evaluates: blocks of ``unit`` consecutive positions dealt in
        turn (``unit`` 1: positions ``rank, rank + W, ...``)."""
        if unit <= 1:
            return list(range(self.rank, total, self.world_size))
        starts = range(self.rank * unit, total, self.world_size * unit)
        return [p for start in starts for p in range(start, min(start + unit, total))]

    def device(self, device: str) -> str:
        """One GPU per local rank when the run is on CUDA without an explicit index."""
        if self.enabled and device == "cuda":
            return f"cuda:{self.local_rank}"
        return device

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0 (in rank order), None on the others."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def close(self) -> None:
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.owns_group = False


def from_environment(device: str) -> Distributed:
    """Join the torchrun job described by the environment (RANK, WORLD_SIZE, ...), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Distributed()
    import torch
    import torch.distributed as dist

    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_nccl = device.startswith("cuda") and torch.cuda.is_available()
    backend = "nccl" if use_nccl else "gloo"
    owns = False
    if not dist.is_initialized():
        if use_nccl:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
        owns = True
    return Distributed(rank, world, local_rank, backend, owns)


def table_bytes(table: Any) -> bytes:
    """An Arrow table as IPC stream bytes (what ranks send each other)."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def table_from_bytes(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def throughput(per_rank: list[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """Job throughput: all images over the wall time from the common start to the last rank's end."""
    images = sum(int(r["images"]) for r in per_rank)
    return {
        "images": images,
        "wall_s": wall_s,
        "throughput_ips": images / wall_s if wall_s > 0 else float("nan"),
        "ranks": per_rank,
    }


def now() -> float:
    return time.perf_counter()
