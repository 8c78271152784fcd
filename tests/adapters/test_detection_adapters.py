"""Detection adapters on small random-weight or controlled models; nothing is downloaded.

torchvision and Hugging Face detectors are built from their real code with random weights
(tiny configs saved to a temporary folder and loaded back through ``from_pretrained``);
the ONNX model is a torch module exported on the fly whose outputs the test controls;
the Haar cascade ships with OpenCV.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionbench.adapters.labels import model_label_space, resolve_detection_labels
from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import LabelMapError, ModelError
from visionbench.registry import build_adapter

SHAPES = ("circle", "square", "triangle", "ellipse", "star")
SHAPES_INFO = TaskInfo("detection", "shapes-test", SHAPES, (1, 2, 3, 4, 5))
ODD_IDS = TaskInfo("detection", "odd", ("person", "car"), (17, 3))


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _logged_artifacts(payload: dict) -> set[str]:
    import mlflow

    assert payload["tracking"]["status"] == "logged", payload["tracking"]
    client = mlflow.MlflowClient(tracking_uri=payload["tracking"]["uri"])
    return {a.path for a in client.list_artifacts(payload["tracking"]["run_id"])}


def _run(cli, *args: str) -> dict:
    code, out, err = cli("run", *args, "--json", "--bootstrap", "10", "--batch-size", "2")
    assert code == 0, err
    return json.loads(out)


# ---------------------------------------------------------------- the shared label policy


def test_labels_by_name_drop_the_rest_and_skip_background():
    space = model_label_space(["__background__", "person", "N/A", "car", "dog"])
    assert space == {1: "person", 3: "car", 4: "dog"}
    lookup = resolve_detection_labels(space, ODD_IDS, None, model_name="m")
    assert lookup[1] == 17 and lookup[3] == 3 and lookup[4] == -1 and lookup[0] == -1


def test_unnamed_labels_map_by_position_and_placeholders_are_unnamed():
    lookup = resolve_detection_labels(dict.fromkeys(range(1, 6)), SHAPES_INFO, None, model_name="m")
    assert lookup.tolist() == [-1, 1, 2, 3, 4, 5]
    hf = model_label_space({0: "LABEL_0", 1: "LABEL_1"})
    assert resolve_detection_labels(hf, ODD_IDS, None, model_name="m").tolist() == [17, 3]


def test_explicit_map_by_name_or_label_may_leave_classes_out():
    space = model_label_space(["__background__", "person", "car", "dog"])
    lookup = resolve_detection_labels(space, ODD_IDS, {"person": "dog"}, model_name="m")
    assert lookup.tolist() == [-1, -1, -1, 17]  # car gets no detections, other labels dropped
    lookup = resolve_detection_labels(
        dict.fromkeys(range(1, 91)), ODD_IDS, {"person": "1", "car": "3"}, model_name="m"
    )
    assert lookup[1] == 17 and lookup[3] == 3 and (np.delete(lookup, [1, 3]) == -1).all()


@pytest.mark.parametrize(
    ("labels", "label_map", "needle"),
    [
        (dict.fromkeys(range(1, 91)), None, "90 unnamed labels but odd has 2 classes"),
        (model_label_space(["person", "bicycle", "truck"]), None, "no label named 'car'"),
        (model_label_space(["person", "bus"]), None, "do not match"),
        (model_label_space(["person", "car"]), {"bus": "car"}, "not in odd: bus"),
        (model_label_space(["person", "car"]), {"person": "human"}, "'human'"),
        (model_label_space(["person", "car"]), {"person": "7"}, "label 7"),
        (None, {"person": "car"}, "does not declare"),
    ],
)
def test_label_map_errors(labels, label_map, needle):
    with pytest.raises(LabelMapError, match=needle):
        resolve_detection_labels(labels, ODD_IDS, label_map, model_name="m")


# ---------------------------------------------------------------- torchvision


def test_torchvision_random_detector_runs_end_to_end_and_logs_pr_curves(workdir, cli):
    payload = _run(cli, "--model", "torchvision:fasterrcnn_mobilenet_v3_large_320_fpn", "--model-arg", "num_classes=6",
                   "--model-arg", "box_score_thresh=0.0", "--task", "shapes-detection", "--limit", "3")  # fmt: skip
    assert 0.0 <= payload["metrics"]["map"] <= 1.0 and "ap/star" in payload["metrics"]
    assert payload["efficiency"]["params_m"] > 1
    assert {"pr_curves.png", "pr_curves.json", "detections.json", "record.json"} <= _logged_artifacts(payload)


def test_torchvision_mask_rcnn_random_weights_gives_segm_map(workdir, cli):
    payload = _run(cli, "--model", "torchvision:maskrcnn_resnet50_fpn", "--model-arg", "num_classes=6",
                   "--model-arg", "min_size=96", "--model-arg", "max_size=128", "--model-arg", "box_score_thresh=0.0",
                   "--task", "detection:shapes", "--limit", "2", "--no-track")  # fmt: skip
    metrics = payload["metrics"]
    assert metrics["segm/map"] is not None and 0.0 <= metrics["segm/map"] <= 1.0
    assert "segm/ap/circle" in metrics and "segm/mar_100" in metrics


def test_torchvision_label_space_mismatch_and_label_map(workdir, cli):
    args = (
        "--model",
        "torchvision:ssdlite320_mobilenet_v3_large",
        "--task",
        "detection:shapes",
        "--limit",
        "2",
        "--no-track",
    )
    code, _, err = cli("run", *args)
    line = _one_line(err)
    assert code == 2 and "--label-map" in line and "90 unnamed labels" in line
    adapter = build_adapter(
        ModelSpec.create(
            "torchvision:ssdlite320_mobilenet_v3_large",
            options={"score_thresh": 0.0},
            label_map={"circle": "1", "star": "2"},
        ),
        "detection",
    )
    adapter.prepare(SHAPES_INFO)
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8))
    out = adapter.predict(adapter.collate([adapter.transform()(image)]), [ImageMeta(0, "x", 80, 64)])
    assert set(out[0]["labels"].tolist()) <= {1, 5} and out[0]["boxes"].dtype == np.float64
    assert (out[0]["boxes"][:, 2] <= 80).all() and (out[0]["boxes"][:, 3] <= 64).all()


def test_torchvision_weights_bring_coco_names(monkeypatch):
    """Named weights go through torchvision's real loading code; only the download is replaced."""
    from torchvision.models.detection import (
        FasterRCNN_MobileNet_V3_Large_320_FPN_Weights,
        fasterrcnn_mobilenet_v3_large_320_fpn,
    )

    def fake_load(self, progress=True, check_hash=False):
        return fasterrcnn_mobilenet_v3_large_320_fpn(weights_backbone=None).state_dict()

    monkeypatch.setattr(
        FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1.__class__, "get_state_dict", fake_load
    )
    adapter = build_adapter(
        ModelSpec.create("torchvision:fasterrcnn_mobilenet_v3_large_320_fpn", weights="COCO_V1"), "detection"
    )
    labels = adapter.model.classes
    assert labels[1] == "person" and labels[3] == "car" and 0 not in labels
    adapter.prepare(ODD_IDS)
    lookup = adapter.head.lookup
    assert lookup[1] == 17 and lookup[3] == 3 and lookup[2] == -1


