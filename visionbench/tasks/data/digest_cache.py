"""A cache of dataset digests keyed by what ``stat`` says about the files, so big datasets are not rehashed.

A dataset's fingerprint is a sha256 over the bytes of all its files (the prediction identity,
hence the prediction store, depends on it). Reading a large image folder again on every run
would cost more than the run, so the digest is kept against a key made of the dataset root, the
extra strings hashed with the files (labels, the annotation file's digest) and, for every file in
order, its absolute path, size, modification time and inode change time (nanoseconds). Any
write to a file changes its ctime (which, unlike mtime, cannot be set back), so a changed file
always misses the cache and the dataset is hashed again.

The cache is a small JSON file: ``$VB_DIGEST_CACHE`` if set (``off`` disables it), else
``$XDG_CACHE_HOME/visionbench/digests.json`` (``~/.cache/...``). It keeps the newest
``MAX_ENTRIES`` keys; a cache that cannot be read or written is ignored. ``--no-cache`` turns it
off for the run (:func:`disabled`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ENV = "VB_DIGEST_CACHE"
MAX_ENTRIES = 256
_OFF = {"off": False}


def cache_path() -> Path | None:
    value = os.environ.get(ENV, "")
    if value.lower() == "off" or _OFF["off"]:
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "visionbench" / "digests.json"


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within the block every digest is computed from the bytes (``--no-cache``)."""
    before, _OFF["off"] = _OFF["off"], True
    try:
        yield
    finally:
        _OFF["off"] = before


def stat_key(paths: Sequence[Path], root: Path, extra: Sequence[str]) -> str | None:
    """The cache key of a list of files (None when one of them cannot be stat'ed: hash, and fail there)."""
    digest = hashlib.sha256(b"digest-cache-v1\0")
    digest.update(str(Path(root).absolute()).encode() + b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        digest.update(f"{os.path.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return digest.hexdigest()


def _read(path: Path) -> dict[str, dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, entries: dict[str, dict]) -> None:
    keep = dict(sorted(entries.items(), key=lambda kv: kv[1].get("at", 0))[-MAX_ENTRIES:])
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(keep, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def cached_digest(paths: Sequence[Path], root: Path, extra: Sequence[str], compute: Callable[[], str]) -> str:
    """``compute()``, or the digest it returned before for files whose stat is unchanged."""
    where = cache_path()
    key = stat_key(paths, root, extra) if where is not None else None
    if where is None or key is None:
        return compute()
    entries = _read(where)
    hit = entries.get(key)
    if isinstance(hit, dict) and isinstance(hit.get("digest"), str):
        return hit["digest"]
    value = compute()
    entries = _read(where)  # another process may have added entries meanwhile
    entries[key] = {"digest": value, "files": len(paths), "at": time.time()}
    _write(where, entries)
    return value
