"""Task state: the per-sample sufficient statistics a task keeps, stored and merged.

Every task turns one batch of canonical predictions into state rows: one row per
sample with its dataset position (``index``), its ``sample_id`` and the task's own
columns (classification: the score row; detection: the image's detections and
ground truth; segmentation: the image's sparse confusion counts). Rows are Arrow
record batches with compact dtypes, so the same state is

* merged across shards (``torchrun`` ranks, a resumed run): rows are concatenated,
  de-duplicated by ``index`` (the newest row wins) and sorted by ``index``, because the
  bootstrap and COCO's tie-breaking depend on order;
* written to the state store as Parquet chunks and read back for ``rescore``;
* the only input of ``Task.compute()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

INDEX = "index"
SAMPLE_ID = "sample_id"


def base_fields() -> list[Any]:
    import pyarrow as pa

    return [pa.field(INDEX, pa.int64(), nullable=False), pa.field(SAMPLE_ID, pa.string(), nullable=False)]


class TaskState:
    """Append-only per-sample rows with a fixed Arrow schema; ``table()`` gives them merged and ordered."""

    def __init__(self, schema: Any) -> None:
        names = schema.names
        if names[:2] != [INDEX, SAMPLE_ID]:
            raise ValueError(f"a task state schema starts with {INDEX}, {SAMPLE_ID}; got {names[:2]}")
        self.schema = schema
        self._batches: list[Any] = []
        self._table: Any = None

    def append(self, columns: Mapping[str, Any]) -> Any:
        """Add rows given as ``name -> column`` (lists or Arrow arrays); returns the record batch added."""
        import pyarrow as pa

        arrays = []
        for field in self.schema:
            value = columns[field.name]
            arrays.append(value if isinstance(value, pa.Array) else pa.array(value, type=field.type))
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._batches.append(batch)
        self._table = None
        return batch

    def extend(self, tables: Iterable[Any]) -> None:
        """Add rows from Arrow tables or record batches of the same schema (other shards, stored chunks)."""
        import pyarrow as pa

        for table in tables:
            if isinstance(table, pa.RecordBatch):
                table = pa.Table.from_batches([table])
            if not table.schema.equals(self.schema):
                table = table.select(self.schema.names).cast(self.schema)
            self._batches.extend(table.to_batches())
        self._table = None

    def __len__(self) -> int:
        return len(self.table())

    def table(self) -> Any:
        """All rows, one per sample index (the last appended wins), sorted by index."""
        import numpy as np
        import pyarrow as pa

        if self._table is None:
            table = (
                pa.Table.from_batches(self._batches, schema=self.schema)
                if self._batches
                else self.schema.empty_table()
            )
            index = table.column(INDEX).to_numpy()
            if index.size:
                # the last occurrence of each index wins: unique over the reversed order
                _, last = np.unique(index[::-1], return_index=True)
                keep = index.size - 1 - last  # unique() sorts by index, so this is already ordered
                if keep.size != index.size or np.any(np.diff(index) < 0):
                    table = table.take(pa.array(keep))
            self._table = table.combine_chunks()
        return self._table

    def indices(self) -> Any:
        return self.table().column(INDEX).to_numpy()

    def sample_ids(self) -> list[str]:
        return self.table().column(SAMPLE_ID).to_pylist()

    def restrict(self, indices: Sequence[int]) -> None:
        """Keep only the rows of the given sample indices (a run's subset of a larger stored state)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        table = self.table()
        mask = pc.is_in(table.column(INDEX), value_set=pa.array(np.asarray(indices, dtype=np.int64)))
        self._batches = table.filter(mask).to_batches()
        self._table = None


def fixed_rows(values: Any, width: int, value_type: Any) -> Any:
    """An ``[N, width]`` numpy array as a FixedSizeList Arrow column (one list per row)."""
    import numpy as np
    import pyarrow as pa

    flat = pa.array(np.ascontiguousarray(values).reshape(-1), type=value_type)
    return pa.FixedSizeListArray.from_arrays(flat, width)


def rows_of(column: Any, width: int) -> Any:
    """The inverse of :func:`fixed_rows`: ``[N, width]`` numpy array from a FixedSizeList column."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(column) == 0:
        import numpy as np

        return np.zeros((0, width), dtype=column.type.value_type.to_pandas_dtype())
    return column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)


def ragged(column: Any) -> list[Any]:
    """A list-typed Arrow column as a list of numpy arrays (one per row)."""
    import numpy as np
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False) if len(column.values) else np.zeros(0)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(column))]
