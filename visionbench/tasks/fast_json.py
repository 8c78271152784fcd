"""JSON for large COCO files and per-image state: orjson when installed, else the standard library.

Both read floats to the same doubles and write them in shortest round-trip form, so what is
stored reads back to the same numbers; orjson writes non-ASCII text as UTF-8 rather than ``\\u``
escapes and exponents without padding (``1e-5``), which decodes alike. Text that orjson refuses
(``NaN``) is read by the standard library. orjson reads an integer beyond 64 bits as a float, so the
COCO loaders re-read a file with the standard library (:func:`exact`) before reporting a problem
in it, and their messages stay the same.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; the standard library still works
    orjson = None


def loads(data: bytes | str) -> Any:
    """Parse JSON text; raises :class:`json.JSONDecodeError` (or ``UnicodeDecodeError``) like ``json.loads``."""
    if orjson is not None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard library decides, with its own message (or accepts NaN and big integers)
    return json.loads(data)


def exact(data: bytes | str) -> Any:
    """Parse JSON text with the standard library (integers of any size stay integers)."""
    return json.loads(data)


def dumps_bytes(obj: Any) -> bytes:
    """Compact JSON (``separators=(",", ":")``) of plain Python values, as UTF-8 bytes (what Arrow string
    columns and files take without a round trip through ``str``)."""
    if orjson is not None:
        return orjson.dumps(obj)
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")
