"""The language comparison's zoo models: fusion shapes, the cached text table, and what the weights record."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from visionbench.errors import ModelError
from visionbench.zoo import language_text
from visionbench.zoo.catalog import MANIFEST_NAME, WEIGHTS_DIR, get_entry, load_model
from visionbench.zoo.language_catalog import LANGUAGE_MODELS
from visionbench.zoo.language_models import (
    JOINT_DIM,
    PlainClassifier,
    TextAttentionClassifier,
    digits_backbone,
    fashion_backbone,
    random_text,
)
from visionbench.zoo.train import CLASSIFICATION_RECIPES

SEED = int(os.environ.get("VB_TEST_SEED", "20261129"))
MANIFEST = json.loads((WEIGHTS_DIR / MANIFEST_NAME).read_text(encoding="utf-8"))["models"]


def _random_text(gen: torch.Generator, classes: int = 10, dim: int = 384) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(classes, dim, generator=gen), dim=1)


@pytest.mark.parametrize(("backbone", "size"), [(digits_backbone, 8), (fashion_backbone, 28)])
@pytest.mark.parametrize("project", [None, JOINT_DIM])
def test_fusion_shapes_and_attention(backbone, size, project) -> None:
    print(f"VB_TEST_SEED={SEED}")
    gen = torch.Generator().manual_seed(SEED)
    text = _random_text(gen, classes=7)
    model = TextAttentionClassifier(backbone(), text, project=project).eval()
    x = torch.randn(5, 1, size, size, generator=gen)
    logits, attention = model.forward_with_attention(x)
    assert logits.shape == attention.shape == (5, 7)
    assert torch.equal(model(x), logits)
    assert (attention >= 0).all() and torch.allclose(attention.sum(1), torch.ones(5), atol=1e-6)
    keys = model.class_keys()
    assert keys.shape == (7, 384 if project is None else project)
    assert torch.allclose(keys.norm(dim=1), torch.ones(7), atol=1e-6)
    if project is None:  # without a projection the prototypes are the text embeddings themselves
        assert torch.allclose(keys, text, atol=1e-6)
    # the logits are the scaled cosine similarities of a unit vector with unit prototypes
    scale = model.logit_log_scale.exp()
    assert (logits.abs() <= scale + 1e-4).all()
    # the text table is a buffer: saved in the state dict, never trained
    assert "text" in model.state_dict() and "text" not in dict(model.named_parameters())
    logits.sum().backward()
    assert model.query.weight.grad is not None and model.text.grad is None
    if project is not None:
        assert model.text_proj.weight.grad is not None and model.text_proj.weight.grad.abs().sum() > 0


def test_plain_head_shapes() -> None:
    model = PlainClassifier(digits_backbone()).eval()
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 10)


def test_text_order_decides_the_class() -> None:
    """Permuting the class descriptions permutes the logits: the text, not a hidden head, names each class."""
    gen = torch.Generator().manual_seed(SEED)
    text = _random_text(gen)
    model = TextAttentionClassifier(digits_backbone(), text).eval()
    perm = torch.randperm(10, generator=gen)
    swapped = TextAttentionClassifier(digits_backbone(), text[perm]).eval()
    swapped.load_state_dict({**model.state_dict(), "text": text[perm]})
    x = torch.randn(4, 1, 8, 8, generator=gen)
    with torch.no_grad():
        assert torch.allclose(swapped(x), model(x)[:, perm], atol=1e-5)


@pytest.mark.parametrize("name", sorted(LANGUAGE_MODELS))
def test_committed_weights_use_the_cached_text(name: str) -> None:
    dataset, head = LANGUAGE_MODELS[name]
    record = MANIFEST[name]
    state = torch.load(WEIGHTS_DIR / get_entry(name).weights, map_location="cpu", weights_only=True)
    if head == "plain":
        assert "text" not in state and "text_encoder" not in record
        return
    if head == "random":  # the control: no language anywhere
        assert torch.equal(state["text"], random_text()) and "text_encoder" not in record
        return
    table, meta = language_text.read_cache(dataset)
    assert torch.equal(state["text"], table)
    assert torch.equal(load_model(name).text, table)
    encoder = record["text_encoder"]  # the dependency: named and hashed, not copied
    assert encoder["encoder_sha256"] == meta["encoder_sha256"]
    cache = language_text.cache_path(dataset)
    assert encoder["cache_sha256"] == hashlib.sha256(cache.read_bytes()).hexdigest()
    assert encoder["texts_sha256"] == language_text.texts_sha256(language_text.CLASS_TEXTS[dataset])
    assert max(p.stat().st_size for p in WEIGHTS_DIR.glob(f"{name}*.pt")) < 512 * 1024


@pytest.mark.parametrize("dataset", ["digits", "fashion-mnist"])
def test_same_budget_for_the_three_heads(dataset: str) -> None:
    names = [n for n, (d, _) in LANGUAGE_MODELS.items() if d == dataset]
    assert sorted(LANGUAGE_MODELS[n][1] for n in names) == ["attend", "plain", "project", "random"]
    assert len({CLASSIFICATION_RECIPES[n] for n in names}) == 1
    assert len({json.dumps(MANIFEST[n]["recipe"], sort_keys=True) for n in names}) == 1
    assert (
        len({(MANIFEST[n]["seed"], MANIFEST[n]["epochs"], MANIFEST[n]["train_samples"]) for n in names}) == 1
    )


def test_cache_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(ModelError, match=r"text-embeddings-digits\.pt is missing"):
        language_text.read_cache("digits", tmp_path)
    stored = torch.load(language_text.cache_path("digits"), weights_only=True)
    meta = json.loads(stored["meta"])
    torch.save({"embeddings": stored["embeddings"], "meta": json.dumps({**meta, "texts_sha256": "0"})},
               language_text.cache_path("digits", tmp_path))  # fmt: skip
    with pytest.raises(ModelError, match="other class descriptions"):
        language_text.read_cache("digits", tmp_path)
    language_text.cache_path("digits", tmp_path).write_bytes(b"garbage")
    with pytest.raises(ModelError, match="cannot read"):
        language_text.read_cache("digits", tmp_path)
    with pytest.raises(ModelError, match="no class descriptions"):
        language_text.read_cache("cifar10", tmp_path)
