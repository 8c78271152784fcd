"""Train the zoo's shapes segmenters: ``python -m visionbench.zoo.train_segmentation [--only NAME]``.

Pixel-wise cross-entropy on the shapes *train* split, with the eight flips/transposes of the
square image as augmentation (every shape class is invariant under them), AdamW and a
one-cycle schedule. Seeded, a fixed thread count, deterministic kernels, channels-last
tensors (about three times faster on a CPU for these narrow convolutions). The held-out test
mIoU goes into ``weights/manifest.json`` beside the weights' sha256, merged with the records
already there.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class SegmentationRecipe:
    """How one segmenter is trained; ``background_weight`` scales the loss of background pixels (86% of them)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    train_images: int = 2000
    background_weight: float = 0.3
    threads: int = 1  # part of the recipe: float results may depend on it


SEGMENTATION_RECIPES: dict[str, SegmentationRecipe] = {
    "shapes-unet": SegmentationRecipe(epochs=10, batch_size=16, lr=5e-3),
    "shapes-fcn": SegmentationRecipe(epochs=3, batch_size=16, lr=5e-3),
}


def scene_arrays(split: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(uint8 images [N, H, W, 3], uint8 semantic masks [N, H, W])`` of a shapes split."""
    from visionbench.tasks.data.shapes import ShapesDataset

    scenes = ShapesDataset(split, n=n)
    images = np.stack([np.asarray(scene.image) for scene in scenes])
    masks = np.stack([scene.semantic for scene in scenes])
    return images, masks


def to_model_input(images: np.ndarray, preprocess: dict[str, Any]) -> torch.Tensor:
    """uint8 ``[N, H, W, 3]`` at the catalogue size -> normalised float ``[N, 3, H, W]``, as the adapter feeds it."""
    import torch

    if list(images.shape[1:3]) != list(preprocess["size"]):
        raise VisionbenchError(
            f"images are {list(images.shape[1:3])}, the catalogue expects {preprocess['size']}"
        )
    x = torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32).div_(255.0)
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def dihedral(x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, one of the eight flips/transposes of a square image, applied to input and mask alike."""
    import torch

    n = x.shape[0]
    for op, draw in zip(("h", "v", "t"), torch.rand(3, n, generator=gen) < 0.5, strict=True):
        xs = x.flip(-1) if op == "h" else x.flip(-2) if op == "v" else x.transpose(-1, -2)
        ys = y.flip(-1) if op == "h" else y.flip(-2) if op == "v" else y.transpose(-1, -2)
        x = torch.where(draw.view(n, 1, 1, 1), xs, x)
        y = torch.where(draw.view(n, 1, 1), ys, y)
    return x.contiguous(memory_format=torch.channels_last), y


def predict_maps(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 100) -> np.ndarray:
    """Argmax class maps ``int64 [N, H, W]`` of the model on ``x``."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            out.append(model(x[start : start + batch_size]).argmax(1).numpy())
    return np.concatenate(out)


def evaluate(
    model: torch.nn.Module, x: torch.Tensor, masks: np.ndarray, classes: Sequence[str]
) -> dict[str, float]:
    """Held-out ``miou``, ``pixel_accuracy`` and per-class IoU with the task's own metric code."""
    from visionbench.tasks.segmetrics import ConfusionAccumulator

    accumulator = ConfusionAccumulator(
        len(classes), ignore_index=255, class_names=list(classes), keep_per_image=False
    )
    for pred, target in zip(predict_maps(model, x), masks, strict=True):
        accumulator.update(pred, target)
    result = accumulator.compute()
    figures = {"miou": result.metrics["miou"], "pixel_accuracy": result.metrics["pixel_accuracy"]}
    figures.update({f"iou/{name}": row["iou"] for name, row in result.per_class.items()})
    return figures


def _progress(quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )


def fit_segmenter(
    name: str,
    *,
    recipe: SegmentationRecipe,
    seed: int = DEFAULT_SEED,
    quiet: bool = True,
    test_images: int | None = None,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train zoo segmenter ``name`` from scratch on the shapes train split; return the model (eval mode) and its figures."""
    import torch
    from torch.nn import functional as F

    entry = get_entry(name)
    train_images, train_masks = scene_arrays("train", recipe.train_images)
    test_images_arr, test_masks = scene_arrays("test", test_images)
    x_train = to_model_input(train_images, entry.preprocess)
    y_train = torch.from_numpy(train_masks).long()
    x_test = to_model_input(test_images_arr, entry.preprocess)
    weight = torch.ones(len(entry.classes))
    weight[0] = recipe.background_weight

    with reproducible(seed, recipe.threads):
        gen = torch.Generator().manual_seed(seed)
        model = entry.build().to(memory_format=torch.channels_last)
        optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps_per_epoch = -(-len(x_train) // recipe.batch_size)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=recipe.lr, total_steps=max(1, recipe.epochs * steps_per_epoch), pct_start=0.15
        )
        started = time.perf_counter()
        with _progress(quiet) as progress:
            task = progress.add_task(f"training {name}", total=recipe.epochs * steps_per_epoch)
            for _ in range(recipe.epochs):
                model.train()
                order = torch.randperm(len(x_train), generator=gen)
                for start in range(0, len(order), recipe.batch_size):
                    idx = order[start : start + recipe.batch_size]
                    xb, yb = dihedral(x_train[idx], y_train[idx], gen)
                    loss = F.cross_entropy(model(xb), yb, weight=weight)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    scheduler.step()
                    progress.advance(task)
        train_seconds = time.perf_counter() - started
        # Evaluated in the default memory format, as the harness runs it.
        model = model.to(memory_format=torch.contiguous_format).eval()
        held_out = evaluate(model, x_test.contiguous(), test_masks, entry.classes)
    figures = {
        "test_miou": round(held_out["miou"], 6),
        "test_pixel_accuracy": round(held_out["pixel_accuracy"], 6),
        "test_iou": {k.split("/", 1)[1]: round(v, 6) for k, v in held_out.items() if k.startswith("iou/")},
        "test_samples": len(test_masks),
        "train_samples": len(x_train),
        "epochs": recipe.epochs,
        "seed": seed,
        "threads": recipe.threads,
        "train_seconds": round(train_seconds, 2),
    }
    return model, figures


@register_trainer(*SEGMENTATION_RECIPES)
def train_segmenter(
    name: str,
    *,
    out_dir: Path,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    quiet: bool = True,
    train_images: int | None = None,
    test_images: int | None = None,
) -> dict[str, Any]:
    """Train ``name``, write ``<out_dir>/<weights>`` and return its manifest record."""
    recipe = SEGMENTATION_RECIPES[name]
    if epochs is not None:
        recipe = replace(recipe, epochs=epochs)
    if train_images is not None:
        recipe = replace(recipe, train_images=train_images)
    model, figures = fit_segmenter(name, recipe=recipe, seed=seed, quiet=quiet, test_images=test_images)
    return save_and_record(name, model, figures, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m visionbench.zoo.train_segmentation", description="Train the zoo's shapes segmenters."
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", choices=sorted(SEGMENTATION_RECIPES), help="train only these"
    )
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="output directory (default: the package's)"
    )
    parser.add_argument("--epochs", type=int, help="override every recipe's number of epochs")
    parser.add_argument(
        "--train-images", type=int, help="train on the first N train scenes (default: the recipe's)"
    )
    parser.add_argument("--test-images", type=int, help="evaluate on the first N test scenes (default: all)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    for option in ("epochs", "train_images", "test_images"):
        value = getattr(args, option)
        if value is not None and value < 1:
            print(f"error: --{option.replace('_', '-')} must be at least 1", file=sys.stderr)
            return 2
    try:
        for name in args.only or sorted(SEGMENTATION_RECIPES):
            record = train_segmenter(
                name,
                out_dir=args.out,
                epochs=args.epochs,
                seed=args.seed,
                quiet=args.quiet,
                train_images=args.train_images,
                test_images=args.test_images,
            )
            write_manifest([record], args.out)
            print(
                f"{name:<14} test mIoU {record['test_miou']:.4f}  pixel acc {record['test_pixel_accuracy']:.4f}  "
                f"epochs {record['epochs']:>3}  {record['train_seconds']:7.1f} s  {record['bytes'] / 1024:7.1f} KiB"
            )
    except VisionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
