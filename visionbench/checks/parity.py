"""Preprocessing parity: the adapter's transform on a fixed image pack against a golden file.

The pack is three images computed from formulas (no files, no random generator whose stream a
library could change): an RGB image larger than common input sizes (resizing down), a small RGB
one (resizing up) and a grey one. ``visionbench check --write-golden`` stores, per image, the
transformed array's shape, its sha256 and the values at fixed positions; a later run compares.
A changed hash whose values agree to ``VALUE_TOLERANCE`` is float rounding (info); larger
differences (another interpolation, a resize rounded differently after a library upgrade) are a
warning naming the image, the largest difference and the library versions then and now.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from visionbench.checks.findings import CheckReport

GOLDEN_DIR = Path(__file__).with_name("golden")
GOLDEN_FORMAT = 1
PROBE_POINTS = 256
VALUE_TOLERANCE = 1e-4
LIBRARIES = ("pillow", "torch", "torchvision", "timm", "transformers", "numpy")


@lru_cache(maxsize=1)
def image_pack() -> tuple[tuple[str, Any], ...]:
    """``(name, PIL image)`` for the three pack images."""
    from PIL import Image

    def pattern(height: int, width: int, channels: int) -> np.ndarray:
        y, x = np.mgrid[0:height, 0:width].astype(np.float64)
        layers = [
            127.5 + 127.5 * np.sin(x / (3.0 + c) + y / (7.0 - c)) * np.cos((x - y) / (11.0 + 2 * c))
            for c in range(channels)
        ]
        out = np.stack(layers, axis=-1)
        out[(x.astype(int) // 9 + y.astype(int) // 9) % 2 == 0] *= 0.6  # a checkerboard: sharp edges
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return (
        ("large-rgb-301x233", Image.fromarray(pattern(233, 301, 3), "RGB")),
        ("small-rgb-29x37", Image.fromarray(pattern(37, 29, 3), "RGB")),
        ("grey-47x41", Image.fromarray(pattern(41, 47, 1)[:, :, 0], "L")),
    )


def golden_path(spec: str, kind: str, directory: Path | None = None, weights: str | None = None) -> Path:
    """``<model slug>[@<weights slug>].<kind>.json``: weights can change a library's preset transform."""
    from visionbench.harness.record import slug

    name = slug(spec) + (f"@{slug(str(weights))}" if weights else "")
    return Path(directory or GOLDEN_DIR) / f"{name}.{kind}.json"


def _as_array(value: Any) -> np.ndarray | None:
    if hasattr(value, "detach"):
        value = value.detach().to("cpu").numpy()
    if hasattr(value, "pixel_values"):
        value = value.pixel_values
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


def fingerprint(transform: Any) -> dict[str, Any] | None:
    """Per pack image: shape, sha256 and the values at fixed positions of the transformed array."""
    images = []
    for name, image in image_pack():
        array = _as_array(transform(image))
        if array is None:
            return None
        flat = np.ascontiguousarray(array).reshape(-1)
        positions = np.linspace(0, max(flat.size - 1, 0), num=min(PROBE_POINTS, flat.size)).astype(np.int64)
        images.append(
            {
                "name": name,
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "sha256": hashlib.sha256(flat.tobytes()).hexdigest(),
                "values": [float(v) for v in flat[positions].astype(np.float64)],
                "mean": float(flat.astype(np.float64).mean()) if flat.size else 0.0,
            }
        )
    return {"images": images}


def library_versions() -> dict[str, str]:
    return dict(_versions())


@lru_cache(maxsize=1)
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib import metadata

    out = []
    for name in LIBRARIES:
        try:
            out.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(out)


