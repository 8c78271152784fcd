"""Hugging Face vision-language chat models: captioning and generative classification.

``hf:<model>`` whose config names an image-text-to-text chat architecture (LLaVA, Idefics,
SmolVLM, Qwen-VL, ... or ``mode=chat``): ``AutoModelForImageTextToText`` with its
``AutoProcessor``. Each image becomes one user turn, ``[image, prompt]``, rendered with the
processor's chat template (``add_generation_prompt=True``); the processor prepares image and
text together in the main process (it decides how many image tokens the text carries), the
batch is padded on the left, and only the newly generated tokens are decoded.

* captioning: ``prompt`` (default :data:`CAPTION_PROMPT`); the answer is the caption.
* classification: ``prompt`` must contain ``{classes}``, replaced by the class names joined
  with ``, `` (default :data:`CLASSIFY_PROMPT`); the answer is read by
  :class:`~visionbench.adapters.answers.AnswerParser`. An answer naming no class (or several)
  gives label -1: wrong, and listed with its text in the record (``task.unparsed``).
  ``class_names`` (JSON object dataset class -> name) words the classes in the prompt.

Generation: :mod:`~visionbench.adapters.hf_generation` (greedy, 30 new tokens by default).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from visionbench.adapters.answers import NO_ANSWER, AnswerParser
from visionbench.adapters.core import Model, ModelAdapter
from visionbench.adapters.hf_generation import (
    GENERATION,
    LOADING,
    decode,
    from_pretrained,
    generation_settings,
    processor_settings,
    record_settings,
)
from visionbench.adapters.model_options import check_model_options
from visionbench.adapters.pixels import state_dict_digest
from visionbench.contracts import ImageMeta, ModelSpec, TaskInfo
from visionbench.errors import ModelError
from visionbench.schema import Option

CAPTION_PROMPT = "Describe this image in one sentence."
CLASSIFY_PROMPT = "Which one of these labels describes the image: {classes}? Answer with the label only."
OPTIONS = {
    **LOADING,
    **GENERATION,
    "prompt": Option("str", help="the user turn after the image; classification needs {classes}"),
    "system": Option("str", help="an optional system turn"),
}
CLASSIFY_OPTIONS = {**OPTIONS, "class_names": Option("json", help="dataset class -> name used in the prompt")}
UNPARSED_KEPT = 1000  # answers kept word for word in the record; the count is always complete


class RGB:
    """PIL image -> RGB PIL image (picklable): the processor itself runs on whole batches."""

    def __call__(self, image: Any) -> Any:
        return image.convert("RGB")

    def __repr__(self) -> str:
        return "RGB()"


def as_list(items: list[Any]) -> list[Any]:
    return list(items)


class ChatGenerator:
    """One prompt, a batch of images -> one generated answer per image."""

    def __init__(self, net: Any, processor: Any, settings: dict[str, Any], system: str | None) -> None:
        if getattr(processor, "chat_template", None) is None:
            raise ModelError(
                f"{type(processor).__name__} has no chat template: a chat model needs one "
                "(an image-to-text captioner takes mode=image-to-text)"
            )
        self.net, self.processor, self.settings, self.system = net, processor, settings, system
        self.device = "cpu"
        tokenizer = processor.tokenizer
        tokenizer.padding_side = "left"  # decoder-only generation continues from the right end
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    def text(self, prompt: str) -> str:
        """The chat-template rendering of one image turn (what the model actually reads)."""
        messages: list[dict[str, Any]] = []
        if self.system:
            messages.append({"role": "system", "content": [{"type": "text", "text": self.system}]})
        messages.append({"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]})
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def __call__(self, images: Sequence[Any], prompt: str) -> list[str]:
        text = self.text(prompt)
        inputs = self.processor(  # one image per conversation, nested as multi-image processors expect
            images=[[image] for image in images], text=[text] * len(images), return_tensors="pt", padding=True
        )
        dtype = next(self.net.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device))
                  for k, v in inputs.items() if hasattr(v, "to")}  # fmt: skip
        out = self.net.generate(**inputs, **self.settings)
        sequences = out.sequences if hasattr(out, "sequences") else out
        return decode(self.processor.tokenizer, sequences, skip=int(inputs["input_ids"].shape[1]))


def _model(
    spec: ModelSpec, kind: str, schema: dict[str, Option]
) -> tuple[Model, ChatGenerator, dict[str, Any]]:
    options = check_model_options(spec, schema)
    settings = generation_settings(options, spec)
    default = CAPTION_PROMPT if kind == "captioning" else CLASSIFY_PROMPT
    prompt = str(options.get("prompt", default))
    if kind == "classification" and "{classes}" not in prompt:
        raise ModelError(
            f"--model-arg of {spec.spec}: option prompt must contain {{classes}} for classification: {prompt!r}"
        )
    loaded = from_pretrained(
        spec, options, {"model": "AutoModelForImageTextToText", "processor": "AutoProcessor"}
    )
    net, processor = loaded["model"], loaded["processor"]
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
        raise ModelError(f"hf:{spec.target}: {type(processor).__name__} is not an image+text processor")
    system = options.get("system")
    generator = ChatGenerator(net, processor, settings, None if system is None else str(system))
    image = processor.image_processor
    geometry = processor_settings(image)
    recorded = record_settings(settings, prompt=prompt, system=generator.system,
                               chat_template=generator.text(prompt.replace("{classes}", "...")),
                               decode="new tokens only, skip special tokens, collapse whitespace")  # fmt: skip
    preprocess = {"processor": type(processor).__name__, "image_processor": type(image).__name__, **geometry,
                  "geometric": "the processor, on each batch (images and text together)", **recorded}  # fmt: skip

    def to_device(device: str) -> None:
        net.to(device).eval()
        generator.device = device

    model = Model(
        name=spec.spec, transform=RGB(), run=None, module=net, net=net, collate=as_list,  # type: ignore[arg-type]
        digest=lambda: state_dict_digest(net), to_device=to_device, preprocess=preprocess,
        licence=str(getattr(net.config, "license", None) or "Apache-2.0 (transformers code); weights per their model card"),
        source={"library": "transformers", "model": spec.target, "architecture": type(net).__name__,
                "revision": options.get("revision"), "trust_remote_code": bool(options.get("trust_remote_code", False))},
        extra={"architecture": type(net).__name__, **recorded},
    )  # fmt: skip
    return model, generator, {**options, "prompt": prompt}


def load(spec: ModelSpec, kind: str) -> Model | ModelAdapter:
    """Captioning: a :class:`Model` whose ``run`` returns captions; classification: a :class:`GenerativeClassifier`."""
    if kind == "captioning":
        model, generator, options = _model(spec, kind, OPTIONS)
        model.run = lambda batch, metas: generator(batch, options["prompt"])
        return model
    if kind == "classification":
        model, generator, options = _model(spec, kind, CLASSIFY_OPTIONS)
        return GenerativeClassifier(spec, model, generator, options)
    raise ModelError(f"hf:{spec.target}: a chat model serves captioning and classification, not {kind}")


class GenerativeClassifier(ModelAdapter):
    """Classification by asking: the prompt lists the classes, the answer is parsed to a label (``[N]`` int64).

    Answers that name no class (or several) are label -1 (wrong); their text is kept in
    :attr:`unparsed` (sample id -> answer) for the record.
    """

    def __init__(
        self, spec: ModelSpec, model: Model, generator: ChatGenerator, options: dict[str, Any]
    ) -> None:
        super().__init__(spec, "classification", model)
        self.generator, self.options = generator, options
        self.unparsed: dict[str, str] = {}
        self.num_unparsed = 0
        self.differentiable = False

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        super().prepare(task, device=device, precision=precision)
        names = self.options.get("class_names") or {}
        if not isinstance(names, dict) or set(names) - set(task.classes):
            unknown = sorted(set(names) - set(task.classes)) if isinstance(names, dict) else [names]
            raise ModelError(
                f"--model-arg class_names of {self.spec.spec}: names classes not in {task.dataset}: {unknown[:5]}"
            )
        self.words = [str(names.get(c, c)) for c in task.classes]
        self.parse = AnswerParser(self.words)
        self.prompt = str(self.options["prompt"]).replace("{classes}", ", ".join(self.words))
        self.unparsed, self.num_unparsed = {}, 0

    def collate(self, items: list[Any]) -> Any:
        return list(items)

    def predict(self, batch: Any, metas: Sequence[ImageMeta]) -> Any:
        import torch

        answers = self.generator(batch, self.prompt)
        labels = [self.parse(a) for a in answers]
        for meta, answer, label in zip(metas, answers, labels, strict=True):
            if label == NO_ANSWER:
                self.num_unparsed += 1
                if len(self.unparsed) < UNPARSED_KEPT:
                    self.unparsed[meta.sample_id] = answer
        return torch.tensor(labels, dtype=torch.int64)

    def forward_pixels(self, x01: Any) -> Any:
        raise ModelError(
            f"model '{self.spec.spec}' classifies by generating text: it has no differentiable logits"
        )

    def describe(self) -> dict[str, Any]:
        prompt = getattr(self, "prompt", None)
        return {**super().describe(), "prompt_sent": prompt, "unparsed_answers": dict(self.unparsed)}
