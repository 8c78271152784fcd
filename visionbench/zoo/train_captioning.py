"""Train the zoo's shapes captioners: ``python -m visionbench.zoo.train_captioning [--only NAME]``.

Teacher-forced next-word cross-entropy on the shapes *train* split, the recipe's caption angles
of every scene per step (the encoder runs once per image); no augmentation, because flipping a
scene would contradict the captions' left/right and top/bottom words. Auxiliary losses teach the
encoder what captions talk about, through heads that are not saved: which colour-shape pairs a
scene holds and how many of each shape (from the feature vector), and the shape class and colour
of each cell of the stride-4 map (from the scene's masks). AdamW and a one-cycle
schedule; seeded, one thread, deterministic kernels. The vocabulary is every word of the train
captions (stored in the weights). The held-out figures (CIDEr-D and BLEU-4 of the captions of the
model's zoo decoding on the shapes *test* split, scored by the captioning task) and that decoding go
into ``weights/manifest.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.errors import VisionbenchError
from visionbench.zoo.captioning_decoding import generation_of
from visionbench.zoo.catalog import WEIGHTS_DIR, get_entry
from visionbench.zoo.train import (
    DEFAULT_SEED,
    register_trainer,
    reproducible,
    save_and_record,
    write_manifest,
)


@dataclass(frozen=True)
class CaptioningRecipe:
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 1e-4
    train_images: int = 2000
    styles: tuple[int, ...] = (1,)  # which of the five caption angles the decoder learns
    flips: bool = False  # random horizontal and vertical flips (only for angles without positions)
    threads: int = 1  # part of the recipe: float results may depend on it


# Which of a scene's five caption angles (0 inventory, 1 counts, 2 positions, 3 sizes, 4 colours) a
# decoder learns; all five references still score its captions. The counts caption ("there are two red
# circles and a blue star") names every object and lists the shapes in a fixed order, where the
# inventory follows the drawing order, which no image shows. Written from the true objects with random
# wordings, each angle scores CIDEr-D against the five references of the shapes *val* split: inventory
# 1.36, counts 1.97, positions 1.28, sizes 1.51, colours 1.25; so the captioner learns the counts alone.
# The tiny captioner keeps the inventory and counts mixture it was trained with.
# Auxiliary targets that teach the encoder what captions talk about (a head used in training only):
# presence of each (colour, shape) pair, and each shape's count 0..5. A scene shows about three of the
# 35 pairs: the present ones are weighed up.
POSITIONS = 2  # the angle that names left/right/top/bottom, which flips would contradict
NUM_PAIRS = 7 * 5
NUM_COUNTS = 5 * 6
POS_WEIGHT = 4.0

# The captioner's recipe was picked by CIDEr-D on the shapes *val* split (never the test split), greedy
# decoding: inventory and counts captions, 2000 scenes, 16 epochs: 0.87 (0.98 with 3 beams); counts
# alone: 1.01; the same for 32 epochs: 0.96 (over-fitting); counts alone, 4000 scenes of the train
# stream, random flips (no counts caption names a side), 16 epochs: 1.23 (1.14 with 3 beams, 1.16 with 5).
CAPTIONING_RECIPES: dict[str, CaptioningRecipe] = {
    "shapes-captioner": CaptioningRecipe(
        epochs=16, batch_size=16, lr=3e-3, train_images=4000, styles=(1,), flips=True
    ),
    "shapes-captioner-tiny": CaptioningRecipe(
        epochs=4, batch_size=16, lr=5e-3, train_images=1000, styles=(0, 1)
    ),
}


def caption_arrays(
    split: str, n: int | None, preprocess: dict[str, Any], styles: Sequence[int] = range(5)
) -> tuple[Any, list[tuple[str, ...]], list[Any]]:
    """``(float32 pixels [N, 3, H, W] in [0, 1], captions per scene, the scenes)`` of a
    shapes split, as the zoo adapter sees the images; ``styles`` picks which of the five captions to keep.

    ``n`` beyond the *train* split's 2000 scenes continues its seeded stream (scenes 2000, 2001, ...
    of the same seed, drawn like the split's own and disjoint from the val and test streams)."""
    import torch

    from visionbench.adapters.objects import model_preprocess
    from visionbench.adapters.pixels import ToPixels
    from visionbench.tasks.data.shapes import SPLITS, ShapesDataset, generate_scene

    to_pixels = ToPixels.of(model_preprocess("classification", preprocess))
    seed, total = SPLITS[split]
    if split == "train" and n is not None and n > total:
        scenes = (generate_scene(seed, i) for i in range(n))
    else:
        scenes = ShapesDataset(split, n=n)
    pixels, captions, kept = [], [], []
    for scene in scenes:
        pixels.append(to_pixels(scene.image))
        captions.append(tuple(scene.captions[i] for i in styles))
        kept.append(scene)
    return torch.stack(pixels), captions, kept