# ---------------------------------------------------------------- Hugging Face


def _save_hf(directory: Path, kind: str) -> Path:
    from transformers import (
        DetrConfig,
        DetrForObjectDetection,
        DetrImageProcessor,
        ResNetConfig,
        RTDetrConfig,
        RTDetrForObjectDetection,
        RTDetrImageProcessor,
        RTDetrResNetConfig,
        YolosConfig,
        YolosForObjectDetection,
        YolosImageProcessor,
    )

    torch.manual_seed(0)
    names = dict(enumerate(SHAPES))
    labels = {"id2label": names, "label2id": {v: k for k, v in names.items()}}
    small = {"encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2, "decoder_attention_heads": 2,
             "encoder_ffn_dim": 16, "decoder_ffn_dim": 16, "d_model": 16, "num_queries": 10}  # fmt: skip
    if kind == "detr":
        backbone = ResNetConfig(
            embedding_size=8,
            hidden_sizes=[8, 16, 16, 16],
            depths=[1, 1, 1, 1],
            layer_type="basic",
            out_features=["stage4"],
        )
        config = DetrConfig(
            use_timm_backbone=False,
            backbone_config=backbone,
            use_pretrained_backbone=False,
            **small,
            **labels,
        )
        model, processor = (
            DetrForObjectDetection(config),
            DetrImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
        )
    elif kind == "rtdetr":
        backbone = RTDetrResNetConfig(embedding_size=8, hidden_sizes=[8, 16, 16, 16], depths=[1, 1, 1, 1], layer_type="basic",
                                      out_features=["stage2", "stage3", "stage4"])  # fmt: skip
        config = RTDetrConfig(backbone_config=backbone, use_pretrained_backbone=False, use_timm_backbone=False, encoder_hidden_dim=16,
                              encoder_in_channels=[16, 16, 16], decoder_in_channels=[16, 16, 16], decoder_n_points=2,
                              num_denoising=0, **small, **labels)  # fmt: skip
        model, processor = (
            RTDetrForObjectDetection(config),
            RTDetrImageProcessor(size={"height": 64, "width": 64}),
        )
    else:
        config = YolosConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                             image_size=[64, 64], patch_size=16, num_detection_tokens=5, **labels)  # fmt: skip
        model, processor = (
            YolosForObjectDetection(config),
            YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
        )
    directory.mkdir(parents=True)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def test_hf_detr_runs_end_to_end_and_logs_pr_curves(workdir, cli):
    folder = _save_hf(workdir / "tiny-detr", "detr")
    payload = _run(cli, "--model", f"hf:{folder}", "--task", "detection:shapes", "--limit", "3")
    assert payload["metrics"]["map"] is not None and payload["metrics"]["mar_100"] >= 0.0
    assert {"pr_curves.png", "pr_curves.json", "detections.json"} <= _logged_artifacts(payload)


