"""Label maps end to end: permutations undone, many-to-one detection labels, ImageNet wnid folders."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.harness.specs import load_label_map
from visionbench.registry import build_adapter

MODELS = """
import numpy as np
import torch

from visionbench.tasks.data.shapes import CLASSES
from visionbench.zoo.catalog import get_entry, load_model

PERMUTATION = [3, 7, 0, 9, 1, 4, 8, 2, 6, 5]  # model column k holds digit PERMUTATION[k]


class Permuted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = load_model("digits-linear")
        self.register_buffer("order", torch.as_tensor(PERMUTATION))
        self.visionbench_preprocess = get_entry("digits-linear").preprocess

    def forward(self, x):
        return self.net(x).index_select(1, self.order)


def permuted():
    return Permuted()


class Detector:
    \"\"\"The zoo shapes detector on uint8 arrays; ``split`` names two model labels per shape (``<shape>_a``/``_b``).\"\"\"

    def __init__(self, split):
        self.net = load_model("shapes-centernet-tiny")
        pre = get_entry("shapes-centernet-tiny").preprocess
        self.mean = torch.tensor(pre["mean"]).view(-1, 1, 1)
        self.std = torch.tensor(pre["std"]).view(-1, 1, 1)
        self.split = split
        self.visionbench_classes = [f"{c}_{s}" for c in CLASSES for s in "ab"] if split else list(CLASSES)

    def __call__(self, images):
        out = []
        for image in images:
            x = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0
            x = ((x - self.mean) / self.std)[None]
            det = self.net.detect(x)[0]
            labels = det["labels"].numpy()
            if self.split:  # alternate between the two model labels of each shape
                labels = 2 * labels + (np.arange(len(labels)) % 2)
            out.append({"boxes": det["boxes"].double().numpy(), "scores": det["scores"].numpy(), "labels": labels})
        return out


def detector(split=False):
    return Detector(split)
