"""Train the zoo's shapes detectors: ``python -m visionbench.zoo.train_detection [--only NAME]``.

CenterNet recipe: a Gaussian heatmap per class (focal loss) and box-edge distances
(L1 + GIoU) regressed around each object centre, on the shapes *train* split with the
eight flips/transposes of the square image as augmentation. Seeded, two threads,
deterministic kernels; the held-out test mAP@[.5:.95] goes into ``weights/manifest.json``
beside the weights' sha256, merged with the records already there.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from visionbench.errors import VisionbenchError
from visionbench.zoo.catalog import WEIGHTS_DIR, get_entry
from visionbench.zoo.train import (
    DEFAULT_SEED,
    register_trainer,
    reproducible,
    save_and_record,
    write_manifest,
)

if TYPE_CHECKING:
    import torch

INPUT_SIZE = 128


@dataclass(frozen=True)
class DetectionRecipe:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    train_images: int = 2000
    test_images: int | None = None  # None: the whole held-out test split
    threads: int = (
        1  # part of the recipe (float results may depend on it); OpenMP threads slow a busy machine down
    )


DETECTION_RECIPES: dict[str, DetectionRecipe] = {
    "shapes-centernet": DetectionRecipe(epochs=10, batch_size=16, lr=3e-3),
    # Half the width (a quarter of the compute), fewer updates: the weaker entry, so the leaderboard has a ranking.
    "shapes-centernet-tiny": DetectionRecipe(epochs=6, batch_size=16, lr=3e-3),
}


def _progress(quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, disable=quiet or not sys.stderr.isatty(), transient=True)


def normalise(images: torch.Tensor, preprocess: dict[str, Any]) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` -> the normalised float input the zoo adapter feeds the model."""
    import torch

    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(1, 3, 1, 1)
    return (images.to(torch.float32) / 255.0 - mean) / std


def scene_arrays(split: str, n: int | None) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """uint8 images ``[N, 3, S, S]``, per-image xyxy boxes and 0-based labels of a shapes split."""
    from visionbench.tasks.data.shapes import ShapesDataset

    dataset = ShapesDataset(split, n=n, size=INPUT_SIZE)
    images = np.empty((len(dataset), 3, INPUT_SIZE, INPUT_SIZE), dtype=np.uint8)
    boxes, labels = [], []
    for i, scene in enumerate(dataset):
        images[i] = np.asarray(scene.image).transpose(2, 0, 1)
        boxes.append(scene.boxes.astype(np.float32))
        labels.append(scene.labels - 1)
    return images, boxes, labels


def build_targets(
    boxes: list[np.ndarray], labels: list[np.ndarray], num_classes: int
) -> tuple[np.ndarray, ...]:
    """Heatmaps ``[N, C, G, G]``, edge targets ``[N, 4, G, G]`` and regression weights ``[N, G, G]``.

    Each object puts a Gaussian (sigma ~ its size / 24 px, at least 0.6 cells) at its centre cell;
    the cells of the 3x3 neighbourhood whose centres lie inside the box regress its edges,
    weighted by the Gaussian, so a peak one cell off still carries a good box.
    """
    from visionbench.zoo.detection_models import STRIDE

    grid = INPUT_SIZE // STRIDE
    n = len(boxes)
    heat = np.zeros((n, num_classes, grid, grid), dtype=np.float32)
    reg = np.zeros((n, 4, grid, grid), dtype=np.float32)
    weight = np.zeros((n, grid, grid), dtype=np.float32)
    centres = (np.arange(grid, dtype=np.float32) + 0.5) * STRIDE
    for i in range(n):
        # larger objects first, so a small object's targets win where two overlap
        for (x1, y1, x2, y2), c in sorted(
            zip(boxes[i], labels[i], strict=True), key=lambda t: -(t[0][2] - t[0][0]) * (t[0][3] - t[0][1])
        ):
            cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
            gx, gy = min(int(cx), grid - 1), min(int(cy), grid - 1)
            sigma = max(0.6, float(np.sqrt((x2 - x1) * (y2 - y1))) / STRIDE / 6)
            g = np.exp(
                -((np.arange(grid)[None, :] - gx) ** 2 + (np.arange(grid)[:, None] - gy) ** 2)
                / (2 * sigma**2)
            )
            heat[i, c] = np.maximum(heat[i, c], g)
            for yy in range(max(gy - 1, 0), min(gy + 2, grid)):
                for xx in range(max(gx - 1, 0), min(gx + 2, grid)):
                    px, py = centres[xx], centres[yy]
                    if x1 < px < x2 and y1 < py < y2:
                        reg[i, :, yy, xx] = (px - x1, py - y1, x2 - px, y2 - py)
                        weight[i, yy, xx] = g[yy, xx]
    return heat, reg, weight


