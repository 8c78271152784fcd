"""The zoo's small classifiers: each maps a normalised float tensor ``[N, 1, H, W]`` to logits ``[N, 10]``.

They are deliberately of different capacity (softmax regression, an MLP, two small conv nets)
so that a leaderboard built on them has a real ranking. Every factory takes no arguments:
the architecture is part of the model's name, and the committed weights fit exactly one shape.
"""

from __future__ import annotations

from torch import nn


class LinearClassifier(nn.Module):
    """Multinomial logistic (softmax) regression on raw pixels."""

    def __init__(self, in_pixels: int, num_classes: int = 10) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(in_pixels, num_classes)

    def forward(self, x):
        return self.fc(self.flatten(x))


class MLPClassifier(nn.Module):
    """Two hidden ReLU layers with dropout."""

    def __init__(self, in_pixels: int, hidden: tuple[int, int] = (128, 64), num_classes: int = 10) -> None:
        super().__init__()
        h1, h2 = hidden
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_pixels, h1),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(h1, h2),
            nn.ReLU(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(h2, num_classes),
        )

    def forward(self, x):
        return self.net(x)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class DigitsCNN(nn.Module):
    """Three 3x3 conv blocks, one 2x2 pool (8x8 -> 4x4), global average pooling, a linear head."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn(1, 32),
            *_conv_bn(32, 32),
            nn.MaxPool2d(2),
            *_conv_bn(32, 64),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class FashionCNN(nn.Module):
    """Two conv blocks with pooling (28 -> 14 -> 7), then a two-layer head on the flattened 7x7 maps."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_conv_bn(1, 16),
            nn.MaxPool2d(2),
            *_conv_bn(16, 32),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.head = nn.Sequential(
            nn.Dropout(0.25),
            nn.Linear(32 * 7 * 7, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(0.25),
            nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


def digits_linear() -> nn.Module:
    """``digits-linear``: softmax regression on the 64 pixels of an 8x8 digit."""
    return LinearClassifier(8 * 8)


def digits_mlp() -> nn.Module:
    """``digits-mlp``: 64 -> 128 -> 64 -> 10 multilayer perceptron."""
    return MLPClassifier(8 * 8, hidden=(128, 64))


def digits_cnn() -> nn.Module:
    """``digits-cnn``: a three-layer conv net for 8x8 digits."""
    return DigitsCNN()


def fashion_cnn() -> nn.Module:
    """``fashion-cnn``: a three-layer conv net for 28x28 Fashion-MNIST."""
    return FashionCNN()
