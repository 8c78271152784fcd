"""Common corruptions (ImageNet-C protocol) from the ``imagecorruptions`` package, seeded per sample.

Policy for small images (recorded in every run as :data:`POLICY`): the package needs at least
32 pixels a side and its severities are tuned for photographs, so an image whose shorter side is
under ``min_side`` (default 32; the 8x8 digits) is upsampled by the smallest integer factor that
reaches it (bilinear), corrupted, and downsampled back to its own size (box filter: the mean over
each block). The package returns three channels for grey input; a grey image is converted back
with PIL's ``convert("L")`` (ITU-R 601 luma), so the model sees the mode it was trained on.

Seeds: each (sample, corruption, severity) draws from its own seed, derived from the run seed,
the sample index, the corruption's position in the package's list and the severity. The package
draws from numpy's global RNG (seeded here, then restored); ``glass_blur`` and ``impulse_noise``
ignore it and take the seed as an argument, which is passed explicitly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from visionbench.contracts import Dataset, Sample, stable_hash

POLICY = {
    "min_side": 32,
    "upsample": "bilinear, smallest integer factor reaching min_side",
    "downsample": "box filter back to the original size",
    "grey": "corrupted as 3 channels, back to L with PIL convert('L')",
    "seed": "SeedSequence([seed, sample index, corruption index, severity])",
}
SEEDED_BY_ARGUMENT = ("glass_blur", "impulse_noise")


def corruption_seed(seed: int, index: int, corruption: str, severity: int) -> int:
    from imagecorruptions import get_corruption_names

    position = get_corruption_names("all").index(corruption)
    return int(np.random.SeedSequence([int(seed), int(index), position, int(severity)]).generate_state(1)[0])


def corrupt_image(image: Any, corruption: str, severity: int, seed: int, min_side: int = 32) -> Any:
    """``image`` (PIL) corrupted at ``severity`` with ``seed``, in its own size and mode."""
    from imagecorruptions import corrupt
    from PIL import Image

    mode = image.mode
    rgb = image.convert("RGB")
    width, height = rgb.size
    factor = max(1, math.ceil(min_side / max(1, min(width, height))))
    if factor > 1:
        rgb = rgb.resize((width * factor, height * factor), Image.Resampling.BILINEAR)
    array = np.asarray(rgb, dtype=np.uint8)
    kwargs = {"seed": int(seed)} if corruption in SEEDED_BY_ARGUMENT else {}
    saved = np.random.get_state()
    try:
        np.random.seed(int(seed) % 2**32)
        out = corrupt(array, corruption_name=corruption, severity=int(severity), **kwargs)
    finally:
        np.random.set_state(saved)
    result = Image.fromarray(np.ascontiguousarray(out[..., :3]).astype(np.uint8), "RGB")
    if result.size != rgb.size:  # a few corruptions crop or pad by a pixel on odd sizes
        result = result.resize(rgb.size, Image.Resampling.BILINEAR)
    if factor > 1:
        result = result.resize((width, height), Image.Resampling.BOX)
    return (
        result.convert("L")
        if mode in ("L", "1", "I", "F")
        else result.convert(mode if mode != "P" else "RGB")
    )


class CorruptedDataset(Dataset):
    """Any dataset with every image corrupted (the same annotations): one cell of the grid."""

    def __init__(
        self, base: Dataset, corruption: str, severity: int, seed: int = 0, min_side: int = 32
    ) -> None:
        self.base, self.corruption, self.severity = base, corruption, int(severity)
        self.seed, self.min_side = int(seed), int(min_side)
        self.name = f"{base.name}+{corruption}-{severity}"
        self.kind = base.kind
        self.classes = base.classes
        for attr in ("category_ids", "ignore_index", "num_classes"):
            if hasattr(base, attr):
                setattr(self, attr, getattr(base, attr))

    def __len__(self) -> int:
        return len(self.base)

    def __getattr__(self, name: str) -> Any:
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    def load(self, index: int) -> Sample:
        sample = self.base.load(index)
        seed = corruption_seed(self.seed, index, self.corruption, self.severity)
        image = corrupt_image(sample.image, self.corruption, self.severity, seed, self.min_side)
        return Sample(sample.sample_id, image, sample.target)

    def fingerprint(self) -> str:
        return stable_hash(
            [self.base.fingerprint(), self.corruption, self.severity, self.seed, self.min_side, POLICY]
        )

    def describe(self) -> dict[str, Any]:
        return {
            **self.base.describe(),
            "name": self.name,
            "corruption": self.corruption,
            "severity": self.severity,
        }
