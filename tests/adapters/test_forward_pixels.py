"""``forward_pixels(x01)`` equals each library's own pipeline (transform with normalisation + model) and is differentiable.

Every torch family on a small random-weight model (nothing is downloaded): the geometric part of
the adapter's preprocessing runs on a fixed pack of skimage images, the normalisation inside the
forward; the reference runs the library's transform (torchvision weight transforms, timm's eval
transform, a Hugging Face image processor, :class:`ImageTransform`) and the bare network.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image

from visionbench.contracts import ModelSpec, TaskInfo
from visionbench.errors import ModelError
from visionbench.preprocessing import ImageTransform, Preprocess
from visionbench.registry import build_adapter


@pytest.fixture(scope="module")
def pack() -> list[Image.Image]:
    from skimage import data

    return [Image.fromarray(f()).resize((160, 120)) for f in (data.astronaut, data.coffee, data.chelsea)]


def check(adapter, reference: torch.Tensor, pack: list[Image.Image], task: TaskInfo | None = None) -> None:
    """forward_pixels on the worker transform's pixels == reference to 1e-5; a finite, non-zero input gradient."""
    if task is not None:
        adapter.prepare(task)
    assert adapter.differentiable
    x01 = adapter.collate([adapter.transform()(im) for im in pack])
    assert float(x01.min()) >= 0.0 and float(x01.max()) <= 1.0
    x01.requires_grad_(True)
    logits = adapter.forward_pixels(x01)
    torch.testing.assert_close(logits.detach(), reference.float(), rtol=0, atol=1e-5)
    (logits**2).sum().backward()
    assert torch.isfinite(x01.grad).all() and x01.grad.abs().sum() > 0
    with torch.inference_mode():  # the runner's path gives the same numbers
        torch.testing.assert_close(adapter.predict(x01.detach(), []), logits.detach(), rtol=0, atol=0)


def test_torchvision_weights_transforms(monkeypatch, pack) -> None:
    from torchvision.models import ResNet18_Weights, resnet18

    from visionbench.adapters.imagenet import imagenet_wnids

    torch.manual_seed(0)
    state = resnet18().state_dict()
    monkeypatch.setattr(
        ResNet18_Weights, "get_state_dict", lambda self, progress=True, check_hash=False: state
    )
    adapter = build_adapter(
        ModelSpec.create("torchvision:resnet18", weights="IMAGENET1K_V1"), "classification"
    )
    net = adapter.model.net.eval()
    transform = ResNet18_Weights.IMAGENET1K_V1.transforms()
    with torch.no_grad():
        reference = net(torch.stack([transform(im) for im in pack]))
    # wnid-named dataset classes select the ImageNet columns through the aliases
    check(adapter, reference, pack, TaskInfo("classification", "imagenet", imagenet_wnids()))


def test_timm_eval_transform(pack) -> None:
    pytest.importorskip("timm")
    from timm.data import create_transform, resolve_data_config

    torch.manual_seed(0)
    adapter = build_adapter(ModelSpec.create("timm:resnet10t", options={"num_classes": 7}), "classification")
    net = adapter.model.net.eval()
    transform = create_transform(**resolve_data_config({}, model=net), is_training=False)
    with torch.no_grad():
        reference = net(torch.stack([transform(im) for im in pack]))
    check(adapter, reference, pack)


def test_hf_image_processor(tmp_path: Path, pack) -> None:
    from transformers import AutoImageProcessor, AutoModelForImageClassification, ViTConfig, ViTImageProcessor

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=32, num_labels=5)  # fmt: skip
    AutoModelForImageClassification.from_config(config).save_pretrained(tmp_path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    adapter = build_adapter(ModelSpec.create(f"hf:{tmp_path}"), "classification")
    assert adapter.describe()["preprocess"]["image_mean"] == [0.5, 0.5, 0.5]
    net = AutoModelForImageClassification.from_pretrained(tmp_path).eval()
    processor = AutoImageProcessor.from_pretrained(tmp_path)
    with torch.no_grad():
        reference = net(**processor(images=pack, return_tensors="pt")).logits
    check(adapter, reference, pack, TaskInfo("classification", "five", tuple("abcde")))


def test_callable_module(tmp_path: Path, monkeypatch, pack) -> None:
    (tmp_path / "pixnet.py").write_text(
        textwrap.dedent(
            """
            import torch
            def build():
                torch.manual_seed(0)
                net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                          torch.nn.Flatten(), torch.nn.Linear(4, 3))
                net.visionbench_preprocess = {"size": [24, 32], "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.3, 0.25]}
                return net
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    adapter = build_adapter(ModelSpec.create("callable:pixnet:build"), "classification")
    transform = ImageTransform(Preprocess.from_dict(adapter.model.net.visionbench_preprocess))
    with torch.no_grad():
        reference = adapter.model.net(torch.stack([transform(im) for im in pack]))
    check(adapter, reference, pack)


def test_zoo_classifier_is_bit_identical(pack) -> None:
    from visionbench.zoo.catalog import get_entry, load_model

    adapter = build_adapter(ModelSpec.create("zoo:digits-cnn"), "classification")
    transform = ImageTransform(Preprocess.from_dict(get_entry("digits-cnn").preprocess))
    with torch.no_grad():
        reference = load_model("digits-cnn")(torch.stack([transform(im) for im in pack]))
    check(adapter, reference, pack, TaskInfo("classification", "digits", tuple("0123456789")))
    with torch.inference_mode():
        x01 = adapter.collate([adapter.transform()(im) for im in pack])
        assert torch.equal(adapter.predict(x01, []), reference)  # normalising in the forward changes no bit


def test_onnx_is_not_differentiable(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    torch.onnx.export(net, torch.zeros(1, 3, 8, 8), str(tmp_path / "m.onnx"), dynamo=False)
    adapter = build_adapter(ModelSpec.create(f"onnx:{tmp_path / 'm.onnx'}"), "classification")
    assert adapter.differentiable is False and adapter.describe()["differentiable"] is False
    with pytest.raises(ModelError, match="not differentiable"):
        adapter.forward_pixels(torch.zeros(1, 3, 8, 8))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_autocast_forward_pixels_on_cuda(pack, dtype) -> None:
    adapter = build_adapter(
        ModelSpec.create("torchvision:resnet18", options={"num_classes": 5}), "classification"
    )
    adapter.prepare(TaskInfo("classification", "five", tuple("abcde")), device="cuda")
    x01 = adapter.collate([adapter.transform()(im) for im in pack]).cuda()
    reference = adapter.forward_pixels(x01).detach()
    x01 = x01.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    with torch.autocast("cuda", dtype=dtype):
        logits = adapter.forward_pixels(x01)
    logits.sum().backward()
    assert torch.isfinite(x01.grad).all() and x01.grad.abs().sum() > 0
    torch.testing.assert_close(logits.float(), reference, rtol=0.05, atol=0.05)
