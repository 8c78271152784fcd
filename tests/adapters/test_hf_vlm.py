"""Vision-language chat models (a tiny random LLaVA built here): captioning and generative classification."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from vbtest_hf_text import save_llava

from visionbench.contracts import NO_ANSWER, ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import ModelError
from visionbench.registry import build_adapter

DIGITS = TaskInfo("classification", "digits", tuple("0123456789"))
IMAGE_TOKENS = 16  # (32 / 8) ** 2 patches; the CLS feature is dropped ("default" strategy)


@pytest.fixture(scope="module")
def llava(tmp_path_factory) -> Path:
    return save_llava(tmp_path_factory.mktemp("vlm") / "llava")


def _images(n: int) -> list[Image.Image]:
    rng = np.random.default_rng(5)
    return [Image.fromarray(rng.integers(0, 256, (24 + 4 * i, 30, 3), dtype=np.uint8)) for i in range(n)]


def _metas(n: int) -> list[ImageMeta]:
    return [ImageMeta(i, f"img{i}", 30, 24) for i in range(n)]


def _adapter(folder: Path, kind: str, task: TaskInfo, **options):
    adapter = build_adapter(ModelSpec.create(f"hf:{folder}", options=options), kind)
    adapter.prepare(task)
    return adapter


def _run(adapter, images):
    transform = adapter.transform()
    return adapter.predict(adapter.collate([transform(im) for im in images]), _metas(len(images)))


class ScriptedGenerate:
    """Stands in for ``generate``: records the inputs and answers with the next scripted texts."""

    def __init__(self, folder: Path, answers: list[str] | dict[float, str]) -> None:
        import transformers

        self.tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        self.answers, self.calls = answers, []

    def __call__(self, net, input_ids=None, attention_mask=None, pixel_values=None, **settings):
        self.calls.append({"input_ids": input_ids, "attention_mask": attention_mask, "settings": settings})
        if isinstance(self.answers, dict):  # keyed by the image itself: timed passes get the same answers
            texts = [self.answers[pixel_key(pv)] for pv in pixel_values]
        else:
            texts = [self.answers.pop(0) for _ in range(len(input_ids))]
        tok = self.tokenizer
        rows = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in texts]
        width = max(map(len, rows))
        new = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        return torch.cat([input_ids, new], dim=1)


def pixel_key(pixels) -> float:
    return round(float(pixels.double().sum()), 3)


def _script(monkeypatch, folder: Path, answers: list[str]) -> ScriptedGenerate:
    import transformers

    scripted = ScriptedGenerate(folder, answers)
    monkeypatch.setattr(
        transformers.LlavaForConditionalGeneration, "generate", lambda self, **kw: scripted(self, **kw)
    )
    return scripted


def test_the_prompt_sent_is_the_chat_template_with_the_image_tokens(llava, monkeypatch):
    scripted = _script(monkeypatch, llava, ["a red circle", "two dog"])
    adapter = _adapter(llava, "captioning", TaskInfo("captioning", "x", ()), prompt="describe this image .")
    assert _run(adapter, _images(2)) == ["a red circle", "two dog"]  # only the new tokens, specials dropped
    (call,) = scripted.calls
    tok = scripted.tokenizer
    expected = tok.convert_tokens_to_ids(
        ["<user>", *["<image>"] * IMAGE_TOKENS, "describe", "this", "image", ".", "<assistant>"]
    )
    assert call["input_ids"].tolist() == [expected, expected]  # same length: no padding needed
    assert call["settings"] == {"max_new_tokens": 30, "num_beams": 1, "do_sample": False}
    described = adapter.describe()
    assert described["preprocess"]["prompt"] == "describe this image ."
    assert described["preprocess"]["chat_template"] == "<user><image> describe this image . <assistant>"


def test_real_generation_is_deterministic_and_new_tokens_only(llava):
    images = _images(3)
    with torch.inference_mode():
        first = _run(_adapter(llava, "captioning", TaskInfo("captioning", "x", ()), max_new_tokens=4), images)
        again = _run(_adapter(llava, "captioning", TaskInfo("captioning", "x", ()), max_new_tokens=4), images)
    assert first == again and len(first) == 3
    assert all(isinstance(c, str) and 0 < len(c.split()) <= 4 for c in first), first


def test_generative_classification_parses_answers_and_counts_failures(llava, monkeypatch):
    answers = ["3", "The answer is 7.", "dog", "3 and 4", "nine", " 0 "]
    scripted = _script(monkeypatch, llava, answers)
    adapter = _adapter(llava, "classification", DIGITS)
    labels = _run(adapter, _images(6))
    assert labels.dtype == torch.int64 and labels.tolist() == [3, 7, NO_ANSWER, NO_ANSWER, NO_ANSWER, 0]
    assert adapter.num_unparsed == 3
    assert adapter.unparsed == {"img2": "dog", "img3": "3 and 4", "img4": "nine"}
    sent = scripted.tokenizer.decode(scripted.calls[0]["input_ids"][0], skip_special_tokens=True)
    assert sent.endswith("the image : 0, 1, 2, 3, 4, 5, 6, 7, 8, 9? with the.")  # unknown words are [UNK]
    assert adapter.describe()["prompt_sent"].startswith(
        "Which one of these labels describes the image: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9?"
    )
    with pytest.raises(ModelError, match="no differentiable logits"):
        adapter.forward_pixels(torch.zeros(1, 3, 32, 32))


def test_class_names_reword_the_prompt_and_the_parse(llava, monkeypatch):
    _script(monkeypatch, llava, ["nine .", "zero", "9"])
    names = {"9": "nine", "0": "zero"}
    adapter = _adapter(llava, "classification", DIGITS, class_names=names, prompt="one of {classes} ?")
    assert _run(adapter, _images(3)).tolist() == [9, 0, NO_ANSWER]  # "9" is no longer a class name
    assert adapter.prompt == "one of zero, 1, 2, 3, 4, 5, 6, 7, 8, nine ?"
    with pytest.raises(ModelError, match=r"must contain \{classes\}"):
        _adapter(llava, "classification", DIGITS, prompt="what is it?")
    with pytest.raises(ModelError, match="class_names"):
        _adapter(llava, "classification", DIGITS, class_names={"ten": "10"})


def test_generative_classifier_runs_through_the_classification_task(llava, monkeypatch, workdir, cli):
    """``visionbench run`` on digits: unparseable answers count as wrong and are listed in the record."""
    import pyarrow.parquet as pq
    import transformers

    from visionbench.registry import dataset_factory

    n = 8
    samples = [dataset_factory("classification", "digits")(None).load(i) for i in range(n)]
    truth = [int(s.target) for s in samples]
    answers = [str(truth[0]), "red circle", str((truth[2] + 1) % 10), f"it is {truth[3]}", "", "1 and 2",
               str(truth[6]), "cat"]  # fmt: skip
    processor = transformers.AutoProcessor.from_pretrained(llava).image_processor
    pixels = processor(images=[s.image.convert("RGB") for s in samples], return_tensors="pt")["pixel_values"]
    keyed = {pixel_key(p): a for p, a in zip(pixels, answers, strict=True)}
    assert len(keyed) == n
    _script(monkeypatch, llava, keyed)
    code, out, err = cli("run", "--model", f"hf:{llava}", "--task", "classification:digits", "--limit", str(n),
                         "--batch-size", "3", "--bootstrap", "20", "--json")  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    record = json.loads(Path(payload["record"]).read_text())
    unparsed = [(e["index"], e["sample_id"], e["answer"]) for e in record["task"]["unparsed"]]
    assert record["task"]["num_unparsed"] == 4
    assert [(i, a) for i, _, a in unparsed] == [(1, "red circle"), (4, ""), (5, "1 and 2"), (7, "cat")]
    assert payload["metrics"]["top1"] == pytest.approx(3 / 8)  # samples 0, 3 and 6 right
    assert "top5" not in payload["metrics"] and "auroc_macro" not in payload["metrics"]
    table = pq.read_table(Path(payload["record"]).parent / record["artifacts"]["predictions"]).to_pydict()
    assert [table["prediction"][i] for i in (1, 4, 5, 7)] == [None] * 4
    assert sum(table["correct"]) == 3
    assert record["model"]["preprocess"]["prompt"].endswith("Answer with the label only.")
    code, out, err = cli("rescore", str(Path(payload["record"]).parent), "--json")  # from the stored state
    assert code == 0, err
    assert json.loads(out)["metrics"]["top1"] == pytest.approx(3 / 8)
