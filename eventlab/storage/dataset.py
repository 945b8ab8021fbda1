"""The log as a Hive-partitioned Parquet dataset: export it, check it, and open it as a read-only store.

A dataset is a folder of Parquet files, one folder per day the events were
recorded (``day=2024-03-10/events-000000012345.parquet``, the number being the
file's first position), the layout Spark, DuckDB, pandas and every data lake
read. Every column of the store is kept (positions, versions, the hash chain);
``data``, ``metadata`` and ``event_id`` are text and the times are UTC
microseconds, types any Parquet reader knows.

Exporting again adds only the events after the dataset's last one, in new files
(a day already there gets a second file): a dataset grows as the log does. The
new files are written beside the dataset first and moved in in position order,
so an interrupted export leaves a dataset that is a whole prefix of the log.

:class:`Dataset` (what ``EventStore.open_dataset`` uses) reads the files where
they lie, no import: the ``events`` view has the store's columns and types, so
everything that reads a store works on it. A query up to a moment or a position
reads only the files that can hold such events (their Parquet statistics say
where each file starts).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from eventlab.errors import StoreError, UsageError
from eventlab.storage import chain

if TYPE_CHECKING:
    from eventlab.storage.store import EventStore

PARTITIONS = {"day": "%Y-%m-%d", "month": "%Y-%m"}
"""partition_by -> the format of its value, made from recorded_at in UTC"""

FILE_COLUMNS = (
    "position, stream_id, version, type, data::VARCHAR AS data, metadata::VARCHAR AS metadata, "
    "schema_version, event_id::VARCHAR AS event_id, occurred_at, recorded_at, prev_hash, hash"
)
"""The columns of a dataset's files, selected from the ``events`` table: text for JSON and UUIDs."""

STORE_COLUMNS = (
    "position, stream_id, version, type, data::JSON AS data, metadata::JSON AS metadata, "
    "schema_version, event_id::UUID AS event_id, occurred_at, recorded_at, prev_hash, hash"
)
"""The same columns read back from the files with the types of the ``events`` table."""


