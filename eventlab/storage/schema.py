"""The on-disk shape of an eventlab store, and opening a DuckDB file as one.

Everything lives in one DuckDB file (or in memory): the ``events`` table is the
log; ``eventlab_meta`` says which schema wrote it. Files are written in a storage
format that DuckDB 1.4 and newer can read, so the official ``duckdb`` command-line
client opens them too.

Schema 2 (this one) keeps two indexes on ``events``: the PRIMARY KEY on ``position``
and ``events_stream_id``. Schema 1 also had UNIQUE (event_id) and UNIQUE (stream_id,
version); DuckDB's indexes on them made a bulk import about twice as slow, and the
store keeps both rules itself (it is its file's only writer): versions come from its
per-stream counts under the file's lock, event ids are checked against the log before
they are written, and any other writer's append takes the position the store would
take, which the primary key refuses. Schema 1 files open and work as before.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import duckdb

from eventlab.errors import (
    NotAnEventStoreError,
    SchemaVersionError,
    StoreError,
    StoreLockedError,
)

SCHEMA_VERSION = 2
STORAGE_COMPATIBILITY = "v1.4.0"

INDEX_SCAN_ROWS = 256
"""DuckDB reads the rows of a ``stream_id = ?`` query through the stream index only when fewer
than max(INDEX_SCAN_ROWS, 0.1 % of the table's rows) match, and scans the column otherwise
(DuckDB's own floor is 2,048). Fetching a row by the index costs ~25 µs here (from compressed
blocks), a scan 7 ms for 100,000 events, 36 ms for 1 M, ~95 ms for 4 M: the index wins below
~280 rows of 100,000, ~1,400 of 1 M and ~3,500 of 4 M. With 2,048, a 1,000-event stream of a
100,000-event log took 38 ms to read instead of 16 (``python -m benchmarks.stream_reads``)."""

EVENTS_DDL = """
CREATE TABLE events (
    position       BIGINT      NOT NULL PRIMARY KEY,  -- global order: 1, 2, 3 ... gap-free
    stream_id      VARCHAR     NOT NULL,              -- e.g. 'order-123'
    version        BIGINT      NOT NULL,              -- 1, 2, 3 ... within the stream
    type           VARCHAR     NOT NULL,              -- stable event type name, e.g. 'OrderPlaced'
    data           JSON        NOT NULL,              -- the event's fields
    metadata       JSON        NOT NULL,              -- correlation/causation ids, actor, ...
    schema_version INTEGER     NOT NULL,              -- shape of data, for upcasting
    event_id       UUID        NOT NULL,              -- unique: the store checks it
    occurred_at    TIMESTAMPTZ,                       -- business time, when the caller knows it
    recorded_at    TIMESTAMPTZ NOT NULL,              -- when the store wrote it (never decreases)
    prev_hash      VARCHAR     NOT NULL,              -- hash of the event before (the chain)
    hash           VARCHAR     NOT NULL               -- sha256 over prev_hash and this row
);                                                    -- (stream_id, version) unique: the store keeps it
CREATE INDEX events_stream_id ON events (stream_id);
CREATE TABLE eventlab_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
"""

EVENT_COLUMNS = (
    "position", "stream_id", "version", "type", "data", "metadata", "schema_version",
    "event_id", "occurred_at", "recorded_at", "prev_hash", "hash",
)


def connect(path: str | Path | None, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Open (and, for a new writable file, create) the store at ``path``; None means in memory."""
    created = False
    if path is None:
        if read_only:
            raise StoreError("read_only=True needs a file path; an in-memory store is always writable")
        con = duckdb.connect(":memory:")
    else:
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(
                f"no store file at {str(path)!r}; check the path, or create the store first "
                f"with EventStore({str(path)!r}) (without read_only)"
            )
        if path.is_dir():
            raise StoreError(f"{str(path)!r} is a directory; give the path of a .duckdb file")
        if not path.parent.is_dir():
            raise StoreError(f"the folder {str(path.parent)!r} does not exist; create it first "
                             f"(Path({str(path.parent)!r}).mkdir(parents=True)) or choose another path")
        created = not path.exists()
        try:
            con = connect_file(path, read_only)
        except StoreError:
            _remove_if_new(path, created)
            raise
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"SET index_scan_max_count = {INDEX_SCAN_ROWS}")  # the database's, not its file's
        _ensure_schema(con, path, read_only)
    except duckdb.Error as exc:
        con.close()
        if path is not None:
            _remove_if_new(path, created)
        raise (file_fault(path, exc) or _damaged(path, exc)) from None
    return con if path is None else GuardedConnection(con, path)


def _remove_if_new(path: Path, created: bool) -> None:
    """Remove what a failed creation left (e.g. on a full disk), so a retry starts afresh."""
    if created:
        for leftover in (path, Path(f"{path}.wal")):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)


