"""Zero-shot classification with Hugging Face dual encoders (CLIP, SigLIP and kin) for the classification task.

``hf:<model>`` whose config names a zero-shot image-classification architecture (or
``mode=zero-shot``): ``AutoModelForZeroShotImageClassification`` with its ``AutoProcessor``.
When the task is bound, every dataset class is written into each prompt template (``{}``
marks the class name; ``class_names`` rewords classes), the prompts are encoded once, and the
logits of an image are ``exp(logit_scale) * <image, text>`` of the L2-normalised embeddings
(``+ logit_bias`` where the model has one, as SigLIP), the model's own ``logits_per_image``.

Several templates are ensembled (``ensemble``): ``embedding`` (default, as in the CLIP
paper) averages each class's normalised text embeddings and normalises the mean again;
``logits`` averages the per-template logits. The default template is the one of
transformers' zero-shot pipeline, ``This is a photo of {}.``; SigLIP-type models get
``padding="max_length"`` as that pipeline does. Images: the image processor runs in the
loader workers with ``do_normalize=False``, mean/std in the forward, so the model is
differentiable in pixel space. Output: logits ``[N, C]`` in the dataset's class order.
"""

from __future__ import annotations

from typing import Any

import torch

from visionbench.adapters.core import Model, ModelAdapter
from visionbench.adapters.family_hf import ProcessorPixels
from visionbench.adapters.hf_generation import LOADING, from_pretrained, processor_settings
from visionbench.adapters.model_options import check_model_options
from visionbench.adapters.pixels import PixelModel, state_dict_digest
from visionbench.contracts import ModelSpec, TaskInfo
from visionbench.errors import ModelError
from visionbench.schema import Option

DEFAULT_TEMPLATE = "This is a photo of {}."
ENSEMBLES = ("embedding", "logits")
OPTIONS = {
    **LOADING,
    "templates": Option("json", help="a template with {} for the class name, or a list of them"),
    "ensemble": Option(choices=ENSEMBLES),
    "class_names": Option("json", help="dataset class -> name written into the templates"),
}
MAX_LENGTH_PADDING = ("siglip", "siglip2")


def _features(output: Any) -> Any:
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _unit(x: Any) -> Any:
    return x / x.norm(p=2, dim=-1, keepdim=True)


class ZeroShotHead(torch.nn.Module):
    """Normalised pixels -> logits against the bound classes' text embeddings (``[T, C, D]``, T templates)."""

    def __init__(self, net: Any, ensemble: str) -> None:
        super().__init__()
        self.net, self.ensemble = net, ensemble
        self.register_buffer("text", torch.zeros(0), persistent=False)

    def forward(self, pixel_values: Any) -> Any:
        if not self.text.numel():
            raise ModelError("the zero-shot classifier has no classes yet: prepare() binds them to a task")
        image = _unit(_features(self.net.get_image_features(pixel_values=pixel_values)))
        text = self.text.to(image.dtype)
        scale = self.net.logit_scale.exp().to(image.dtype)
        bias = getattr(self.net, "logit_bias", None)
        if self.ensemble == "embedding":
            logits = image @ _unit(_unit(text).mean(0)).T * scale
        else:
            logits = (torch.einsum("nd,tcd->tnc", image, _unit(text)) * scale).mean(0)
        return logits if bias is None else logits + bias.to(logits.dtype)


