"""Built-in procedural "shapes" scenes: seeded RGB images with boxes, masks and captions.

Each scene is a pure function of ``(seed, index)``: a mottled, noisy background with one
to ``max_shapes`` filled shapes (circle, square, triangle, ellipse, star) in a named
palette and three size words, drawn in order so later shapes hide parts of earlier ones.
Drawing uses only numpy arithmetic on pixel centres (no PIL drawing, no trigonometry),
so the same pair gives the same bytes on every machine, and every instance mask is
exactly the set of pixels painted in that shape's colour and still visible.

A shape is only drawn when it leaves every instance (itself included) with at least
``MIN_VISIBLE_FRACTION`` of its own area and ``MIN_VISIBLE_PIXELS`` pixels visible, and
never touches a visible shape of the same colour; otherwise it is dropped before
painting, so the image holds no unannotated slivers.

COCO area ranges at the default 128x128: small (< 32^2, about three quarters of the
instances) and medium (< 96^2) only, as a large instance would need more than half the
image, so ``map_large`` is undefined there. From 256x256 all three ranges are populated
(large is rare at 256, about 15% of instances at 320).

Images are 128x128 by default so that a tiny detector trains quickly on CPU; one scene
takes a few milliseconds to generate, so datasets are lazy and never cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from visionbench.errors import ConfigError
from visionbench.tasks.data.shapes_captions import _captions, _Obj

GENERATOR_VERSION = "1"
CLASSES: tuple[str, ...] = ("circle", "square", "triangle", "ellipse", "star")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 38, 38),
    "green": (40, 175, 60),
    "blue": (40, 85, 225),
    "yellow": (240, 215, 40),
    "orange": (245, 135, 25),
    "purple": (145, 55, 195),
    "cyan": (40, 205, 215),
}
# The shifted style's palette, one colour for each of COLOURS (same order, so the scenes' geometry is unchanged):
# hues the default palette never uses, for generalisation tests.
SHIFTED_COLOURS: dict[str, tuple[int, int, int]] = {
    "pink": (250, 120, 190),
    "brown": (125, 75, 35),
    "teal": (20, 120, 120),
    "lime": (165, 235, 60),
    "navy": (30, 35, 110),
    "maroon": (120, 20, 45),
    "black": (25, 25, 25),
}
STYLES: tuple[str, ...] = ("default", "shifted")
SIZE_WORDS: tuple[str, ...] = ("small", "medium", "large")
DEFAULT_SIZE = 128
DEFAULT_MAX_SHAPES = 5
MIN_SIZE = 32
MIN_VISIBLE_FRACTION = 0.5
MIN_VISIBLE_PIXELS = 10
SPLITS: dict[str, tuple[int, int]] = {
    "train": (1_000_003, 2000),
    "val": (2_000_029, 300),
    "test": (3_000_017, 300),
}
IGNORE_INDEX = 255

# Nominal radius as a fraction of the shorter image side, per size word, and how often each is drawn.
_SIZE_RANGES = {"small": (0.06, 0.10), "medium": (0.11, 0.16), "large": (0.18, 0.26)}
_SIZE_P = np.array([0.4, 0.35, 0.25])
# Largest distance from the centre to any point of the shape, in nominal radii.
_EXTENT = {"circle": 1.0, "square": 1.26, "triangle": 1.3, "ellipse": 1.3, "star": 1.35}
_TRIES = 20
_S3 = 3.0**0.5
_S5 = 5.0**0.5
# Unit vertices built from square roots only (correctly rounded everywhere): cos/sin of 36 and 72 degrees.
_C36, _S36 = (1 + _S5) / 4, (10 - 2 * _S5) ** 0.5 / 4
_C72, _S72 = (_S5 - 1) / 4, (10 + 2 * _S5) ** 0.5 / 4
_UNIT_TRIANGLE = np.array([[0.0, -1.0], [_S3 / 2, 0.5], [-_S3 / 2, 0.5]])
_UNIT_SQUARE = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
# Star points start straight up and go clockwise in 36-degree steps (x right, y down).
_STAR_DIRS = np.array(
    [
        [0.0, -1.0],
        [_S36, -_C36],
        [_S72, -_C72],
        [_S72, _C72],
        [_S36, _C36],
        [0.0, 1.0],
        [-_S36, _C36],
        [-_S72, _C72],
        [-_S72, -_C72],
        [-_S36, -_C36],
    ]
)
_STAR_RADII = np.array([1.0, 0.45] * 5)[:, None]


@dataclass(frozen=True)
class InstanceAttributes:
    """What a caption may say about one instance: its class name, colour name and size word."""

    shape: str
    colour: str
    size: str
    occluded: bool


@dataclass(frozen=True, eq=False)
class Scene:
    """One generated image and its ground truth; instance ``k`` is ``labels[k]`` (1-based class id).

    ``boxes`` are xyxy float64 in pixel-edge coordinates (``x2 - x1`` is the width in pixels) tight
    around the visible mask; ``semantic`` holds class ids with 0 for background.
    """

    image: Image.Image = field(repr=False)
    boxes: np.ndarray = field(repr=False)
    labels: np.ndarray
    masks: np.ndarray = field(repr=False)
    semantic: np.ndarray = field(repr=False)
    attributes: tuple[InstanceAttributes, ...]
    captions: tuple[str, ...]
    image_id: int
    file_name: str

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height


def _image_size(size: int | Sequence[int]) -> tuple[int, int]:
    dims = (size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(dims) != 2 or min(int(v) for v in dims) < MIN_SIZE:
        raise ConfigError(
            f"shapes image size must be a side or (width, height), each at least {MIN_SIZE}; got {size}"
        )
    return int(dims[0]), int(dims[1])


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A muted base colour, bilinear low-frequency blotches and a tilt; float32 [3, H, W].

    Channel planes and in-place accumulation keep it fast; the bilinear weights are hat
    functions summed in a fixed order (no gathers, no BLAS), so results are exact everywhere.
    """
    base = rng.uniform(75.0, 150.0) + rng.uniform(-14.0, 14.0, size=(3, 1, 1))
    grid = rng.uniform(-28.0, 28.0, size=(3, 5, 5))
    tilt = rng.uniform(-6.0, 6.0, size=2)
    ys = (np.arange(height) + 0.5) * (4.0 / height)
    xs = (np.arange(width) + 0.5) * (4.0 / width)
    wy = np.maximum(1.0 - np.abs(ys[None, :] - np.arange(5.0)[:, None]), 0.0)  # [5, H]
    wx = np.maximum(1.0 - np.abs(xs[None, :] - np.arange(5.0)[:, None]), 0.0).astype(np.float32)  # [5, W]
    rows = (sum(grid[:, k, None, :] * wy[k, None, :, None] for k in range(5)) + base).astype(np.float32)
    out = np.empty((3, height, width), dtype=np.float32)
    out[:] = ((ys[:, None] - 2.0) * tilt[0] + (xs[None, :] - 2.0) * tilt[1]).astype(np.float32)
    tmp = np.empty_like(out)
    for k in range(5):
        np.multiply(rows[:, :, k, None], wx[k], out=tmp)
        out += tmp
    return out


