"""Bulk import of historical events, and export of the log to Parquet.

Importing a million events one append at a time would cost a statement each;
here DuckDB checks, numbers and hashes the whole batch in a few vectorized
passes, and only the hash chain itself (each link needs the one before) is
folded in Python. The batch goes in as one transaction: all of it or none.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from eventlab import chain
from eventlab.errors import InvalidEventError, StoreError
from eventlab.events import to_json

if TYPE_CHECKING:
    from eventlab.store import EventStore

REQUIRED = ("stream_id", "type", "data", "recorded_at")
OPTIONAL = ("metadata", "event_id", "occurred_at", "schema_version", "version")
IGNORED = ("position", "prev_hash", "hash")  # recomputed: an export imports as it was
_CHUNK = 100_000


@dataclass(frozen=True)
class ImportReport:
    """What an import did: events written, events skipped (their ids were stored already)."""

    imported: int
    skipped: int
    first_position: int | None
    last_position: int | None


def import_events(store: EventStore, source: pd.DataFrame | str | Path, *, progress: bool = False
                  ) -> ImportReport:
    """Append historical events in bulk, in the order given, keeping their ``recorded_at``.

    ``source`` is a DataFrame or a Parquet file with the columns ``stream_id``,
    ``type``, ``data`` (JSON text or dicts) and ``recorded_at`` (timezone-aware,
    never decreasing, not before the newest event already stored), and optionally
    ``metadata``, ``event_id``, ``occurred_at``, ``schema_version`` and ``version``
    (checked against the versions the import assigns). Rows whose ``event_id`` is
    already stored are skipped, so re-importing a file is harmless.
    """
    with store._lock:
        store._check_writable()
        if store.in_unit_of_work:
            raise StoreError("import_events cannot run inside a unit_of_work; run it on its own")
        con = store._con
        _register_source(con, source)
        try:
            columns = _check_columns(con)
            _stage(con, columns)
            _validate(con, columns)
            return _write(store, progress)
        finally:
            con.execute("DROP TABLE IF EXISTS eventlab_import")
            con.unregister("eventlab_import_source")
            store._invalidate_caches()


def export_parquet(store: EventStore, path: str | Path) -> Path:
    """Write every event, in global order, to a Parquet file that ``import_events`` reads back."""
    path = Path(path)
    if path.is_dir():
        path = path / "events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with store._lock:
        store._con.execute(
            f"COPY (SELECT * FROM events ORDER BY position) TO '{_quote(path)}' (FORMAT parquet)")
    return path


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _register_source(con, source) -> None:
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise StoreError(f"no file at {str(path)!r} to import; give a Parquet file or a DataFrame")
        relation = con.read_parquet(str(path))
        con.register("eventlab_import_source", relation.to_arrow_table())
        return
    if not isinstance(source, pd.DataFrame):
        raise InvalidEventError(
            f"import_events takes a DataFrame or a Parquet path, got {type(source).__name__}")
    frame = source.reset_index(drop=True)
    for column in ("data", "metadata"):
        if column in frame and not pd.api.types.is_string_dtype(frame[column]) \
                and frame[column].map(lambda v: isinstance(v, dict)).any():
            frame = frame.assign(**{column: [
                to_json(v, f"row {i} {column}") if isinstance(v, dict) else v
                for i, v in enumerate(frame[column])]})
    con.register("eventlab_import_source", frame)


def _check_columns(con) -> dict[str, str]:
    described = con.execute("DESCRIBE eventlab_import_source").fetchall()
    columns = {name: kind for name, kind, *_ in described}
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL + IGNORED]
    if missing or unknown:
        raise InvalidEventError(
            f"the import needs the columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); "
            f"missing: {missing or 'none'}, unknown: {unknown or 'none'}. Rename or drop columns first."
        )
    for column in ("recorded_at", "occurred_at"):
        if column in columns and columns[column] not in ("TIMESTAMP WITH TIME ZONE", '"NULL"', "NULL"):
            raise InvalidEventError(
                f"column {column} is {columns[column]}, not a timezone-aware timestamp; convert it, "
                f"e.g. df[{column!r}] = pd.to_datetime(df[{column!r}]).dt.tz_localize('UTC')"
            )
    return columns


def _stage(con, columns: dict[str, str]) -> None:
    def optional(name: str, default: str) -> str:
        return name if name in columns else default

    try:
        _create_import_table(con, optional)
    except duckdb.Error as exc:  # a value DuckDB cannot read as its column's type
        raise InvalidEventError(f"a column of the import does not hold what it should: "
                                f"{str(exc).splitlines()[0]}; fix that column; nothing was imported"
                                ) from None


def _create_import_table(con, optional) -> None:
    con.execute(f"""
        CREATE TEMP TABLE eventlab_import AS
        SELECT row_number() OVER () AS row_no,
               stream_id::VARCHAR AS stream_id, type::VARCHAR AS type,
               data::VARCHAR AS data, {optional('metadata', "'{}'")}::VARCHAR AS metadata,
               {optional('schema_version', '1')}::INTEGER AS schema_version,
               {optional('event_id', 'NULL')}::VARCHAR AS given_event_id,
               {optional('occurred_at', 'NULL')}::TIMESTAMPTZ AS occurred_at,
               recorded_at::TIMESTAMPTZ AS recorded_at,
               {optional('version', 'NULL')}::BIGINT AS given_version
        FROM eventlab_import_source
    """)


_FIRST_MOMENT = "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
_LAST_MOMENT = "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"
_SUSPECT_JSON = r"[:\[,]\s*[-+]?([Nn][Aa]|[Ii][Nn])|[0-9][eE]\+?[0-9]{3}|,\s*[\]}]"
"""JSON text that DuckDB reads but Python may not (checked in Python): NaN, Infinity, a huge number,
a trailing comma; and 300 digits in a row"""

_CHECKS = [
    ("stream_id IS NULL OR trim(stream_id) = '' OR regexp_matches(stream_id, '[\\x00-\\x1f\\x7f]')",
     "stream_id {stream_id!r} is empty or has a control character"),
    ("type IS NULL OR trim(type) = '' OR regexp_matches(type, '[\\x00-\\x1f\\x7f]')",
     "type {type!r} is empty or has a control character"),
    # what eventlab.events.check_name refuses too: blank in Unicode's sense, or too long to read back
    ("regexp_matches(stream_id, '^[\\s\\pZ\\x{85}]*$') OR length(stream_id) > 1000",
     "stream_id {stream_id!r:.80} is blank or longer than 1000 characters"),
    ("regexp_matches(type, '^[\\s\\pZ\\x{85}]*$') OR length(type) > 1000",
     "type {type!r:.80} is blank or longer than 1000 characters"),
    ("data IS NULL OR NOT coalesce(json_valid(data), false) OR json_type(data::JSON) <> 'OBJECT'",
     "data {data!r:.80} is not a JSON object"),
    ("metadata IS NULL OR NOT coalesce(json_valid(metadata), false) OR json_type(metadata::JSON) <> 'OBJECT'",
     "metadata {metadata!r:.80} is not a JSON object"),
    ("recorded_at IS NULL", "recorded_at is missing"),
    (f"NOT recorded_at BETWEEN {_FIRST_MOMENT} AND {_LAST_MOMENT} "
     f"OR NOT coalesce(occurred_at BETWEEN {_FIRST_MOMENT} AND {_LAST_MOMENT}, true)",
     "recorded_at or occurred_at is outside years 1 to 9999, which Python cannot read back"),
    ("schema_version IS NULL OR schema_version < 1", "schema_version {schema_version!r} is not >= 1"),
    ("given_event_id IS NOT NULL AND try_cast(given_event_id AS UUID) IS NULL",
     "event_id {given_event_id!r} is not a UUID"),
]


def _validate(con, columns: dict[str, str]) -> None:
    for condition, message in _CHECKS:
        rows = con.execute(
            f"SELECT * FROM eventlab_import WHERE {condition} ORDER BY row_no LIMIT 1").df()
        if len(rows):
            row = rows.iloc[0].to_dict()
            raise InvalidEventError(f"row {row['row_no'] - 1}: " + message.format(**row)
                                    + "; nothing was imported")
    _check_numbers(con)
    rows = con.execute("""
        SELECT row_no, recorded_at, previous FROM (
            SELECT row_no, recorded_at, lag(recorded_at) OVER (ORDER BY row_no) AS previous
            FROM eventlab_import)
        WHERE recorded_at < previous ORDER BY row_no LIMIT 1""").fetchall()
    if rows:
        raise InvalidEventError(
            f"row {rows[0][0] - 1}: recorded_at {rows[0][1]} is before the row above it "
            f"({rows[0][2]}); sort the events by recorded_at (the log's order) and import again"
        )
    rows = con.execute("""
        SELECT given_event_id, count(*) FROM eventlab_import WHERE given_event_id IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1 LIMIT 1""").fetchall()
    if rows:
        raise InvalidEventError(f"event_id {rows[0][0]} appears {rows[0][1]} times in the import")
    rows = con.execute("""
        SELECT i.row_no, i.stream_id, e.stream_id FROM eventlab_import i
        JOIN events e ON e.event_id = i.given_event_id::UUID
        WHERE e.stream_id <> i.stream_id ORDER BY i.row_no LIMIT 1""").fetchall()
    if rows:
        raise InvalidEventError(
            f"row {rows[0][0] - 1}: its event_id is stored already in stream {rows[0][2]!r}, "
            f"not {rows[0][1]!r}; event ids are unique across the whole log"
        )


def _check_numbers(con) -> None:
    """Refuse NaN and Infinity (DuckDB reads them, JSON has no such thing) and numbers Python cannot read."""
    rows = con.execute(f"""SELECT row_no, data, metadata FROM eventlab_import
                           WHERE regexp_matches(data, '{_SUSPECT_JSON}')
                              OR regexp_matches(metadata, '{_SUSPECT_JSON}')
                              OR (length(data) >= 300 AND regexp_matches(data, '[0-9]{{300}}'))
                              OR (length(metadata) >= 300 AND regexp_matches(metadata, '[0-9]{{300}}'))
                           ORDER BY row_no""").fetchall()
    for row_no, *texts in rows:
        for column, text in zip(("data", "metadata"), texts):
            try:
                json.loads(text, parse_constant=_refuse, parse_float=_finite)
            except ValueError:
                raise InvalidEventError(
                    f"row {row_no - 1}: {column} {text!r:.80} is not standard JSON (NaN, Infinity, a number "
                    f"too large to read back, or a trailing comma); write NaN as null or a string; nothing "
                    f"was imported"
                ) from None


def _refuse(token: str) -> float:
    raise ValueError(token)


def _finite(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(token)
    return value


def _write(store: EventStore, progress: bool) -> ImportReport:
    con = store._con
    con.execute("""
        DELETE FROM eventlab_import WHERE given_event_id::UUID IN (SELECT event_id FROM events)""")
    skipped = con.execute("SELECT count(*) FROM eventlab_import_source").fetchall()[0][0] - \
        con.execute("SELECT count(*) FROM eventlab_import").fetchall()[0][0]
    head = con.execute(
        "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1").fetchall()
    head_position, head_hash, head_time = head[0] if head else (0, chain.GENESIS, None)
    if head_time is not None:
        early = con.execute("SELECT min(row_no), min(recorded_at) FROM eventlab_import WHERE recorded_at < ?",
                            [head_time]).fetchall()[0]
        if early[0] is not None:
            raise InvalidEventError(
                f"row {early[0] - 1}: recorded_at {early[1]} is before the newest stored event "
                f"({head_time}); an import can only add history after what the log holds"
            )
    con.execute("""
        CREATE OR REPLACE TEMP TABLE eventlab_import AS
        SELECT i.*, ? + row_number() OVER (ORDER BY row_no) AS position,
               coalesce(s.version, 0) + row_number() OVER (PARTITION BY i.stream_id ORDER BY row_no)
                   AS version,
               coalesce(given_event_id::UUID, uuid()) AS event_id
        FROM eventlab_import i
        LEFT JOIN (SELECT stream_id, max(version) AS version FROM events GROUP BY stream_id) s
               USING (stream_id)
    """, [head_position])
    wrong = con.execute("""
        SELECT row_no, stream_id, given_version, version FROM eventlab_import
        WHERE given_version IS NOT NULL AND given_version <> version ORDER BY row_no LIMIT 1""").fetchall()
    if wrong:
        row_no, stream_id, given, actual = wrong[0]
        raise InvalidEventError(
            f"row {row_no - 1}: version {given} of stream {stream_id!r} would be stored as version "
            f"{actual} (versions continue from the stream's stored events without gaps); "
            f"fix or drop the version column"
        )
    digests = con.execute(
        f"SELECT {chain.CONTENT_SQL} FROM eventlab_import ORDER BY position").fetchnumpy()
    digests = list(next(iter(digests.values())))
    if not digests:
        return ImportReport(0, skipped, None, None)
    hashes = _fold(head_hash, digests, progress)
    links = pa.table({
        "position": pa.array(range(head_position + 1, head_position + 1 + len(hashes)), pa.int64()),
        "prev_hash": [head_hash] + hashes[:-1],
        "hash": hashes,
    })
    con.register("eventlab_import_links", links)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute("""
            INSERT INTO events
            SELECT i.position, i.stream_id, i.version, i.type, i.data::JSON, i.metadata::JSON,
                   i.schema_version, i.event_id, i.occurred_at, i.recorded_at, l.prev_hash, l.hash
            FROM eventlab_import i JOIN eventlab_import_links l USING (position)
            ORDER BY i.position""")
        con.execute("COMMIT")
    except Exception:
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT ended it already
            con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("eventlab_import_links")
    return ImportReport(len(hashes), skipped, head_position + 1, head_position + len(hashes))


def _fold(head_hash: str, digests: list[str], progress: bool) -> list[str]:
    if not progress:
        return chain.fold(head_hash, digests)
    from tqdm.auto import tqdm

    hashes: list[str] = []
    with tqdm(total=len(digests), desc="hashing", unit="event") as bar:
        for start in range(0, len(digests), _CHUNK):
            hashes += chain.fold(hashes[-1] if hashes else head_hash, digests[start:start + _CHUNK])
            bar.update(min(_CHUNK, len(digests) - start))
    return hashes