def export(store: EventStore, path: str | Path, partition_by: str = "day") -> Path:
    """Write the store's events that the dataset at ``path`` lacks; returns the dataset's folder.

    A new folder gets the whole log. An existing dataset must hold the beginning of
    this very log (its last event's hash is compared with the store's event at that
    position); then only the later events are written.
    """
    if partition_by not in PARTITIONS:
        raise UsageError(f"partition_by must be one of {sorted(PARTITIONS)}, got {partition_by!r}")
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise StoreError(f"{str(root)!r} is a file; export_parquet(path) writes a dataset folder there")
    found = partitions_of(root)
    if found and found != {partition_by}:
        raise StoreError(f"the dataset {str(root)!r} is partitioned by {sorted(found)}, not "
                         f"{partition_by!r}; export with partition_by={sorted(found)[0]!r}, "
                         f"or to a new folder")
    root.mkdir(parents=True, exist_ok=True)
    last, last_hash = _last_event(root)
    with store.connection() as con:
        if last:
            stored = con.execute("SELECT hash FROM events WHERE position = ?", [last]).fetchall()
            if not stored or stored[0][0] != last_hash:
                raise StoreError(
                    f"the dataset {str(root)!r} ends at position {last} with hash {last_hash[:12]}..., "
                    f"which this store does not have there: it was exported from another log. "
                    f"Export to a new folder")
        count = con.execute("SELECT count(*) FROM events WHERE position > ?", [last]).fetchall()[0][0]
        if not count:
            return root
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-export-", dir=root.parent))
        key = f"strftime(recorded_at AT TIME ZONE 'UTC', '{PARTITIONS[partition_by]}') AS {partition_by}"
        try:
            con.execute(f"""
                COPY (SELECT {FILE_COLUMNS}, {key}
                      FROM events WHERE position > {int(last)} ORDER BY position)
                TO '{_quoted(staging)}' (FORMAT parquet, PARTITION_BY ({partition_by}),
                                         FILENAME_PATTERN 'events-{last + 1:012d}-{{i}}')""")
            _move_in(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return root


def _move_in(staging: Path, root: Path) -> None:
    """Move the staged files into the dataset, the earliest partition first."""
    for folder in sorted(staging.iterdir()):
        target = root / folder.name
        target.mkdir(exist_ok=True)
        for file in sorted(folder.iterdir()):
            os.replace(file, target / file.name)


def partitions_of(root: Path) -> set[str]:
    """The partition columns of a dataset's folders (``{"day"}``), empty for a missing or empty folder."""
    if not root.is_dir():
        return set()
    return {entry.name.split("=", 1)[0] for entry in root.iterdir() if entry.is_dir() and "=" in entry.name}


def files_of(root: Path) -> list[Path]:
    """The dataset's Parquet files, in partition and then name order (which is position order)."""
    return sorted(root.glob("*=*/*.parquet"))


def _last_event(root: Path) -> tuple[int, str]:
    """The position and hash of the dataset's last event, (0, GENESIS) for none."""
    files = files_of(root)
    if not files:
        return 0, chain.GENESIS
    con = duckdb.connect()
    try:  # the newest file holds the last event (files sort by partition, then first position)
        newest = [str(file) for file in files if file.parent == files[-1].parent]
        rows = con.execute("SELECT position, hash FROM read_parquet(?, hive_partitioning = false) "
                           "ORDER BY position DESC LIMIT 1", [newest]).fetchall()
    finally:
        con.close()
    return rows[0] if rows else (0, chain.GENESIS)


def verify(path: str | Path) -> chain.VerifyReport:
    """Check a dataset where it lies: positions 1, 2, 3 ... with no gap, and every hash of the chain."""
    root = _existing(path)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE VIEW events AS {_select(files_of(root))}")
        return chain.verify(con)
    finally:
        con.close()


def _existing(path: str | Path) -> Path:
    root = Path(path)
    if not root.is_dir():
        raise StoreError(f"no dataset folder at {str(root)!r}; write one with "
                         f"store.export_parquet({str(root)!r}, partition_by='day')")
    if not files_of(root):
        raise StoreError(f"{str(root)!r} holds no Parquet files in partition folders (like day=2024-03-10/); "
                         f"write a dataset with store.export_parquet({str(root)!r})")
    return root


def _select(files: list[Path]) -> str:
    listed = ", ".join(f"'{_quoted(file)}'" for file in files)
    return f"SELECT {STORE_COLUMNS} FROM read_parquet([{listed}], hive_partitioning = false)"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


@dataclass
class Dataset:
    """A dataset opened as a store's ``events`` view, with where each file's events start."""

    root: Path
    files: list[Path]
    first_positions: list[int | None]
    first_recorded: list[datetime | None]

    @classmethod
    def attach(cls, con: duckdb.DuckDBPyConnection, path: str | Path) -> Dataset:
        """Replace the (empty, in-memory) ``events`` table of ``con`` with a view over the dataset."""
        root = _existing(path)
        files = files_of(root)
        stats = dict.fromkeys(map(str, files), (None, None))
        stats.update({name: (position, recorded) for name, position, recorded in con.execute("""
            SELECT file_name,
                   min(CASE path_in_schema WHEN 'position' THEN TRY_CAST(stats_min AS BIGINT) END),
                   min(CASE path_in_schema WHEN 'recorded_at' THEN TRY_CAST(stats_min AS TIMESTAMPTZ) END)
            FROM parquet_metadata(?) GROUP BY file_name""", [list(stats)]).fetchall()})
        con.execute("DROP TABLE events")
        con.execute(f"CREATE VIEW events AS {_select(files)}")
        firsts = [stats[str(file)] for file in files]
        return cls(root, files, [p for p, _ in firsts], [r for _, r in firsts])

    def up_to(self, position: int | None = None, as_of: datetime | None = None) -> str:
        """The relation of the files that can hold events up to ``position`` or recorded by ``as_of``.

        A file whose first event comes later is left out: DuckDB does not even open it.
        """
        if position is None and as_of is None:
            return "events"
        keep = [file for file, first, recorded in zip(self.files, self.first_positions, self.first_recorded)
                if (position is None or first is None or first <= position)
                and (as_of is None or recorded is None or recorded <= as_of)]
        if len(keep) == len(self.files):
            return "events"
        return f"({_select(keep or self.files[:1])})"
