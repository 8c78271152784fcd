"""The captioner trainer's data: flips that keep each image and its dense targets aligned, the train
stream beyond the split's scenes, and the recipe rule that flips never meet position captions."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _seed() -> int:
    seed = int(os.environ.get("VB_TEST_SEED", np.random.SeedSequence().entropy % 2**31))
    print(f"VB_TEST_SEED={seed}")
    return seed


def test_flips_move_the_dense_targets_with_the_image():
    from visionbench.tasks.data.shapes import ShapesDataset
    from visionbench.zoo.catalog import get_entry
    from visionbench.zoo.train_captioning import caption_arrays, dense_targets, flipped

    pixels, _, scenes = caption_arrays("train", 6, get_entry("shapes-captioner").preprocess, (1,))
    # one cell per pixel, so a mirrored cell centre is exactly a pixel centre (at the trainer's coarser
    # grid a mirrored sampling point can sit one pixel off)
    classes, colours = dense_targets(scenes, 128)
    generator = torch.Generator().manual_seed(_seed())
    before = pixels.clone()
    x, c, k = flipped(pixels, classes, colours, generator)
    assert torch.equal(pixels, before)  # the inputs stay as they were
    seen = set()
    for i, scene in enumerate(ShapesDataset("train", n=6)):
        # which flip was drawn, read off the pixels; the targets must follow, recomputed from the
        # scene's own masks flipped with numpy
        matches = [
            (h, v)
            for h in (False, True)
            for v in (False, True)
            if torch.equal(x[i], pixels[i].flip([d for d, on in ((-1, h), (-2, v)) if on]))
        ]
        assert matches, f"image {i} is not a flip of its input"
        h, v = matches[0]
        seen.add((h, v))
        rows, cols = slice(None, None, -1 if v else 1), slice(None, None, -1 if h else 1)
        twin = dataclasses.replace(
            scene,
            semantic=np.ascontiguousarray(scene.semantic[..., rows, cols]),
            masks=np.ascontiguousarray(np.asarray(scene.masks)[..., rows, cols]),
        )
        want_classes, want_colours = dense_targets([twin], 128)
        assert torch.equal(c[i], want_classes[0]) and torch.equal(k[i], want_colours[0])


def test_the_train_stream_continues_past_the_split():
    from visionbench.tasks.data.shapes import SPLITS, ShapesDataset, generate_scene

    seed, total = SPLITS["train"]
    first, later = ShapesDataset("train")[total - 1], generate_scene(seed, total)
    assert first.captions == generate_scene(seed, total - 1).captions
    assert later.captions != first.captions and later.image_id == total + 1
    for split in ("val", "test"):
        other = ShapesDataset(split, n=1)[0]
        assert not np.array_equal(np.asarray(other.image), np.asarray(generate_scene(seed, 0).image))


def test_flips_are_refused_with_position_captions(monkeypatch):
    from visionbench.zoo import train_captioning as tc

    recipe = dataclasses.replace(tc.CAPTIONING_RECIPES["shapes-captioner"], flips=True, styles=(1, 2))
    monkeypatch.setitem(tc.CAPTIONING_RECIPES, "shapes-captioner", recipe)
    with pytest.raises(ValueError, match="position"):
        tc.fit_captioner("shapes-captioner", epochs=1)
