"""Where results live on disk: the state store, immutable run folders and the "latest" index.

Layout under an output root (``results/runs`` by default)::

    state/<prediction identity>/          append-only state store, one per content identity
        meta.json                         what the state is of: task spec, dataset info, identity parts
        chunk-<first>-<last>[-r<rank>]-<uid>.parquet   state rows (first and last sample index)
    <task slug>/<model slug>[@precision]/<UTC time>-<run identity>-<uid>/
        record.json  predictions.parquet  <task artifacts>   one run, written complete or not at all
    index.json                            latest run folder per (task, model, precision)

The store is keyed by the *prediction* identity (model weights, preprocessing, label map, data,
subset, precision, device type, task version): what the model saw and said. The metric code is not
part of it, so a metric change rescores the stored state without the model. Chunks are written
atomically (temporary file + rename); a reader takes every chunk and keeps the newest row of each
sample index, so a repeated or resumed run never double-counts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from visionbench.errors import DataError

STATE_DIR = "state"
META_FILE = "meta.json"
INDEX_FILE = "index.json"
STAGING_DIR = ".staging"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class StateStore:
    """The append-only state of one prediction identity: Parquet chunks plus a ``meta.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def for_identity(cls, root: Path, identity: str) -> StateStore:
        return cls(Path(root) / STATE_DIR / identity)

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Record what this state is of (once; an existing meta of the same identity is kept)."""
        if not (self.directory / META_FILE).is_file():
            atomic_write_text(self.directory / META_FILE, json.dumps(meta, indent=1, sort_keys=True) + "\n")

    def meta(self) -> dict[str, Any]:
        path = self.directory / META_FILE
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"state store {self.directory}: cannot read {META_FILE}: {exc}") from None

    def append(self, table: Any, tag: str = "") -> Path | None:
        """Write one chunk of state rows (an Arrow table or record batch); returns its path.

        ``tag`` goes into the file name (a torchrun rank writes ``r<rank>``), so one can tell
        which process produced which rows.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if table.num_rows == 0:
            return None
        index = table.column("index").to_numpy()
        tag = f"-{tag}" if tag else ""
        name = f"chunk-{int(index.min()):09d}-{int(index.max()):09d}{tag}-{uuid.uuid4().hex[:8]}.parquet"
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, path)
        return path

    def chunks(self) -> list[Path]:
        """Chunk files oldest first (so that the newest row of a sample wins when merged)."""
        return sorted(self.directory.glob("chunk-*.parquet"), key=lambda p: (p.stat().st_mtime_ns, p.name))

    def read(self) -> Iterator[Any]:
        """Every stored chunk as an Arrow table, oldest first."""
        import pyarrow.parquet as pq

        for path in self.chunks():
            try:
                yield pq.read_table(path)
            except Exception as exc:  # noqa: BLE001 - a damaged chunk names itself
                raise DataError(f"state chunk {path} cannot be read: {exc}") from None


class ChunkWriter:
    """Buffers state rows and writes them to a store in chunks.

    A chunk is written once ``rows`` samples are pending or ``seconds`` have passed since the last
    one, so a run killed part-way loses at most that much work: the next run of the same
    prediction identity finds the written chunks and predicts only the samples they lack.
    """

    def __init__(
        self, store: StateStore | None, rows: int = 4096, tag: str = "", seconds: float = 2.0
    ) -> None:
        import time

        self.store, self.rows, self.tag, self.seconds = store, rows, tag, seconds
        self._pending: list[Any] = []
        self._count = 0
        self._clock = time.monotonic
        self._last = self._clock()

    def add(self, batch: Any) -> None:
        if self.store is None:
            return
        self._pending.append(batch)
        self._count += batch.num_rows
        if self._count >= self.rows or self._clock() - self._last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        from visionbench.harness.faults import kill_point

        if self.store is None or not self._pending:
            return
        self.store.append(pa.Table.from_batches(self._pending), self.tag)
        self._pending, self._count, self._last = [], 0, self._clock()
        kill_point("after_chunk_write")


def run_folder_name(identity: str) -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{identity[:12]}-{uuid.uuid4().hex[:6]}"


@contextlib.contextmanager
def staged_run_folder(output: Path, final: Path) -> Iterator[Path]:
    """A private folder to fill; on success it is renamed to ``final`` in one step, on failure removed.

    A run folder therefore exists complete or not at all, whatever kills the process.
    """
    staging = Path(output) / STAGING_DIR / final.name
    staging.mkdir(parents=True, exist_ok=False)
    try:
        yield staging
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def index_key(task_id: str, model_spec: str, precision: str) -> str:
    return f"{task_id} | {model_spec} | {precision}"


def update_index(output: Path, key: str, folder: Path) -> None:
    """Point ``key`` at ``folder`` (relative to ``output``) in the latest-run index, under a file lock."""
    output = Path(output)
    path = output / INDEX_FILE
    with _locked(output / f".{INDEX_FILE}.lock"):
        index = read_index(output)
        index[key] = os.path.relpath(folder, output)
        atomic_write_text(path, json.dumps(index, indent=1, sort_keys=True) + "\n")


def read_index(output: Path) -> dict[str, str]:
    """The latest-run index (empty when absent; a damaged one is an error naming the file)."""
    path = Path(output) / INDEX_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"latest-run index {path} cannot be read: {exc}") from None
    return {str(k): str(v) for k, v in data.items()}


def resolve_store(run_dir: Path, record: dict[str, Any]) -> StateStore:
    """The state store a run folder's record refers to."""
    ref = record.get("state") or {}
    if not ref.get("path"):
        raise DataError(f"{run_dir}: the record has no stored state (it predates the state store)")
    store = StateStore((Path(run_dir) / ref["path"]).resolve())
    if not (store.directory / META_FILE).is_file():
        raise DataError(f"{run_dir}: its state store {store.directory} is missing")
    return store
