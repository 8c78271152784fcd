"""The attacks: FGSM, PGD-Linf and PGD-L2 from torchattacks; AutoAttack and Square from pyautoattack.

Every attack takes a chunk of pixels ``x`` (float32 ``[N, C, H, W]`` in [0, 1]) with labels
``y``, a radius and a seed, and returns the raw per-sample result: True where the model still
classifies the sample correctly after the attack (``raw``), the adversarial batch, and notes.
Attacks always run in fp32 on the model's differentiable forward on pixels, without autocast.

Library traps handled here:

* torchattacks' PGD returns its last iterate, not its best; :class:`Tracker` sees every forward
  the attack makes and keeps a sample as broken once any iterate inside the ball fools the model.
* torchattacks calls ``model.train()`` after an attack when the module it got was in training mode
  (a fresh ``nn.Module`` is), which would put batch norm in training mode for every later forward:
  every wrapper here is created in eval mode.
* torchattacks reads ``next(model.parameters())`` for its device: :class:`PixelsModule` always
  has a parameter (a zero-size anchor when the wrapped model has none); its ``print`` calls go
  nowhere (``--json`` output stays clean).
* torchattacks draws random starts from torch's global RNG and pyautoattack reseeds it: every
  attack runs inside :func:`seeded`, which restores the caller's RNG state afterwards.
* pyautoattack's ``check_dynamic`` calls ``sys.settrace(None)`` (coverage, debuggers) and keeps a
  module-global call counter that never resets: the trace function is restored and the counter
  zeroed around each call. Its checks log warnings to the ``auto-attack`` logger; they are
  captured into the notes (and so into the honesty flags), never printed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

AUTOATTACK_LOGGER = "auto-attack"


class PixelsModule(torch.nn.Module):
    """A module whose forward is ``fn(x01)`` (an adapter's ``forward_pixels``), as float32 logits."""

    def __init__(self, fn: Callable[[Any], Any], module: Any = None, device: str = "cpu") -> None:
        super().__init__()
        self.fn = fn
        if isinstance(module, torch.nn.Module):
            self.inner = module
        if not any(True for _ in self.parameters()):
            self.anchor = torch.nn.Parameter(torch.zeros(0, device=device), requires_grad=False)
        self.eval()  # torchattacks puts a module it found in training mode back into it, recursively

    def forward(self, x: Any) -> Any:
        return self.fn(x).float()


class EOTModule(torch.nn.Module):
    """Expectation over transformation: the mean of ``samples`` forwards of a randomised model."""

    def __init__(self, model: torch.nn.Module, samples: int) -> None:
        super().__init__()
        self.model, self.samples = model, samples
        self.eval()

    def forward(self, x: Any) -> Any:
        return torch.stack([self.model(x) for _ in range(self.samples)]).mean(0)


class Tracker(torch.nn.Module):
    """Passes forwards through and marks each sample fooled at any iterate (``success``)."""

    def __init__(self, model: torch.nn.Module, labels: Any, track: bool = True) -> None:
        super().__init__()
        self.model, self.labels, self.track = model, labels, track
        self.success = torch.zeros(len(labels), dtype=torch.bool, device=labels.device)
        self.eval()

    def forward(self, x: Any) -> Any:
        out = self.model(x)
        if self.track and out.shape[0] == len(self.labels):
            self.success |= out.detach().argmax(1) != self.labels
        return out


@dataclass
class Context:
    """How to reach the model: ``model`` in pixel space (EOT-wrapped when randomised) or black-box ``predict``."""

    model: torch.nn.Module | None
    predict: Callable[[Any], Any]
    norm: str = "Linf"
    steps: int = 10
    restarts: int = 1
    device: str = "cpu"
    randomised: bool = False


@dataclass
class Outcome:
    raw: np.ndarray  # bool per sample: still correct after the attack
    adversarial: Any  # the adversarial batch (the clean sample where the attack found nothing)
    notes: list[str]


@contextlib.contextmanager
def seeded(seed: int, device: str = "cpu") -> Iterator[None]:
    """Seed torch's RNG (CPU and the CUDA device) for the block, then restore the caller's state."""
    devices = [torch.device(device)] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield


@contextlib.contextmanager
def library_quiet() -> Iterator[list[str]]:
    """Swallow library prints; capture ``auto-attack`` warnings; restore the trace function."""
    logger = logging.getLogger(AUTOATTACK_LOGGER)
    captured: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(" ".join(record.getMessage().split()))

    handler = _Collect(level=logging.WARNING)
    saved = (logger.propagate, logger.level, sys.gettrace())
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield captured
    finally:
        logger.removeHandler(handler)
        logger.propagate, level, trace = saved
        logger.setLevel(level)
        if sys.gettrace() is not trace:
            sys.settrace(trace)


def predicted(ctx: Context, x: Any) -> Any:
    with torch.no_grad():
        if ctx.model is not None:
            return ctx.model(x).argmax(1)
        return ctx.predict(x).argmax(1)


def fgsm(ctx: Context, x: Any, y: Any, eps: float, seed: int) -> Outcome:
    import torchattacks

    tracker = Tracker(ctx.model, y, track=not ctx.randomised)
    with seeded(seed, ctx.device), library_quiet() as notes:
        adv = torchattacks.FGSM(tracker, eps=eps)(x, y)
    success = tracker.success | (predicted(ctx, adv) != y)
    return Outcome((~success).cpu().numpy(), adv.detach(), notes)


def pgd(
    ctx: Context,
    x: Any,
    y: Any,
    eps: float,
    seed: int,
    *,
    steps: int | None = None,
    restarts: int | None = None,
) -> Outcome:
    """PGD (Linf or L2 by ``ctx.norm``), step size ``2.5 * eps / steps``, random start, best iterate kept.

    Restart ``r`` is seeded with ``seed + r``; a sample counts as broken if any restart's
    iterate fooled the model.
    """
    import torchattacks

    steps = steps or ctx.steps
    restarts = restarts or ctx.restarts
    alpha = 2.5 * eps / steps
    success = torch.zeros(len(y), dtype=torch.bool, device=y.device)
    best = x.clone()
    notes: list[str] = []
    for r in range(restarts):
        tracker = Tracker(ctx.model, y, track=not ctx.randomised)
        cls = torchattacks.PGD if ctx.norm == "Linf" else torchattacks.PGDL2
        with seeded((seed + r) % 2**31, ctx.device), library_quiet() as captured:
            adv = cls(tracker, eps=eps, alpha=alpha, steps=steps, random_start=True)(x, y)
        notes += captured
        final = predicted(ctx, adv) != y
        new = final & ~success
        best[new] = adv[new].detach()
        success |= final | tracker.success
    return Outcome((~success).cpu().numpy(), best, notes)


def autoattack(ctx: Context, x: Any, y: Any, eps: float, seed: int) -> Outcome:
    """pyautoattack's standard suite (APGD-CE, APGD-T, FAB-T, Square; 100 iterations, 9 targets).

    The whole chunk is one batch (``batch_size = len(x)``), so the batches are fixed by the
    chunking alone.
    """
    from pyautoattack import AutoAttack, checks

    for name in checks.funcs:
        checks.funcs[name] = 0
    with seeded(seed, ctx.device), library_quiet() as notes:
        attack = AutoAttack(
            ctx.model, eps=eps, norm=ctx.norm, seed=int(seed), version="standard", device=ctx.device
        )
        adv, y_adv = attack.run_standard_evaluation(x, y, batch_size=len(x))
    return Outcome((y_adv == y).cpu().numpy(), adv.detach(), notes)


def square(ctx: Context, x: Any, y: Any, eps: float, seed: int) -> Outcome:
    """The black-box Square attack with AutoAttack's standard settings (5,000 queries, p_init 0.8)."""
    from pyautoattack.square import SquareAttack

    with seeded(seed, ctx.device), library_quiet() as notes:
        attack = SquareAttack(
            lambda batch: _logits(ctx, batch), p_init=0.8, n_queries=5000, eps=eps, norm=ctx.norm,
            n_restarts=1, seed=int(seed), verbose=False, device=ctx.device, resc_schedule=False,
        )  # fmt: skip
        adv = attack.perturb(x, y)
    return Outcome((predicted(ctx, adv) == y).cpu().numpy(), adv.detach(), notes)


def _logits(ctx: Context, batch: Any) -> Any:
    with torch.no_grad():
        out = ctx.model(batch) if ctx.model is not None else ctx.predict(batch)
    return torch.as_tensor(out).float().clone()


ATTACKS: dict[str, Callable[..., Outcome]] = {
    "fgsm": fgsm,
    "pgd": pgd,
    "autoattack": autoattack,
    "square": square,
}


def outputs_change(ctx: Context, x: Any) -> bool:
    """Whether two identical forwards of the model differ (a randomised model)."""
    with torch.no_grad():
        first = _logits(ctx, x)
        second = _logits(ctx, x)
    return not torch.equal(first, second)


def nonzero_gradients(model: torch.nn.Module, x: Any, y: Any) -> np.ndarray:
    """Per sample, whether the cross-entropy gradient on the input is anything but all zeros."""
    inputs = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(inputs), y, reduction="sum")
    try:
        (grad,) = torch.autograd.grad(loss, inputs, allow_unused=True)
    except RuntimeError:  # the output does not depend on the input through autograd at all
        grad = None
    if grad is None:
        return np.zeros(len(y), dtype=bool)
    return (grad.reshape(len(y), -1).abs().sum(1) > 0).cpu().numpy()
