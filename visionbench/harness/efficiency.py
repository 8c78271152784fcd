"""The efficiency figures of a run and the performance knobs (channels-last, torch.compile).

:class:`RunMeasurement` is started before the model is built and finished after the
evaluation pass. It fills the record's ``efficiency`` section (numbers, each key carrying its
unit) and its ``measurement`` section (the conditions: batch size, input resolution,
precision, knobs, protocol, repeats, validity, memory kind, FLOP convention).

* Model-only throughput at the run's batch size follows :data:`timing.THROUGHPUT_PROTOCOL`.
  On CPU the evaluation pass's own batches are the repeats when there are enough of them (the
  model ran on every image anyway; no transfer is involved); otherwise, and always on a GPU,
  a timed pass runs the first full batch again, already on the device. Timed passes run the
  model; they never read stored predictions.
* Batch-1 latency per image is a separate timed pass (:data:`timing.LATENCY_PROTOCOL`) on one
  sample. Per-batch latency (``latency_ms_p50`` ...) comes from the throughput repeats.
* End-to-end time is the evaluation pass's wall time (decode, preprocess, model, metric
  update, state writes); ``data_loading_share`` is the part spent waiting for the loader.
* Peak memory: CUDA ``max_memory_allocated`` on a GPU; on CPU the increase of the process's
  resident memory over its value when the run started, sampled in a thread.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from visionbench.errors import ConfigError
from visionbench.harness import timing

FLOPS_CONVENTION = "torch FlopCounterMode, GFLOPs per image, 2 FLOPs per multiply-add (timm's GMACs x 2)"


@dataclass(frozen=True)
class Knobs:
    """Execution options that change speed, not what is computed (up to floating-point rounding)."""

    channels_last: bool = False
    compile: bool = False

    def identity(self) -> dict[str, Any]:
        """What the prediction identity adds: only the knobs that are on (defaults keep old identities)."""
        out: dict[str, Any] = {}
        if self.channels_last:
            out["vb.channels_last"] = True
        if self.compile:
            out["vb.compile"] = True
        return out


class ChannelsLastCollate:
    """Batch with the adapter's collate, then make 4-D tensors channels-last (picklable, runs in workers)."""

    def __init__(self, inner: Callable[[list[Any]], Any]) -> None:
        self.inner = inner

    def __call__(self, items: list[Any]) -> Any:
        return channels_last_input(self.inner(items))


def channels_last_input(batch: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor) and batch.dim() == 4:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch


def compiler_available() -> str | None:
    """The C++ compiler torch.compile's CPU backend would use (``$CXX``, c++, g++, clang++), or None."""
    import os

    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def apply_knobs(adapter: Any, knobs: Knobs, device: str) -> dict[str, Any]:
    """Apply channels-last and torch.compile to a prepared adapter; what was applied, for the record."""
    import torch

    applied: dict[str, Any] = {"channels_last": False, "compile": False}
    if not (knobs.channels_last or knobs.compile):
        return applied
    module = adapter.module
    if not isinstance(module, torch.nn.Module):
        raise ConfigError(
            f"--channels-last/--compile need a torch model; '{adapter.spec.spec}' ({adapter.family}) has none"
        )
    if knobs.channels_last:
        module.to(memory_format=torch.channels_last)
        adapter.collate = ChannelsLastCollate(adapter.collate)
        applied["channels_last"] = True
    if knobs.compile:
        if not device.startswith("cuda") and compiler_available() is None:
            raise ConfigError("--compile on CPU needs a C++ compiler (g++ or clang++) on the PATH")
        net = getattr(getattr(adapter, "model", None), "net", None)
        target = net if isinstance(net, torch.nn.Module) else module
        target.compile()  # in place: parameter names, and so the weights digest, are unchanged
        applied["compile"] = True
        applied["compiled"] = type(target).__name__
    return applied


def autocast(device: str, precision: str) -> Any:
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.float16 if precision == "fp16" else torch.bfloat16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)