def write_golden(adapter: Any, kind: str, directory: Path | None = None) -> Path:
    """Write the adapter's golden file; raises ConfigError when its transform gives no array."""
    from visionbench.errors import ConfigError
    from visionbench.harness.store import atomic_write_text

    found = fingerprint(adapter.transform())
    if found is None:
        raise ConfigError(
            f"the transform of '{adapter.spec.spec}' does not give arrays: no golden file to write"
        )
    path = golden_path(adapter.spec.spec, kind, directory, adapter.spec.weights)
    path.parent.mkdir(parents=True, exist_ok=True)
    golden = {
        "format": GOLDEN_FORMAT,
        "model": adapter.spec.spec,
        "kind": kind,
        "preprocess": adapter.describe().get("preprocess", {}),
        "libraries": library_versions(),
        **found,
    }
    atomic_write_text(path, json.dumps(golden, indent=1, default=str) + "\n")
    return path


def check_parity(adapter: Any, kind: str, report: CheckReport, directory: Path | None = None) -> None:
    """Compare the adapter's transform on the pack with its golden file and add any finding to ``report``."""
    path = golden_path(adapter.spec.spec, kind, directory, adapter.spec.weights)
    if not path.is_file():
        report.results["preprocessing_parity"] = {"golden": None}
        report.add(
            "preprocessing_parity", "info",
            f"no golden file for '{adapter.spec.spec}' ({kind}); write one with "
            f"visionbench check --model {adapter.spec.spec} --task ... --write-golden",
            golden=str(path),
        )  # fmt: skip
        return
    try:
        golden = json.loads(path.read_text())
        wanted = {image["name"]: image for image in golden["images"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        report.add("preprocessing_parity", "warning", f"golden file {path} is unreadable: {exc}")
        return
    found = fingerprint(adapter.transform())
    if found is None:
        report.skipped["preprocessing_parity"] = "the transform does not give arrays"
        return
    worst, where, exact, notes = 0.0, None, 0, []
    for image in found["images"]:
        want = wanted.get(image["name"])
        if want is None:
            continue
        if want["shape"] != image["shape"]:
            notes.append(f"{image['name']}: shape {image['shape']}, golden {want['shape']}")
            worst, where = float("inf"), image["name"]
            continue
        if want["sha256"] == image["sha256"]:
            exact += 1
            continue
        diff = float(np.max(np.abs(np.asarray(want["values"]) - np.asarray(image["values"])), initial=0.0))
        diff = max(diff, abs(want["mean"] - image["mean"]))
        if diff >= worst:
            worst, where = diff, image["name"]
    now, then = library_versions(), golden.get("libraries", {})
    changed = {
        k: f"{then.get(k)} -> {now.get(k)}" for k in sorted(set(now) | set(then)) if now.get(k) != then.get(k)
    }
    declared = adapter.describe().get("preprocess", {})
    declared_then = golden.get("preprocess", {})
    moved = {
        k: f"{declared_then.get(k)!r} -> {declared.get(k)!r}"
        for k in sorted(set(map(str, declared)) | set(map(str, declared_then)))
        if json.dumps(declared.get(k), default=str) != json.dumps(declared_then.get(k), default=str)
    }
    report.results["preprocessing_parity"] = {
        "golden": str(path), "images": len(found["images"]), "identical": exact, "max_difference": worst,
        "libraries_changed": changed, "declared_changes": moved,
    }  # fmt: skip
    if worst > VALUE_TOLERANCE:
        report.add(
            "preprocessing_parity", "warning",
            f"the transform's output on pack image {where} differs from the golden file "
            + (f"({'; '.join(notes)})" if notes else f"by up to {worst:.4g}")
            + (f"; declared preprocessing changed: {moved}" if moved else "; the declared preprocessing is the same")
            + (f"; libraries changed: {changed}" if changed else ""),
            image=where, max_difference=worst, libraries_changed=changed, declared_changes=moved,
        )  # fmt: skip
    elif exact < len(found["images"]):
        report.add(
            "preprocessing_parity", "info",
            f"the transform's output differs from the golden file by at most {worst:.2g} (float rounding)",
            max_difference=worst,
        )  # fmt: skip
