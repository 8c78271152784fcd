"""Train the zoo's models and record what was trained: ``python -m visionbench.zoo.train``.

Every model is trained seeded, with a fixed thread count and deterministic kernels, on its
dataset's *train* split only; the held-out test top-1 goes into ``weights/manifest.json`` next to
the sha256 of each weights file. ``TRAINERS`` maps a zoo name to the function that trains it;
other kinds (detection, segmentation) register theirs with :func:`register_trainer` from their own
modules, listed in ``TRAINER_MODULES``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionbench.errors import VisionbenchError
from visionbench.zoo.catalog import MANIFEST_NAME, WEIGHTS_DIR, get_entry

if TYPE_CHECKING:
    import numpy as np
    import torch

DEFAULT_SEED = 0
MANIFEST_SCHEMA_VERSION = 1

# A trainer: (name, *, out_dir, epochs (None = recipe default), seed, quiet) -> manifest record.
Trainer = Callable[..., dict[str, Any]]
TRAINERS: dict[str, Trainer] = {}
# Modules imported by the CLI so that their @register_trainer calls add to TRAINERS.
TRAINER_MODULES: tuple[str, ...] = (
    "visionbench.zoo.train_detection",
    "visionbench.zoo.train_segmentation",
    "visionbench.zoo.train_captioning",
    "visionbench.zoo.language_train",
)


def register_trainer(*names: str) -> Callable[[Trainer], Trainer]:
    """Decorator: make ``fn`` the trainer of the zoo models ``names``."""

    def decorate(fn: Trainer) -> Trainer:
        for name in names:
            TRAINERS[name] = fn
        return fn

    return decorate


@dataclass(frozen=True)
class ClassificationRecipe:
    """How one classifier is trained. ``augment`` is ``"none"``, ``"shift1"`` (random +-1 px) or ``"hflip"``."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    augment: str = "none"
    label_smoothing: float = 0.0
    # Part of the recipe because float results may depend on it. One thread: these kernels are too small
    # to gain much from more, and OpenMP threads slow down several-fold on a machine that is busy.
    threads: int = 1


CLASSIFICATION_RECIPES: dict[str, ClassificationRecipe] = {
    # Few epochs, no augmentation: softmax regression is meant to be the weakest entry.
    "digits-linear": ClassificationRecipe(epochs=10, batch_size=64, lr=1e-2, weight_decay=1e-4),
    "digits-mlp": ClassificationRecipe(epochs=60, batch_size=64, lr=3e-3, weight_decay=1e-4),
    "digits-cnn": ClassificationRecipe(
        epochs=60, batch_size=64, lr=3e-3, weight_decay=5e-4, augment="shift1"
    ),
    # Three epochs of the full 60k train set: a few minutes on two CPU cores.
    "fashion-cnn": ClassificationRecipe(
        epochs=3, batch_size=256, lr=4e-3, weight_decay=5e-4, augment="hflip", label_smoothing=0.05
    ),
}
# The language comparison (visionbench/zoo/language_catalog.py): one recipe per dataset shared by the plain,
# the two text-fused and the random-vector heads, so that all get the same budget.
LANGUAGE_RECIPES: dict[str, ClassificationRecipe] = {
    "digits": ClassificationRecipe(epochs=40, batch_size=64, lr=3e-3, weight_decay=5e-4, augment="shift1"),
    "fashion": ClassificationRecipe(epochs=2, batch_size=256, lr=4e-3, weight_decay=5e-4, augment="hflip"),
}
CLASSIFICATION_RECIPES.update(
    {
        f"{data}-lang-{head}": recipe
        for data, recipe in LANGUAGE_RECIPES.items()
        for head in ("plain", "attend", "project", "random")
    }
)


