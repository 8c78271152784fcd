"""A tracking server's summary served from the last copy while a fresh one loads in a background thread.

A server has no cheap change token: paging through ``search_runs`` can take seconds to minutes. The
first page of a process shows the on-disk copy at once (``data.load_summary``'s Parquet file) and
starts one reload thread; later pages get the reloaded table as soon as it is in. Only without any
copy at all does the page wait for the first load. Reloads run at most every ``data.SERVER_REFRESH_S``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from visionbench.leaderboard import data


@dataclass
class _Entry:
    frame: Any = None
    loaded_at: float = 0.0  # time.time() of the copy shown
    thread: threading.Thread | None = None
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


_ENTRIES: dict[tuple[str, str], _Entry] = {}
_GUARD = threading.Lock()


def _reload(source: data.Source, entry: _Entry) -> None:
    try:
        token = data.change_token(source)
        frame = data.load_summary(source, token)
    except Exception as exc:  # noqa: BLE001 - shown on the page; the old copy stays
        entry.error = f"{type(exc).__name__}: {exc}"
        return
    with entry.lock:
        entry.frame, entry.loaded_at, entry.error = frame, time.time(), ""


def summary(source: data.Source, *, refresh_s: float = data.SERVER_REFRESH_S) -> tuple[Any, float, bool]:
    """``(frame, age in seconds, reloading)`` for a tracking server source."""
    with _GUARD:
        entry = _ENTRIES.setdefault((source.kind, source.uri), _Entry())
    with entry.lock:
        if entry.frame is None:
            cached = data.read_cached(source)
            if cached is not None:
                entry.frame, entry.loaded_at = cached
    if entry.frame is None:  # nothing to show yet: the first load blocks
        _reload(source, entry)
        if entry.frame is None:
            raise RuntimeError(entry.error or "the tracking server returned no runs")
        return entry.frame, 0.0, False
    busy = entry.thread is not None and entry.thread.is_alive()
    if not busy and time.time() - entry.loaded_at >= refresh_s:
        entry.thread = threading.Thread(target=_reload, args=(source, entry), daemon=True, name="vb-summary")
        entry.thread.start()
        busy = True
    return entry.frame, max(0.0, time.time() - entry.loaded_at), busy


def wait(source: data.Source, timeout: float = 60.0) -> None:
    """Block until a running reload of ``source`` is done (tests, the benchmark)."""
    entry = _ENTRIES.get((source.kind, source.uri))
    if entry is not None and entry.thread is not None:
        entry.thread.join(timeout)
