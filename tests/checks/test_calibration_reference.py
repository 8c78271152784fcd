"""nll and brier against scikit-learn and a hand computation, resampled and reliability bins consistent.

Random seeded data (``VB_TEST_SEED`` replays a seed): score rows of several scales (confident and
flat), with rows already normalised and rows given as logits, many and few classes.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest


def seed() -> int:
    value = int(os.environ.get("VB_TEST_SEED") or np.random.SeedSequence().entropy % 2**31)
    print(f"VB_TEST_SEED={value}")
    return value


def cases(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for n, c, scale in ((300, 10, 4.0), (57, 2, 1.0), (400, 3, 12.0), (120, 25, 0.3)):
        y = rng.integers(0, c, size=n)
        logits = rng.normal(size=(n, c)) * scale
        logits[np.arange(n), y] += rng.uniform(0, scale, size=n)  # better than chance
        out.append((y, logits))
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_nll_and_brier_equal_scikit_learn_and_hand() -> None:
    from sklearn.metrics import brier_score_loss, log_loss

    from visionbench.tasks.classification_metrics import classification_metrics

    rng = np.random.default_rng(seed())
    for y, logits in cases(rng):
        c = logits.shape[1]
        probs = softmax(logits)
        for scores in (logits, probs):  # logits are softmaxed by the metric, probabilities kept
            metrics, _, _ = classification_metrics(y, [str(i) for i in range(c)], scores=scores)
            want_nll = log_loss(y, probs, labels=list(range(c)))
            want_brier = brier_score_loss(y, probs, labels=list(range(c)), scale_by_half=False)
            assert math.isclose(metrics["nll"], want_nll, rel_tol=0, abs_tol=1e-12)
            assert math.isclose(metrics["brier"], want_brier, rel_tol=0, abs_tol=1e-12)
            eps = np.finfo(np.float64).eps  # the policy: clipped to [eps, 1 - eps]
            hand_nll = sum(-math.log(min(max(probs[i, y[i]], eps), 1 - eps)) for i in range(len(y))) / len(y)
            hand_brier = sum(
                sum((probs[i, k] - (1.0 if k == y[i] else 0.0)) ** 2 for k in range(c)) for i in range(len(y))
            ) / len(y)
            assert math.isclose(metrics["nll"], hand_nll, rel_tol=1e-12, abs_tol=1e-12)
            assert math.isclose(metrics["brier"], hand_brier, rel_tol=1e-12, abs_tol=1e-12)


def test_nll_clips_a_zero_probability_as_scikit_learn_does() -> None:
    from sklearn.metrics import log_loss

    from visionbench.tasks.classification_metrics import classification_metrics

    y = np.array([0, 1, 2, 1])
    probs = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    metrics, _, _ = classification_metrics(y, ["a", "b", "c"], scores=probs)
    assert metrics["nll"] == pytest.approx(log_loss(y, probs, labels=[0, 1, 2]), abs=1e-12)
    assert math.isfinite(metrics["nll"]) and metrics["nll"] > 8  # -log(eps) / 4 for the certain miss


def test_nll_matches_torch_cross_entropy() -> None:
    import torch

    from visionbench.tasks.classification_metrics import classification_metrics, to_probabilities

    rng = np.random.default_rng(seed())
    for y, logits in cases(rng):
        metrics, _, _ = classification_metrics(y, [str(i) for i in range(logits.shape[1])], scores=logits)
        want = torch.nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item()
        # cross-entropy does not clip: compare where no true-class probability falls below eps
        if (to_probabilities(logits)[np.arange(len(y)), y] > 1e-15).all():
            assert metrics["nll"] == pytest.approx(want, abs=1e-9)


def test_resampled_nll_and_brier_equal_the_metric_on_each_resample() -> None:
    from visionbench.tasks.classification_metrics import classification_metrics, to_probabilities
    from visionbench.tasks.classification_resample import ClassificationResampler

    rng = np.random.default_rng(seed())
    for y, logits in cases(rng):
        probs = to_probabilities(logits)
        sampler = ClassificationResampler(y, probs.argmax(axis=1), logits.shape[1], probs=probs)
        rows = rng.integers(0, len(y), size=(7, len(y)))
        block = sampler.block(rows, ("nll", "brier"))
        for r, positions in enumerate(rows):
            metrics, _, _ = classification_metrics(
                y[positions], [str(i) for i in range(logits.shape[1])], scores=probs[positions]
            )
            assert block["nll"][r] == pytest.approx(metrics["nll"], abs=1e-12)
            assert block["brier"][r] == pytest.approx(metrics["brier"], abs=1e-12)
    hard = ClassificationResampler(np.array([0, 1]), np.array([0, 0]), 2)
    assert "nll" in hard.notes and "brier" in hard.notes


def test_reliability_bins_give_back_the_ece() -> None:
    """The diagram's bins are the ECE's: sum over bins of count/N |accuracy - confidence| is the ECE."""
    from visionbench.tasks.classification_metrics import classification_metrics, to_probabilities
    from visionbench.tasks.reliability import reliability_bins

    rng = np.random.default_rng(seed())
    for y, logits in cases(rng):
        probs = to_probabilities(logits)
        bins = reliability_bins(y, probs)
        assert sum(b["count"] for b in bins) == len(y)
        gap = sum(b["count"] / len(y) * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
        metrics, _, _ = classification_metrics(y, [str(i) for i in range(logits.shape[1])], scores=probs)
        assert gap == pytest.approx(metrics["ece"], abs=2e-6)  # the ECE sums in float32


def test_run_records_calibration_and_the_diagram(tmp_path) -> None:
    from PIL import Image

    import visionbench

    record = visionbench.evaluate(
        "zoo:digits-mlp", "digits", output=tmp_path, track=False, bootstrap=0, limit=60
    )
    assert 0 < record["metrics"]["nll"] < 1 and 0 < record["metrics"]["brier"] < 0.5
    folders = list(tmp_path.rglob("reliability_diagram.png"))
    assert len(folders) == 1 and Image.open(folders[0]).size == (420, 420)
    assert record["artifacts"]["reliability_diagram_png"] == "reliability_diagram.png"
