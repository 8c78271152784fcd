"""Artifacts of a robustness run: robust accuracy vs eps, the corruption heat map, the adversarial gallery.

``robust_curve.json/.png``: per attack and the worst case, robust top-1 at eps 0 (clean) and each eps.
``corruption_grid.csv`` and ``corruption_heatmap.png``: top-1 per corruption type and severity.
``adversarial_gallery.png``: clean/adversarial pairs with their predictions and the perturbation
magnified to the full range (only when the attacks ran in this process; a rescore has no images).
``honesty.json``: the flags of the honesty checks.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def curves(values: dict[str, float], norm: str) -> dict[str, Any]:
    """``{"norm", "clean", "series": {name: [[eps, robust top-1], ...]}}`` from the metric keys."""
    series: dict[str, list[list[float]]] = {}
    for key, value in values.items():
        parts = key.split("/")
        if parts[0] != "robust_top1" or len(parts) not in (3, 4) or parts[-2] != norm:
            continue
        name = parts[1] if len(parts) == 4 else "worst case"
        series.setdefault(name, []).append([float(parts[-1]), value])
    clean = values.get("clean_top1", float("nan"))
    for points in series.values():
        points.sort()
        points.insert(0, [0.0, clean])
    return {"norm": norm, "clean": clean, "series": series}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curve(data: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, points in sorted(data["series"].items()):
        xs, ys = zip(*points, strict=True)
        ax.plot(xs, ys, marker="o", linewidth=2.5 if name == "worst case" else 1.2, label=name)
    ax.set_xlabel(f"eps ({data['norm']})")
    ax.set_ylabel("robust top-1")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def grid_table(values: dict[str, float]) -> tuple[list[str], list[int], np.ndarray]:
    cells = {tuple(k.split("/")[1:]): v for k, v in values.items() if k.startswith("corrupt_top1/")}
    kinds = sorted({k for k, _ in cells})
    severities = sorted({int(s) for _, s in cells})
    grid = np.full((len(kinds), len(severities)), np.nan)
    for (kind, severity), value in cells.items():
        grid[kinds.index(kind), severities.index(int(severity))] = value
    return kinds, severities, grid


def write_grid_csv(values: dict[str, float], path: Path) -> None:
    kinds, severities, grid = grid_table(values)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["corruption", *[f"severity {s}" for s in severities]])
        for kind, row in zip(kinds, grid, strict=True):
            writer.writerow([kind, *[f"{v:.6f}" for v in row]])


def plot_heatmap(values: dict[str, float], path: Path, label: str = "top-1") -> None:
    kinds, severities, grid = grid_table(values)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.2 * len(severities) + 3, 0.35 * len(kinds) + 1.5))
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(severities)), [str(s) for s in severities])
    ax.set_yticks(range(len(kinds)), kinds, fontsize=8)
    ax.set_xlabel("severity")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(
            j,
            i,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if value < 0.5 else "black",
        )
    fig.colorbar(image, ax=ax, label=label)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_gallery(gallery: list[dict[str, Any]], classes: list[str], path: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(3, len(gallery), figsize=(1.6 * len(gallery) + 0.5, 5.2), squeeze=False)

    def show(ax: Any, array: np.ndarray) -> None:
        picture = np.transpose(array, (1, 2, 0))
        ax.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])

    for j, item in enumerate(gallery):
        delta = item["adversarial"] - item["clean"]
        scale = float(np.abs(delta).max()) or 1.0
        show(axes[0, j], item["clean"])
        axes[0, j].set_title(f"clean: {classes[item['clean_label']]}", fontsize=7)
        show(axes[1, j], item["adversarial"])
        axes[1, j].set_title(f"{item['attack']}: {classes[item['adv_label']]}", fontsize=7)
        show(axes[2, j], 0.5 + 0.5 * delta / scale)
        axes[2, j].set_title(f"delta x{0.5 / scale:.0f}, eps {item['eps']:.4g}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def artifacts(
    values: dict[str, float],
    names: list[str],
    matrix: np.ndarray,
    norm: str,
    gallery: list[dict[str, Any]],
    classes: list[str],
    flags: list[dict[str, Any]],
) -> dict[str, Callable[[Path], Any]]:
    out: dict[str, Callable[[Path], Any]] = {
        "honesty.json": lambda p: Path(p).write_text(json.dumps({"flags": flags}, indent=1) + "\n"),
    }
    data = curves(values, norm)
    if data["series"]:
        out["robust_curve.json"] = lambda p: Path(p).write_text(json.dumps(data, indent=1) + "\n")
        out["robust_curve.png"] = lambda p: plot_curve(data, p)
    if any(k.startswith("corrupt_top1/") for k in values):
        out["corruption_grid.csv"] = lambda p: write_grid_csv(values, p)
        out["corruption_heatmap.png"] = lambda p: plot_heatmap(values, p)
    if gallery:
        items = list(gallery)
        out["adversarial_gallery.png"] = lambda p: plot_gallery(items, classes, p)
    return out
