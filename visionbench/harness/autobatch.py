"""``--batch-size auto``: the largest batch that fits in memory.

* On a GPU, batches of the first sample repeated are run in the process, doubling from 1 until
  one runs out of memory (``torch.OutOfMemoryError``) or the cap is reached, then bisecting
  between the largest that fitted and the smallest that did not.
* On CPU, running out of memory summons the kernel's OOM killer, not an exception, so
  nothing large is tried in the process. The activation memory of one image is estimated as
  the bytes of every tensor the forward creates (an upper bound: nothing counts as freed); half
  the available memory (``MemAvailable``, or the cgroup's limit when lower) over that gives a
  candidate, rounded down to a power of two and capped at :data:`CPU_CAP` (larger CPU batches
  do not run faster). Nothing is probed in a forked child: forking a process whose torch
  thread pools have run can hang the child.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from visionbench.contracts import ImageMeta
from visionbench.errors import ConfigError

GPU_CAP = 4096
CPU_CAP = 256
CPU_SHARE = 0.5  # of the available memory the estimate may plan to use


def resolve(
    adapter: Any,
    dataset: Any,
    total: int,
    device: str,
    precision: str,
    predict: Callable[[Any, list[ImageMeta]], Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """``(batch size, how it was found)`` for ``adapter`` on ``dataset``'s first sample."""
    import torch

    from visionbench.harness.efficiency import autocast

    sample = dataset.load(0)
    width, height = sample.image.size
    item = adapter.transform()(sample.image)
    meta = ImageMeta(0, sample.sample_id, width, height)

    def run(size: int) -> None:
        batch = adapter.collate([item] * size)
        with torch.inference_mode(), autocast(device, precision):
            (predict or adapter.predict)(batch, [meta] * size)

    if device.startswith("cuda"):
        return _gpu(run, min(GPU_CAP, total), device)
    return _cpu(run, item, min(CPU_CAP, total))


def _gpu(run: Callable[[int], None], cap: int, device: str) -> tuple[int, dict[str, Any]]:
    import torch

    tried: list[dict[str, Any]] = []

    def fits(size: int) -> bool:
        try:
            run(size)
            ok = True
        except torch.OutOfMemoryError:
            ok = False
        except RuntimeError as exc:  # cuDNN and cuBLAS report allocation failures as RuntimeError
            if "out of memory" not in str(exc).lower() and "alloc" not in str(exc).lower():
                raise
            ok = False
        torch.cuda.synchronize(torch.device(device))
        torch.cuda.empty_cache()
        tried.append({"batch_size": size, "fits": ok})
        return ok

    good, bad, size = 0, None, 1
    while size <= cap:
        if not fits(size):
            bad = size
            break
        good, size = size, size * 2
    if good == 0:
        raise ConfigError("--batch-size auto: even a batch of 1 runs out of GPU memory")
    if bad is None and good < cap and fits(cap):
        good = cap
    elif bad is not None:
        while bad - good > max(1, good // 16):
            middle = (good + bad) // 2
            good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good, {"method": "gpu: doubling, then bisection on out-of-memory", "cap": cap, "tried": tried}


def available_bytes() -> int:
    """Memory this process may still take: ``MemAvailable``, lowered to the cgroup v2/v1 limit's headroom."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    if available is None:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            used = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 2**60:
            available = min(available, int(limit) - used)
    return max(int(available), 0)


def activation_bytes(run: Callable[[int], None]) -> int:
    """Bytes of every tensor created during one batch-of-1 forward (nothing is counted as freed)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        total = 0

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            out = func(*args, **(kwargs or {}))
            for value in out if isinstance(out, (list, tuple)) else [out]:
                if isinstance(value, torch.Tensor):
                    Count.total += value.numel() * value.element_size()
            return out

    with Count():
        run(1)
    return Count.total


def _cpu(run: Callable[[int], None], item: Any, cap: int) -> tuple[int, dict[str, Any]]:
    import torch

    input_bytes = item.numel() * item.element_size() if isinstance(item, torch.Tensor) else 0
    per_image = max(activation_bytes(run) + input_bytes, 1)
    available = available_bytes()
    fits = int(CPU_SHARE * available // per_image)
    if fits < 1:
        raise ConfigError(
            f"--batch-size auto: one image needs about {per_image / 2**20:.0f} MiB of activations, "
            f"more than half of the {available / 2**20:.0f} MiB available"
        )
    size = min(cap, 1 << (fits.bit_length() - 1))
    return size, {
        "method": "cpu: estimate (every tensor of a batch-of-1 forward, none freed), half the available memory",
        "cap": cap,
        "activation_bytes_per_image": per_image,
        "available_bytes": available,
        "largest_estimated": fits,
    }
