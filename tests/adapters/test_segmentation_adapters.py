"""Segmentation adapters on small real models (random weights, nothing downloaded): class maps at the original size."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import ConfigError, LabelMapError, ModelError, SpecError
from visionbench.registry import adapter_table, build_adapter

SHAPES = TaskInfo("segmentation", "shapes", ("background", "circle", "square", "triangle", "ellipse", "star"))
THREE = TaskInfo("segmentation", "three", ("a", "b", "d"))

MODELS = """
import torch

class Pointwise(torch.nn.Module):
    \"\"\"A 1x1 convolution, optionally after 2x2 average pooling: each output depends on its own pixels only.\"\"\"

    def __init__(self, classes=6, pool=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.pool = torch.nn.AvgPool2d(2) if pool else torch.nn.Identity()
        self.conv = torch.nn.Conv2d(3, classes, 1)

    def forward(self, x):
        return {"out": self.conv(self.pool(x))}

def pointwise(classes=6, pool=False):
    model = Pointwise(classes, pool)
    model.visionbench_preprocess = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    return model

def constant(logits=(0.0, 5.0, 1.0, 9.0, 2.0), names=("x", "a", "b", "c", "d")):
    class Constant(torch.nn.Module):
        def forward(self, x):
            values = torch.tensor(logits, dtype=torch.float32).view(1, -1, 1, 1)
            return values.expand(x.shape[0], -1, x.shape[2], x.shape[3])
    model = Constant()
    model.visionbench_classes = list(names) if names else None
    return model
"""


@pytest.fixture
def segmodels(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "segzoo_models.py").write_text(textwrap.dedent(MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "segzoo_models", raising=False)
    return "segzoo_models"


def images(*sizes: tuple[int, int], seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for w, h in sizes]


def predict(adapter, pictures: list[Image.Image]) -> list[torch.Tensor]:
    transform = adapter.transform()
    batch = adapter.collate([transform(p) for p in pictures])
    metas = [ImageMeta(i, f"s{i}", p.width, p.height) for i, p in enumerate(pictures)]
    return adapter.predict(batch, metas)


def build(spec: str, task: TaskInfo = SHAPES, **kwargs):
    adapter = build_adapter(ModelSpec.create(spec, **kwargs), "segmentation")
    adapter.prepare(task)
    return adapter


def test_every_family_has_a_segmentation_adapter() -> None:
    table = adapter_table()
    for family in ("torchvision", "hf", "onnx", "callable", "zoo"):
        assert (family, "segmentation", "built-in") in table


@pytest.mark.parametrize("pool", [False, True])
def test_mixed_sizes_in_one_batch_equal_one_image_at_a_time(segmodels: str, pool: bool) -> None:
    adapter = build(f"callable:{segmodels}:pointwise", options={"pool": pool})
    pictures = images((20, 14), (32, 10), (8, 26))
    together = predict(adapter, pictures)
    alone = [predict(adapter, [p])[0] for p in pictures]
    for picture, a, b in zip(pictures, together, alone, strict=True):
        assert a.dtype == torch.int64 and a.device.type == "cpu"
        assert tuple(a.shape) == (picture.height, picture.width)
        assert torch.equal(a, b)


def test_resize_then_upsample_back_to_the_original_size(segmodels: str) -> None:
    adapter = build(f"callable:{segmodels}:pointwise", options={"preprocess": {"size": [16, 16]}})
    maps = predict(adapter, images((50, 30), (31, 47)))
    assert [tuple(m.shape) for m in maps] == [(30, 50), (47, 31)]
    assert adapter.describe()["preprocess"]["resize"] == (16, 16)


def test_cropping_preprocess_is_refused(segmodels: str) -> None:
    with pytest.raises(ConfigError, match="cannot crop"):
        build(f"callable:{segmodels}:pointwise", options={"preprocess": {"resize": 32, "crop": [28, 28]}})


def test_label_map_selects_logit_channels(segmodels: str) -> None:
    # logits 0, 5, 1, 9, 2 for model classes x, a, b, c, d
    by_name = build(f"callable:{segmodels}:constant", THREE)
    assert predict(by_name, images((5, 4)))[0].unique().tolist() == [0]  # a (5) beats b (1) and d (2)
    explicit = build(f"callable:{segmodels}:constant", THREE, label_map={"a": "x", "b": "b", "d": "3"})
    assert predict(explicit, images((5, 4)))[0].unique().tolist() == [2]  # columns x, b, 3 -> 0, 1, 9


def test_numbered_dataset_classes_map_by_position(segmodels: str) -> None:
    numbered = TaskInfo("segmentation", "voc", tuple(str(i) for i in range(5)))
    adapter = build(f"callable:{segmodels}:constant", numbered)  # model names x, a, b, c, d
    assert predict(adapter, images((5, 4)))[0].unique().tolist() == [3]


def test_class_count_mismatch_asks_for_a_label_map(segmodels: str) -> None:
    adapter = build(f"callable:{segmodels}:constant", THREE, options={"names": None})
    with pytest.raises(LabelMapError, match="--label-map"):
        predict(adapter, images((5, 4)))


def test_bad_output_shape_is_a_model_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "flat_model.py").write_text(
        "import torch\ndef build():\n    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(6))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    adapter = build("callable:flat_model:build", options={"preprocess": {"size": [8, 8]}})
    with pytest.raises(ModelError, match=r"logits \[N, classes, h, w\]"):
        predict(adapter, images((8, 8)))


# ---------------------------------------------------------------- torchvision
def test_torchvision_random_weights(monkeypatch) -> None:
    adapter = build(
        "torchvision:lraspp_mobilenet_v3_large",
        options={"num_classes": 6, "weights_backbone": None, "preprocess": {"size": [64, 64]}},
    )
    maps = predict(adapter, images((40, 30), (23, 51)))
    assert [tuple(m.shape) for m in maps] == [(30, 40), (51, 23)]
    assert all(int(m.max()) < 6 for m in maps)
    assert adapter.module.net is adapter.model.net and len(adapter.fingerprint()) == 16


def test_torchvision_default_preprocess_is_shorter_side_520() -> None:
    adapter = build(
        "torchvision:fcn_resnet50", options={"num_classes": 6, "weights_backbone": "none", "aux_loss": False}
    )
    x = adapter.transform()(images((100, 50))[0])
    assert tuple(x.shape) == (3, 520, 1040)


def test_torchvision_weights_bring_voc_names_and_transforms(monkeypatch) -> None:
    """Named weights go through torchvision's real code; only the download is replaced."""
    from torchvision.models.segmentation import LRASPP_MobileNet_V3_Large_Weights, lraspp_mobilenet_v3_large

    def fake_load(self, progress=True, check_hash=False):
        return lraspp_mobilenet_v3_large(num_classes=21, weights_backbone=None).state_dict()

    monkeypatch.setattr(LRASPP_MobileNet_V3_Large_Weights, "get_state_dict", fake_load)
    voc = TaskInfo("segmentation", "pets", ("__background__", "cat", "dog"))
    adapter = build("torchvision:lraspp_mobilenet_v3_large", voc, weights="COCO_WITH_VOC_LABELS_V1")
    assert adapter.model.classes[:2] == ["__background__", "aeroplane"]
    assert "SemanticSegmentation" in adapter.describe()["preprocess"]["transforms"]
    maps = predict(
        adapter, images((30, 20), (20, 30))
    )  # resized to 520 on the shorter side: different shapes, padded
    assert [tuple(m.shape) for m in maps] == [(20, 30), (30, 20)]
    assert all(int(m.max()) < 3 for m in maps)


@pytest.mark.parametrize(("spec", "kwargs", "needle"), [
    ("torchvision:resnet18", {}, "unknown torchvision segmentation model"),
    ("torchvision:fcn_resnet50", {"weights": "NOPE"}, "unknown weights 'NOPE'"),
])  # fmt: skip
def test_torchvision_bad_specs(spec: str, kwargs: dict, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        build(spec, **kwargs)


# ---------------------------------------------------------------- Hugging Face
def tiny_segformer(path: Path, labels: dict[int, str] | None = None, num_labels: int = 6) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    extra = (
        {"id2label": labels, "label2id": {v: k for k, v in labels.items()}}
        if labels
        else {"num_labels": num_labels}
    )
    config = SegformerConfig(
        num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16], patch_sizes=[7, 3], strides=[4, 2],
        num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16, **extra,
    )  # fmt: skip
    torch.manual_seed(0)
    SegformerForSemanticSegmentation(config).save_pretrained(path)
    SegformerImageProcessor(size={"height": 64, "width": 64}).save_pretrained(path)
    return path


def test_hf_matches_the_processor_pipeline(tmp_path: Path) -> None:
    from transformers import AutoImageProcessor, AutoModelForSemanticSegmentation

    path = tiny_segformer(tmp_path / "segformer")
    adapter = build(f"hf:{path}")
    assert adapter.model.classes is None  # LABEL_0.. placeholders map by position
    pictures = images((50, 30), (33, 61))
    maps = predict(adapter, pictures)
    model = AutoModelForSemanticSegmentation.from_pretrained(path).eval()
    processor = AutoImageProcessor.from_pretrained(path)
    with torch.no_grad():
        outputs = model(**processor(images=pictures, return_tensors="pt"))
    expected = processor.post_process_semantic_segmentation(outputs, target_sizes=[(30, 50), (61, 33)])
    for got, want in zip(maps, expected, strict=True):
        assert got.dtype == torch.int64 and torch.equal(got, want)
    assert adapter.describe()["preprocess"]["processor"] == "SegformerImageProcessor"


def test_hf_named_classes_are_matched_by_name(tmp_path: Path) -> None:
    labels = {0: "x", 1: "a", 2: "b", 3: "c", 4: "d"}
    adapter = build(f"hf:{tiny_segformer(tmp_path / 'named', labels)}", THREE)
    assert adapter.model.classes == ["x", "a", "b", "c", "d"]
    assert int(predict(adapter, images((20, 20)))[0].max()) < 3


def test_hf_errors_name_the_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="nothing_here"):
        build(f"hf:{tmp_path / 'nothing_here'}")
    with pytest.raises(ModelError, match="unknown option"):
        build(f"hf:{tmp_path}", options={"threshold": 0.5})


