"""Images of evaluated samples, for the failure gallery, where a sample id says how to rebuild them.

Only built-in data can be rebuilt without the original files: the digits set
(``digits-<split>-<index>``, e.g. ``digits-test-00012`` is image 12 of the test split).
Other ids return None and the gallery shows text only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DIGITS_ID = re.compile(r"^digits-(?P<split>train|test|all)-(?P<index>\d+)$")


def sample_image(sample_id: str, *, scale: int = 12) -> np.ndarray | None:
    """The sample as a uint8 grey image enlarged ``scale`` times (nearest neighbour), or None."""
    match = DIGITS_ID.match(str(sample_id))
    if match is None:
        return None
    from visionbench.tasks.data.digits import load_digits_split

    images, _ = load_digits_split(match["split"])
    index = int(match["index"])
    if index >= len(images):
        return None
    return images[index].repeat(scale, axis=0).repeat(scale, axis=1)