def _fill_polygon(px: np.ndarray, py: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Even-odd rule over pixel centres ``px`` [1, w] and ``py`` [h, 1]; handles the concave star."""
    inside = np.zeros((py.shape[0], px.shape[1]), dtype=bool)
    n = len(verts)
    for k in range(n):
        x1, y1 = float(verts[k, 0]), float(verts[k, 1])
        x2, y2 = float(verts[(k + 1) % n, 0]), float(verts[(k + 1) % n, 1])
        if y1 == y2:
            continue
        crosses = (py > y1) != (py > y2)
        x_at = x1 + (py - y1) * ((x2 - x1) / (y2 - y1))
        inside ^= crosses & (px < x_at)
    return inside


def _shape_mask(
    kind: str, cx: float, cy: float, r: float, rot: tuple[float, float], width: int, height: int
) -> np.ndarray:
    """Full-size bool mask of one shape, evaluated only inside its bounding square."""
    ext = _EXTENT[kind] * r
    x0, x1 = max(int(np.floor(cx - ext)), 0), min(int(np.ceil(cx + ext)) + 1, width)
    y0, y1 = max(int(np.floor(cy - ext)), 0), min(int(np.ceil(cy + ext)) + 1, height)
    px = (np.arange(x0, x1, dtype=np.float64) + 0.5 - cx)[None, :]
    py = (np.arange(y0, y1, dtype=np.float64) + 0.5 - cy)[:, None]
    c, s = rot
    if kind == "circle":
        inside = px * px + py * py <= r * r
    elif kind == "ellipse":
        a, b = 1.3 * r, 0.7 * r
        u = px * c + py * s
        v = py * c - px * s
        inside = (u * u) / (a * a) + (v * v) / (b * b) <= 1.0
    else:
        if kind == "square":
            unit = _UNIT_SQUARE * 0.886
        elif kind == "triangle":
            unit = _UNIT_TRIANGLE * 1.3
        else:
            unit = _STAR_DIRS * _STAR_RADII * 1.35
        verts = unit * r
        rotated = np.stack([verts[:, 0] * c - verts[:, 1] * s, verts[:, 0] * s + verts[:, 1] * c], axis=1)
        inside = _fill_polygon(px, py, rotated)
    mask = np.zeros((height, width), dtype=bool)
    mask[y0:y1, x0:x1] = inside
    return mask


def _rotation(rng: np.random.Generator, kind: str) -> tuple[float, float]:
    """cos/sin of a random angle from the rational parametrisation t = tan(angle / 2): no libm calls."""
    if kind == "circle":
        return 1.0, 0.0
    limit = 0.27 if kind == "square" else 1.0  # squares stay within about 30 degrees of upright
    t = rng.uniform(-limit, limit)
    return (1.0 - t * t) / (1.0 + t * t), (2.0 * t) / (1.0 + t * t)


def _grow(mask: np.ndarray) -> np.ndarray:
    """The mask grown by one pixel (4-neighbourhood)."""
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


@dataclass
class _Placed:
    kind: str
    colour: str
    size: str
    fill: np.ndarray  # uint8-range RGB of this shape
    mask: np.ndarray  # every pixel of the shape
    area: int
    visible: np.ndarray  # what later shapes leave of it


def _sample_shape(
    rng: np.random.Generator, width: int, height: int, palette: dict[str, tuple[int, int, int]] = COLOURS
) -> _Placed:
    kind = CLASSES[int(rng.integers(len(CLASSES)))]
    colour = tuple(palette)[int(rng.integers(len(palette)))]
    size_word = SIZE_WORDS[int(rng.choice(len(SIZE_WORDS), p=_SIZE_P))]
    lo, hi = _SIZE_RANGES[size_word]
    r = rng.uniform(lo, hi) * min(width, height)
    ext = _EXTENT[kind] * r
    cx = rng.uniform(ext, width - ext)
    cy = rng.uniform(ext, height - ext)
    rot = _rotation(rng, kind)
    jitter = rng.integers(-12, 13, size=3)
    fill = np.clip(np.array(palette[colour]) + jitter, 0, 255)
    mask = _shape_mask(kind, cx, cy, r, rot, width, height)
    return _Placed(kind, colour, size_word, fill, mask, int(np.count_nonzero(mask)), mask.copy())


def _fits(new: _Placed, placed: list[_Placed]) -> bool:
    """Whether ``new`` may go on top: everyone keeps enough visible area, and no same-colour shapes touch."""
    if new.area < MIN_VISIBLE_PIXELS:
        return False
    grown = _grow(new.mask)
    for old in placed:
        if old.colour == new.colour and (grown & old.visible).any():
            return False
        left = np.count_nonzero(old.visible & ~new.mask)
        if left < max(MIN_VISIBLE_PIXELS, MIN_VISIBLE_FRACTION * old.area):
            return False
    return True


def _place_shapes(
    rng: np.random.Generator,
    width: int,
    height: int,
    max_shapes: int,
    palette: dict[str, tuple[int, int, int]] = COLOURS,
) -> list[_Placed]:
    """Draw a shape count, then try each shape up to ``_TRIES`` placements; one that never fits is dropped."""
    placed: list[_Placed] = []
    for _ in range(int(rng.integers(1, max_shapes + 1))):
        for _try in range(_TRIES):
            new = _sample_shape(rng, width, height, palette)
            if _fits(new, placed):
                for old in placed:
                    old.visible &= ~new.mask
                placed.append(new)
                break
    return placed


def _shifted_background(canvas: np.ndarray) -> np.ndarray:
    """The default background mirrored into light tones (about 180..255) under a 16-pixel checkerboard.

    It draws nothing from the random stream, so a shifted scene keeps the default scene's geometry.
    """
    _, height, width = canvas.shape
    checker = ((np.arange(height)[:, None] // 16 + np.arange(width)[None, :] // 16) % 2).astype(np.float32)
    np.subtract(np.float32(330.0), canvas, out=canvas)
    canvas += (checker * np.float32(36.0) - np.float32(18.0))[None]
    return canvas


def generate_scene(
    seed: int,
    index: int,
    *,
    size: int | Sequence[int] = DEFAULT_SIZE,
    max_shapes: int = DEFAULT_MAX_SHAPES,
    style: str = "default",
) -> Scene:
    """Generate scene ``index`` of the stream ``seed``; ``size`` is a side or ``(width, height)``.

    ``style="shifted"`` draws the same shapes at the same places (the random stream is the same)
    in :data:`SHIFTED_COLOURS` on a light checkered background: a distribution shift of colour
    and background alone, for generalisation tests.

    Output depends only on the arguments and :data:`GENERATOR_VERSION`, given numpy's
    ``Generator`` streams (the same on every platform; numpy reserves the right to change
    them between feature releases, which the pinned digests in the tests would catch).
    """
    if int(seed) < 0 or int(index) < 0:
        raise ConfigError(f"shapes seed and index must be non-negative, got seed={seed}, index={index}")
    if int(max_shapes) < 1:
        raise ConfigError(f"max_shapes must be at least 1, got {max_shapes}")
    if style not in STYLES:
        raise ConfigError(f"unknown shapes style {style!r}; expected one of {', '.join(STYLES)}")
    width, height = _image_size(size)
    rng = np.random.default_rng([int(seed), int(index)])
    canvas = _background(rng, width, height)
    if style == "shifted":
        canvas = _shifted_background(canvas)

    shapes = _place_shapes(
        rng, width, height, int(max_shapes), SHIFTED_COLOURS if style == "shifted" else COLOURS
    )
    for shape in shapes:
        canvas[:, shape.visible] = shape.fill[:, None]
    canvas += rng.integers(-10, 11, size=(3, height, width), dtype=np.int8)
    planes = np.clip(canvas, 0.0, 255.0, out=canvas).astype(np.uint8)  # truncation is floor here
    pixels = np.ascontiguousarray(planes.transpose(1, 2, 0))

    k = len(shapes)
    masks = np.stack([p.visible for p in shapes]) if k else np.zeros((0, height, width), dtype=bool)
    labels = np.array([CLASSES.index(p.kind) + 1 for p in shapes], dtype=np.int64)
    semantic = np.zeros((height, width), dtype=np.uint8)
    boxes = np.zeros((k, 4), dtype=np.float64)
    objects = []
    for i, shape in enumerate(shapes):
        semantic[masks[i]] = labels[i]
        ys, xs = np.nonzero(masks[i])
        boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        count = len(xs)
        centre_x = (int(xs.sum()) + 0.5 * count) / count / width
        centre_y = (int(ys.sum()) + 0.5 * count) / count / height
        covered_by = tuple(j for j in range(i + 1, k) if (masks[j] & shape.mask).any())
        objects.append(_Obj(shape.kind, shape.colour, shape.size, centre_x, centre_y, count, covered_by))
    attributes = tuple(
        InstanceAttributes(p.kind, p.colour, p.size, bool(o.covered_by))
        for p, o in zip(shapes, objects, strict=True)
    )
    captions = _captions(objects, np.random.default_rng([int(seed), int(index), 1]))
    image_id = int(index) + 1
    return Scene(
        image=Image.fromarray(pixels),
        boxes=boxes,
        labels=labels,
        masks=masks,
        semantic=semantic,
        attributes=attributes,
        captions=captions,
        image_id=image_id,
        file_name=f"{image_id:06d}.png",
    )


class ShapesDataset:
    """A named split of generated scenes, built lazily: ``dataset[i]`` generates scene ``i``."""

    def __init__(
        self,
        split: str = "test",
        *,
        n: int | None = None,
        size: int | Sequence[int] = DEFAULT_SIZE,
        max_shapes: int = DEFAULT_MAX_SHAPES,
        style: str = "default",
    ) -> None:
        if style not in STYLES:
            raise ConfigError(f"unknown shapes style {style!r}; expected one of {', '.join(STYLES)}")
        if split not in SPLITS:
            raise ConfigError(f"unknown shapes split {split!r}; expected one of {', '.join(SPLITS)}")
        seed, total = SPLITS[split]
        if n is not None and not 0 <= int(n) <= total:
            raise ConfigError(f"shapes split {split!r} has {total} scenes; n must be in 0..{total}, got {n}")
        if int(max_shapes) < 1:
            raise ConfigError(f"max_shapes must be at least 1, got {max_shapes}")
        self.split, self.seed = split, seed
        self.n = total if n is None else int(n)
        self.width, self.height = _image_size(size)
        self.max_shapes = int(max_shapes)
        self.style = style

    @property
    def classes(self) -> tuple[str, ...]:
        return CLASSES

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Scene:
        i = int(i)
        if i < 0:
            i += self.n
        if not 0 <= i < self.n:
            raise IndexError(f"scene {i} out of range for shapes split {self.split!r} of {self.n}")
        return generate_scene(
            self.seed, i, size=(self.width, self.height), max_shapes=self.max_shapes, style=self.style
        )

    def __iter__(self) -> Iterator[Scene]:
        return (self[i] for i in range(self.n))

    def __repr__(self) -> str:
        return f"ShapesDataset(split={self.split!r}, n={self.n}, size={self.width}x{self.height})"

    def fingerprint(self) -> str:
        """sha256 (hex) over the generator version and everything that selects the scenes."""
        params = {
            "generator": GENERATOR_VERSION,
            "split": self.split,
            "seed": self.seed,
            "n": self.n,
            "size": [self.width, self.height],
            "max_shapes": self.max_shapes,
        }
        if self.style != "default":  # the default's digest stays what it always was
            params["style"] = self.style
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
