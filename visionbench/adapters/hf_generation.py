"""What the Hugging Face text-producing adapters share: routing, options, loading and decoding.

``hf:<model>`` serves classification with three kinds of model and captioning with two; the
route is read from the model's config (its first ``architectures`` entry, else its
``model_type``) before anything heavy is loaded, and the model option ``mode`` overrides it:

* ``logits``: an image classifier (``AutoModelForImageClassification``: ``family_hf``);
* ``zero-shot``: a dual image/text encoder (CLIP, SigLIP, ...: ``hf_zero_shot``);
* ``image-to-text``: a captioner fed pixels only (VisionEncoderDecoder, BLIP, GIT: ``hf_captioning``);
* ``chat``: a vision-language chat model with a processor and a chat template
  (``AutoModelForImageTextToText``: ``hf_vlm``), for captioning and generative classification.

Generation is greedy by default (``do_sample=false``, ``num_beams=1``) with at most
``max_new_tokens`` (default 30) new tokens; everything else comes from the model's own
``generation_config``. The settings used are recorded with the preprocessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from visionbench.contracts import ModelSpec
from visionbench.errors import ModelError
from visionbench.schema import Option

MODES = ("logits", "zero-shot", "image-to-text", "chat")
MODE = Option(choices=("auto", *MODES), help="which kind of Hugging Face model (default: from its config)")
IMAGE_TO_TEXT_TYPES = ("vision-encoder-decoder", "blip", "blip-2", "git", "pix2struct")
LOADING = {
    "revision": Option("str"),
    "use_fast": Option("bool"),
    "trust_remote_code": Option("bool"),
    "mode": MODE,
}
GENERATION = {
    "max_new_tokens": Option("int", minimum=1, maximum=4096),
    "num_beams": Option("int", minimum=1, maximum=64),
    "do_sample": Option("bool"),
    "temperature": Option("float", minimum=0),
    "top_p": Option("float", minimum=0, maximum=1),
}
GENERATION_DEFAULTS = {"max_new_tokens": 30, "num_beams": 1, "do_sample": False}


def _config(spec: ModelSpec) -> Any:
    import transformers

    from visionbench.adapters.family_hf import _REMOTE_CODE, _refuse_remote_code, trust_remote_code

    options = spec.option_dict
    target = spec.target
    if target.startswith(("/", "./", "../", "~")) and not Path(target).expanduser().is_dir():
        raise ModelError(f"hf:{target}: no such model folder")
    trust = trust_remote_code(options.get("trust_remote_code", False), spec.target)
    if not trust:
        _refuse_remote_code(spec.target)
    load = {"revision": str(options["revision"])} if "revision" in options else {}
    try:
        return transformers.AutoConfig.from_pretrained(spec.target, trust_remote_code=trust, **load)
    except (OSError, ValueError) as exc:
        if not trust and "trust_remote_code" in str(exc):
            raise ModelError(_REMOTE_CODE.format(target=spec.target, where="the model repository")) from None
        raise ModelError(f"hf:{spec.target}: cannot read the model's config: {exc}") from None


def route(spec: ModelSpec, kind: str) -> str:
    """The mode serving ``kind`` for ``spec``: the ``mode`` option, or read from the model's config."""
    mode = str(spec.option_dict.get("mode", "auto"))
    if mode != "auto":
        if mode not in MODES:
            return mode  # refused with the other options by the loader's check
        allowed = {"classification": ("logits", "zero-shot", "chat"), "captioning": ("image-to-text", "chat")}
        if kind in allowed and mode not in allowed[kind]:
            raise ModelError(
                f"hf:{spec.target}: mode={mode} does not serve {kind} (it takes: {', '.join(allowed[kind])})"
            )
        return mode
    if kind not in ("classification", "captioning"):
        return "logits"
    from transformers.models.auto import modeling_auto as names

    config = _config(spec)
    architecture = (getattr(config, "architectures", None) or [""])[0]
    model_type = getattr(config, "model_type", "")
    zero_shot = set(names.MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES.values())
    to_text = set(names.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.values())
    plain = model_type in IMAGE_TO_TEXT_TYPES
    if kind == "captioning":
        return "image-to-text" if plain else "chat"
    if architecture in zero_shot or (
        not architecture and model_type in names.MODEL_FOR_ZERO_SHOT_IMAGE_CLASSIFICATION_MAPPING_NAMES
    ):
        return "zero-shot"
    if (
        architecture in to_text or model_type in names.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
    ) and not plain:
        return "chat"
    return "logits"


def loading_kwargs(spec: ModelSpec, options: Mapping[str, Any]) -> dict[str, Any]:
    from visionbench.adapters.family_hf import trust_remote_code

    load: dict[str, Any] = {"revision": options["revision"]} if "revision" in options else {}
    load["trust_remote_code"] = trust_remote_code(options.get("trust_remote_code", False), spec.target)
    return load


def from_pretrained(spec: ModelSpec, options: Mapping[str, Any], parts: Mapping[str, str]) -> dict[str, Any]:
    """``{name: transformers.<Auto class>.from_pretrained(target)}`` for each part, errors naming the model."""
    import transformers
    from transformers.utils import logging as hf_logging

    from visionbench.adapters.model_options import refuse_weights

    refuse_weights(spec, "the weights come with the model folder or hub id")
    load = loading_kwargs(spec, options)
    fast = {"use_fast": bool(options["use_fast"])} if "use_fast" in options else {}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # loading bars would clutter --quiet and non-TTY output
    out: dict[str, Any] = {}
    try:
        for name, auto in parts.items():
            extra = fast if name != "model" else {}
            out[name] = getattr(transformers, auto).from_pretrained(spec.target, **load, **extra)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelError(f"hf:{spec.target}: cannot load its {name} ({auto}): {exc}") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if "model" in out:
        out["model"].eval()
    return out


def generation_settings(options: Mapping[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """The ``generate`` keyword arguments: the defaults above, overridden by the model options."""
    settings = {**GENERATION_DEFAULTS, **{k: options[k] for k in GENERATION if k in options}}
    if not settings["do_sample"]:
        for key in ("temperature", "top_p"):
            if key in settings:
                raise ModelError(
                    f"--model-arg of {spec.spec}: option {key} needs do_sample=true "
                    "(without it decoding is greedy or beam search)"
                )
    return settings


def decode(tokenizer: Any, sequences: Any, skip: int = 0) -> list[str]:
    """Generated token ids -> text per row (``skip`` leading prompt tokens dropped, special tokens removed)."""
    texts = tokenizer.batch_decode(sequences[:, skip:], skip_special_tokens=True)
    return [" ".join(str(t).split()) for t in texts]


def processor_settings(image_processor: Any) -> dict[str, Any]:
    """The image processor's geometric settings as plain data (size objects as dicts of their set fields)."""
    import dataclasses

    from visionbench.adapters.family_hf import PROCESSOR_KEYS, _plain

    out = {}
    for key in PROCESSOR_KEYS:
        if hasattr(image_processor, key):
            value = getattr(image_processor, key)
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                value = {k: v for k, v in dataclasses.asdict(value).items() if v is not None}
            out[key] = _plain(value)
    return out


def record_settings(settings: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    return {"generation": dict(sorted(settings.items())), **more}