def to_device(batch: Any, device: str) -> Any:
    """A batch with its tensors on ``device`` (tensors, lists/tuples of tensors, dicts of tensors)."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, (list, tuple)) and all(isinstance(b, torch.Tensor) for b in batch):
        return (
            type(batch)(b.to(device) for b in batch)
            if isinstance(batch, list)
            else tuple(b.to(device) for b in batch)
        )
    return batch


def first_item(batch: Any) -> Any:
    """A batch of one: the first sample of a tensor, array, list, tuple or padded batch; None when unknown."""
    import numpy as np
    import torch

    if isinstance(batch, (torch.Tensor, np.ndarray, list)):
        return batch[:1]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a NamedTuple such as a padded batch
        return type(batch)(*(first_item(v) if v is not None else None for v in batch))
    if isinstance(batch, tuple):
        return batch[:1]
    if isinstance(batch, dict):
        return {k: first_item(v) for k, v in batch.items()}
    return None


def resolution(batch: Any) -> list[int] | None:
    """``[H, W]`` of the model input: of the batch tensor, or of the first image of a list batch."""
    import torch

    tensor = batch if isinstance(batch, torch.Tensor) else None
    if tensor is None and isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        tensor = batch[0]
    if tensor is None:
        tensor = getattr(batch, "pixels", None)
    if isinstance(tensor, torch.Tensor) and tensor.dim() >= 3:
        return [int(tensor.shape[-2]), int(tensor.shape[-1])]
    return None


def uniform_resolution(batch: Any) -> bool:
    import torch

    if isinstance(batch, (list, tuple)) and batch and isinstance(batch[0], torch.Tensor):
        return len({tuple(b.shape[-2:]) for b in batch}) == 1
    return True


def decoded_batch(adapter: Any, dataset: Any, batch_size: int) -> tuple[Any, list[Any]] | None:
    """The first ``batch_size`` samples decoded and collated (for timing when nothing was predicted)."""
    from visionbench.contracts import ImageMeta

    transform, items, metas = adapter.transform(), [], []
    for index in range(min(batch_size, len(dataset))):
        sample = dataset.load(index)
        width, height = sample.image.size
        items.append(transform(sample.image))
        metas.append(ImageMeta(index, sample.sample_id, width, height))
    return (adapter.collate(items), metas) if items else None


class RunMeasurement:
    """Memory sampling from the start of a run, then every efficiency figure at its end."""

    def __init__(self, device: str, precision: str, knobs: Knobs | None = None) -> None:
        self.device, self.precision = device, precision
        self.knobs = knobs or Knobs()
        self.sampler = None if device.startswith("cuda") else timing.MemorySampler()
        self.applied: dict[str, Any] = {"channels_last": False, "compile": False}
        self.autobatch: dict[str, Any] | None = None
        self.requested_batch: int | str | None = None

    def start(self) -> RunMeasurement:
        timing.reset_peak_memory(self.device)
        if self.sampler is not None:
            self.sampler.start()
        return self

    def stop(self) -> None:
        """Stop the memory sampler thread (idempotent; also for a run that failed)."""
        if self.sampler is not None:
            self.sampler.stop()

    def prepare(self, run: Any, adapter: Any, dataset: Any, total: int) -> Any:
        """Apply the knobs to the prepared adapter and resolve ``--batch-size auto``; the run to execute."""
        import dataclasses

        self.applied = apply_knobs(adapter, self.knobs, self.device)
        self.requested_batch = run.batch_size
        if run.batch_size != "auto":
            return run
        from visionbench.harness import autobatch

        size, self.autobatch = autobatch.resolve(adapter, dataset, total, self.device, self.precision)
        return dataclasses.replace(run, batch_size=size)

    def knob_settings(self) -> dict[str, Any]:
        """What the record's ``environment`` adds: the knobs as applied and the batch size asked for."""
        return {
            "channels_last": self.applied["channels_last"],
            "compile": self.applied["compile"],
            "batch_size_requested": self.requested_batch,
        }

    def finish(
        self,
        meter: timing.ThroughputMeter,
        adapter: Any,
        batch_size: int,
        images: int,
        dataset: Any = None,
        throughput_protocol: timing.Protocol = timing.THROUGHPUT_PROTOCOL,
        latency_protocol: timing.Protocol = timing.LATENCY_PROTOCOL,
    ) -> tuple[dict[str, float], dict[str, Any]]:
        """``(efficiency, measurement)``: the numbers and their conditions."""
        peak = self.sampler.stop() if self.sampler is not None else None  # the timed passes run undisturbed
        if meter.held is None and dataset is not None:  # every prediction came from the store
            meter.held = decoded_batch(adapter, dataset, batch_size)
        held_inputs, held_metas = meter.held if meter.held is not None else (None, None)
        measured_batch = len(held_metas) if held_metas is not None else batch_size
        repeats, source = None, "none"
        if not self.device.startswith("cuda"):
            repeats = timing.split_repeats(meter.full_batch_seconds(batch_size), throughput_protocol)
            source = "evaluation pass" if repeats is not None else source
        if repeats is None and held_inputs is not None:
            inputs = to_device(held_inputs, self.device)
            repeats = self._timed(lambda: adapter.predict(inputs, held_metas), throughput_protocol)
            source = "timed pass on the first batch, input on the device"
        throughput = repeats.summary(measured_batch) if repeats is not None else None
        unknown = {"p50": timing.NAN, "p90": timing.NAN, "p99": timing.NAN}
        per_batch = repeats.percentiles_ms() if repeats is not None else unknown
        single = first_item(held_inputs) if held_inputs is not None else None
        latency = None
        if single is not None:
            one = to_device(single, self.device)
            latency = self._timed(lambda: adapter.predict(one, held_metas[:1]), latency_protocol)
        b1 = latency.percentiles_ms() if latency is not None else unknown
        gflops = self._gflops(adapter, single)
        steady = throughput["rate"] if throughput else timing.NAN
        model_s = float(sum(meter.batch_seconds))
        wall = meter.wall_seconds
        compile_s = timing.NAN
        if self.applied.get("compile") and meter.batch_seconds:
            later = sorted(meter.batch_seconds[1:]) or [0.0]
            compile_s = max(meter.first_call_seconds - later[len(later) // 2], 0.0)
        if peak is not None:
            memory_kind = "cpu_rss_increase"
        else:
            peak, memory_kind = timing.peak_memory_mb(self.device), "cuda_max_allocated"
        efficiency = {
            "throughput_ips": steady,
            "throughput_spread": throughput["spread"] if throughput else timing.NAN,
            "latency_ms_p50": per_batch["p50"],
            "latency_ms_p90": per_batch["p90"],
            "latency_ms_p99": per_batch["p99"],
            "latency_ms_b1_p50": b1["p50"],
            "latency_ms_b1_p90": b1["p90"],
            "latency_ms_b1_p99": b1["p99"],
            "end_to_end_ips": images / wall if wall > 0 else timing.NAN,
            "end_to_end_s": wall if wall > 0 else timing.NAN,
            "model_time_s": model_s if meter.batch_seconds else timing.NAN,
            "data_loading_share": meter.data_seconds / wall if wall > 0 else timing.NAN,
            "peak_mem_mb": peak,
            "params_m": timing.count_params_m(adapter.module),
            "gflops": gflops,
            "compile_s": compile_s,
        }
        measurement = {
            "throughput": {
                "unit": "images/s, model only (adapter.predict, device synchronised)",
                "batch_size": measured_batch,
                "resolution": resolution(held_inputs),
                "resolution_uniform": uniform_resolution(held_inputs) if held_inputs is not None else None,
                "source": source,
                "protocol": throughput_protocol.to_dict(),
                **(
                    {k: throughput[k] for k in ("repeats", "spread", "valid", "iterations")}
                    if throughput
                    else {}
                ),
            },
            "latency_b1": {
                "unit": "ms per image at batch 1",
                "protocol": latency_protocol.to_dict(),
                **(latency.summary(1) if latency is not None else {}),
            },
            "latency_batch": {"unit": f"ms per batch of {measured_batch} (latency_ms_p50/p90/p99)"},
            "end_to_end": {
                "unit": "evaluation pass: decode + preprocess + model + metric update + state writes"
            },
            "peak_mem": memory_kind,
            "gflops": FLOPS_CONVENTION,
            "precision": self.precision,
            "channels_last": self.applied["channels_last"],
            "compile": self.applied["compile"],
            "timer": "cuda events" if self.device.startswith("cuda") else "perf_counter with device sync",
        }
        measurement["latency_b1"].pop("rate", None)
        if self.autobatch is not None:
            measurement["batch_size_auto"] = self.autobatch
        return efficiency, measurement

    def _timed(self, step: Callable[[], Any], protocol: timing.Protocol) -> timing.Repeats:
        import torch

        with torch.inference_mode(), autocast(self.device, self.precision):
            return timing.run_protocol(step, self.device, protocol)

    def _gflops(self, adapter: Any, single: Any) -> float:
        import torch

        if adapter.module is None or single is None:
            return timing.NAN
        example = to_device(single, adapter.device)
        if isinstance(example, tuple):
            example = list(example)
        if not isinstance(example, (torch.Tensor, list)):
            return timing.NAN
        stance = torch.compiler.set_stance("force_eager") if self.applied.get("compile") else None
        with stance if stance is not None else contextlib.nullcontext():
            return timing.gflops_per_image(adapter.module, example)
