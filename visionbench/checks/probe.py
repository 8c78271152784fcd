"""Checks that run the adapter on a few samples: image dependence, output schema, batch invariance.

One batch holds the first few real images of the dataset, a blank copy of each (one grey level)
and a copy with its pixels shuffled; the first samples are then predicted again one at a time.
From those predictions:

* *image dependence*: a model whose outputs on the real images equal its outputs on blank and
  shuffled ones (or are one constant for every image) does not look at its input;
* *output schema*: the task's own ``encode`` validates the canonical predictions; the raw model
  outputs are read for declared logits whose rows already sum to one (a softmax inside the model,
  which the metrics would otherwise take for logits or flatten again), detection boxes outside the
  image (the head clips them, which hides the bug) and segmentation maps whose channel count
  differs from the classes the model names;
* *batch invariance*: the same sample scored in the batch and alone: the fraction of changed
  decisions and the largest drift of the outputs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from visionbench.checks.findings import CheckReport
from visionbench.contracts import ImageMeta, Task

# Real images per probe (each with a blank and a shuffled copy) and how many are also predicted
# alone: kept small where a forward is expensive (captioning beam searches image by image;
# segmentation and detection run at full resolution), so the probe stays a few per cent of a run.
PROBE_SAMPLES = 4
PROBE_SAMPLES_BY_KIND = {"captioning": 1, "segmentation": 2, "detection": 2}
ALONE = 2
ALONE_BY_KIND = {"captioning": 1, "segmentation": 1, "detection": 1}
KINDS = ("classification", "detection", "segmentation", "captioning")
# drift beyond this (relative to the largest output magnitude) is not float rounding
DRIFT_TOLERANCE = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 5e-2}
SAME_TOLERANCE = 1e-6
INSIDE_SHARE = 0.5  # a box with less of its area inside the image than this is outside
NORMALISED_MAX = 1.5
OUTSIDE_SHARE = 0.25  # more boxes than this share mostly outside the image is an error
SUM_TOLERANCE = 1e-3


def blank_image(image: Any) -> Any:
    """The image's size and mode, every pixel mid-grey."""
    from PIL import Image

    mode = image.mode if image.mode in ("L", "RGB") else "RGB"
    return Image.new(mode, image.size, 128 if mode == "L" else (128, 128, 128))


def shuffled_image(image: Any, rng: np.random.Generator) -> Any:
    """The same pixel values at random positions: colour statistics kept, every shape destroyed."""
    from PIL import Image

    pixels = np.asarray(image if image.mode in ("L", "RGB") else image.convert("RGB"))
    flat = pixels.reshape(pixels.shape[0] * pixels.shape[1], -1)
    out = flat[rng.permutation(len(flat))].reshape(pixels.shape)
    return Image.fromarray(np.ascontiguousarray(out))


