"""Zero-shot classification with CLIP and SigLIP (tiny random models built here) through the classification task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from vbtest_hf_text import save_clip

from visionbench.contracts import ModelSpec, TaskInfo
from visionbench.errors import ModelError
from visionbench.registry import build_adapter

CLASSES = ("red circle", "blue square", "dog", "small yellow triangle")
TASK = TaskInfo("classification", "shapes", CLASSES)
TEMPLATES = ["a photo of a {} .", "a picture of the {} .", "{}"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("zero-shot")
    return {family: save_clip(root / family, family=family) for family in ("clip", "siglip")}


def _images(n: int = 3) -> list[Image.Image]:
    rng = np.random.default_rng(11)
    return [Image.fromarray(rng.integers(0, 256, (30 + 3 * i, 36, 3), dtype=np.uint8)) for i in range(n)]


def _logits(folder: Path, images, task: TaskInfo = TASK, **options):
    adapter = build_adapter(ModelSpec.create(f"hf:{folder}", options=options), "classification")
    adapter.prepare(task)
    transform = adapter.transform()
    with torch.no_grad():
        return adapter.predict(adapter.collate([transform(im) for im in images]), []), adapter


def _model_logits(folder: Path, images, texts: list[str]) -> torch.Tensor:
    """The model's own ``logits_per_image`` for ``texts``, through its processor (padding as the pipeline)."""
    import transformers

    net = transformers.AutoModelForZeroShotImageClassification.from_pretrained(folder).eval()
    processor = transformers.AutoProcessor.from_pretrained(folder)
    siglip = net.config.model_type == "siglip"
    padding = {"padding": "max_length", "max_length": 16} if siglip else {"padding": True}
    inputs = processor(
        images=[im.convert("RGB") for im in images], text=texts, return_tensors="pt", **padding
    )
    with torch.no_grad():
        return net(**inputs).logits_per_image


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_one_template_equals_the_models_own_logits(folders, family):
    images = _images()
    logits, adapter = _logits(folders[family], images)
    reference = _model_logits(folders[family], images, [f"This is a photo of {c}." for c in CLASSES])
    assert logits.shape == (3, 4)
    torch.testing.assert_close(logits, reference, rtol=1e-5, atol=1e-5)
    assert adapter.prompts == [[f"This is a photo of {c}." for c in CLASSES]]
    assert adapter.describe()["preprocess"]["text"]["padding"] == (
        "max_length" if family == "siglip" else "longest"
    )


def test_logit_ensembling_is_the_mean_of_per_template_logits(folders):
    images = _images()
    logits, _ = _logits(folders["clip"], images, templates=TEMPLATES, ensemble="logits")
    per_template = [
        _model_logits(folders["clip"], images, [t.replace("{}", c) for c in CLASSES]) for t in TEMPLATES
    ]
    torch.testing.assert_close(logits, torch.stack(per_template).mean(0), rtol=1e-5, atol=1e-5)


def test_embedding_ensembling_averages_unit_text_embeddings(folders):
    """CLIP's prompt ensembling, computed here from the model's text and image features."""
    import transformers

    folder, images = folders["clip"], _images()
    logits, _ = _logits(folder, images, templates=TEMPLATES)
    net = transformers.AutoModelForZeroShotImageClassification.from_pretrained(folder).eval()
    processor = transformers.AutoProcessor.from_pretrained(folder)
    with torch.no_grad():
        image = net.get_image_features(**processor(images=images, return_tensors="pt")).pooler_output
        image = image / image.norm(dim=-1, keepdim=True)
        classes = []
        for c in CLASSES:
            tokens = processor.tokenizer(
                [t.replace("{}", c) for t in TEMPLATES], padding=True, return_tensors="pt"
            )
            text = net.get_text_features(**tokens).pooler_output
            mean = (text / text.norm(dim=-1, keepdim=True)).mean(0)
            classes.append(mean / mean.norm())
        expected = net.logit_scale.exp() * image @ torch.stack(classes).T
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(logits, _logits(folder, images, templates=TEMPLATES[:1])[0])


def test_class_names_and_gradients(folders):
    images = _images(2)
    renamed, adapter = _logits(folders["clip"], images, task=TaskInfo("classification", "x", ("a", "b")),
                               class_names={"a": "red circle", "b": "dog"})  # fmt: skip
    direct, _ = _logits(folders["clip"], images, task=TaskInfo("classification", "x", ("red circle", "dog")))
    torch.testing.assert_close(renamed, direct)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    adapter.forward_pixels(x).sum().backward()
    assert adapter.differentiable and x.grad is not None and x.grad.abs().sum() > 0


def test_bad_templates_and_options_are_named(folders):
    for options, message in (
        ({"templates": "a photo"}, "has no {}"),
        ({"templates": []}, "non-empty list"),
        ({"ensemble": "vote"}, "ensemble"),
        ({"mode": "chat"}, "AutoModelForImageTextToText"),
    ):
        with pytest.raises(ModelError, match=message):
            _logits(folders["clip"], _images(1), **options)
    with pytest.raises(ModelError, match="class_names"):
        _logits(folders["clip"], _images(1), class_names={"cat": "a cat"})


def test_zero_shot_runs_through_the_classification_task(folders, workdir, cli):
    """``visionbench run`` on digits: the record's top-1 equals the adapter's own argmax over the same images."""
    from visionbench.registry import dataset_factory

    n = 12
    code, out, err = cli("run", "--model", f"hf:{folders['siglip']}", "--task", "classification:digits",
                         "--limit", str(n), "--batch-size", "5", "--bootstrap", "20", "--json",
                         "--model-arg", 'templates=["a photo of a {} .", "{}"]')  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    record = json.loads(Path(payload["record"]).read_text())
    samples = [dataset_factory("classification", "digits")(None).load(i) for i in range(n)]
    logits, _ = _logits(folders["siglip"], [s.image for s in samples], task=TaskInfo("classification", "digits",
                        tuple(record["task"]["classes"])), templates=["a photo of a {} .", "{}"])  # fmt: skip
    truth = torch.tensor([int(s.target) for s in samples])
    assert payload["metrics"]["top1"] == pytest.approx(float((logits.argmax(1) == truth).float().mean()))
    assert {"top5", "auroc_macro", "ece"} <= set(payload["metrics"])
    assert record["model"]["preprocess"]["text"]["templates"] == ["a photo of a {} .", "{}"]
    assert "num_unparsed" not in record["task"]
