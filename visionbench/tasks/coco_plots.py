"""The precision-recall curve plot of a COCO evaluation (a run artifact)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from visionbench.tasks.coco import CocoResult


def plot_pr_curves(result: CocoResult, path: Path, *, max_classes: int = 20) -> Path:
    """Precision-recall curves at IoU .50 and .75: the class mean in bold, up to ``max_classes`` classes faint.

    Draws with matplotlib's object API on an Agg canvas, so no pyplot state or
    display is touched. Returns ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(10, 4.5), constrained_layout=True)
    FigureCanvasAgg(fig)
    classes = sorted(
        (n for n in result.pr_curves if n != "all" and not math.isnan(result.per_class[n]["ap"])),
        key=lambda n: -result.per_class[n]["ap"],
    )[:max_classes]
    for ax, key, title in zip(
        fig.subplots(1, 2), ("precision_50", "precision_75"), ("IoU 0.50", "IoU 0.75"), strict=True
    ):
        for n in classes:
            c = result.pr_curves[n]
            ax.plot(c["recall"], c[key], lw=0.8, alpha=0.35)
        mean = result.pr_curves["all"]
        ax.plot(mean["recall"], mean[key], color="black", lw=2.2, label="mean over classes")
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1.02),
            xlabel="recall",
            ylabel="precision",
            title=f"{result.iou_type} {title}",
        )
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
