"""Adapter families on real (small, randomly initialised or packaged) models; nothing is downloaded."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from vbtest_data import write_image_folder

from visionbench.contracts import ModelSpec, TaskInfo, resolve_label_map
from visionbench.errors import LabelMapError, SpecError
from visionbench.preprocessing import IMAGENET_MEAN
from visionbench.registry import adapter_table, build_adapter

DIGITS = TaskInfo("classification", "digits", tuple("0123456789"))


def _batch(adapter, n: int = 2) -> torch.Tensor:
    from PIL import Image

    transform = adapter.transform()
    image = Image.new("RGB", (20, 30), (120, 30, 200))
    return adapter.collate([transform(image) for _ in range(n)])


def test_torchvision_random_weights_and_default_preprocess() -> None:
    spec = ModelSpec.create("torchvision:mobilenet_v3_small", options={"num_classes": 10})
    adapter = build_adapter(spec, "classification")
    adapter.prepare(DIGITS)
    batch = _batch(adapter)
    assert batch.shape == (2, 3, 224, 224)
    out = adapter.predict(batch, [])
    assert out.shape == (2, 10) and out.dtype == torch.float32
    described = adapter.describe()
    assert described["preprocess"]["crop"] == (224, 224) and described["preprocess"]["mean"] == IMAGENET_MEAN
    assert described["source"]["library"] == "torchvision"
    # the fingerprint follows the weights, not the spec
    assert adapter.fingerprint() != build_adapter(spec, "classification").fingerprint()


def test_torchvision_weights_bring_transforms_and_categories(monkeypatch) -> None:
    """Loading named weights goes through torchvision's real code; the download itself is replaced."""
    from torchvision.models import ResNet18_Weights

    captured = {}

    def fake_load(self, progress=True, check_hash=False):  # stands in for the hub download
        captured["url"] = self.url
        from torchvision.models import resnet18

        return resnet18().state_dict()

    monkeypatch.setattr(ResNet18_Weights.IMAGENET1K_V1.__class__, "get_state_dict", fake_load)
    adapter = build_adapter(
        ModelSpec.create("torchvision:resnet18", weights="IMAGENET1K_V1"), "classification"
    )
    assert captured["url"].endswith(".pth")
    assert len(adapter.model.classes) == 1000 and adapter.model.classes[0] == "tench"
    preprocess = adapter.describe()["preprocess"]
    assert "ImageClassification" in preprocess["transforms"]
    assert (
        preprocess["resize"] == 256
        and preprocess["crop"] == (224, 224)
        and preprocess["rescale"] == "x / 255"
    )
    # ImageNet classes named in the dataset are matched by name
    adapter.prepare(TaskInfo("classification", "fish", ("goldfish", "tench")))
    out = adapter.predict(_batch(adapter), [])
    assert out.shape == (2, 2)


def test_unknown_weights_name() -> None:
    with pytest.raises(SpecError, match="NOT_A_WEIGHT"):
        build_adapter(ModelSpec.create("torchvision:resnet18", weights="NOT_A_WEIGHT"), "classification")


def test_timm_data_config_drives_preprocessing() -> None:
    pytest.importorskip("timm")
    adapter = build_adapter(ModelSpec.create("timm:resnet10t", options={"num_classes": 10}), "classification")
    adapter.prepare(DIGITS)
    from timm.data import resolve_data_config

    config = adapter.describe()["preprocess"]
    expected = resolve_data_config({}, model=adapter.model.net)
    data = config["data_config"]
    assert data["input_size"] == list(expected["input_size"]) and config["mean"] == tuple(expected["mean"])
    assert config["crop"] == tuple(expected["input_size"][1:]) and config["interpolation"] == "bicubic"
    batch = _batch(adapter)
    assert tuple(batch.shape[1:]) == tuple(expected["input_size"])
    assert adapter.predict(batch, []).shape == (2, 10)