@pytest.mark.parametrize("kind", ["rtdetr", "yolos"])
def test_hf_rtdetr_and_yolos_give_canonical_outputs(tmp_path, kind):
    folder = _save_hf(tmp_path / kind, kind)
    adapter = build_adapter(ModelSpec.create(f"hf:{folder}"), "detection")
    adapter.prepare(SHAPES_INFO)
    rng = np.random.default_rng(1)
    images = [
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)) for h, w in ((100, 140), (70, 60))
    ]
    batch = adapter.collate([adapter.transform()(im) for im in images])
    metas = [ImageMeta(i, str(i), im.width, im.height) for i, im in enumerate(images)]
    out = adapter.predict(batch, metas)
    for det, meta in zip(out, metas, strict=True):
        assert (
            det["boxes"].shape[1] == 4
            and det["boxes"].dtype == np.float64
            and len(det["scores"]) == len(det["labels"]) > 0
        )
        assert set(det["labels"].tolist()) <= {1, 2, 3, 4, 5}
        assert (det["boxes"][:, 2] <= meta.width).all() and (det["boxes"][:, 3] <= meta.height).all()


def test_hf_missing_model_and_bad_option(tmp_path):
    with pytest.raises(ModelError, match="cannot load"):
        build_adapter(ModelSpec.create(f"hf:{tmp_path / 'nothing-here'}"), "detection")
    with pytest.raises(ModelError, match="unknown option"):
        build_adapter(ModelSpec.create(f"hf:{tmp_path}", options={"colour": 1}), "detection")


# ---------------------------------------------------------------- ONNX with decode=yolo