class GuardedConnection:
    """A store file's DuckDB connection, whose file faults surface as a clear ``StoreError``.

    DuckDB finds a damaged block only when a query reads it, and a full disk only
    when a commit writes; its own errors do not say what to do. Every other error
    (a constraint, a mistake in SQL) passes through unchanged. After a fault the
    statement's transaction is rolled back: nothing of it was written.
    """

    __slots__ = ("_con", "_path")

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self._con = con
        self._path = path

    def execute(self, query: str, parameters: object = None) -> duckdb.DuckDBPyConnection:
        try:
            return self._con.execute(query, parameters)
        except duckdb.Error as exc:
            fault = file_fault(self._path, exc)
            if fault is None:
                raise
        with contextlib.suppress(duckdb.Error):
            self._con.execute("ROLLBACK")
        raise fault

    def cursor(self) -> GuardedConnection:
        return GuardedConnection(self._con.cursor(), self._path)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def file_fault(path: Path | None, exc: Exception) -> StoreError | None:
    """The clear error for a DuckDB error caused by the file itself (damaged, disk full), else None."""
    message = str(exc)
    first = message.splitlines()[0] if message else type(exc).__name__
    where = str(path) if path else "the in-memory store"
    if "No space left on device" in message or "Disk quota exceeded" in message:
        return StoreError(f"the disk holding {where!r} is full ({first}); nothing was written. Free some "
                          f"space, or move the store to a bigger disk, and try again")
    if "Read-only file system" in message:
        return StoreError(f"cannot write {where!r}: its file system is read-only ({first}); nothing was "
                          f"written. Copy the store to a writable folder, or open it with read_only=True")
    if any(sign in message for sign in ("Corrupt database file", "Could not read enough bytes",
                                        "does not match stored checksum")):
        return _damaged(path, exc)
    if "database has been invalidated" in message:
        return StoreError(f"{where!r} stopped after an earlier fatal error ({first}); close the store "
                          f"and open it again")
    return None


def _damaged(path: Path | None, exc: Exception) -> StoreError:
    return StoreError(
        f"{str(path)!r} is damaged (truncated or corrupted: {str(exc).splitlines()[0]}); "
        f"restore it from a copy, or rebuild it from an export with EventStore(new).import_events(...)"
    )


def connect_file(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    config = {} if read_only else {"storage_compatibility_version": STORAGE_COMPATIBILITY}
    try:
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
            who = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
            if not read_only:  # the holder may be a writer, or readers (who keep writers out too)
                raise StoreLockedError(
                    f"{str(path)!r} is open in {who}, so it cannot be opened for writing here. "
                    f"DuckDB lets one process write a file at a time, and only while no other "
                    f"process reads it: close the store there (store.close(), or restart that "
                    f"notebook kernel), then open it here; to only read it, open it with "
                    f"EventStore({str(path)!r}, read_only=True) in every process."
                ) from None
            raise StoreLockedError(
                f"{str(path)!r} is open for writing in {who}. DuckDB lets one process write a "
                f"file at a time: close the store there (store.close(), or restart that "
                f"notebook kernel), then open it here; several processes may then read it "
                f"together with EventStore({str(path)!r}, read_only=True)."
            ) from None
        if "not a valid DuckDB database" in message or "Unable to read" in message:
            raise NotAnEventStoreError(
                f"{str(path)!r} is not a DuckDB database file ({message.splitlines()[0]}); "
                f"give the path of an eventlab store, or a new file name to create one"
            ) from None
        if "Could not read enough bytes" in message or "Corrupt" in message or "checksum" in message:
            raise _damaged(path, exc) from None
        if "No space left on device" in message:
            raise file_fault(path, exc) from None
        if "Permission denied" in message or "Read-only file system" in message:
            raise StoreError(
                f"cannot write {str(path)!r}: {message.splitlines()[0]}. Choose a writable "
                f"folder, or open an existing store with read_only=True"
            ) from None
        raise StoreError(f"cannot open {str(path)!r}: {message.splitlines()[0]}") from None
    except duckdb.ConnectionException as exc:
        raise StoreError(
            f"{str(path)!r} is already open in this process with other settings "
            f"(read-only versus writable): close that EventStore first ({exc})"
        ) from None
    except duckdb.Error as exc:
        if "Corrupt" in str(exc) or "checksum" in str(exc):
            raise _damaged(path, exc) from None
        raise NotAnEventStoreError(
            f"cannot open {str(path)!r} as a DuckDB database: {str(exc).splitlines()[0]}"
        ) from None


def _ensure_schema(con: duckdb.DuckDBPyConnection, path: Path | None, read_only: bool) -> None:
    tables = {row[0] for row in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
    ).fetchall()}
    where = str(path) if path else "the in-memory store"
    if "eventlab_meta" not in tables:
        if tables:
            con.close()
            raise NotAnEventStoreError(
                f"{where!r} is a DuckDB database but not an eventlab store (it has the tables "
                f"{', '.join(sorted(tables))}); open an eventlab store, or give a new file name"
            )
        if read_only:
            con.close()
            raise NotAnEventStoreError(f"{where!r} is an empty DuckDB file, not an eventlab store")
        con.execute("BEGIN")
        con.execute(EVENTS_DDL)
        con.execute(
            "INSERT INTO eventlab_meta VALUES ('schema_version', ?), ('created_by', 'eventlab')",
            [str(SCHEMA_VERSION)],
        )
        con.execute("COMMIT")
        return
    rows = con.execute("SELECT value FROM eventlab_meta WHERE key = 'schema_version'").fetchall()
    version = int(rows[0][0]) if rows else 0
    if version > SCHEMA_VERSION:
        con.close()
        raise SchemaVersionError(
            f"{where!r} was written by a newer eventlab (store schema {version}; this eventlab "
            f"reads schema {SCHEMA_VERSION}); upgrade with `pip install -U eventlab`"
        )
    if version < 1 or "events" not in tables:
        con.close()
        raise NotAnEventStoreError(f"{where!r} has a damaged eventlab_meta table (schema {version})")
