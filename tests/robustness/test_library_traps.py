"""The attack wrappers leave the process as they found it: trace function, torch RNG, stdout, model mode."""

from __future__ import annotations

import sys

import torch
from rb_helpers import digits_pixels, reference_model

from visionbench.robustness import attacks as atk


def _context(model: torch.nn.Module) -> atk.Context:
    module = atk.PixelsModule(model, model)
    return atk.Context(model=module, predict=module, norm="Linf", steps=5)


def test_autoattack_restores_tracing_rng_and_prints_nothing(capsys, test_seed) -> None:
    from pyautoattack import checks

    model = reference_model("digits-linear")
    x, y = digits_pixels(6)
    calls = []

    def tracer(frame, event, arg):  # a stand-in for coverage or a debugger
        calls.append(event)
        return None

    checks.funcs["backward"] = (
        3  # pyautoattack's counter never resets: a stale count would flag every model as dynamic
    )
    torch.manual_seed(test_seed)
    state = torch.random.get_rng_state()
    sys.settrace(tracer)
    try:
        outcome = atk.autoattack(_context(model), x, y, 0.3, seed=5)
        restored = sys.gettrace()
    finally:
        sys.settrace(None)
    assert restored is tracer
    assert torch.equal(torch.random.get_rng_state(), state)
    assert capsys.readouterr().out == ""
    assert not any("dynamic" in n for n in outcome.notes), outcome.notes
    assert outcome.raw.dtype == bool and len(outcome.raw) == 6


def test_pgd_keeps_the_model_in_eval_mode_and_tracks_the_best_iterate(test_seed) -> None:
    net = reference_model("digits-mlp")  # has dropout: training mode would make it random
    x, y = digits_pixels(64)
    ctx = _context(net)
    outcome = atk.pgd(ctx, x, y, 0.1, seed=test_seed)
    assert not net.training and not any(m.training for m in net.modules())
    with torch.no_grad():
        final_correct = (net(outcome.adversarial).argmax(1) == y).numpy()
    # a sample reported broken has an adversarial point or a broken iterate; none reported robust is fooled
    assert not (outcome.raw & ~final_correct).any()
