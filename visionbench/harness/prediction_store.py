"""The prediction store: a run never recomputes a sample whose state the store already holds.

The state store (:mod:`visionbench.harness.store`) is keyed by the prediction identity: model
weights, preprocessing, label map, dataset content, sample subset, task version, precision and
device type. Any row found there for a sample of this run is therefore exactly what the model
would say again, so the runner

* reads the rows already stored for the run's samples (:func:`stored_rows`);
* predicts only the samples left (:func:`remaining`): none on an unchanged rerun, the rest of the
  samples after a run was killed part-way (the runner writes a chunk every few thousand rows or
  every two seconds, atomically, so a killed run loses at most that much work);
* merges both into the task state, which keeps one row per sample index, sorted, so the metrics
  equal an uninterrupted run's.

``--no-cache`` (``use_store=False``) skips the reading: every sample is predicted again and the new
rows, written last, win over the old ones. Timed passes never come here: the efficiency figures
are measured on the samples this process predicts (or by a separate timing pass), never read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Reuse:
    """What the store already held for a run: the rows (an Arrow table) and their sample indices."""

    table: Any
    indices: frozenset[int]

    @property
    def count(self) -> int:
        return len(self.indices)


def stored_rows(store: Any, schema: Any, total: int, use_store: bool = True) -> Reuse:
    """The newest stored row of each of the samples ``0 .. total-1`` (none with ``use_store=False``)."""
    from visionbench.state import TaskState

    state = TaskState(schema)
    if use_store and store.directory.is_dir() and store.chunks():
        state.extend(store.read())
        state.restrict(range(total))
    table = state.table()
    return Reuse(table, frozenset(int(i) for i in table.column("index").to_numpy()))


def remaining(positions: list[int], reuse: Reuse) -> list[int]:
    """The positions of ``positions`` that still need a prediction, in order."""
    if not reuse.indices:
        return list(positions)
    return [p for p in positions if p not in reuse.indices]


def chunk_rows() -> int:
    """Rows per state chunk: ``$VB_STATE_CHUNK_ROWS`` or 4,096 (a chunk is also written every 2 s)."""
    import os

    value = os.environ.get("VB_STATE_CHUNK_ROWS", "")
    return int(value) if value.isdigit() and int(value) > 0 else 4096