"""


@pytest.fixture
def lm_models(tmp_path: Path, monkeypatch) -> str:
    (tmp_path / "lm_models.py").write_text(textwrap.dedent(MODELS))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "lm_models"


def _run(cli, *args: str) -> dict:
    code, out, err = cli("run", *args, "--no-track", "--json", "--bootstrap", "20")
    assert code == 0, err
    return json.loads(out)


def test_label_map_syntax_inline_file_and_list(tmp_path: Path) -> None:
    assert load_label_map("face=FACE_MALE|FACE_FEMALE,cat=3") == {"face": "FACE_MALE|FACE_FEMALE", "cat": "3"}
    (tmp_path / "map.yaml").write_text("face: [FACE_MALE, FACE_FEMALE]\ncat: 3\n")
    assert load_label_map(str(tmp_path / "map.yaml")) == {"face": "FACE_MALE|FACE_FEMALE", "cat": "3"}
    spec = ModelSpec.create("zoo:x", label_map={"face": ["FACE_MALE", "FACE_FEMALE"]})
    assert spec.label_map == (("face", "FACE_MALE|FACE_FEMALE"),)


def test_permuted_classifier_scores_the_same_once_mapped(workdir: Path, cli, lm_models: str) -> None:
    from lm_models import PERMUTATION

    original = _run(cli, "--model", "zoo:digits-linear", "--task", "digits")["metrics"]
    permuted = ("--model", f"callable:{lm_models}:permuted", "--task", "digits")
    unmapped = _run(cli, *permuted)["metrics"]
    mapping = ",".join(f"{digit}={column}" for column, digit in enumerate(PERMUTATION))
    mapped = _run(cli, *permuted, "--label-map", mapping)["metrics"]
    for key in ("top1", "top5", "f1_macro", "auroc_macro", "ece", "top1_ci_low", "top1_ci_high"):
        assert mapped[key] == original[key], key
    assert original["top1"] > 0.8 and unmapped["top1"] < 0.3


def test_many_to_one_classification_takes_the_max_over_columns() -> None:
    from visionbench.adapters import adapter_for_object

    net = torch.nn.Linear(4, 5)
    adapter = adapter_for_object(net, "classification", preprocess={"size": [2, 2]}, classes=list("vwxyz"),
                                 label_map={"a": "v|x", "b": ["w", "z"], "c": "y"})  # fmt: skip
    adapter.prepare(TaskInfo("classification", "abc", ("a", "b", "c")))
    logits = torch.randn(6, 5)
    got = adapter.head.select(logits)
    want = torch.stack([logits[:, [0, 2]].amax(1), logits[:, [1, 4]].amax(1), logits[:, 3]], dim=1)
    assert torch.equal(got, want)


def test_detector_labels_many_to_one_end_to_end(workdir: Path, cli, lm_models: str) -> None:
    from visionbench.tasks.data.shapes import CLASSES

    task = ("--task", "detection:shapes?n=8", "--batch-size", "4")
    direct = _run(cli, "--model", f"callable:{lm_models}:detector", *task)["metrics"]
    mapping = ",".join(f"{c}={c}_a|{c}_b" for c in CLASSES)
    split = ("--model", f"callable:{lm_models}:detector", "--model-arg", "split=true", *task)
    mapped = _run(cli, *split, "--label-map", mapping)["metrics"]
    assert direct["map_50"] > 0.3
    assert mapped == direct  # every metric, per class included
    # each split model label lands in its shape's category
    spec = ModelSpec.create(f"callable:{lm_models}:detector", options={"split": True},
                            label_map=load_label_map(mapping))  # fmt: skip
    adapter = build_adapter(spec, "detection")
    adapter.prepare(TaskInfo("detection", "shapes", CLASSES, (1, 2, 3, 4, 5)))
    image = np.asarray(Image.new("RGB", (128, 128), (80, 90, 100)))
    raw = adapter.model.run([image], [ImageMeta(0, "x", 128, 128)])[0]
    out = adapter.predict([image], [ImageMeta(0, "x", 128, 128)])[0]
    assert out["labels"].tolist() == (np.asarray(raw["labels"]) // 2 + 1).tolist()


def test_imagenet_wnid_folders_need_no_label_map(workdir: Path, cli) -> None:
    import pyarrow.parquet as pq

    from visionbench.adapters.imagenet import imagenet_wnids

    wnids = [imagenet_wnids()[i] for i in (0, 1, 207, 999)]
    rng = np.random.default_rng(0)
    for wnid in wnids:
        (workdir / "inet" / wnid).mkdir(parents=True)
        for k in range(2):
            pixels = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(workdir / "inet" / wnid / f"{k}.png")
    payload = _run(cli, "--model", "torchvision:resnet18", "--task", f"classification:imagefolder:{workdir / 'inet'}",
                   "--weights", "none", "--model-arg", 'preprocess={"size": [64, 64]}')  # fmt: skip
    assert payload["metrics"]["top1"] is not None
    table = pq.read_table(next(workdir.rglob("predictions.parquet"))).to_pandas()
    # the same random network, its logits selected by hand at the wnids' ImageNet indices
    torch.manual_seed(0)  # the run's default seed, set before the model is built
    spec = ModelSpec.create(
        "torchvision:resnet18", weights="none", options={"preprocess": {"size": [64, 64]}}
    )
    adapter = build_adapter(spec, "classification")
    net = adapter.model.module.eval()
    columns = [0, 1, 207, 999]
    adapter.prepare(TaskInfo("classification", "inet", tuple(wnids)))
    adapter.head.select(torch.zeros(1, 1000))
    assert adapter.head.index[:, 0].tolist() == columns
    for sample_id, prediction in zip(table["sample_id"], table["prediction"], strict=True):
        image = Image.open(workdir / "inet" / sample_id)
        with torch.no_grad():
            logits = net(adapter.transform()(image)[None])[0]
        assert prediction == wnids[int(logits[columns].argmax())]
