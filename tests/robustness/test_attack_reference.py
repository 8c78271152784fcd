"""The harness's attacks equal the libraries called directly on an independently built model.

AutoAttack: pyautoattack's standard suite per chunk, same eps, seed, samples and chunking: the
per-sample flags must be identical. PGD-Linf at two eps: torchattacks' PGD with the same step
size, steps and seed: robust accuracy within 1 percentage point (the harness keeps the best
iterate, torchattacks returns the last one).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rb_helpers import chunk_seed, digits_pixels, reference_model, run_robustness


def test_forward_matches_reference(tmp_path) -> None:
    from visionbench.contracts import ModelSpec, TaskInfo
    from visionbench.registry import build_adapter

    adapter = build_adapter(ModelSpec.create("zoo:digits-cnn"), "classification")
    adapter.prepare(TaskInfo("classification", "digits", tuple(str(i) for i in range(10))))
    x, _ = digits_pixels(16)
    from PIL import Image

    from visionbench.tasks.data.digits import load_digits_split

    images, _ = load_digits_split("test")
    harness_x = torch.stack([adapter.transform()(Image.fromarray(im, "L")) for im in images[:16]])
    assert torch.equal(harness_x, x)
    with torch.no_grad():
        assert torch.equal(adapter.forward_pixels(x), reference_model("digits-cnn")(x))


@pytest.mark.slow
def test_autoattack_flags_equal_pyautoattack(tmp_path, test_seed) -> None:
    """Two chunks of 12 digits at eps 0.15 (about 15 s per chunk and side on this 2-core machine)."""
    from pyautoattack import AutoAttack

    n, chunk, eps = 24, 12, 0.15
    outcome = run_robustness(
        "zoo:digits-linear",
        f"robustness:digits?attacks=autoattack&eps={eps}&n={n}&chunk={chunk}&seed={test_seed}&checks=false",
        tmp_path,
    )
    harness = np.asarray(outcome.result.per_sample[f"autoattack/linf/{eps:.4g}"], dtype=bool)
    model = reference_model("digits-linear")
    x, y = digits_pixels(n)
    expected = []
    for k in range(0, n // chunk):
        part = slice(k * chunk, (k + 1) * chunk)
        attack = AutoAttack(
            model, eps=eps, norm="Linf", seed=chunk_seed(test_seed, k), version="standard", device="cpu"
        )
        _, y_adv = attack.run_standard_evaluation(x[part], y[part], batch_size=chunk)
        expected.append((y_adv == y[part]).numpy())
    expected = np.concatenate(expected)
    print("robust flags", expected.astype(int).tolist())
    assert 0 < expected.sum() < n, "the radius should leave some samples robust and break others"
    assert harness.tolist() == expected.tolist()
    assert outcome.record["metrics"]["robust_top1"] == expected.mean()
    budget = outcome.record["task"]["scoring"]["budget"]
    assert budget["attacks"] == ["autoattack"] and budget["seed"] == test_seed and budget["num_samples"] == n


def test_pgd_linf_within_one_point_of_torchattacks(tmp_path, test_seed) -> None:
    import torchattacks

    n, steps, chunk = 200, 10, 100
    epsilons = (0.05, 0.1)
    outcome = run_robustness(
        "zoo:digits-mlp",
        f"robustness:digits?attacks=pgd&eps={','.join(map(str, epsilons))}&n={n}&steps={steps}"
        f"&chunk={chunk}&seed={test_seed}&checks=false",
        tmp_path,
    )
    model = reference_model("digits-mlp")
    x, y = digits_pixels(n)
    with torch.no_grad():
        clean = model(x).argmax(1) == y
    for eps in epsilons:
        robust = []
        for k in range(n // chunk):
            part = slice(k * chunk, (k + 1) * chunk)
            torch.manual_seed(chunk_seed(test_seed, k))
            adv = torchattacks.PGD(model, eps=eps, alpha=2.5 * eps / steps, steps=steps, random_start=True)(
                x[part], y[part]
            )
            with torch.no_grad():
                robust.append((model(adv).argmax(1) == y[part]) & clean[part])
        direct = int(torch.cat(robust).sum()) / n
        harness = outcome.record["metrics"][f"robust_top1/pgd/linf/{eps:.4g}"]
        print(f"eps {eps}: harness {harness:.4f}, torchattacks {direct:.4f}")
        assert 0.05 < direct < 0.95, "pick radii where the attack is neither hopeless nor total"
        assert abs(harness - direct) <= 0.01
        assert harness <= direct + 1e-12  # the best iterate never does worse than the last one