def dihedral(x: torch.Tensor, heat: torch.Tensor, reg: torch.Tensor, weight: torch.Tensor, op: int) -> tuple:
    """One of the 8 flips/transposes of a square batch, applied to inputs and targets alike."""
    if op & 4:  # transpose: swap x and y, so left<->top and right<->bottom
        x, heat, weight = x.transpose(-1, -2), heat.transpose(-1, -2), weight.transpose(-1, -2)
        reg = reg.transpose(-1, -2)[:, [1, 0, 3, 2]]
    if op & 1:  # horizontal flip: left<->right
        x, heat, weight = x.flip(-1), heat.flip(-1), weight.flip(-1)
        reg = reg.flip(-1)[:, [2, 1, 0, 3]]
    if op & 2:  # vertical flip: top<->bottom
        x, heat, weight = x.flip(-2), heat.flip(-2), weight.flip(-2)
        reg = reg.flip(-2)[:, [0, 3, 2, 1]]
    return x, heat, reg, weight


def detection_loss(
    output: torch.Tensor, heat: torch.Tensor, reg: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """CenterNet focal loss on the heatmaps + weighted L1 (in 16 px units) and GIoU on the box edges."""
    import torch
    import torch.nn.functional as F

    from visionbench.zoo.detection_models import EDGE_SCALE, edges

    c = heat.shape[1]
    logits = output[:, :c]
    p = logits.sigmoid().clamp(1e-4, 1 - 1e-4)
    pos = heat.eq(1.0).float()
    num_pos = pos.sum().clamp(min=1.0)
    pos_loss = -(F.logsigmoid(logits) * (1 - p) ** 2 * pos).sum()
    neg_loss = -(F.logsigmoid(-logits) * p**2 * (1 - heat) ** 4 * (1 - pos)).sum()
    focal = (pos_loss + neg_loss) / num_pos

    mask = weight > 0
    pred = edges(output[:, c:]).permute(0, 2, 3, 1)[mask]  # [P, 4]
    tgt = reg.permute(0, 2, 3, 1)[mask]
    w = weight[mask]
    if pred.numel() == 0:
        return focal
    l1 = ((pred - tgt).abs().sum(1) / EDGE_SCALE * w).sum() / w.sum()
    # boxes relative to the cell centre: (-l, -t, r, b)
    inter_w = torch.minimum(pred[:, 0], tgt[:, 0]) + torch.minimum(pred[:, 2], tgt[:, 2])
    inter_h = torch.minimum(pred[:, 1], tgt[:, 1]) + torch.minimum(pred[:, 3], tgt[:, 3])
    inter = inter_w.clamp(min=0) * inter_h.clamp(min=0)
    area_p = (pred[:, 0] + pred[:, 2]) * (pred[:, 1] + pred[:, 3])
    area_t = (tgt[:, 0] + tgt[:, 2]) * (tgt[:, 1] + tgt[:, 3])
    union = area_p + area_t - inter
    hull = (torch.maximum(pred[:, 0], tgt[:, 0]) + torch.maximum(pred[:, 2], tgt[:, 2])) * (
        torch.maximum(pred[:, 1], tgt[:, 1]) + torch.maximum(pred[:, 3], tgt[:, 3])
    )
    giou = inter / union - (hull - union) / hull
    giou_loss = ((1 - giou) * w).sum() / w.sum()
    return focal + l1 + 2.0 * giou_loss


def _schedule(step: int, total: int) -> float:
    """Linear warm-up over the first 5% of the steps, then cosine decay to 2% of the peak rate."""
    import math

    warm = max(1, total // 20)
    if step < warm:
        return (step + 1) / warm
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def predict_boxes(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 100) -> list[dict[str, Any]]:
    """Decoded detections (input pixels, 0-based labels) for a normalised batch."""
    import torch

    from visionbench.zoo.detection_models import decode

    model.eval()
    out: list[dict[str, Any]] = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out += decode(model(x[start : start + batch_size]), model.num_classes)
    return out


def evaluate_map(
    model: torch.nn.Module, x: torch.Tensor, boxes: list[np.ndarray], labels: list[np.ndarray]
) -> dict[str, float]:
    """COCO bbox metrics of ``model`` on normalised images with their ground truth."""
    from visionbench.tasks.coco import evaluate_coco, predictions_to_coco

    images, anns, dets = [], [], []
    for i, det in enumerate(predict_boxes(model, x)):
        images.append({"id": i + 1, "width": INPUT_SIZE, "height": INPUT_SIZE})
        for b, c in zip(boxes[i].astype(np.float64), labels[i], strict=True):
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(c) + 1, "iscrowd": 0,
                         "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "area": float((b[2] - b[0]) * (b[3] - b[1]))})  # fmt: skip
        dets += predictions_to_coco(i + 1, {**det, "labels": det["labels"] + 1})
    categories = [{"id": k + 1, "name": str(k)} for k in range(model.num_classes)]
    return evaluate_coco({"images": images, "annotations": anns, "categories": categories}, dets).metrics


def fit_detector(
    name: str,
    *,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    threads: int | None = None,
    quiet: bool = True,
    train_images: int | None = None,
    test_images: int | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train zoo detector ``name`` from scratch on the shapes train split; return it (eval mode) and its figures."""
    import torch

    entry = get_entry(name)
    recipe = DETECTION_RECIPES[name]
    n_epochs = recipe.epochs if epochs is None else epochs
    threads = recipe.threads if threads is None else threads
    images, boxes, labels = scene_arrays("train", train_images or recipe.train_images)
    heat, reg, weight = (torch.from_numpy(a) for a in build_targets(boxes, labels, len(entry.classes)))
    x_all = torch.from_numpy(images)
    with reproducible(seed, threads):
        gen = torch.Generator().manual_seed(seed)
        model = entry.build()
        optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps_per_epoch = -(-len(x_all) // recipe.batch_size)
        total = max(1, n_epochs * steps_per_epoch)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: _schedule(step, total))
        started = time.perf_counter()
        with _progress(quiet) as progress:
            task = progress.add_task(f"training {name}", total=n_epochs * steps_per_epoch)
            for _ in range(n_epochs):
                model.train()
                order = torch.randperm(len(x_all), generator=gen)
                for start in range(0, len(order), recipe.batch_size):
                    idx = order[start : start + recipe.batch_size]
                    op = int(torch.randint(0, 8, (1,), generator=gen))
                    xb, hb, rb, wb = dihedral(
                        normalise(x_all[idx], entry.preprocess), heat[idx], reg[idx], weight[idx], op
                    )
                    loss = detection_loss(model(xb.contiguous()), hb, rb, wb)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    scheduler.step()
                    progress.advance(task)
        train_seconds = time.perf_counter() - started
        test, test_boxes, test_labels = scene_arrays("test", test_images or recipe.test_images)
        metrics = evaluate_map(
            model, normalise(torch.from_numpy(test), entry.preprocess), test_boxes, test_labels
        )
    figures = {
        "test_map": round(metrics["map"], 6),
        "test_map_50": round(metrics["map_50"], 6),
        "test_samples": len(test),
        "train_samples": len(x_all),
        "epochs": n_epochs,
        "seed": seed,
        "threads": threads,
        "train_seconds": round(train_seconds, 2),
    }
    return model.eval(), figures


@register_trainer(*DETECTION_RECIPES)
def train_detector(
    name: str, *, out_dir: Path, epochs: int | None = None, seed: int = DEFAULT_SEED, quiet: bool = True
) -> dict[str, Any]:
    """Train ``name``, write ``<out_dir>/<weights>`` and return its manifest record."""
    model, figures = fit_detector(name, epochs=epochs, seed=seed, quiet=quiet)
    return save_and_record(name, model, figures, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m visionbench.zoo.train_detection", description="Train the zoo's shapes detectors."
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", choices=sorted(DETECTION_RECIPES), help="train only these"
    )
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="output directory (default: the package's)"
    )
    parser.add_argument("--epochs", type=int, help="override every recipe's number of epochs")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        return 2
    try:
        for name in args.only or sorted(DETECTION_RECIPES):
            record = train_detector(
                name, out_dir=args.out, epochs=args.epochs, seed=args.seed, quiet=args.quiet
            )
            write_manifest([record], args.out)
            print(
                f"{name:<22} test mAP {record['test_map']:.4f}  mAP50 {record['test_map_50']:.4f}  epochs {record['epochs']:>3}  "
                f"{record['train_seconds']:7.1f} s  {record['bytes'] / 1024:7.1f} KiB"
            )
    except VisionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
