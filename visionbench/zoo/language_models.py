"""Language-assisted zoo classifiers and their plain twin, on one shared image backbone per dataset.

Three heads on the same conv backbone (``[N, 1, H, W]`` -> a 64-d image feature), so that a comparison
of them isolates what the class-description text adds:

- :class:`PlainClassifier`: dropout and a linear layer, no text at all (the baseline);
- :class:`TextAttentionClassifier` without a projection: the image feature is mapped into the text
  encoder's 384-d space, attends over the fixed, unit-length class-description embeddings (softmax over
  classes), is fused with the attended text (``normalise(q + g * context)``), and the logits are the
  scaled cosine similarities of the fused feature with every class embedding;
- the same with ``project=64``: a learned linear projection of the text features into a 64-d joint space
  first (the text embeddings still enter every logit, but the model may move the class prototypes);
- a control without language: the attention head of the first kind over seeded random unit vectors in place
  of the text embeddings, so that a gain of the text-fused heads can be told apart from a gain of the
  cosine-similarity head itself.

The class-description table is a persistent buffer (``text``), filled by the factories from the cached
sentence-encoder output (:mod:`visionbench.zoo.language_text`), so the weights file holds exactly what the
forward uses and its sha256, the model's digest, changes with it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

FEATURE_DIM = 64
JOINT_DIM = 64
MAX_LOG_SCALE = math.log(100.0)


def _conv_bn(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def digits_backbone() -> nn.Module:
    """8x8 digits: three 3x3 conv blocks, one 2x2 pool, global average pooling -> 64 features."""
    return nn.Sequential(
        *_conv_bn(1, 32), *_conv_bn(32, 32), nn.MaxPool2d(2), *_conv_bn(32, FEATURE_DIM),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )  # fmt: skip


def fashion_backbone() -> nn.Module:
    """28x28 Fashion-MNIST: three conv blocks with two 2x2 pools (28 -> 14 -> 7), global average pooling."""
    return nn.Sequential(
        *_conv_bn(1, 16), nn.MaxPool2d(2), *_conv_bn(16, 32), nn.MaxPool2d(2), *_conv_bn(32, FEATURE_DIM),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    )  # fmt: skip


class PlainClassifier(nn.Module):
    """The baseline: backbone, dropout, one linear layer to the class logits."""

    def __init__(self, backbone: nn.Module, num_classes: int = 10, dropout: float = 0.2) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURE_DIM, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class TextAttentionClassifier(nn.Module):
    """Image features attend over class-description embeddings; logits from the fused cosine similarity.

    ``text`` is the ``[C, D]`` table of class-description embeddings (row ``c`` describes class ``c``).
    ``project=None`` keeps the text fixed (the image query lives in the text space, ``D``-dimensional);
    ``project=k`` learns ``Linear(D, k)`` applied to the text first.
    """

    def __init__(
        self, backbone: nn.Module, text: torch.Tensor, project: int | None = None, dropout: float = 0.2
    ) -> None:
        super().__init__()
        if text.ndim != 2:
            raise ValueError(f"text embeddings must be [classes, dim], got {tuple(text.shape)}")
        self.backbone = backbone
        self.register_buffer("text", text.detach().to(torch.float32).clone())
        dim = text.shape[1] if project is None else project
        self.text_proj = None if project is None else nn.Linear(text.shape[1], project)
        self.dropout = nn.Dropout(dropout)
        self.query = nn.Linear(FEATURE_DIM, dim)
        # Learned temperatures of the attention and of the output similarity, and the weight of the context.
        self.attn_log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.logit_log_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.context_gate = nn.Parameter(torch.tensor(1.0))

    def class_keys(self) -> torch.Tensor:
        """Unit-length class prototypes ``[C, dim]`` (the text, projected when the model has a projection)."""
        text = self.text if self.text_proj is None else self.text_proj(self.text)
        return F.normalize(text, dim=-1)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(logits [N, C], attention weights over the classes' descriptions [N, C], rows summing to 1)``."""
        keys = self.class_keys()
        query = F.normalize(self.query(self.dropout(self.backbone(x))), dim=-1)
        attn_scale = self.attn_log_scale.clamp(max=MAX_LOG_SCALE).exp()
        attention = torch.softmax(attn_scale * query @ keys.T, dim=-1)
        fused = F.normalize(query + self.context_gate * (attention @ keys), dim=-1)
        logits = self.logit_log_scale.clamp(max=MAX_LOG_SCALE).exp() * fused @ keys.T
        return logits, attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_attention(x)[0]


def random_text(classes: int = 10, dim: int = 384, seed: int = 0) -> torch.Tensor:
    """``[classes, dim]`` seeded random unit vectors: the control's stand-in for the class embeddings."""
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(classes, dim, generator=gen), dim=-1)


def _text(dataset: str) -> torch.Tensor:
    from visionbench.zoo.language_text import class_embeddings

    return class_embeddings(dataset)


def digits_lang_plain() -> nn.Module:
    """``digits-lang-plain``: the digits backbone with a linear head (no text)."""
    return PlainClassifier(digits_backbone())


def digits_lang_attend() -> nn.Module:
    """``digits-lang-attend``: the digits backbone attending over the fixed MiniLM class embeddings."""
    return TextAttentionClassifier(digits_backbone(), _text("digits"))


def digits_lang_project() -> nn.Module:
    """``digits-lang-project``: as ``digits-lang-attend`` with a learned 384 -> 64 text projection."""
    return TextAttentionClassifier(digits_backbone(), _text("digits"), project=JOINT_DIM)


def fashion_lang_plain() -> nn.Module:
    """``fashion-lang-plain``: the Fashion-MNIST backbone with a linear head (no text)."""
    return PlainClassifier(fashion_backbone())


def fashion_lang_attend() -> nn.Module:
    """``fashion-lang-attend``: the Fashion-MNIST backbone attending over the fixed MiniLM class embeddings."""
    return TextAttentionClassifier(fashion_backbone(), _text("fashion-mnist"))


def fashion_lang_project() -> nn.Module:
    """``fashion-lang-project``: as ``fashion-lang-attend`` with a learned 384 -> 64 text projection."""
    return TextAttentionClassifier(fashion_backbone(), _text("fashion-mnist"), project=JOINT_DIM)


def digits_lang_random() -> nn.Module:
    """``digits-lang-random``: the control, as ``digits-lang-attend`` over random unit vectors (no language)."""
    return TextAttentionClassifier(digits_backbone(), random_text())


def fashion_lang_random() -> nn.Module:
    """``fashion-lang-random``: the control, as ``fashion-lang-attend`` over random unit vectors (no language)."""
    return TextAttentionClassifier(fashion_backbone(), random_text())
