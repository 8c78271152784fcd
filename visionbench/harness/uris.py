"""Check an MLflow tracking URI before a run, so a typo is a usage error and not a pending run.

Only the form is checked (scheme, host, the folder of a SQLite file): whether a server answers
is the tracking module's business, which keeps an unreachable store as ``pending``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from visionbench.errors import ConfigError

DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")
SCHEMES = ("file", "sqlite", "http", "https", "databricks", "databricks-uc", "uc", *DATABASE_SCHEMES)


def validate_tracking_uri(uri: str | None, source: str = "--tracking-uri") -> None:
    """Raise :class:`ConfigError` naming ``source`` when ``uri`` cannot be a tracking store MLflow opens.

    None (the default store) passes; a plain path is a local file store; ``sqlite:///FILE``
    needs FILE's folder to exist; ``http(s)://`` and database URIs need a host.
    """
    if uri is None:
        return
    label = f"{source} {uri!r}"
    if not uri.strip() or any(ord(c) < 32 for c in uri):
        raise ConfigError(f"{label}: not a tracking URI (empty, or control characters)")
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or len(scheme) == 1:  # a plain path (or a Windows drive letter)
        return
    family = scheme.split("+", 1)[0]
    if family not in SCHEMES:
        raise ConfigError(
            f"{label}: unknown scheme '{scheme}' (use a folder, sqlite:///FILE.db, http(s)://HOST, "
            f"or one of: {', '.join(SCHEMES)})"
        )
    if family == "sqlite":
        _check_sqlite(uri, label)
    elif family in ("http", "https", *DATABASE_SCHEMES) and not parts.hostname:
        raise ConfigError(f"{label}: no host (e.g. {family}://HOST:PORT)")
    elif family in ("http", "https"):
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigError(f"{label}: {exc}") from None


def _check_sqlite(uri: str, label: str) -> None:
    if not uri.lower().startswith("sqlite:///"):
        if uri.lower().rstrip("/") == "sqlite:":
            return  # in-memory
        raise ConfigError(f"{label}: a SQLite store is sqlite:///FILE.db (three slashes, then the path)")
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if path in ("", ":memory:"):
        return
    db = Path(path)
    if db.is_dir():
        raise ConfigError(f"{label}: {db} is a folder, not a database file")
    if not db.parent.is_dir():
        raise ConfigError(f"{label}: the folder {db.parent} does not exist")