# ---------------------------------------------------------------- ONNX
def pooled_conv_onnx(path: Path, weight: np.ndarray, bias: np.ndarray, metadata: dict[str, str]) -> Path:
    """An ONNX graph: 2x2 average pooling then a 1x1 convolution, dynamic batch and size."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    classes = weight.shape[0]
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["x"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["pooled", "w", "b"], ["logits"], kernel_shape=[1, 1]),
        ],
        "pooled_conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", classes, "h2", "w2"])],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def test_onnx_equals_the_same_network_in_torch(tmp_path: Path, segmodels: str) -> None:
    import json

    callable_adapter = build(
        f"callable:{segmodels}:pointwise",
        options={"pool": True, "preprocess": {"size": [32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}},
    )
    conv = callable_adapter.model.net.conv
    path = pooled_conv_onnx(
        tmp_path / "seg.onnx",
        conv.weight.detach().numpy(),
        conv.bias.detach().numpy(),
        {
            "classes": json.dumps(list(SHAPES.classes)),
            "visionbench.preprocess": json.dumps({"size": [32, 32], "mean": [0.5] * 3, "std": [0.25] * 3}),
        },
    )
    adapter = build(f"onnx:{path}")
    assert adapter.model.classes == list(SHAPES.classes) and adapter.module is None
    pictures = images((45, 27), (27, 45))
    for a, b in zip(predict(adapter, pictures), predict(callable_adapter, pictures), strict=True):
        assert tuple(a.shape) == tuple(b.shape) and (a == b).float().mean() > 0.999


def test_onnx_missing_file_and_bad_option(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        build(f"onnx:{tmp_path / 'none.onnx'}")
    path = pooled_conv_onnx(
        tmp_path / "m.onnx", np.zeros((6, 3, 1, 1), np.float32), np.zeros(6, np.float32), {}
    )
    with pytest.raises(ModelError, match="unknown option"):
        build(f"onnx:{path}", options={"colour": "red"})


# ---------------------------------------------------------------- zoo
def test_zoo_refuses_a_classifier_for_segmentation() -> None:
    with pytest.raises(ModelError, match="not a segmenter"):
        build("zoo:digits-cnn")
