"""Helpers of the robustness tests: an independent reference model, digits pixels, a harness run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

# The zoo digits models' training statistics, written out here rather than read from the adapter.
DIGITS_MEAN, DIGITS_STD = 0.3056, 0.3760


class Normalised(torch.nn.Module):
    """A bare zoo network behind an explicit ``(x - mean) / std`` on float32 pixels in [0, 1]."""

    def __init__(self, net: torch.nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def reference_model(name: str) -> torch.nn.Module:
    """The zoo architecture with its committed weights read by ``torch.load``, not through any adapter."""
    from visionbench.zoo.catalog import WEIGHTS_DIR, ZOO

    entry = ZOO[name]
    assert entry.preprocess["mean"] == [DIGITS_MEAN] and entry.preprocess["std"] == [DIGITS_STD]
    net = entry.build()
    net.load_state_dict(torch.load(Path(WEIGHTS_DIR) / entry.weights, weights_only=True))
    return Normalised(net.eval(), DIGITS_MEAN, DIGITS_STD).eval()


def digits_pixels(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` test digits as float32 ``[n, 1, 8, 8]`` in [0, 1] (uint8 times 1/255) and labels."""
    from sklearn.datasets import load_digits

    from visionbench.tasks.data.digits import load_digits_split

    images, labels = load_digits_split("test")
    assert load_digits().images.shape[1:] == images.shape[1:]
    x = torch.from_numpy(images[:n].astype(np.float32)) * torch.tensor(1.0 / 255.0, dtype=torch.float32)
    return x[:, None], torch.as_tensor(labels[:n], dtype=torch.long)


def run_robustness(model: str, task: str, output: Path, **kwargs: Any) -> Any:
    """The harness's run (no tracking, few bootstrap resamples); returns the runner's outcome."""
    from visionbench.harness.runner import execute
    from visionbench.harness.specs import RunSpec, parse_model_spec, parse_task_spec

    run = RunSpec(parse_model_spec(model), parse_task_spec(task), device="cpu", **kwargs)
    return execute(run, output=output, track=False, quiet=True, bootstrap_reps=50)


def chunk_seed(seed: int, k: int) -> int:
    """The documented per-chunk seed, written out independently of the implementation."""
    return (seed * 1_000_003 + k) % 2**31
