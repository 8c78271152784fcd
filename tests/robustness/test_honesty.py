"""Each honesty check fires on a model or attack broken on purpose, and none fires on the zoo models."""

from __future__ import annotations

import pytest
import torch
from rb_helpers import DIGITS_MEAN, DIGITS_STD, reference_model

import visionbench
from visionbench.robustness import attacks as atk
from visionbench.zoo.catalog import DIGITS_LABELS, DIGITS_PREPROCESS

PRE = {"mode": "L", "size": [8, 8], "mean": [DIGITS_MEAN], "std": [DIGITS_STD]}


class Quantised(torch.nn.Module):
    """Gradient masking: the pixels are rounded to 16 levels first, so every input gradient is zero."""

    def __init__(self) -> None:
        super().__init__()
        self.net = reference_model("digits-cnn").net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.round(x * 16) / 16)


class Noisy(torch.nn.Module):
    """A randomised defence: Gaussian noise on the (normalised) input of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.net = reference_model("digits-cnn").net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x + 0.5 * torch.randn_like(x))


def _run(model, task: str, tmp_path, **kwargs):
    assert DIGITS_PREPROCESS["mean"] == PRE["mean"]
    return visionbench.evaluate(
        model, task, device="cpu", output=tmp_path, track=False, bootstrap=20, quiet=True,
        preprocess=PRE if not isinstance(model, str) else None, classes=list(DIGITS_LABELS) if not isinstance(model, str) else None,
        **kwargs,
    )  # fmt: skip


def _checks(record) -> set[str]:
    honesty = record["task"]["scoring"]["honesty"]
    assert honesty["passed"] == (not honesty["flags"])
    assert record["metrics"]["honesty_flags"] == len(honesty["flags"])
    return {flag["check"] for flag in honesty["flags"]}


@pytest.mark.parametrize("model", ["zoo:digits-cnn", "zoo:digits-linear"])
def test_no_check_fires_on_zoo_models(model, tmp_path, test_seed) -> None:
    record = _run(
        model, f"robustness:digits?attacks=fgsm,pgd&eps=2/255,8/255&n=96&seed={test_seed}", tmp_path
    )
    assert _checks(record) == set(), record["task"]["scoring"]["honesty"]
    metrics = record["metrics"]
    assert (
        metrics["robust_top1"] == metrics["robust_top1/linf/0.03137"] <= metrics["robust_top1/linf/0.007843"]
    )
    assert metrics["robust_top1/linf/0.03137"] <= min(
        metrics["robust_top1/pgd/linf/0.03137"], metrics["robust_top1/fgsm/linf/0.03137"]
    )
    assert record["task"]["scoring"]["notes"] == []


def test_gradient_masking_is_flagged(tmp_path, test_seed) -> None:
    record = _run(Quantised(), f"robustness:digits?attacks=pgd&eps=8/255&n=48&seed={test_seed}", tmp_path)
    checks = _checks(record)
    assert {"zero_gradients", "unbounded_attack_not_zero"} <= checks


def test_randomised_model_is_flagged_and_attacked_with_eot(tmp_path, test_seed) -> None:
    record = _run(
        Noisy(), f"robustness:digits?attacks=pgd,autoattack&eps=0.3&n=8&eot=4&seed={test_seed}", tmp_path
    )
    checks = _checks(record)
    assert "randomised" in checks
    # pyautoattack's own randomness check logged a warning: captured into the flags, not printed
    assert "autoattack_warning" in checks
    notes = record["task"]["scoring"]["notes"]
    assert any("EOT over 4 samples" in n for n in notes)


def test_attack_weakening_with_eps_is_flagged(tmp_path, monkeypatch, test_seed) -> None:
    real = atk.ATTACKS["pgd"]

    def shrinking(ctx, x, y, eps, seed):  # broken on purpose: a larger eps attacks with a smaller radius
        return real(ctx, x, y, 0.25 - eps, seed)

    monkeypatch.setitem(atk.ATTACKS, "pgd", shrinking)
    record = _run(
        "zoo:digits-cnn", f"robustness:digits?attacks=pgd&eps=0.05,0.2&n=48&seed={test_seed}", tmp_path
    )
    assert "robust_rises_with_eps" in _checks(record)


def test_attack_claiming_more_than_clean_is_flagged(tmp_path, monkeypatch, test_seed) -> None:
    def flattering(ctx, x, y, eps, seed):  # broken on purpose: calls every sample correct
        return atk.Outcome(torch.ones(len(y), dtype=torch.bool).numpy(), x, [])

    monkeypatch.setitem(atk.ATTACKS, "fgsm", flattering)
    record = _run(
        "zoo:digits-linear", f"robustness:digits?attacks=fgsm&eps=0.1&n=200&seed={test_seed}", tmp_path
    )
    assert record["metrics"]["clean_top1"] < 1.0
    assert "robust_exceeds_clean" in _checks(record)


def test_more_steps_raising_robustness_is_flagged(tmp_path, monkeypatch, test_seed) -> None:
    real = atk.pgd

    def tiring(
        ctx, x, y, eps, seed, *, steps=None, restarts=None
    ):  # broken on purpose: more steps, less attack
        return real(
            ctx, x, y, eps / 10 if steps and steps > ctx.steps else eps, seed, steps=steps, restarts=restarts
        )

    monkeypatch.setattr(atk, "pgd", tiring)
    monkeypatch.setitem(atk.ATTACKS, "pgd", tiring)
    record = _run("zoo:digits-cnn", f"robustness:digits?attacks=pgd&eps=0.1&n=48&seed={test_seed}", tmp_path)
    assert "more_steps_raise_robust" in _checks(record)