class _FixedYolo(torch.nn.Module):
    """Outputs the same [N, 4 + C, A] anchors for any input (the input only sets N): the test controls them."""

    def __init__(self, anchors: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("anchors", torch.as_tensor(anchors, dtype=torch.float32))

    def forward(self, x):
        return self.anchors.unsqueeze(0).expand(x.shape[0], -1, -1) + 0.0 * x.mean()


def _export_yolo(path: Path, metadata: dict | None = None) -> Path:
    import onnx

    # anchors as columns: cx, cy, w, h (64x64 input pixels), then scores of classes 0, 1
    anchors = np.array(
        [
            [32, 32, 16, 8, 0.9, 0.1],  # kept: class 0
            [33, 32, 16, 8, 0.8, 0.1],  # same class, IoU > 0.7 with the first: suppressed
            [33, 32, 16, 8, 0.1, 0.7],  # same place, class 1: kept (NMS is per class)
            [10, 50, 6, 6, 0.0005, 0.0004],  # below conf: dropped
        ],
        dtype=np.float32,
    ).T
    torch.onnx.export(_FixedYolo(anchors), torch.zeros(1, 3, 64, 64), str(path), input_names=["images"], output_names=["out"],
                      dynamic_axes={"images": {0: "n"}, "out": {0: "n"}}, dynamo=False)  # fmt: skip
    if metadata:
        model = onnx.load(str(path))
        for key, value in metadata.items():
            model.metadata_props.add(key=key, value=value)
        onnx.save(model, str(path))
    return path


def test_onnx_yolo_decode_letterbox_nms_and_names(tmp_path):
    path = _export_yolo(tmp_path / "yolo.onnx", {"names": "{0: 'person', 1: 'car'}"})
    adapter = build_adapter(ModelSpec.create(f"onnx:{path}", options={"decode": "yolo"}), "detection")
    assert adapter.model.classes == {0: "person", 1: "car"}
    assert not adapter.differentiable and adapter.module is None
    adapter.prepare(ODD_IDS)
    image = Image.new(
        "RGB", (128, 64), (10, 200, 30)
    )  # letterboxed into 64x64: scale 0.5, 16 px bands top and bottom
    x = adapter.collate([adapter.transform()(image)])
    assert x.shape == (1, 3, 64, 64) and x[0, :, 0, 0].tolist() == pytest.approx([114 / 255] * 3)
    out = adapter.predict(x, [ImageMeta(0, "a", 128, 64)])[0]
    order = np.argsort(-out["scores"])
    assert out["labels"][order].tolist() == [17, 3]
    np.testing.assert_allclose(
        out["boxes"][order[0]], [48, 24, 80, 40]
    )  # (32±8, 32±4) -> ((x - 0) * 2, (y - 16) * 2)
    np.testing.assert_allclose(out["boxes"][order[1]], [50, 24, 82, 40])
    np.testing.assert_allclose(out["scores"][order], [0.9, 0.7], rtol=1e-6)


def test_onnx_yolo_plain_resize_and_unnamed_classes(tmp_path):
    path = _export_yolo(tmp_path / "yolo.onnx")
    adapter = build_adapter(
        ModelSpec.create(f"onnx:{path}", options={"decode": "yolo", "letterbox": False, "iou": 0.99}),
        "detection",
    )
    assert adapter.model.classes is None
    adapter.prepare(ODD_IDS)
    out = adapter.predict(
        adapter.collate([adapter.transform()(Image.new("RGB", (128, 64)))]), [ImageMeta(0, "a", 128, 64)]
    )[0]
    assert len(out["boxes"]) == 3  # IoU threshold 0.99 suppresses nothing
    top = out["boxes"][np.argmax(out["scores"])]
    np.testing.assert_allclose(top, [48, 28, 80, 36])  # x * 2, y * 1


def test_onnx_detection_needs_a_decoder(tmp_path):
    path = _export_yolo(tmp_path / "yolo.onnx")
    with pytest.raises(ModelError, match="decode=<yolo>"):
        build_adapter(ModelSpec.create(f"onnx:{path}"), "detection")


# ---------------------------------------------------------------- callables and the Haar cascade


ASTRONAUT_FACE = [
    175,
    62,
    100,
    100,
]  # x, y, w, h: drawn by eye around the face (forehead to chin, ear to ear)


def _astronaut_coco(root: Path, category: str = "face") -> Path:
    from skimage.data import astronaut

    root.mkdir(parents=True, exist_ok=True)
    Image.fromarray(astronaut()).save(root / "astronaut.png")
    gt = {
        "images": [{"id": 7, "file_name": "astronaut.png", "width": 512, "height": 512}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": ASTRONAUT_FACE, "area": 10000, "iscrowd": 0}
        ],
        "categories": [{"id": 3, "name": category}],
    }
    (root / "faces.json").write_text(json.dumps(gt))
    return root / "faces.json"


def test_haar_cascade_finds_the_astronauts_face(workdir, cli):
    faces = _astronaut_coco(workdir / "faces")
    payload = _run(
        cli,
        "--model",
        "callable:visionbench.adapters.haar_faces:build",
        "--task",
        f"detection:coco:{faces}",
        "--no-track",
    )
    assert payload["metrics"]["map_50"] == pytest.approx(1.0)
    assert payload["metrics"]["map"] > 0.5 and payload["metrics"]["ap/face"] == payload["metrics"]["map"]


def test_callable_label_map_renames_the_models_class(workdir, cli):
    faces = _astronaut_coco(workdir / "faces", category="person_face")
    args = (
        "--model",
        "callable:visionbench.adapters.haar_faces:build",
        "--task",
        f"detection:coco:{faces}",
        "--no-track",
    )
    code, _, err = cli("run", *args)
    assert code == 2 and "--label-map" in _one_line(err)
    payload = _run(cli, *args, "--label-map", "person_face=face", "--model-arg", "min_neighbors=3")
    assert payload["metrics"]["map_50"] == pytest.approx(1.0)


def test_callable_detector_fingerprint_follows_its_settings():
    a = build_adapter(ModelSpec.create("callable:visionbench.adapters.haar_faces:build"), "detection")
    spec = ModelSpec.create("callable:visionbench.adapters.haar_faces:build", options={"min_size": 30})
    b = build_adapter(spec, "detection")
    assert a.fingerprint() != b.fingerprint()
    assert a.module is None and a.describe()["model_labels"] == 1
