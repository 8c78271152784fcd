"""A confusion matrix drawn as a PNG heat map with Pillow (no plotting library to import).

Rows are the truth, columns the prediction; each cell is shaded by its row-normalised share
(white at 0, dark blue at 1) and, up to 20 classes, shows its count. Class names label both axes
(the column names written vertically). matplotlib drew the same picture at the cost of about
half a second of imports in every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

LIGHT = np.array([247, 251, 255], dtype=np.float64)  # the ends of a white-to-blue ramp
DARK = np.array([8, 48, 107], dtype=np.float64)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left), int(bottom - top)


def draw_confusion(cm: np.ndarray, classes: Sequence[str], path: Path) -> None:
    """Write the row-normalised heat map of ``cm`` (``K x K`` counts) to ``path`` as PNG."""
    from PIL import Image, ImageDraw

    k = len(classes)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    font = _font(11)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label = max((_text_size(probe, str(c), font)[0] for c in classes), default=0) + 8
    cell = max(22, min(48, 640 // max(k, 1)))
    margin = 24
    left, top = label + margin, margin
    width, height = left + k * cell + margin, top + k * cell + label + margin
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for i in range(k):
        for j in range(k):
            colour = tuple(int(round(v)) for v in LIGHT + (DARK - LIGHT) * float(share[i, j]))
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=colour)
            if k <= 20 and cm[i, j]:
                text = str(int(cm[i, j]))
                tw, th = _text_size(draw, text, font)
                ink = "white" if share[i, j] > 0.5 else "black"
                draw.text((x + (cell - tw) / 2, y + (cell - th) / 2), text, fill=ink, font=font)
    for i, name in enumerate(classes):
        tw, th = _text_size(draw, str(name), font)
        draw.text((left - tw - 4, top + i * cell + (cell - th) / 2), str(name), fill="black", font=font)
        column = Image.new("RGBA", (tw + 4, th + 6), (255, 255, 255, 0))
        ImageDraw.Draw(column).text((0, 0), str(name), fill="black", font=font)
        turned = column.rotate(90, expand=True)
        image.paste(turned, (left + i * cell + (cell - turned.width) // 2, top + k * cell + 4), turned)
    draw.text((left, 4), "prediction (columns) / truth (rows), row-normalised", fill="black", font=font)
    image.save(path, format="PNG")
