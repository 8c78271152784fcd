"""Bad-input cases of the Hugging Face captioning, chat and zero-shot adapters (options checked before loading)."""

from __future__ import annotations

from bad_input_support import Case

CAPTIONS = ("run", "--no-track", "--task", "captioning:shapes?n=2&meteor=off", "--model", "hf:{d}/no-model")
DIGITS = ("run", "--no-track", "--task", "digits", "--limit", "4", "--model", "hf:{d}/no-model")
HF_TEXT_CASES = [
    Case("hf-captioner-missing-folder", CAPTIONS, 2, "hf:{d}/no-model: no such model folder"),
    Case("hf-mode-unknown", (*DIGITS, "--model-arg", "mode=vision"), 2, "option mode=vision: not allowed"),
    Case(
        "hf-mode-wrong-kind",
        (*CAPTIONS, "--model-arg", "mode=zero-shot"),
        2,
        "mode=zero-shot does not serve captioning",
    ),
    Case(
        "hf-num-beams-zero",
        (*CAPTIONS, "--model-arg", "mode=image-to-text", "--model-arg", "num_beams=0"),
        2,
        "option num_beams=0: out of range",
    ),
    Case(
        "hf-chat-prompt-without-classes",
        (*DIGITS, "--model-arg", "mode=chat", "--model-arg", "prompt=What is it?"),
        2,
        "option prompt must contain {classes} for classification",
    ),
    Case(
        "hf-top-p-without-sampling",
        (*CAPTIONS, "--model-arg", "mode=chat", "--model-arg", "top_p=0.9"),
        2,
        "option top_p needs do_sample=true",
    ),
]
