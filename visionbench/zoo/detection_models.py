"""The zoo's small detectors: a CenterNet-style network on a tiny conv backbone.

Input: a normalised float tensor ``[N, 3, S, S]``. Output at stride 4: ``[N, C + 4, S/4, S/4]``,
``C`` class-heatmap logits (one peak per object centre) and four box-edge distances
(left, top, right, bottom) from the cell centre, in input pixels after :func:`decode`.
Decoding keeps 3x3 local maxima of the heatmap, so no box NMS is needed. Factories take no
arguments: the architecture is part of the model's name and the weights fit one shape.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STRIDE = 4
EDGE_SCALE = 16.0  # regression outputs are box-edge distances in units of 16 px (softplus keeps them > 0)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class CenterNetLite(nn.Module):
    """Three-level encoder (strides 4, 8, 16), a top-down path back to stride 4, and one shared head.

    ``widths`` are the channels at stride 2, 4, 8 and 16.
    """

    def __init__(self, widths: tuple[int, int, int, int] = (16, 32, 48, 64), num_classes: int = 5) -> None:
        super().__init__()
        w2, w4, w8, w16 = widths
        self.num_classes = num_classes
        self.stem = nn.Sequential(_conv(3, w2, 2), _conv(w2, w4, 2), _conv(w4, w4))
        self.down8 = nn.Sequential(_conv(w4, w8, 2), _conv(w8, w8))
        self.down16 = nn.Sequential(_conv(w8, w16, 2), _conv(w16, w16), _conv(w16, w16))
        self.lat8 = nn.Conv2d(w8, w16, 1)
        self.up8 = _conv(w16, w8)
        self.lat4 = nn.Conv2d(w4, w8, 1)
        self.up4 = _conv(w8, w4)
        self.head = nn.Sequential(_conv(w4, w4), nn.Conv2d(w4, num_classes + 4, 1))
        nn.init.constant_(
            self.head[-1].bias[:num_classes], -2.19
        )  # sigmoid prior 0.1: stable focal loss start
        nn.init.constant_(self.head[-1].bias[num_classes:], 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x4 = self.stem(x)
        x8 = self.down8(x4)
        x16 = self.down16(x8)
        y = self.up8(self.lat8(x8) + F.interpolate(x16, scale_factor=2.0, mode="nearest"))
        y = self.up4(self.lat4(x4) + F.interpolate(y, scale_factor=2.0, mode="nearest"))
        return self.head(y)

    def detect(self, x: torch.Tensor, top_k: int = 100) -> list[dict[str, torch.Tensor]]:
        """Decoded detections per image: xyxy boxes in input pixels, scores, 0-based labels."""
        return decode(self(x), self.num_classes, top_k)


def edges(raw: torch.Tensor) -> torch.Tensor:
    """Raw regression channels -> positive box-edge distances in input pixels."""
    return F.softplus(raw) * EDGE_SCALE


def cell_centres(
    height: int, width: int, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """x and y of every output cell's centre in input pixels, each ``[H, W]``."""
    ys = (torch.arange(height, device=device, dtype=torch.float32) + 0.5) * STRIDE
    xs = (torch.arange(width, device=device, dtype=torch.float32) + 0.5) * STRIDE
    return xs.view(1, -1).expand(height, width), ys.view(-1, 1).expand(height, width)


@torch.no_grad()
def decode(output: torch.Tensor, num_classes: int, top_k: int = 100) -> list[dict[str, torch.Tensor]]:
    """Network output -> per image ``boxes`` [K, 4] xyxy (input pixels), ``scores`` [K], ``labels`` [K] (0-based).

    Peaks are cells whose heat equals the 3x3 max-pooled heat; the best ``top_k`` peaks over
    all classes are kept, as CenterNet does.
    """
    heat = output[:, :num_classes].float().sigmoid()
    peaks = heat == F.max_pool2d(heat, 3, stride=1, padding=1)
    heat = heat * peaks
    n, c, h, w = heat.shape
    dist = edges(output[:, num_classes:].float())  # [N, 4, H, W]
    cx, cy = cell_centres(h, w, output.device)
    k = min(top_k, c * h * w)
    scores, index = heat.view(n, -1).topk(k, dim=1)
    labels = index // (h * w)
    cell = index % (h * w)
    out = []
    for i in range(n):
        d = dist[i].view(4, -1)[:, cell[i]]
        x, y = cx.reshape(-1)[cell[i]], cy.reshape(-1)[cell[i]]
        boxes = torch.stack([x - d[0], y - d[1], x + d[2], y + d[3]], dim=1)
        keep = scores[i] > 0.001
        out.append({"boxes": boxes[keep], "scores": scores[i][keep], "labels": labels[i][keep]})
    return out


def shapes_centernet() -> nn.Module:
    """``shapes-centernet``: widths 16-32-48-64 (about 200k parameters)."""
    return CenterNetLite((16, 32, 48, 64))


def shapes_centernet_tiny() -> nn.Module:
    """``shapes-centernet-tiny``: widths 8-16-24-32, a quarter of the compute; the weaker entry."""
    return CenterNetLite((8, 16, 24, 32))
