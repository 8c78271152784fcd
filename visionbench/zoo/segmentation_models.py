"""The zoo's small semantic segmenters for the built-in shapes scenes.

Each maps a normalised float tensor ``[N, 3, H, W]`` (128 x 128 in the catalogue) to logits
``[N, 6, H, W]`` over ``background`` and the five shape classes. They differ in capacity on
purpose: a U-Net whose 8x8 bottleneck sees whole shapes, and a shallow fully convolutional net
whose small receptive field tells shapes from background but confuses their kinds.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SHAPES_NUM_CLASSES = 6


def _conv_bn(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _Up(nn.Module):
    """Bilinear x2 upsampling, concatenation with the skip connection, two conv blocks."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.convs = nn.Sequential(_conv_bn(cin + cskip, cout), _conv_bn(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.convs(torch.cat([x, skip], dim=1))


class TinyUNet(nn.Module):
    """A U-Net with a stride-2 stem: four scales (1/2 to 1/16), skip connections, logits upsampled x2.

    Working at half resolution from the first layer keeps training on a CPU to minutes while
    the deepest scale still covers the largest shape.
    """

    def __init__(
        self, channels: tuple[int, int, int, int] = (8, 16, 32, 64), num_classes: int = SHAPES_NUM_CLASSES
    ) -> None:
        super().__init__()
        c1, c2, c3, c4 = channels
        self.stem = nn.Sequential(_conv_bn(3, c1, stride=2), _conv_bn(c1, c1))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), _conv_bn(c1, c2), _conv_bn(c2, c2))
        self.down3 = nn.Sequential(nn.MaxPool2d(2), _conv_bn(c2, c3), _conv_bn(c3, c3))
        self.down4 = nn.Sequential(nn.MaxPool2d(2), _conv_bn(c3, c4), _conv_bn(c4, c4))
        self.up3 = _Up(c4, c3, c3)
        self.up2 = _Up(c3, c2, c2)
        self.up1 = _Up(c2, c1, c1)
        self.head = nn.Conv2d(c1, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.stem(x)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        y = self.up1(self.up2(self.up3(self.down4(s3), s3), s2), s1)
        return F.interpolate(self.head(y), size=x.shape[-2:], mode="bilinear", align_corners=False)


class ShallowFCN(nn.Module):
    """Two stride-2 conv blocks and one dilated block (receptive field 23 px), a 1x1 head, x4 upsampling."""

    def __init__(self, width: int = 16, num_classes: int = SHAPES_NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_bn(3, width, stride=2),
            _conv_bn(width, width, stride=2),
            _conv_bn(width, width, dilation=2),
        )
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            self.head(self.features(x)), size=x.shape[-2:], mode="bilinear", align_corners=False
        )


def shapes_unet() -> nn.Module:
    """``shapes-unet``: the four-scale U-Net (8-16-32-64 channels)."""
    return TinyUNet()


def shapes_fcn() -> nn.Module:
    """``shapes-fcn``: the shallow fully convolutional baseline."""
    return ShallowFCN()
