"""Bulk import of historical events, and export of the log to Parquet.

Importing a million events one append at a time would cost a statement each;
here DuckDB checks, numbers and hashes the whole batch in a few vectorized
passes, and only the hash chain itself (each link needs the one before) is
folded in Python. The batch goes in as one transaction: all of it or none.

The steps (989,955 events of orders-v1 into a new file, 6.3 s on two idle cores;
DuckDB's own INSERT + COMMIT of the finished rows takes 2.6 s of it): the source
is read once into a temporary table (0.3 s; a column of ``uuid.UUID`` objects is
handed over as an Arrow UUID column, which DuckDB reads as it is, not object by
object); the checks scan that table, those on a stream id or a type once per
distinct value, and parse JSON in Python only where Python may read it
differently from DuckDB (0.6 s); positions, versions and ids go into a narrow
table (0.3 s); the rows come back in log order with their content digests,
computed on both cores (1.1 s); and one INSERT writes them while a second thread
folds the digests into the chain a chunk ahead of it (2.7 s, then 1.0 s to commit).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import operator
import queue
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from eventlab.core.events import to_json
from eventlab.errors import InvalidEventError, StoreError
from eventlab.storage import chain, dataset, mapping

if TYPE_CHECKING:
    from eventlab.storage.store import EventStore

REQUIRED = ("stream_id", "type", "data", "recorded_at")
OPTIONAL = ("metadata", "event_id", "occurred_at", "schema_version", "version")
IGNORED = ("position", "prev_hash", "hash")  # recomputed: an export imports as it was
_SLICE = 1_048_576
"""rows written per INSERT: the import holds one slice's rows in memory (~250 MB for 1 M orders-v1
events); 1 M events in slices of 250,000 took 9 % longer"""
_CHUNK = 122_880
"""rows per chunk of the stream the INSERT reads (a DuckDB row group): chained one at a time, each
moving the progress bar"""


@dataclass(frozen=True)
class ImportReport:
    """What an import did: events written, events skipped (their ids were stored already)."""

    imported: int
    skipped: int
    first_position: int | None
    last_position: int | None


def import_events(store: EventStore, source: pd.DataFrame | str | Path, *,
                  columns: dict[str, str] | None = None, stream_prefix: str = "", sort: bool = False,
                  timezone: str | None = None, progress: bool = False) -> ImportReport:
    """Append historical events in bulk, in the order given, keeping their ``recorded_at``.

    ``source`` is a DataFrame or a file (Parquet, CSV or JSON Lines) with the columns
    ``stream_id``, ``type``, ``data`` (JSON text or dicts) and ``recorded_at``
    (timezone-aware, never decreasing, not before the newest event already stored),
    and optionally ``metadata``, ``event_id``, ``occurred_at``, ``schema_version``
    and ``version`` (checked against the versions the import assigns). Rows whose
    ``event_id`` is already stored are skipped, so re-importing a file is harmless.

    A foreign log is mapped first (``eventlab.storage.mapping``): ``columns`` says
    which of its columns is ``stream_id``, ``type``, ``recorded_at`` (and maybe
    ``occurred_at``, ``event_id``); the XES names need no mapping; every other
    column becomes the event's data. ``stream_prefix`` goes before every stream id,
    ``sort=True`` orders rows by time (ties keep their order), and ``timezone``
    says what naive times mean. Anything refused leaves the store as it was.
    """
    with _progress_bar(progress) as bar:
        options = columns is not None or stream_prefix or sort or timezone is not None
        text = isinstance(source, (str, Path)) and Path(source).suffix.lower() != ".parquet"  # times as text
        if isinstance(source, (str, Path)) and (options or text):
            source = mapping.read_table(source)
        if isinstance(source, pd.DataFrame) and (options or text or mapping.needs_mapping(source, columns)):
            bar.set_description("mapping")
            source = mapping.to_events(source, columns, stream_prefix=stream_prefix, sort=sort,
                                       timezone=timezone)
        with store._lock:
            store.check_writable()
            if store.in_unit_of_work:
                raise StoreError("import_events cannot run inside a unit_of_work; run it on its own")
            con = store._con
            _register_source(con, source)
            try:
                columns = _check_columns(con)
                _stage(con, columns)
                bar.total = con.execute("SELECT count(*) FROM eventlab_import").fetchall()[0][0]
                bar.unit_scale = bar.total >= 10_000  # 990k/990k, but 50/50 (not 50.0/50.0)
                bar.set_description("checking")
                _validate(con, columns)
                bar.set_description("numbering and hashing")
                report = _write(store, bar)
                bar.set_description("imported")
                return report
            finally:
                con.execute("DROP TABLE IF EXISTS eventlab_import")
                con.execute("DROP TABLE IF EXISTS eventlab_import_keys")
                con.unregister("eventlab_import_source")
                store._invalidate_caches()


def _progress_bar(show: bool):
    """One bar for a whole import: its step (reading, checking, ...) and events written, with the rate
    in events/s since the import began (``smoothing=0``: an average over the whole load)."""
    from tqdm.auto import tqdm

    return tqdm(total=None, desc="reading", unit=" events", smoothing=0, disable=not show)


def export_parquet(store: EventStore, path: str | Path) -> Path:
    """Write every event, in global order, to a Parquet file that ``import_events`` reads back.

    The columns are a dataset file's (``dataset.FILE_COLUMNS``): ``event_id``, ``data`` and
    ``metadata`` as text, which every Parquet reader knows (Spark cannot read Parquet's UUID type).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    with store._lock:
        store._con.execute(
            f"COPY (SELECT {dataset.FILE_COLUMNS} FROM events ORDER BY position) TO '{_quote(path)}' "
            f"(FORMAT parquet)")
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
    if "event_id" in frame:
        uuids = _uuid_column(frame["event_id"])
        if uuids is not None:
            frame = frame.assign(event_id=uuids)
    con.register("eventlab_import_source", frame)


_UUID_INT = operator.attrgetter("int")


def _uuid_column(column: pd.Series) -> pd.Series | None:
    """A column of ``uuid.UUID`` objects as an Arrow UUID column, or None if it holds anything else.

    DuckDB reads either as a UUID column with the same values, but converts Python objects one at
    a time (about 2.5 us each); the Arrow column it reads as it is.
    """
    if column.dtype != object or not len(column) or not hasattr(pa, "uuid"):  # pa.uuid: pyarrow 18+
        return None
    values = column.to_numpy()
    if set(map(type, values)) != {uuid.UUID}:
        return None
    raw = pa.py_buffer(b"".join(map(int.to_bytes, map(_UUID_INT, values), itertools.repeat(16))))
    storage = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(values), [None, raw])
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.ExtensionArray.from_storage(pa.uuid(), storage)),
                     index=column.index, name=column.name)