def templates_of(value: Any, where: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise ModelError(
            f"{where}: option templates must be a string or a non-empty list of strings, got {value!r}"
        )
    for template in items:
        if "{}" not in template:
            raise ModelError(f"{where}: template {template!r} has no {{}} for the class name")
    return list(items)


def load(spec: ModelSpec, kind: str) -> ZeroShotClassifier:
    if kind != "classification":
        raise ModelError(f"hf:{spec.target}: a zero-shot image/text model serves classification, not {kind}")
    options = check_model_options(spec, OPTIONS)
    where = f"--model-arg of {spec.spec}"
    templates = templates_of(options.get("templates", DEFAULT_TEMPLATE), where)
    ensemble = str(options.get("ensemble", "embedding"))
    loaded = from_pretrained(
        spec, options, {"model": "AutoModelForZeroShotImageClassification", "processor": "AutoProcessor"}
    )
    net, processor = loaded["model"], loaded["processor"]
    image = getattr(processor, "image_processor", None)
    if image is None or getattr(processor, "tokenizer", None) is None:
        raise ModelError(f"hf:{spec.target}: {type(processor).__name__} is not an image+text processor")
    normalise = getattr(image, "do_normalize", True)
    mean = tuple(image.image_mean) if normalise else None
    std = tuple(image.image_std) if normalise else None
    model_type = getattr(net.config, "model_type", "")
    padding = "max_length" if model_type in MAX_LENGTH_PADDING else "longest"
    head = ZeroShotHead(net, ensemble)
    module = PixelModel(head, mean, std)
    geometry = processor_settings(image)
    text = {
        "templates": templates,
        "ensemble": ensemble,
        "padding": padding,
        "class_names": options.get("class_names"),
    }
    preprocess = {"processor": type(processor).__name__, **geometry, "geometric": "processor with do_normalize=False",
                  "mean": mean, "std": std, "normalize": "in forward: (x01 - mean) / std, float32",
                  "text": text}  # fmt: skip
    model = Model(
        name=spec.spec, transform=ProcessorPixels(image), run=None, module=module, net=net,  # type: ignore[arg-type]
        digest=lambda: state_dict_digest(net), preprocess=preprocess,
        licence=str(getattr(net.config, "license", None) or "Apache-2.0 (transformers code); weights per their model card"),
        source={"library": "transformers", "model": spec.target, "architecture": type(net).__name__,
                "revision": options.get("revision"), "trust_remote_code": bool(options.get("trust_remote_code", False))},
        extra={"architecture": type(net).__name__, "zero_shot": text},
    )  # fmt: skip
    model.run = lambda batch, sizes=None: module(batch.to(model.device))
    model.pixels = lambda x01: module(x01.to(model.device))
    return ZeroShotClassifier(spec, model, head, processor, text)


class ZeroShotClassifier(ModelAdapter):
    """A dual encoder bound to a task's classes: their prompts are encoded in :meth:`prepare`."""

    def __init__(
        self, spec: ModelSpec, model: Model, head: ZeroShotHead, processor: Any, text: dict[str, Any]
    ) -> None:
        super().__init__(spec, "classification", model)
        self.zero_shot, self.processor, self.text_settings = head, processor, text
        self.prompts: list[list[str]] = []

    def class_prompts(self, classes: tuple[str, ...]) -> list[list[str]]:
        """``[template][class]`` prompt texts for ``classes``."""
        names = self.text_settings.get("class_names") or {}
        if not isinstance(names, dict) or set(names) - set(classes):
            unknown = sorted(set(names) - set(classes)) if isinstance(names, dict) else [names]
            raise ModelError(
                f"--model-arg class_names of {self.spec.spec}: not classes of the task: {unknown[:5]}"
            )
        words = [str(names.get(c, c)) for c in classes]
        return [[t.replace("{}", w) for w in words] for t in self.text_settings["templates"]]

    def prepare(self, task: TaskInfo, *, device: str = "cpu", precision: str = "fp32") -> None:
        self.prompts = self.class_prompts(task.classes)
        net = self.zero_shot.net
        padding = self.text_settings["padding"]
        length = {}
        if padding == "max_length":
            length = {"max_length": int(net.config.text_config.max_position_embeddings), "truncation": True}
        embeddings = []
        with torch.no_grad():
            for texts in self.prompts:
                tokens = self.processor.tokenizer(texts, padding=padding, return_tensors="pt", **length)
                where = next(net.parameters()).device  # a second prepare finds the model moved
                tokens = {k: v.to(where) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
                embeddings.append(_features(net.get_text_features(**tokens)).float())
        self.zero_shot.text = torch.stack(embeddings)
        self.model.classes = list(task.classes)
        super().prepare(task, device=device, precision=precision)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "prompts": self.prompts}
