"""A robustness run, chunk by chunk: clean predictions, attacks per eps, checks, corruptions.

The runner calls :func:`evaluate` instead of its prediction loop for robustness tasks. Samples are
cut into fixed chunks of ``chunk`` positions (chunk ``k`` is positions ``k*chunk ...``); each chunk
is attacked with its own seed (:func:`~visionbench.robustness.options.chunk_seed`) and its state
rows are written to the store as soon as it is done. A run killed part-way finds the written
chunks in the store (same prediction identity) and attacks only the missing ones; because the
chunks and their seeds are the same, it ends with the same flags.

Cells of a state row (``cells`` names, ``values`` booleans, per sample):

* ``<attack>/<norm>/<eps>``: still correctly classified after that attack at that eps (raw);
* ``check-steps/<norm>/<eps>``: PGD with twice the steps and one more restart, at the largest eps;
* ``check-unbounded/<norm>``: PGD at eps 1 (Linf) or the image diagonal (L2);
* ``grad-nonzero``: the input gradient of the loss is not all zeros;
* ``corrupt/<type>/<severity>``, ``baseline/clean``, ``baseline/<type>/<severity>``: correct under
  that corruption (the baseline model's cells feed the mCE).

Attacks run in fp32, outside ``inference_mode`` and autocast, whatever the run's precision.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from visionbench.robustness import attacks as atk
from visionbench.robustness.options import Plan, chunk_seed, eps_key, norm_key

GALLERY_SIZE = 8


def evaluate(
    task: Any,
    adapter: Any,
    positions: list[int],
    device: str,
    writer: Any,
    quiet: bool,
    run_seed: int,
) -> tuple[Any, Any]:
    """Attack ``positions`` of ``task.dataset`` chunk by chunk; returns a throughput meter and the first batch.

    ``positions`` are the samples the store does not hold yet (the runner reads the stored rows
    into the state). Chunk ``k`` is the positions ``k * chunk ... (k + 1) * chunk - 1``, whichever
    of them are evaluated; chunks are written whole, so a resumed run meets only whole chunks.
    The meter times nothing here: the runner's efficiency pass measures clean inference, and the
    attack time is recorded in the task's scoring (``attack_seconds``).
    """
    import dataclasses
    import time

    from visionbench.harness import timing

    seed = task.plan.seed if task.plan.seed is not None else int(run_seed)
    task.plan = plan = dataclasses.replace(task.plan, seed=seed)
    transform = adapter.transform()
    groups: dict[int, list[int]] = {}
    for position in positions:
        groups.setdefault(position // plan.chunk, []).append(position)
    meter = timing.ThroughputMeter(device)
    first = transform(task.dataset.load(positions[0] if positions else 0).image)
    task.plan = plan = plan.with_preset(*first.shape[-2:])
    task.mode = "black-box" if not adapter.differentiable else "white-box"
    baseline = _baseline(plan, task, device)
    first_input = None
    started = time.perf_counter()
    for k, chunk in sorted(groups.items()):
        x, y, ids, images = _load(task.dataset, chunk, transform, device)
        first_input = x if first_input is None else first_input
        ctx = _context(adapter, plan, device)
        rows = _chunk(task, ctx, adapter, baseline, x, y, images, chunk, chunk_seed(seed, k), seed)
        writer.add(task.update(chunk, rows, [int(t) for t in y.cpu()], ids))
        writer.flush()
    writer.flush()
    task.attack_seconds = time.perf_counter() - started
    task.attacked_samples = len(positions)
    return meter, first_input if first_input is not None else first[None].to(device)


def _load(
    dataset: Any, chunk: list[int], transform: Any, device: str
) -> tuple[Any, Any, list[str], list[Any]]:
    samples = [dataset.load(i) for i in chunk]
    x = torch.stack([transform(s.image) for s in samples]).float().to(device)
    y = torch.as_tensor([int(s.target) for s in samples], dtype=torch.long, device=device)
    return x, y, [s.sample_id for s in samples], [s.image for s in samples]


def _context(adapter: Any, plan: Plan, device: str) -> atk.Context:
    def predict(batch: Any) -> Any:
        with torch.no_grad():
            return torch.as_tensor(adapter.predict(batch, [])).float()

    model = (
        atk.PixelsModule(adapter.forward_pixels, adapter.module, device) if adapter.differentiable else None
    )
    return atk.Context(
        model=model, predict=predict, norm=plan.norm, steps=plan.steps, restarts=plan.restarts, device=device
    )


def _baseline(plan: Plan, task: Any, device: str) -> Any:
    if not plan.baseline or not plan.corruptions:
        return None
    from visionbench.harness.specs import parse_model_spec
    from visionbench.registry import build_adapter

    adapter = build_adapter(parse_model_spec(plan.baseline), "classification")
    adapter.prepare(task.info(), device=device, precision="fp32")
    return adapter


def _chunk(
    task: Any,
    ctx: atk.Context,
    adapter: Any,
    baseline: Any,
    x: Any,
    y: Any,
    images: list[Any],
    chunk: list[int],
    seed: int,
    run_seed: int,
) -> dict[str, Any]:
    """The canonical robustness 'prediction' of one chunk: clean labels, cells, notes."""
    plan: Plan = task.plan
    notes: list[str] = []
    cells: dict[str, np.ndarray] = {}
    with torch.no_grad():
        clean = atk._logits(ctx, x)
    if atk.outputs_change(ctx, x):
        ctx.randomised = True
        notes.append(
            f"randomised: outputs differ between identical calls; PGD uses EOT over {plan.eot} samples"
        )
        ctx.model = atk.EOTModule(ctx.model, plan.eot) if ctx.model is not None else None
    attacks = plan.attacks
    if ctx.model is None and attacks:
        attacks = ("square",)
        notes.append("black-box: the model is not differentiable, Square only")
    norm = norm_key(plan.norm)
    adv_seen: dict[str, Any] = {}
    for eps in plan.eps:
        for name in attacks:
            outcome = atk.ATTACKS[name](ctx, x, y, eps, seed)
            cells[f"{name}/{norm}/{eps_key(eps)}"] = outcome.raw
            notes += [f"{name}: {n}" for n in outcome.notes]
            adv_seen[name] = (eps, outcome)
    if plan.checks and ctx.model is not None and plan.eps:
        top = max(plan.eps)
        more = atk.pgd(ctx, x, y, top, seed, steps=2 * plan.steps, restarts=plan.restarts + 1)
        cells[f"check-steps/{norm}/{eps_key(top)}"] = more.raw
        unbounded = 1.0 if plan.norm == "Linf" else math.sqrt(x[0].numel())
        cells[f"check-unbounded/{norm}"] = atk.pgd(ctx, x, y, unbounded, seed).raw
        base = ctx.model.model if isinstance(ctx.model, atk.EOTModule) else ctx.model
        cells["grad-nonzero"] = atk.nonzero_gradients(base, x, y)
    if plan.corruptions:
        truth = y.cpu().numpy()
        cells.update(_corrupt(plan, adapter, x.device, images, chunk, run_seed, "corrupt", truth))
        if baseline is not None:
            cells.update(_corrupt(plan, baseline, x.device, images, chunk, run_seed, "baseline", truth))
    _gallery(task, x, y, clean, adv_seen, ctx)
    names = sorted(cells)
    return {
        "label": clean.argmax(1).cpu().numpy(),
        "cells": [names] * len(chunk),
        "values": [[bool(cells[n][i]) for n in names] for i in range(len(chunk))],
        "notes": [sorted(set(notes))] * len(chunk),
    }


def _corrupt(
    plan: Plan,
    model: Any,
    device: Any,
    images: list[Any],
    chunk: list[int],
    seed: int,
    prefix: str,
    truth: np.ndarray,
) -> dict[str, np.ndarray]:
    """Correctness per sample under every (corruption, severity), plus the clean cell for the baseline."""
    from visionbench.robustness.corruptions import corrupt_image, corruption_seed

    transform = model.transform()

    def labels(pictures: list[Any]) -> np.ndarray:
        batch = torch.stack([transform(p) for p in pictures]).float().to(device)
        with torch.no_grad():
            return torch.as_tensor(model.predict(batch, [])).argmax(1).cpu().numpy() == truth

    out: dict[str, np.ndarray] = {}
    if prefix == "baseline":
        out["baseline/clean"] = labels(images)
    for name in plan.corruptions:
        for severity in plan.severities:
            pictures = [
                corrupt_image(im, name, severity, corruption_seed(seed, i, name, severity), plan.min_side)
                for im, i in zip(images, chunk, strict=True)
            ]
            out[f"{prefix}/{name}/{severity}"] = labels(pictures)
    return out


def _gallery(task: Any, x: Any, y: Any, clean: Any, adv_seen: dict[str, Any], ctx: atk.Context) -> None:
    """Keep a few clean/adversarial pairs (largest eps, first attack that broke them) for the gallery."""
    gallery = task.__dict__.setdefault("gallery", [])
    for name, (eps, outcome) in adv_seen.items():
        adv = outcome.adversarial
        with torch.no_grad():
            adv_label = atk._logits(ctx, adv).argmax(1)
        for i in range(len(y)):
            if len(gallery) >= GALLERY_SIZE:
                return
            if int(clean[i].argmax()) == int(y[i]) and int(adv_label[i]) != int(y[i]):
                gallery.append(
                    {
                        "attack": name,
                        "eps": eps,
                        "target": int(y[i]),
                        "clean_label": int(clean[i].argmax()),
                        "adv_label": int(adv_label[i]),
                        "clean": x[i].detach().cpu().numpy(),
                        "adversarial": adv[i].detach().cpu().numpy(),
                    }
                )