def dense_targets(scenes: list[Any], size: int) -> tuple[Any, Any]:
    """``int64 [N, size, size]`` shape class (0 background) and colour (0 background, 1..7) maps,
    sampled at the centres of a ``size x size`` grid over each scene (nearest pixel)."""
    import torch

    from visionbench.tasks.data.shapes import COLOURS

    colours = list(COLOURS)
    classes = torch.zeros(len(scenes), size, size, dtype=torch.long)
    paint = torch.zeros(len(scenes), size, size, dtype=torch.long)
    for i, scene in enumerate(scenes):
        height, width = scene.semantic.shape
        rows = ((np.arange(size) + 0.5) * height / size).astype(int)
        cols = ((np.arange(size) + 0.5) * width / size).astype(int)
        classes[i] = torch.from_numpy(scene.semantic[np.ix_(rows, cols)].astype(np.int64))
        for k, obj in enumerate(scene.attributes):
            mask = torch.from_numpy(np.asarray(scene.masks[k])[np.ix_(rows, cols)].astype(bool))
            paint[i][mask] = colours.index(obj.colour) + 1
    return classes, paint


def attribute_targets(scenes: list[Any]) -> tuple[Any, Any]:
    """``(float [N, 35] presence of each colour-shape pair, int64 [N, 5] count of each shape, at most 5)``."""
    import torch

    from visionbench.tasks.data.shapes import CLASSES, COLOURS

    colours = list(COLOURS)
    attributes = [scene.attributes for scene in scenes]
    pairs = torch.zeros(len(attributes), len(colours) * len(CLASSES))
    counts = torch.zeros(len(attributes), len(CLASSES), dtype=torch.long)
    for i, scene in enumerate(attributes):
        for obj in scene:
            shape = CLASSES.index(obj.shape)
            pairs[i, colours.index(obj.colour) * len(CLASSES) + shape] = 1.0
            counts[i, shape] = min(5, int(counts[i, shape]) + 1)
    return pairs, counts


def flipped(x: Any, classes: Any, colours: Any, generator: Any) -> tuple[Any, Any, Any]:
    """Each image of a batch and its dense maps mirrored left-right and/or top-bottom (a fair coin each)."""
    import torch

    x, classes, colours = x.clone(), classes.clone(), colours.clone()
    coins = torch.rand(len(x), 2, generator=generator) < 0.5
    for i in range(len(x)):
        dims = [d for d, coin in ((-1, coins[i, 0]), (-2, coins[i, 1])) if bool(coin)]
        if dims:
            x[i], classes[i], colours[i] = x[i].flip(dims), classes[i].flip(dims), colours[i].flip(dims)
    return x, classes, colours


def encode_captions(captions: list[tuple[str, ...]], words: list[str]) -> Any:
    """``int64 [N * 5, T]``: BOS, word ids, EOS, padding (unknown words map to UNK)."""
    import torch

    from visionbench.zoo.captioning_models import BOS, EOS, PAD, SPECIALS, UNK, words_of

    index = {w: i for i, w in enumerate(list(SPECIALS) + words)}
    rows = [[BOS, *(index.get(w, UNK) for w in words_of(c)), EOS] for refs in captions for c in refs]
    length = max(len(r) for r in rows)
    out = torch.full((len(rows), length), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row)
    return out


