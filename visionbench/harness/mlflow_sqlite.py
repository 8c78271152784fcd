"""A local SQLite MLflow store that many processes can open and write at once.

MLflow creates and migrates a SQLite store on the first open by any client, with no lock and not in
one transaction: several ``visionbench run`` started together into a fresh ``sqlite:///x.db`` race
each other through the migrations and leave a broken store. Here the schema is built once, under an
``fcntl`` lock held in ``<db>.lock`` beside the file, and never in place: a fresh store is created in
a private file and renamed over the path, and an out-of-date one is migrated in a copy that then
replaces it, so the store is either absent, at its old revision or complete. Every connection gets a
busy timeout, and :func:`retry_locked` retries a call that still meets ``database is locked``.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

BUSY_TIMEOUT_MS = 30_000
RETRY_SECONDS = 120.0
_LOCKED_MESSAGES = ("database is locked", "database table is locked", "database schema has changed")

T = TypeVar("T")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for other URIs and in-memory stores)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def absolute_uri(uri: str) -> str:
    """``sqlite:///rel.db`` made absolute, so a record logged here is synced to the same file elsewhere."""
    path = sqlite_path(uri)
    if path is None or path.is_absolute():
        return uri
    query = uri.partition("?")[2]
    return f"sqlite:///{path.resolve()}" + (f"?{query}" if query else "")


def is_locked_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(message in text for message in _LOCKED_MESSAGES)


def retry_locked(call: Callable[[], T], *, seconds: float = RETRY_SECONDS) -> T:
    """``call()``, retried with jittered back-off while SQLite (local or behind a server) reports a lock."""
    deadline = time.monotonic() + seconds
    delay = 0.05
    while True:
        try:
            return call()
        except Exception as exc:
            if not is_locked_error(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, 2.0)


_listening = False


def install_busy_timeout() -> None:
    """Give every SQLite connection SQLAlchemy opens in this process a busy timeout (once)."""
    global _listening
    if _listening:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")

    event.listen(Engine, "connect", _on_connect)
    _listening = True


@contextlib.contextmanager
def schema_lock(db: Path) -> Iterator[None]:
    """The exclusive lock that serialises creating and migrating ``db`` (``<db>.lock`` beside it)."""
    import fcntl

    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The schema revision this MLflow expects (None if MLflow's private helper moved)."""
    try:
        from mlflow.store.db.utils import _get_latest_schema_revision

        return _get_latest_schema_revision()
    except Exception:  # noqa: BLE001 - then every open takes the lock and lets MLflow decide
        return None


def schema_revision(db: Path) -> str | None:
    """The store's alembic revision; None for a missing, empty or non-MLflow file."""
    if not db.is_file() or db.stat().st_size == 0:
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as con:
            row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def ensure_schema(uri: str, artifact_root: str | None) -> None:
    """Create or migrate the SQLite store of ``uri`` once, under the lock; a no-op when it is current."""
    db = sqlite_path(uri)
    if db is None:
        return
    head = head_revision()
    if head is not None and schema_revision(db) == head:
        return
    with schema_lock(db):
        current = schema_revision(db)
        if head is not None and current == head:
            return  # another process built it while this one waited
        if current is None and _has_tables(db):
            return  # not an MLflow store we know how to read: let MLflow say what is wrong
        _build_beside(db, artifact_root, migrate=current is not None)


def _has_tables(db: Path) -> bool:
    if not db.is_file() or db.stat().st_size == 0:
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as con:
            return con.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0
    except sqlite3.Error:
        return True


def _build_beside(db: Path, artifact_root: str | None, *, migrate: bool) -> None:
    """Build the complete store in a private file beside ``db``, then rename it over ``db``."""
    tmp = db.with_name(f".{db.name}.build-{uuid.uuid4().hex[:8]}")
    try:
        if migrate:
            source = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000)
            with contextlib.closing(source) as src, contextlib.closing(sqlite3.connect(tmp)) as dst:
                src.backup(dst)
        _open_store(f"sqlite:///{tmp}", artifact_root, migrate=migrate)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, db)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)


def _open_store(uri: str, artifact_root: str | None, *, migrate: bool) -> None:
    """Let MLflow create (or upgrade) the tables and its default experiment, then close every connection."""
    import mlflow.store.db.utils as db_utils
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = SqlAlchemyStore._get_or_create_engine(uri)
    try:
        if migrate:
            db_utils._upgrade_db(engine)
        SqlAlchemyStore(uri, artifact_root or Path(sqlite_path(uri)).parent.joinpath("mlartifacts").as_uri())
    finally:
        SqlAlchemyStore._engine_map.pop(uri, None)
        engine.dispose()