@contextlib.contextmanager
def captured_outputs(adapter: Any) -> Any:
    """Record what the loader's model returns (before the head clips or selects anything)."""
    model = getattr(adapter, "model", None)
    seen: list[Any] = []
    if model is None or not callable(getattr(model, "run", None)):
        yield seen
        return
    original = model.run

    def run(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        seen.append(out)
        return out

    model.run = run
    try:
        yield seen
    finally:
        model.run = original


def predict(
    adapter: Any, images: Sequence[Any], metas: Sequence[ImageMeta], precision: str, device: str
) -> Any:
    """Canonical predictions of ``images`` as one batch, through the adapter's own transform and collate."""
    import torch

    from visionbench.harness.runner import _autocast, _predict

    transform = adapter.transform()
    batch = adapter.collate([transform(image) for image in images])
    with torch.inference_mode(), _autocast(device, precision):
        return _predict(adapter, batch, list(metas))


def items(kind: str, predictions: Any) -> list[Any]:
    """Per-sample outputs as numpy arrays (captions: strings; detections: dicts of arrays)."""
    if kind == "classification":
        values = _numpy(predictions.float() if predictions.is_floating_point() else predictions)
        return [np.asarray(row, dtype=np.float64) for row in values]
    if kind == "detection":
        return [
            {k: np.asarray(_numpy(v), dtype=np.float64) for k, v in p.items() if k != "masks"}
            for p in predictions
        ]
    if kind == "segmentation":
        return [np.asarray(_numpy(p)) for p in predictions]
    return [str(p) for p in predictions]


def _numpy(value: Any) -> Any:
    return value.detach().to("cpu").numpy() if hasattr(value, "detach") else value


def decision(kind: str, item: Any) -> Any:
    """What a user reads off one prediction: the class, the best detection, the class map, the caption."""
    if kind == "classification":
        return int(item) if item.ndim == 0 else int(np.argmax(item))
    if kind == "detection":
        scores = item.get("scores", np.zeros(0))
        if not len(scores):
            return None
        best = int(np.argmax(scores))
        return int(item["labels"][best]), tuple(np.round(item["boxes"][best]).astype(int).tolist())
    if kind == "segmentation":
        return item.tobytes()
    return item


def drift(kind: str, a: Any, b: Any) -> tuple[float, float]:
    """``(largest difference, scale)`` between two predictions of one sample (inf when their shapes differ)."""
    if kind == "captioning":
        return (0.0 if a == b else float("inf")), 1.0
    if kind == "segmentation":
        if a.shape != b.shape:
            return float("inf"), 1.0
        return float(np.mean(a != b)), 1.0
    if kind == "detection":
        if a["scores"].shape != b["scores"].shape:
            return float("inf"), 1.0
        if not len(a["scores"]):
            return 0.0, 1.0
        order_a, order_b = np.argsort(-a["scores"], kind="stable"), np.argsort(-b["scores"], kind="stable")
        parts = [
            np.abs(a[k][order_a] - b[k][order_b]).max()
            for k in ("boxes", "scores", "labels")
            if k in a and k in b
        ]
        scale = max(1.0, float(np.abs(a["boxes"]).max()) if a["boxes"].size else 1.0)
        return float(max(parts)), scale
    if a.shape != b.shape:
        return float("inf"), 1.0
    return float(np.abs(a - b).max(initial=0.0)), max(1.0, float(np.abs(a).max(initial=0.0)))


def _same(kind: str, a: Any, b: Any) -> bool:
    value, scale = drift(kind, a, b)
    return value <= SAME_TOLERANCE * scale


def run_probe(
    adapter: Any, task: Task, report: CheckReport, *, device: str, precision: str, seed: int = 0,
    samples: int | None = None,
) -> None:  # fmt: skip
    """Predict the probe batch and the samples alone, then add the three checks' findings to ``report``."""
    import torch

    from visionbench.errors import VisionbenchError

    kind = getattr(task, "adapter_kind", task.kind)
    if kind not in KINDS or getattr(task, "drive", None) is not None:
        for check in ("image_dependence", "output_schema", "batch_invariance"):
            report.skipped[check] = f"the {task.kind} task drives the model itself"
        return
    count = min(samples or PROBE_SAMPLES_BY_KIND.get(kind, PROBE_SAMPLES), len(task.dataset))
    try:
        loaded = [task.dataset.load(i) for i in range(count)]
    except VisionbenchError as exc:
        for check in ("image_dependence", "output_schema", "batch_invariance"):
            report.skipped[check] = f"a probe sample could not be decoded: {exc}"
        return
    rng = np.random.default_rng(seed)
    real = [s.image for s in loaded]
    metas = [ImageMeta(i, s.sample_id, *s.image.size) for i, s in enumerate(loaded)]
    images = real + [blank_image(im) for im in real] + [shuffled_image(im, rng) for im in real]
    names = [m.sample_id for m in metas]
    all_metas = metas + [
        ImageMeta(m.index, f"{m.sample_id} ({what})", m.width, m.height)
        for what in ("blank", "shuffled")
        for m in metas
    ]
    cuda = device.startswith("cuda")
    devices = [torch.device(device).index or 0] if cuda else []
    with torch.random.fork_rng(devices=devices), captured_outputs(adapter) as raw:
        try:
            batch = predict(adapter, images, all_metas, precision, device)
            first_raw = raw[0] if raw else None
            alone = [
                predict(adapter, [real[i]], [metas[i]], precision, device)
                for i in range(min(ALONE_BY_KIND.get(kind, ALONE), count))
            ]
        except VisionbenchError as exc:
            report.add("output_schema", "error", f"the model failed on the probe batch: {exc}")
            return
    outputs = items(kind, batch)
    try:
        task.encode(list(range(count)), batch[:count], [s.target for s in loaded], names)
    except VisionbenchError as exc:
        report.add("output_schema", "error", f"predictions do not fit the task: {exc}")
        return
    _schema(kind, adapter, first_raw, metas, report)
    _dependence(kind, outputs, count, report)
    _batch(kind, outputs, [items(kind, a)[0] for a in alone], precision, report)


def _schema(kind: str, adapter: Any, raw: Any, metas: Sequence[ImageMeta], report: CheckReport) -> None:
    """Raw-output checks the canonical form hides: probabilities declared as logits, boxes off the image."""
    from visionbench.adapters.core import unwrap

    result: dict[str, Any] = {"kind": kind}
    report.results["output_schema"] = result
    if raw is None:
        result["raw_outputs"] = "not observable (the adapter predicts without a loader model)"
        return
    if kind in ("classification", "segmentation"):
        logits = unwrap(raw)
        if not hasattr(logits, "detach") or not logits.is_floating_point():
            return
        values = logits.detach().to("cpu").float()
        result["shape"] = list(values.shape)
        sums = values.sum(dim=1)
        if bool((values >= 0).all()) and bool(((sums - 1).abs() <= SUM_TOLERANCE).all()):
            # softmax of inputs in [0, 1] (probabilities) leaves a row's log-ratio max/min at most 1
            ratio = float((values.amax(dim=1).log() - values.amin(dim=1).clamp_min(1e-30).log()).max())
            flat = ratio <= 1.0 + 1e-5
            report.add(
                "output_schema", "warning",
                "the model's declared logits are already probabilities (every row sums to 1)"
                + ("; they are nearly uniform, the mark of a softmax applied twice" if flat else "")
                + ": remove the softmax from the model's output",
                rows_sum_to_one=True, max_log_ratio=ratio, channels=int(values.shape[1]),
            )  # fmt: skip
        classes = getattr(getattr(adapter, "model", None), "classes", None)
        if kind == "segmentation" and classes is not None and len(classes) != int(values.shape[1]):
            report.add(
                "output_schema", "error",
                f"the model names {len(classes)} classes but its class maps have {int(values.shape[1])} channels",
                channels=int(values.shape[1]), classes=len(classes),
            )  # fmt: skip
    elif kind == "detection":
        _boxes(raw, metas, report, result)


def _boxes(raw: Any, metas: Sequence[ImageMeta], report: CheckReport, result: dict[str, Any]) -> None:
    """More than ``OUTSIDE_SHARE`` of the boxes mostly outside their image (less than ``INSIDE_SHARE`` of
    the area inside), or every box within [0, 1] (normalised coordinates)."""
    outside, total, worst, largest = 0, 0, None, 0.0
    for item, meta in zip(raw, metas, strict=False):  # real images come first in the batch
        boxes = np.asarray(_numpy(item.get("boxes", np.zeros((0, 4)))), dtype=np.float64).reshape(-1, 4)
        total += len(boxes)
        if not len(boxes):
            continue
        largest = max(largest, float(np.abs(boxes).max()))
        clipped = boxes.copy()
        clipped[:, 0::2] = clipped[:, 0::2].clip(0, meta.width)
        clipped[:, 1::2] = clipped[:, 1::2].clip(0, meta.height)
        area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
        inside = (clipped[:, 2] - clipped[:, 0]).clip(0) * (clipped[:, 3] - clipped[:, 1]).clip(0)
        bad = np.where(
            area > 0, inside < INSIDE_SHARE * area, (boxes[:, :2] >= [meta.width, meta.height]).any(axis=1)
        )
        if bad.any() and worst is None:
            worst = {"sample": meta.sample_id, "box": boxes[int(np.flatnonzero(bad)[0])].tolist(),
                     "image": [meta.width, meta.height]}  # fmt: skip
        outside += int(bad.sum())
    result.update(boxes=total, boxes_outside=outside)
    # a few low-score boxes hanging over a border are normal; a wrong frame moves most of them out
    if outside > OUTSIDE_SHARE * total:
        report.add(
            "output_schema", "error",
            f"{outside} of {total} boxes lie mostly outside their image (first: {worst['box']} on sample "
            f"'{worst['sample']}' of {worst['image'][0]}x{worst['image'][1]}); the boxes are probably in another "
            "frame (the model's input size, cx/cy/w/h) than the original image's pixels",
            **worst, outside=outside, total=total,
        )  # fmt: skip
    elif total and largest <= NORMALISED_MAX and min(min(m.width, m.height) for m in metas) >= 16:
        report.add(
            "output_schema", "error",
            f"every one of {total} boxes lies within [0, {NORMALISED_MAX}]: they look normalised to the image "
            "size, not in pixels",
            total=total, largest=largest,
        )  # fmt: skip


def _dependence(kind: str, outputs: list[Any], count: int, report: CheckReport) -> None:
    real, blank, shuffled = outputs[:count], outputs[count : 2 * count], outputs[2 * count :]
    same_blank = sum(_same(kind, r, b) for r, b in zip(real, blank, strict=True))
    same_shuffled = sum(_same(kind, r, s) for r, s in zip(real, shuffled, strict=True))
    constant = count > 1 and all(_same(kind, real[0], r) for r in real[1:])
    changed_blank = np.mean(
        [decision(kind, r) != decision(kind, b) for r, b in zip(real, blank, strict=True)]
    )
    changed_shuffled = np.mean(
        [decision(kind, r) != decision(kind, s) for r, s in zip(real, shuffled, strict=True)]
    )
    report.results["image_dependence"] = {
        "samples": count,
        "unchanged_by_blank": int(same_blank),
        "unchanged_by_shuffle": int(same_shuffled),
        "decisions_changed_by_blank": float(changed_blank),
        "decisions_changed_by_shuffle": float(changed_shuffled),
        "constant_over_real_images": bool(constant),
    }
    empty = kind == "detection" and all(not len(o["scores"]) for o in outputs)
    if empty:
        report.add("image_dependence", "warning", f"no detections on any of the {3 * count} probe images")
    elif (same_blank == count and same_shuffled == count) or constant:
        report.add(
            "image_dependence", "error",
            "the model's outputs do not depend on the image: "
            + ("identical for every real image" if constant else "")
            + (" and " if constant and same_blank == count else "")
            + ("identical on blank and pixel-shuffled copies" if same_blank == count else ""),
            samples=count, constant=bool(constant),
        )  # fmt: skip


def _batch(kind: str, outputs: list[Any], alone: list[Any], precision: str, report: CheckReport) -> None:
    drifts = [drift(kind, outputs[i], a) for i, a in enumerate(alone)]
    flipped = float(np.mean([decision(kind, outputs[i]) != decision(kind, a) for i, a in enumerate(alone)]))
    relative = max((d / s for d, s in drifts), default=0.0)
    largest = max((d for d, _ in drifts), default=0.0)
    report.results["batch_invariance"] = {
        "samples": len(alone), "batch_size": len(outputs), "flipped": flipped, "max_drift": largest,
        "max_relative_drift": relative,
    }  # fmt: skip
    tolerance = DRIFT_TOLERANCE.get(precision, 1e-3)
    if kind == "segmentation":
        tolerance = 1e-3  # a share of pixels
    if flipped > 0 and (relative > tolerance or kind == "captioning"):
        report.add(
            "batch_invariance", "error",
            f"predictions change with the batch: {flipped:.0%} of samples scored alone differ from the batch "
            f"of {len(outputs)} (max drift {largest:.3g}); the model mixes images of a batch (batch statistics, "
            "padding) or is not in eval mode",
            flipped=flipped, max_drift=largest,
        )  # fmt: skip
    elif relative > tolerance:
        report.add(
            "batch_invariance", "warning",
            f"outputs drift by {largest:.3g} between batch 1 and batch {len(outputs)} (tolerance {tolerance:g} "
            "of the output scale) without changing a decision",
            max_drift=largest, relative=relative,
        )  # fmt: skip