@contextlib.contextmanager
def reproducible(seed: int, threads: int) -> Iterator[None]:
    """Seed torch, fix the thread count and demand deterministic kernels; restore the settings afterwards."""
    import torch

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def load_classification_split(dataset: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(uint8 images [N, H, W], int64 labels)`` of a built-in classification dataset."""
    if dataset == "digits":
        from visionbench.tasks.data.digits import load_digits_split

        return load_digits_split(split)
    if dataset == "fashion-mnist":
        from visionbench.tasks.data.idx import load_fashion_mnist

        return load_fashion_mnist(None, split)
    raise VisionbenchError(f"no classification data loader for dataset {dataset!r}")


def to_model_input(images: np.ndarray, preprocess: dict[str, Any]) -> torch.Tensor:
    """uint8 ``[N, H, W]`` at the catalogue size -> normalised float ``[N, 1, H, W]``, as an adapter would feed it."""
    import torch

    if list(images.shape[1:]) != list(preprocess["size"]):
        raise VisionbenchError(f"images are {images.shape[1:]}, the catalogue expects {preprocess['size']}")
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze(1)
    mean = torch.tensor(preprocess["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(preprocess["std"], dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


def _augment(x: torch.Tensor, kind: str, fill: float, gen: torch.Generator) -> torch.Tensor:
    import torch

    if kind == "none":
        return x
    n = x.shape[0]
    if kind == "hflip":
        flip = torch.rand(n, generator=gen) < 0.5
        return torch.where(flip.view(n, 1, 1, 1), x.flip(-1), x)
    if kind == "shift1":
        h, w = x.shape[-2:]
        padded = torch.nn.functional.pad(x, (1, 1, 1, 1), value=fill)
        offsets = torch.randint(0, 3, (n, 2), generator=gen)
        out = torch.empty_like(x)
        for dy in range(3):
            for dx in range(3):
                sel = (offsets[:, 0] == dy) & (offsets[:, 1] == dx)
                out[sel] = padded[sel, :, dy : dy + h, dx : dx + w]
        return out
    raise VisionbenchError(f"unknown augmentation {kind!r}")


def evaluate_top1(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Fraction of ``x`` whose argmax logit equals ``y``."""
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(x[start : start + batch_size])
            correct += int((logits.argmax(1) == y[start : start + batch_size]).sum())
    return correct / len(x)


def _progress(quiet: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet or not sys.stderr.isatty(),
        transient=True,
    )


def fit_classifier(
    name: str,
    *,
    epochs: int | None = None,
    seed: int = DEFAULT_SEED,
    threads: int | None = None,
    quiet: bool = True,
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train zoo classifier ``name`` from scratch on its train split; return the model (eval mode) and its figures."""
    import torch

    entry = get_entry(name)
    recipe = CLASSIFICATION_RECIPES[name]
    n_epochs = recipe.epochs if epochs is None else epochs
    threads = recipe.threads if threads is None else threads
    train_images, train_labels = load_classification_split(entry.dataset, "train")
    test_images, test_labels = load_classification_split(entry.dataset, "test")
    x_train = to_model_input(train_images, entry.preprocess)
    y_train = torch.from_numpy(train_labels)
    x_test = to_model_input(test_images, entry.preprocess)
    y_test = torch.from_numpy(test_labels)
    # The value a black (0) pixel takes after normalisation: what shifted-in borders are filled with.
    fill = -entry.preprocess["mean"][0] / entry.preprocess["std"][0]

    with reproducible(seed, threads):
        gen = torch.Generator().manual_seed(seed)
        model = entry.build()
        optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
        steps_per_epoch = -(-len(x_train) // recipe.batch_size)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=recipe.lr, total_steps=max(1, n_epochs * steps_per_epoch), pct_start=0.15
        )
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
        started = time.perf_counter()
        with _progress(quiet) as progress:
            task = progress.add_task(f"training {name}", total=n_epochs * steps_per_epoch)
            for _ in range(n_epochs):
                model.train()
                order = torch.randperm(len(x_train), generator=gen)
                for start in range(0, len(order), recipe.batch_size):
                    idx = order[start : start + recipe.batch_size]
                    xb = _augment(x_train[idx], recipe.augment, fill, gen)
                    loss = loss_fn(model(xb), y_train[idx])
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    scheduler.step()
                    progress.advance(task)
        train_seconds = time.perf_counter() - started
        top1 = evaluate_top1(model, x_test, y_test)
    figures = {
        "test_top1": round(top1, 6),
        "test_samples": len(y_test),
        "train_samples": len(y_train),
        "epochs": n_epochs,
        "seed": seed,
        "threads": threads,
        "train_seconds": round(train_seconds, 2),
    }
    return model, figures


def save_weights(model: torch.nn.Module, path: Path) -> str:
    """Save the fp32 ``state_dict`` to ``path`` and return the file's sha256."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    torch.save(state, path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_and_record(name: str, model: Any, figures: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Save a trained zoo model's weights and return its manifest record (any task kind)."""
    import torch

    entry = get_entry(name)
    path = Path(out_dir) / entry.weights
    sha = save_weights(model, path)
    return {
        "name": name,
        "kind": entry.kind,
        "dataset": entry.dataset,
        "file": entry.weights,
        "sha256": sha,
        "bytes": path.stat().st_size,
        "params": sum(p.numel() for p in model.parameters()),
        **figures,
        "torch": torch.__version__,
    }


@register_trainer(*CLASSIFICATION_RECIPES)
def train_classifier(
    name: str, *, out_dir: Path, epochs: int | None = None, seed: int = DEFAULT_SEED, quiet: bool = True
) -> dict[str, Any]:
    """Train ``name``, write ``<out_dir>/<weights>`` and return its manifest record."""
    model, figures = fit_classifier(name, epochs=epochs, seed=seed, quiet=quiet)
    return save_and_record(name, model, figures, out_dir)


def read_manifest(out_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """The manifest in ``out_dir`` (an empty one if there is none yet)."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        return {"schema_version": MANIFEST_SCHEMA_VERSION, "models": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(records: Sequence[dict[str, Any]], out_dir: Path = WEIGHTS_DIR) -> Path:
    """Merge ``records`` into the manifest in ``out_dir`` (other models' records are kept) and write it."""
    manifest = read_manifest(out_dir)
    manifest["schema_version"] = MANIFEST_SCHEMA_VERSION
    models = manifest.setdefault("models", {})
    for record in records:
        models[record["name"]] = record
    manifest["models"] = dict(sorted(models.items()))
    path = Path(out_dir) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m visionbench.zoo.train", description="Train the zoo models and write their weights."
    )
    parser.add_argument("--only", nargs="+", metavar="NAME", help="train only these zoo models")
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="output directory (default: the package's)"
    )
    parser.add_argument("--epochs", type=int, help="override every recipe's number of epochs")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    for module in TRAINER_MODULES:
        importlib.import_module(module)
    names = list(args.only) if args.only else sorted(TRAINERS)
    unknown = [n for n in names if n not in TRAINERS]
    if unknown:
        print(
            f"error: no trainer for {', '.join(unknown)}; known: {', '.join(sorted(TRAINERS))}",
            file=sys.stderr,
        )
        return 2
    if args.epochs is not None and args.epochs < 1:
        print("error: --epochs must be at least 1", file=sys.stderr)
        return 2
    records = []
    try:
        for name in names:
            record = TRAINERS[name](
                name, out_dir=args.out, epochs=args.epochs, seed=args.seed, quiet=args.quiet
            )
            records.append(record)
            headline = next(k for k in ("test_top1", "test_map", "test_miou", "test_cider") if k in record)
            print(
                f"{name:<22} {headline.replace('_', ' ')} {record[headline]:.4f}  epochs {record['epochs']:>3}  "
                f"{record['train_seconds']:7.1f} s  {record['bytes'] / 1024:7.1f} KiB"
            )
            write_manifest([record], args.out)
    except VisionbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    # Run the package's copy of this module: the trainer modules register into its TRAINERS, not __main__'s.
    from visionbench.zoo.train import main as package_main

    raise SystemExit(package_main())