def _check_columns(con) -> dict[str, str]:
    described = con.execute("DESCRIBE eventlab_import_source").fetchall()
    columns = {name: kind for name, kind, *_ in described}
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL + IGNORED]
    if missing or unknown:
        raise InvalidEventError(
            f"the import needs the columns {', '.join(REQUIRED)} (optional: {', '.join(OPTIONAL)}); "
            f"missing: {missing or 'none'}, unknown: {unknown or 'none'}. Rename or drop columns first, or "
            f"map a foreign log's columns: columns={{'stream_id': ..., 'type': ..., 'recorded_at': ...}} "
            f"(eventlab load FILE --stream COL --type COL --time COL); its other columns become the data."
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
        _create_import_table(con, optional, columns)
    except duckdb.Error as exc:  # a value DuckDB cannot read as its column's type
        raise InvalidEventError(f"a column of the import does not hold what it should: "
                                f"{str(exc).splitlines()[0]}; fix that column; nothing was imported"
                                ) from None


def _create_import_table(con, optional, columns: dict[str, str]) -> None:
    # given_uuid: the event id as a UUID, NULL where it is missing or not a UUID (the checks
    # refuse that); the same as given_event_id::UUID, which the later steps would cast again
    given_uuid = ("event_id" if columns.get("event_id") == "UUID"  # UUID -> text -> UUID is itself
                  else f"try_cast({optional('event_id', 'NULL')}::VARCHAR AS UUID)")
    con.execute(f"""
        CREATE TEMP TABLE eventlab_import AS
        SELECT row_number() OVER () AS row_no,
               stream_id::VARCHAR AS stream_id, type::VARCHAR AS type,
               data::VARCHAR AS data, {optional('metadata', "'{}'")}::VARCHAR AS metadata,
               {optional('schema_version', '1')}::INTEGER AS schema_version,
               {optional('event_id', 'NULL')}::VARCHAR AS given_event_id,
               {optional('occurred_at', 'NULL')}::TIMESTAMPTZ AS occurred_at,
               recorded_at::TIMESTAMPTZ AS recorded_at,
               {optional('version', 'NULL')}::BIGINT AS given_version,
               {given_uuid} AS given_uuid
        FROM eventlab_import_source
    """)


_FIRST_MOMENT = "TIMESTAMPTZ '0001-01-01 00:00:00+00'"
_LAST_MOMENT = "TIMESTAMPTZ '9999-12-31 23:59:59.999999+00'"
_SUSPECT_JSON = r"[:\[,]\s*[-+]?([Nn][Aa]|[Ii][Nn])|[0-9][eE]\+?[0-9]{3}|,\s*[\]}]"
"""JSON text that DuckDB reads but Python may not (checked in Python): NaN, Infinity, a huge number,
a trailing comma; and 200 digits in a row (with a two-digit exponent they overflow a float)"""

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


_CHECK_COLUMN = ("stream_id", "type", "stream_id", "type", None, None, None, None, None, None)
"""The column each check of _CHECKS reads, where it reads nothing but that name: such a check is
run once per distinct value (90,000 events have some 20,000 stream ids and four types)."""


def _json_object_check(column: str) -> str:
    """_CHECKS' JSON object check, without asking json_type about valid JSON that starts with '{'."""
    return (f"CASE WHEN {column} IS NULL OR NOT coalesce(json_valid({column}), false) THEN true "
            f"WHEN starts_with({column}, '{{') THEN false ELSE json_type({column}::JSON) <> 'OBJECT' END")


_FASTER_CHECKS = {
    4: _json_object_check("data"),
    5: _json_object_check("metadata"),
    9: "given_event_id IS NOT NULL AND given_uuid IS NULL",  # given_uuid: try_cast(given_event_id AS UUID)
}
"""Cheaper conditions that pick the same rows as those of _CHECKS (tests/test_bulk.py compares them)."""


def _first_failures(con) -> list[int | None]:
    """The lowest failing row_no of each check in _CHECKS (None where every row passes)."""
    firsts: list[int | None] = [None] * len(_CHECKS)
    for column in ("stream_id", "type"):
        checks = [i for i, name in enumerate(_CHECK_COLUMN) if name == column]
        row = con.execute(
            f"SELECT {', '.join(f'min(first_row) FILTER (WHERE {_CHECKS[i][0]})' for i in checks)} "
            f"FROM (SELECT {column}, min(row_no) AS first_row FROM eventlab_import GROUP BY {column})"
        ).fetchall()[0]
        for i, first in zip(checks, row):
            firsts[i] = first
    checks = [i for i, name in enumerate(_CHECK_COLUMN) if name is None]
    conditions = [_FASTER_CHECKS.get(i, _CHECKS[i][0]) for i in checks]
    row = con.execute(
        f"SELECT {', '.join(f'min(row_no) FILTER (WHERE {c})' for c in conditions)} FROM eventlab_import"
    ).fetchall()[0]
    for i, first in zip(checks, row):
        firsts[i] = first
    return firsts


def _validate(con, columns: dict[str, str]) -> None:
    # the first check (in _CHECKS' order) that fails decides the error, naming its lowest row
    for (_, message), first in zip(_CHECKS, _first_failures(con)):
        if first is not None:
            row = con.execute("SELECT * FROM eventlab_import WHERE row_no = ?", [first]).df()
            row = row.iloc[0].to_dict()
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
    rows = con.execute("""  -- by value: one id spelt two ways is one id (non-UUIDs were refused above)
        SELECT given_uuid, count(*) FROM eventlab_import WHERE given_uuid IS NOT NULL
        GROUP BY 1 HAVING count(*) > 1 LIMIT 1""").fetchall()
    if rows:
        raise InvalidEventError(f"event_id {rows[0][0]} appears {rows[0][1]} times in the import")
    rows = con.execute("""
        SELECT i.row_no, i.stream_id, e.stream_id FROM eventlab_import i
        JOIN events e ON e.event_id = i.given_uuid
        WHERE e.stream_id <> i.stream_id ORDER BY i.row_no LIMIT 1""").fetchall()
    if rows:
        raise InvalidEventError(
            f"row {rows[0][0] - 1}: its event_id is stored already in stream {rows[0][2]!r}, "
            f"not {rows[0][1]!r}; event ids are unique across the whole log"
        )


_UNREADABLE_JSON = (r"[:\[,][\t\n\r ]*(?:[-+]?(?:[A-Zabcdeg-mo-suvwxyz]|n[^u]|t[^r]|f[^a])"
                    r"|-?[0-9]+(?:\.[0-9]*)?[eE]\+?[0-9]{3}|-?[0-9]{200})"
                    r"|,[\t\n\r ]*[\]}]|(?:[\[{][^\[{]*){32}")
"""Matches every valid JSON text (as DuckDB's json_valid takes it) that ``json.loads``, called as
_check_numbers calls it, may refuse. DuckDB reads beyond standard JSON only NaN and Infinity (in
any case, signed) and trailing commas; Python also refuses a float that overflows (an exponent
of three digits, or 200 digits before the point), an int of more than 4300 digits, and nesting
deeper than its recursion limit. Outside strings a value follows ':', '[' or ',' and whitespace,
so each such value is matched there: a letter that does not start true, false or null, a number
with a long exponent or 200 digits; and a comma before ']' or '}', and 32 opening brackets.
Inside strings it may match too (',b' in "a,b"): such rows are only parsed in Python as before.
Unlike _SUSPECT_JSON it does not match '4e123' in a UUID inside a string (a fifth of the rows of
the benchmark)."""


def _check_numbers(con) -> None:
    """Refuse NaN and Infinity (DuckDB reads them, JSON has no such thing) and numbers Python cannot read."""
    # the rows _SUSPECT_JSON picks, less those where Python is sure to read both texts (so it
    # would not refuse the row): the same row is refused, with the same message
    rows = con.execute(f"""SELECT row_no, data, metadata FROM eventlab_import
                           WHERE CASE WHEN CASE WHEN regexp_matches(data, '{_SUSPECT_JSON}') THEN true
                                                WHEN regexp_matches(metadata, '{_SUSPECT_JSON}') THEN true
                                                WHEN length(data) >= 200
                                                     AND regexp_matches(data, '[0-9]{{200}}') THEN true
                                                WHEN length(metadata) >= 200
                                                     AND regexp_matches(metadata, '[0-9]{{200}}') THEN true
                                                ELSE false END
                                      THEN CASE WHEN regexp_matches(data, '{_UNREADABLE_JSON}') THEN true
                                                ELSE regexp_matches(metadata, '{_UNREADABLE_JSON}') END
                                      ELSE false END
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


def _write(store: EventStore, bar) -> ImportReport:
    con = store._con
    skipped = con.execute("""
        DELETE FROM eventlab_import WHERE given_uuid IN (SELECT event_id FROM events)""").fetchall()[0][0]
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
    _number(con, head_position)
    count = con.execute("SELECT count(*) FROM eventlab_import_keys").fetchall()[0][0]
    if not count:
        return ImportReport(0, skipped, None, None)
    _insert_chained(con, head_position, count, head_hash, bar)
    return ImportReport(count, skipped, head_position + 1, head_position + count)


def _number(con, head_position: int) -> None:
    """What each row is given beyond its own columns, in import order: position, version, event id
    (narrow: the wide columns stay where they are, and the INSERT takes them from there). Versions
    are numbered per stream_no, a number per distinct stream id (quicker to partition by than the
    text), after the stream's stored events; refuses a given version that differs."""
    con.execute("""
        CREATE TEMP TABLE eventlab_import_keys AS
        WITH streams AS (
            SELECT d.stream_id, row_number() OVER () AS stream_no, coalesce(s.version, 0) AS stored
            FROM (SELECT DISTINCT stream_id FROM eventlab_import) d
            LEFT JOIN (SELECT stream_id, max(version) AS version FROM events
                       WHERE stream_id IN (SELECT stream_id FROM eventlab_import) GROUP BY stream_id) s
                   USING (stream_id))
        SELECT i.row_no, ? + row_number() OVER (ORDER BY i.row_no) AS position,
               coalesce(t.stored, 0) + row_number() OVER (PARTITION BY t.stream_no ORDER BY i.row_no)
                   AS version,
               coalesce(i.given_uuid, uuid()) AS event_id, i.given_version
        FROM eventlab_import i LEFT JOIN streams t USING (stream_id)
        ORDER BY i.row_no
    """, [head_position])
    wrong = con.execute("""
        SELECT row_no, given_version, version FROM eventlab_import_keys
        WHERE given_version IS NOT NULL AND given_version <> version ORDER BY row_no LIMIT 1""").fetchall()
    if wrong:
        row_no, given, actual = wrong[0]
        stream_id = con.execute("SELECT stream_id FROM eventlab_import WHERE row_no = ?",
                                [row_no]).fetchall()[0][0]
        raise InvalidEventError(
            f"row {row_no - 1}: version {given} of stream {stream_id!r} would be stored as version "
            f"{actual} (versions continue from the stream's stored events without gaps); "
            f"fix or drop the version column"
        )


_ROWS = f"""
    SELECT *, {chain.CONTENT_SQL} AS digest
    FROM (SELECT k.position, i.stream_id, k.version, i.type, i.data, i.metadata, i.schema_version,
                 k.event_id, i.occurred_at, i.recorded_at
          FROM eventlab_import i JOIN eventlab_import_keys k USING (row_no)
          WHERE k.position BETWEEN $first AND $last AND i.row_no BETWEEN $first_row AND $last_row)
    ORDER BY position"""
"""One slice of the rows to write, in log order, each with its content digest (see chain.CONTENT_SQL)."""

_INSERT = """
    INSERT INTO events
    SELECT position, stream_id, version, type, data::JSON, metadata::JSON, schema_version, event_id,
           occurred_at, recorded_at, prev_hash, hash
    FROM eventlab_import_rows"""


def _insert_chained(con, head_position: int, count: int, head_hash: str, bar) -> None:
    """Fold the rows' digests into the hash chain and insert them, a slice at a time, in one transaction.

    Each slice comes out of DuckDB as an Arrow table in log order with its digests (computed on
    every core) and goes back in with one INSERT, which DuckDB writes on every core (an INSERT
    per row group runs on one: eight of them took 4.2 s for 1 M events, one took 2.6 s). The
    INSERT reads the slice as a stream of chunks that a second thread chains meanwhile (each link
    needs the one before), so the chain costs little more than the INSERT. Slices bound the
    memory an import holds.
    """
    prev_hash = head_hash
    con.execute("BEGIN TRANSACTION")
    try:
        for first in range(head_position + 1, head_position + count + 1, _SLICE):
            bar.set_description("numbering and hashing")
            last = first + _SLICE - 1
            first_row, last_row = con.execute(  # positions follow row numbers: the scan skips other slices
                "SELECT min(row_no), max(row_no) FROM eventlab_import_keys WHERE position BETWEEN ? AND ?",
                [first, last]).fetchall()[0]
            rows = con.sql(_ROWS, params={"first": first, "last": last, "first_row": first_row,
                                          "last_row": last_row}).to_arrow_table()
            bar.set_description("writing")
            with _chained(rows, prev_hash, bar) as (chained, last_hash):
                con.register("eventlab_import_rows", chained)
                try:
                    con.execute(_INSERT)
                finally:
                    con.unregister("eventlab_import_rows")
            prev_hash = last_hash()
        bar.set_description("committing")
        con.execute("COMMIT")
    except BaseException:  # an error, or Ctrl-C: nothing of the import stays
        with contextlib.suppress(duckdb.TransactionException):  # a failed COMMIT ended it already
            con.execute("ROLLBACK")
        raise


@contextlib.contextmanager
def _chained(rows: pa.Table, prev_hash: str, bar):
    """``rows`` as a stream of chunks, each with ``prev_hash`` and ``hash`` in place of its digests,
    chained on a second thread as the stream is read; and a function giving the last hash.

    An error while chaining (or the reader stopping early) ends the stream with that error, so the
    INSERT reading it fails and nothing is written.
    """
    chunks: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    outcome = {"last hash": prev_hash, "error": None}
    schema = rows.schema.remove(rows.schema.get_field_index("digest")).append(
        pa.field("prev_hash", pa.string())).append(pa.field("hash", pa.string()))

    def chain_all() -> None:
        previous = prev_hash
        try:
            for batch in rows.to_batches(max_chunksize=_CHUNK):
                if stop.is_set():
                    return
                hashes = chain.link_all(previous, batch.column("digest").to_pylist())
                chunks.put(pa.RecordBatch.from_arrays(
                    [*batch.drop_columns("digest").columns, pa.array([previous, *hashes[:-1]], pa.string()),
                     pa.array(hashes, pa.string())], schema=schema))
                previous = hashes[-1]
                bar.update(len(hashes))
            outcome["last hash"] = previous
            chunks.put(None)
        except BaseException as exc:  # handed to the reader: the INSERT fails, then it is raised here
            outcome["error"] = exc
            chunks.put(exc)

    def read():
        while (chunk := chunks.get()) is not None:
            if isinstance(chunk, BaseException):
                raise chunk
            yield chunk

    worker = threading.Thread(target=chain_all, name="eventlab-import-chain", daemon=True)
    worker.start()
    try:
        yield pa.RecordBatchReader.from_batches(schema, read()), lambda: outcome["last hash"]
    except duckdb.Error:
        if outcome["error"] is not None:  # the INSERT failed because the chaining did: say why
            raise outcome["error"] from None
        raise
    finally:
        stop.set()
        while worker.is_alive():  # let a blocked put go through, so the thread ends
            with contextlib.suppress(queue.Empty):
                chunks.get_nowait()
            worker.join(0.01)
