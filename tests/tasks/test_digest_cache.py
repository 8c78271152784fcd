"""The dataset digest cache: an unchanged folder is not read again, a changed file is always detected."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from visionbench.tasks.data import files


def _folder(root: Path) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(root / label / f"{i}.bmp")
    return root


def _refuse(*_: object) -> str:
    raise AssertionError("the files were read again")


def test_cache_hit_and_changed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "digests.json"
    monkeypatch.setenv("VB_DIGEST_CACHE", str(cache))
    root = _folder(tmp_path / "data")
    first = files.image_folder(root).fingerprint()
    dataset = files.image_folder(root)
    assert first == files._hash_file_bytes(
        [p for p, _ in dataset.items],
        root,
        [",".join(dataset.classes), *(str(lbl) for _, lbl in dataset.items)],
    ), "the cache changed the fingerprint's value"
    assert len(json.loads(cache.read_text())) == 1

    with monkeypatch.context() as patch:  # unchanged files: the digest comes from the cache
        patch.setattr(files, "_hash_file_bytes", _refuse)
        assert files.image_folder(root).fingerprint() == first

    # same size, modification time put back: the inode change time still tells
    target = root / "dog" / "1.bmp"
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    time.sleep(0.01)
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size and target.stat().st_mtime_ns == st.st_mtime_ns
    changed = files.image_folder(root).fingerprint()
    assert changed != first

    (root / "cat" / "0.bmp").write_bytes(b"not an image any more")  # a size change
    assert files.image_folder(root).fingerprint() not in (first, changed)


def test_cache_off_and_disabled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from visionbench.tasks.data.digest_cache import disabled

    root = _folder(tmp_path / "data")
    monkeypatch.setenv("VB_DIGEST_CACHE", str(tmp_path / "digests.json"))
    value = files.image_folder(root).fingerprint()
    monkeypatch.setattr(files, "_hash_file_bytes", _refuse)
    with disabled(), pytest.raises(AssertionError, match="read again"):  # --no-cache
        files.image_folder(root).fingerprint()
    monkeypatch.setenv("VB_DIGEST_CACHE", "off")
    with pytest.raises(AssertionError, match="read again"):
        files.image_folder(root).fingerprint()
    monkeypatch.setenv("VB_DIGEST_CACHE", str(tmp_path / "digests.json"))
    assert files.image_folder(root).fingerprint() == value