def test_callable_factory(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "mymodels.py").write_text(
        textwrap.dedent(
            """
            import torch
            def build(width=4, classes=10):
                model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, width), torch.nn.ReLU(), torch.nn.Linear(width, classes))
                model.visionbench_preprocess = {"mode": "L", "size": [16, 16], "mean": [0.5], "std": [0.5]}
                return model
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    adapter = build_adapter(
        ModelSpec.create("callable:mymodels:build", options={"width": 8}), "classification"
    )
    adapter.prepare(DIGITS)
    batch = _batch(adapter, 3)
    assert batch.shape == (3, 1, 16, 16)
    assert adapter.predict(batch, []).shape == (3, 10)
    assert adapter.model.net[1].out_features == 8 and adapter.differentiable


@pytest.mark.parametrize(
    ("target", "needle"),
    [("nomodule_xyz:build", "nomodule_xyz"), ("json:nothere", "nothere"), ("justmodule", "module:factory")],
)
def test_callable_bad_targets(target: str, needle: str) -> None:
    with pytest.raises(SpecError, match=needle):
        build_adapter(ModelSpec.create(f"callable:{target}"), "classification")


def test_builtin_table_and_family_without_the_kind() -> None:
    table = adapter_table()
    assert ("timm", "classification", "built-in") in table and ("hf", "classification", "built-in") in table
    with pytest.raises(SpecError, match=r"has no captioning adapter \(it serves: classification\)"):
        build_adapter(ModelSpec.create("timm:resnet10t"), "captioning")


class TestLabelMap:
    def test_identity_by_name_and_position(self) -> None:
        assert resolve_label_map(list("abc"), 3, list("abc"), None, model_name="m", dataset_name="d") is None
        assert resolve_label_map(None, 3, list("abc"), None, model_name="m", dataset_name="d") is None

    def test_subset_by_name(self) -> None:
        assert resolve_label_map(list("abcd"), 4, ["d", "b"], None, model_name="m", dataset_name="d") == [
            (3,),
            (1,),
        ]

    def test_explicit_names_and_indices(self) -> None:
        assert resolve_label_map(
            list("xyz"), 3, ["p", "q"], {"p": "z", "q": "0"}, model_name="m", dataset_name="d"
        ) == [(2,), (0,)]

    def test_many_to_one_and_aliases(self) -> None:
        columns = resolve_label_map(
            list("xyz"), 3, ["p", "q"], {"p": "x|2", "q": ["y"]}, model_name="m", dataset_name="d"
        )
        assert columns == [(0, 2), (1,)]
        aliases = {"n01": 2, "n02": 0}
        assert resolve_label_map(
            None, 3, ["n02", "n01"], None, model_name="m", dataset_name="d", aliases=aliases
        ) == [
            (0,),
            (2,),
        ]

    def test_mismatch_errors(self) -> None:
        with pytest.raises(LabelMapError, match="outputs 5 classes but d has 3"):
            resolve_label_map(None, 5, list("abc"), None, model_name="m", dataset_name="d")
        with pytest.raises(LabelMapError, match="do not match"):
            resolve_label_map(list("xyz"), 3, list("abc"), None, model_name="m", dataset_name="d")
        with pytest.raises(LabelMapError, match="no entry for dataset class 'c'"):
            resolve_label_map(
                list("xyz"), 3, list("abc"), {"a": "x", "b": "y"}, model_name="m", dataset_name="d"
            )
        with pytest.raises(LabelMapError, match="not in d"):
            resolve_label_map(
                list("xyz"), 3, list("ab"), {"a": "x", "b": "y", "zz": "z"}, model_name="m", dataset_name="d"
            )


def test_label_map_file(workdir: Path, cli) -> None:
    root = write_image_folder(workdir / "data", n_per_class=2, classes=("0", "1"))
    (workdir / "map.json").write_text(json.dumps({"0": "3", "1": "7"}))
    code, out, err = cli(
        "run", "--model", "torchvision:resnet18", "--model-arg", "num_classes=10", "--model-arg", 'preprocess={"size": [16, 16]}',
        "--label-map", str(workdir / "map.json"), "--task", f"classification:imagefolder:{root}", "--no-track", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["metrics"]["top1"] is not None