def held_out_figures(
    model: Any, preprocess: dict[str, Any], beams: int = 1, n: int | None = None
) -> dict[str, float]:
    """CIDEr-D and BLEU-4 of the model's captions (its zoo decoding) on the shapes test split (no METEOR)."""
    import torch

    from visionbench.contracts import TaskSpec
    from visionbench.harness.runner import build_task
    from visionbench.tasks.data.caption_datasets import ShapesCaptionsDataset

    pixels, captions, _ = caption_arrays("test", n, preprocess)
    mean = torch.tensor(preprocess["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(preprocess["std"]).view(1, 3, 1, 1)
    model.eval()
    generated = []
    for start in range(0, len(pixels), 100):
        generated += model.generate((pixels[start : start + 100] - mean) / std, beams=beams)
    dataset = ShapesCaptionsDataset("test", n)
    task = build_task(TaskSpec("captioning", "shapes", None, (("meteor", "off"),)), dataset)
    targets = [{"image_id": i, "references": refs} for i, refs in enumerate(captions)]
    task.update(list(range(len(generated))), generated, targets, [str(i) for i in range(len(generated))])
    metrics = task.compute().metrics
    return {"test_cider": round(metrics["cider"], 4), "test_bleu_4": round(metrics["bleu_4"], 4)}


def fit_captioner(
    name: str, *, epochs: int | None = None, seed: int = DEFAULT_SEED, quiet: bool = True
) -> tuple[Any, dict[str, Any]]:
    import torch
    from torch.nn import functional as F

    from visionbench.zoo.captioning_models import PAD, words_of

    entry, recipe = get_entry(name), CAPTIONING_RECIPES[name]
    if recipe.flips and POSITIONS in recipe.styles:
        raise ValueError(f"{name}: flips would contradict the position captions' left/right/above/below")
    epochs = epochs or recipe.epochs
    start = time.perf_counter()
    with reproducible(seed, recipe.threads):
        pixels, captions, attributes = caption_arrays(
            "train", recipe.train_images, entry.preprocess, recipe.styles
        )
        pairs, counts = attribute_targets(attributes)
        grid = entry.preprocess["size"][0] // 4  # the second block's map: stride 4
        dense_classes, dense_colours = dense_targets(attributes, grid)
        del attributes
        words = sorted({w for refs in captions for c in refs for w in words_of(c)})
        tokens = encode_captions(captions, words)
        per_image = len(captions[0])
        mean = torch.tensor(entry.preprocess["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(entry.preprocess["std"]).view(1, 3, 1, 1)
        inputs = (pixels - mean) / std
        model = entry.build()
        model.set_vocabulary(words)
        head = torch.nn.Linear(model.features, NUM_PAIRS + NUM_COUNTS)  # training signals only, not saved
        second = model.encoder.blocks[1][-3].out_channels
        dense = torch.nn.Conv2d(second, 6 + 8, 1)
        parameters = [*model.parameters(), *head.parameters(), *dense.parameters()]
        optimiser = torch.optim.AdamW(parameters, lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps = epochs * ((len(inputs) + recipe.batch_size - 1) // recipe.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=recipe.lr, total_steps=steps)
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(len(inputs), generator=generator)
            total = 0.0
            for first in range(0, len(order), recipe.batch_size):
                images = order[first : first + recipe.batch_size]
                rows = (images[:, None] * per_image + torch.arange(per_image)).reshape(-1)
                batch = tokens[rows]
                x, classes, colours = inputs[images], dense_classes[images], dense_colours[images]
                if recipe.flips:
                    x, classes, colours = flipped(x, classes, colours, generator)
                logits, features, maps = model(x, batch[:, :-1], repeat=per_image)
                aux = head(features)
                pixels_out = dense(maps[1])
                loss_dense = F.cross_entropy(pixels_out[:, :6], classes) + F.cross_entropy(
                    pixels_out[:, 6:], colours
                )
                loss = F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), ignore_index=PAD
                )
                presence = F.binary_cross_entropy_with_logits(
                    aux[:, :NUM_PAIRS], pairs[images], pos_weight=torch.tensor(POS_WEIGHT)
                )
                loss = loss + presence * NUM_PAIRS / 4
                loss = loss + F.cross_entropy(aux[:, NUM_PAIRS:].reshape(-1, 6), counts[images].reshape(-1))
                loss = loss + loss_dense
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, 5.0)
                optimiser.step()
                schedule.step()
                total += float(loss.detach()) * len(images)
            if not quiet:
                print(f"  {name} epoch {epoch + 1}/{epochs}: loss {total / len(inputs):.3f}", file=sys.stderr)
        train_seconds = time.perf_counter() - start
        beams = int(generation_of(name)["beams"])
        figures = held_out_figures(model, entry.preprocess, beams=beams)
    figures.update(
        epochs=epochs,
        seed=seed,
        threads=recipe.threads,
        train_images=len(inputs),
        vocabulary=len(words),
        test_samples=300,
        train_seconds=round(train_seconds, 2),
        styles=list(recipe.styles),
        decoding="greedy" if beams == 1 else f"beam search, {beams} beams",
    )
    return model, figures


@register_trainer(*CAPTIONING_RECIPES)
def train_captioner(
    name: str, *, out_dir: Path, epochs: int | None = None, seed: int = DEFAULT_SEED, quiet: bool = True
) -> dict[str, Any]:
    model, figures = fit_captioner(name, epochs=epochs, seed=seed, quiet=quiet)
    return save_and_record(name, model, figures, out_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m visionbench.zoo.train_captioning")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(CAPTIONING_RECIPES), default=sorted(CAPTIONING_RECIPES)
    )
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        for name in args.only:
            record = train_captioner(
                name, out_dir=args.out, epochs=args.epochs, seed=args.seed, quiet=args.quiet
            )
            print(f"{name:<22} test cider {record['test_cider']:.4f}  bleu-4 {record['test_bleu_4']:.4f}  "
                  f"{record['train_seconds']:7.1f} s  {record['bytes'] / 1024:7.1f} KiB")  # fmt: skip
            write_manifest([record], args.out)
    except VisionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
