"""Hugging Face image-to-text captioners (VisionEncoderDecoder, BLIP, GIT) on tiny random models built here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from vbtest_hf_text import save_blip, save_git, save_vision_encoder_decoder

from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import ModelError, SpecError
from visionbench.registry import build_adapter

CAPTIONS = TaskInfo("captioning", "images", ())
BUILDERS = {"vision-encoder-decoder": save_vision_encoder_decoder, "blip": save_blip, "git": save_git}


def _images() -> list[Image.Image]:
    rng = torch.Generator().manual_seed(3)
    out = []
    for w, h in ((40, 30), (30, 50), (32, 32)):
        pixels = torch.randint(0, 256, (h, w, 3), generator=rng, dtype=torch.uint8).numpy()
        out.append(Image.fromarray(pixels))
    return out


def _metas(n: int) -> list[ImageMeta]:
    return [ImageMeta(i, f"img{i}", 32, 32) for i in range(n)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("captioners")
    return {name: build(root / name) for name, build in BUILDERS.items()}


def _captions(folder: Path, images: list[Image.Image], **options) -> tuple[list[str], object]:
    adapter = build_adapter(ModelSpec.create(f"hf:{folder}", options=options), "captioning")
    adapter.prepare(CAPTIONS)
    transform = adapter.transform()
    return adapter.predict(adapter.collate([transform(im) for im in images]), _metas(len(images))), adapter


def _reference(folder: Path, images: list[Image.Image], **generate) -> list[str]:
    """The library's own pipeline: image processor (normalising) -> generate -> decode without special tokens."""
    import transformers

    net = transformers.AutoModelForImageTextToText.from_pretrained(folder).eval()
    image_processor = transformers.AutoImageProcessor.from_pretrained(folder)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    pixels = image_processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        ids = net.generate(pixel_values=pixels, **generate)
    return [" ".join(t.split()) for t in tokenizer.batch_decode(ids, skip_special_tokens=True)]


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_captions_equal_the_library_pipeline(folders, name):
    images = _images()
    with torch.inference_mode():
        captions, adapter = _captions(folders[name], images, max_new_tokens=6)
    assert captions == _reference(folders[name], images, max_new_tokens=6, num_beams=1, do_sample=False)
    assert all(isinstance(c, str) and c for c in captions), captions
    described = adapter.describe()
    assert described["kind"] == "captioning"
    assert described["preprocess"]["generation"] == {"do_sample": False, "max_new_tokens": 6, "num_beams": 1}
    assert (
        described["generation"] == described["preprocess"]["generation"]
    )  # Model.extra, the captioning contract
    assert described["source"]["architecture"] in (
        "VisionEncoderDecoderModel", "BlipForConditionalGeneration", "GitForCausalLM"
    )  # fmt: skip


def test_beam_search_is_passed_and_runs_are_deterministic(folders):
    folder, images = folders["git"], _images()
    with torch.inference_mode():
        first, _ = _captions(folder, images, max_new_tokens=5, num_beams=3)
        again, _ = _captions(folder, images, max_new_tokens=5, num_beams=3)
    assert first == again
    assert first == _reference(folder, images, max_new_tokens=5, num_beams=3, do_sample=False)


def test_generate_gets_the_declared_settings(folders, monkeypatch):
    """Greedy by default; the options reach ``generate`` unchanged; sampling needs do_sample."""
    import transformers

    seen = []
    real = transformers.BlipForConditionalGeneration.generate

    def spy(self, *args, **kwargs):
        seen.append({k: v for k, v in kwargs.items() if k != "pixel_values"})
        return real(self, *args, **kwargs)

    monkeypatch.setattr(transformers.BlipForConditionalGeneration, "generate", spy)
    _captions(folders["blip"], _images()[:1])
    _captions(folders["blip"], _images()[:1], do_sample=True, top_p=0.5, max_new_tokens=3)
    assert seen == [
        {"max_new_tokens": 30, "num_beams": 1, "do_sample": False},
        {"max_new_tokens": 3, "num_beams": 1, "do_sample": True, "top_p": 0.5},
    ]
    with pytest.raises(ModelError, match="top_p needs do_sample=true"):
        _captions(folders["blip"], _images()[:1], top_p=0.5)


def test_bad_options_and_kinds_are_named(folders, tmp_path):
    with pytest.raises(ModelError, match="num_beams"):
        build_adapter(ModelSpec.create(f"hf:{folders['git']}", options={"num_beams": 0}), "captioning")
    with pytest.raises(ModelError, match="unknown option 'beams'"):
        build_adapter(ModelSpec.create(f"hf:{folders['git']}", options={"beams": 2}), "captioning")
    with pytest.raises(ModelError, match="mode=zero-shot does not serve captioning"):
        build_adapter(ModelSpec.create(f"hf:{folders['git']}", options={"mode": "zero-shot"}), "captioning")
    with pytest.raises(ModelError, match="nothing-here: no such model folder"):
        build_adapter(ModelSpec.create(f"hf:{tmp_path / 'nothing-here'}"), "captioning")
    with pytest.raises(ModelError, match="--weights w.pt does not apply"):
        build_adapter(ModelSpec.create(f"hf:{folders['git']}", weights="w.pt"), "captioning")
    with pytest.raises(SpecError, match="has no captioning adapter"):
        build_adapter(ModelSpec.create("timm:resnet18"), "captioning")
