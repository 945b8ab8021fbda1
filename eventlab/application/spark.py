"""Past one machine: the same time travel on Spark, over the Parquet dataset ``export_parquet`` writes.

    events = eventlab.spark.read_events(spark, "lake/events")
    eventlab.spark.states_at(events, orders.decider, as_of=moment)    # a Spark DataFrame

gives exactly the columns and rows of ``eventlab.states_at(store, orders.decider,
as_of=moment)``, computed by the cluster. Nothing is rewritten for Spark:

- a decider with a ``state_sql`` runs it as Spark SQL, translated from its DuckDB
  SQL by ``sqlglot`` (``eventlab.application.sparksql``): one definition;
- any other decider (raw deciders, ``latest_values``) runs its own Python
  ``evolve`` on the executors, one stream at a time in version order
  (``groupBy("stream_id").applyInPandas``).

Cutting the log at a moment keeps only the partitions up to that day, so Spark
reads no later file. ``pyspark`` and ``sqlglot`` are imported only when a function
here needs them: ``pip install eventlab[spark]`` and Java 17 are needed for these
alone, and :func:`unavailable` says what is missing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from eventlab.application.timetravel import check_point, state_columns, state_row
from eventlab.core.decider import Decider, replay
from eventlab.core.events import recorded_event
from eventlab.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

EVENT_SCHEMA = (
    "position BIGINT, stream_id STRING, version BIGINT, type STRING, data STRING, metadata STRING, "
    "schema_version INT, event_id STRING, occurred_at TIMESTAMP, recorded_at TIMESTAMP, "
    "prev_hash STRING, hash STRING"
)
"""The columns of a dataset's files, as Spark reads them (the partition column comes after)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ROW_FIELDS = ("position", "stream_id", "version", "type", "data", "metadata", "event_id",
               "recorded_us", "occurred_us", "schema_version")


def unavailable() -> str | None:
    """Why Spark cannot run on this machine (pyspark or Java missing, and how to install it), or None."""
    for package in ("pyspark", "sqlglot"):
        if importlib.util.find_spec(package) is None:
            return f"{package} is not installed (pip install 'eventlab[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime (Spark needs Java 17: apt-get install openjdk-17-jre-headless)"
    return None


def local_session(cores: int = 2, memory: str = "2g") -> SparkSession:
    """A Spark running in this process's machine (``local[cores]``), set up as eventlab's time travel
    needs it: times in UTC, the executors' Python the same as this one, no web UI.

    Spark's Java side writes its console messages (start-up notes, warnings, progress bars)
    to ``spark-console.log`` in the system's temporary folder, not into the notebook or
    terminal; its errors still reach Python as exceptions.
    """
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read when the session starts its workers
    builder = (SparkSession.builder.master(f"local[{cores}]").appName("eventlab")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.driver.memory", memory)
               .config("spark.sql.shuffle.partitions", str(max(2, 2 * cores)))
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    with _console_to(Path(tempfile.gettempdir()) / "spark-console.log"):
        return builder.getOrCreate()


@contextlib.contextmanager
def _console_to(log: Path) -> Iterator[None]:
    """Point this process's standard error (file descriptor 2) at ``log`` while a JVM starts: the JVM
    and the Python workers it starts later inherit it; Python's own ``sys.stderr`` is restored after."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as file:
        os.dup2(file.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def read_events(spark: SparkSession, path: str) -> DataFrame:
    """The dataset at ``path`` as a Spark DataFrame: the store's columns, then the partition column
    (``day`` or ``month``, as text, so that a filter on it skips whole folders)."""
    from pyspark.sql import functions as F  # noqa: N812

    files = spark.read.option("recursiveFileLookup", "false").parquet(path)
    partition = [name for name in files.columns if name in ("day", "month")]
    if not partition:
        raise UsageError(f"{path!r} is not a dataset partitioned by day or month (its columns are "
                         f"{files.columns}); write one with store.export_parquet(path, partition_by='day')")
    schema = f"{EVENT_SCHEMA}, {partition[0]} STRING"
    return spark.read.schema(schema).parquet(path).select(
        *[F.col(name) for name in schema_names(schema)])


def schema_names(schema: str) -> list[str]:
    """The column names of a Spark DDL schema string."""
    return [part.strip().split(" ")[0] for part in schema.split(",")]


def events_as_of(events: DataFrame, as_of: datetime) -> DataFrame:
    """The events recorded by ``as_of``, reading only the partitions up to its day (SQL: ``events_as_of``)."""
    from pyspark.sql import functions as F  # noqa: N812

    moment = _utc(as_of)
    kept = events.where(F.col("recorded_at") <= F.lit(moment))
    for name, form in (("day", "%Y-%m-%d"), ("month", "%Y-%m")):
        if name in events.columns:
            kept = kept.where(F.col(name) <= F.lit(moment.strftime(form)))
    return kept


def events_until(events: DataFrame, position: int) -> DataFrame:
    """The log's first ``position`` events (SQL: ``events_until``)."""
    from pyspark.sql import functions as F  # noqa: N812

    return events.where(F.col("position") <= F.lit(position))


def stream_at(events: DataFrame, stream_id: str, version: int | None = None) -> DataFrame:
    """One stream's events, its first ``version`` of them if given, in version order (SQL: ``stream_at``)."""
    from pyspark.sql import functions as F  # noqa: N812

    kept = events.where(F.col("stream_id") == F.lit(stream_id))
    if version is not None:
        kept = kept.where(F.col("version") <= F.lit(version))
    return kept.orderBy("version")


def states_at(events: DataFrame, decider: Decider, *, position: int | None = None,
              as_of: datetime | None = None, method: Literal["auto", "sql", "python"] = "auto") -> DataFrame:
    """The whole system at a point, as ``eventlab.states_at`` gives it: one row per stream of the decider's
    category that existed then, ``stream_id`` and the state's columns, sorted by stream_id.

    ``method="auto"`` runs the decider's ``state_sql`` in Spark SQL when it has one (and its state is not
    a dict of open-ended fields, as ``latest_values``'s is), else its ``evolve`` on the executors.
    """
    check_point(position=position, as_of=as_of)
    if method not in ("auto", "sql", "python"):
        raise UsageError(f"method must be 'auto', 'sql' or 'python', got {method!r}")
    sql_ready = decider.state_sql is not None and not decider.spread
    if method == "sql" and not sql_ready:
        raise UsageError(f"decider {decider.name!r} has no state_sql that Spark can run as it is "
                         f"(a state_sql with fixed columns); use method='python' or 'auto'")
    if as_of is not None:
        events = events_as_of(events, as_of)
    elif position is not None:
        events = events_until(events, position)
    events = events.where(events.stream_id.startswith(f"{decider.category}-" if decider.category else ""))
    if sql_ready and method != "python":
        return _states_sql(events, decider)
    return _folded(events, decider, every_event=False)


def to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A Spark result collected as ``eventlab.states_at`` would give it in pandas: lists as Python lists
    (Spark gives numpy arrays) and times aware, in UTC (Spark gives the session's local time, naive).
    Collect only results that fit in memory: the whole frame comes to this process."""
    import pandas as pd

    with warnings.catch_warnings():  # pyspark's own use of pandas APIs that pandas deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        local = frame.toPandas()
    zone = frame.sparkSession.conf.get("spark.sql.session.timeZone")
    for name, column in local.items():
        if pd.api.types.is_datetime64_dtype(column) and column.dt.tz is None:
            local[name] = column.dt.tz_localize(zone).dt.tz_convert("UTC")
        elif column.dtype == object:
            local[name] = [value.tolist() if hasattr(value, "tolist") else value for value in column]
    return local


def state_sql(decider: Decider) -> str:
    """The decider's state SQL as Spark runs it: its DuckDB ``state_sql``, translated by ``sqlglot``
    (it reads the table ``stream_events``, which ``states_at`` points at the events it keeps)."""
    if decider.state_sql is None:
        raise UsageError(f"decider {decider.name!r} has no state_sql; on Spark its evolve runs instead "
                         f"(eventlab.spark.states_at(events, decider, method='python'))")
    from eventlab.application import sparksql  # sqlglot: the spark extra

    return sparksql.to_spark(decider.state_sql)


def history(events: DataFrame, stream_id: str, decider: Decider) -> DataFrame:
    """One row per event of a stream and the state after it, as ``eventlab.history`` gives it."""
    return _folded(stream_at(events, stream_id), decider, every_event=True)


def _states_sql(events: DataFrame, decider: Decider) -> DataFrame:
    view = f"eventlab_stream_events_{uuid.uuid4().hex}"
    events.createOrReplaceTempView(view)
    from eventlab.application import sparksql

    query = sparksql.to_spark(decider.state_sql, {"stream_events": view})
    states = events.sparkSession.sql(query)
    return states.select("stream_id", *state_columns(decider)).orderBy("stream_id")


def _folded(events: DataFrame, decider: Decider, every_event: bool) -> DataFrame:
    """Each stream folded by ``decider.evolve`` on the executors; its state (or, with ``every_event``,
    the state after each event) as a row whose columns are learnt from the states themselves."""
    from pyspark.sql import functions as F  # noqa: N812

    rows = events.select(
        "position", "stream_id", "version", "type", "data", "metadata", "event_id",
        F.unix_micros("recorded_at").alias("recorded_us"), F.unix_micros("occurred_at").alias("occurred_us"),
        "schema_version")
    leading = ["position", "version", "type", "recorded_at", "occurred_at"] if every_event else []

    def fold(frame):  # runs on an executor, with one stream's events
        import pandas as pd

        return pd.DataFrame(list(_fold_stream(frame, decider, every_event)),
                            columns=["stream_id", "position", "state", "kinds"])

    folded = rows.groupBy("stream_id").applyInPandas(
        fold, "stream_id STRING, position BIGINT, state STRING, kinds STRING").cache()
    kinds: dict[str, set[str]] = {}
    seen = folded.select(F.explode(F.from_json("kinds", "MAP<STRING, STRING>"))).distinct()
    for name, kind in seen.collect():
        kinds.setdefault(name, set()).add(kind)
    known = [*leading, *state_columns(decider)]
    columns = known + sorted(set(kinds) - set(known))
    schema = ", ".join(f"`{name}` {_spark_type(kinds.get(name, set()))}" for name in columns)
    parsed = folded.select("stream_id", "position", F.from_json("state", schema).alias("s"))
    out = [F.col("stream_id")] if not every_event else []
    for name in columns:
        value = F.col("s").getField(name)
        if kinds.get(name) == {"datetime"}:
            value = F.timestamp_micros(value)
        out.append(value.alias(name))
    order = "position" if every_event else "stream_id"
    return parsed.orderBy(order).select(*out)


def _fold_stream(frame, decider: Decider, every_event: bool) -> Iterator[tuple]:
    frame = frame.sort_values("version")
    records = [recorded_event(
        row.stream_id, int(row.version), int(row.position), row.type, json.loads(row.data),
        json.loads(row.metadata), uuid.UUID(row.event_id), _moment(row.recorded_us), _moment(row.occurred_us),
        int(row.schema_version)) for row in frame.itertuples(index=False)]
    if every_event:
        state = decider.initial_state
        for record in records:
            state = replay([record], decider, state)
            shown = {"position": record.position, "version": record.version, "type": record.type,
                     "recorded_at": record.recorded_at, "occurred_at": record.occurred_at, **state_row(state)}
            yield _encoded(record.stream_id, record.position, shown)
    elif records:
        yield _encoded(records[0].stream_id, records[-1].position, state_row(replay(records, decider)))


def _moment(micros: Any) -> datetime | None:
    if micros is None or micros != micros:  # None or NaN: no time
        return None
    return _EPOCH + timedelta(microseconds=int(micros))


def _encoded(stream_id: str, position: int, row: dict[str, Any]) -> tuple:
    """The row as JSON (times as microseconds) and the kind of each value, for the schema."""
    values, kinds = {}, {}
    for name, value in row.items():
        kinds[name] = _kind(value)
        if isinstance(value, datetime):
            value = (value - _EPOCH) // timedelta(microseconds=1)
        elif isinstance(value, date):
            value = value.isoformat()
        values[name] = value
    return stream_id, position, json.dumps(values, default=str), json.dumps(kinds)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple) and not value:
        return "list"  # empty: a list of anything
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return "list[str]"
    if isinstance(value, list | tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return "list[int]"
    return "json"


_TYPES = {"datetime": "BIGINT", "bool": "BOOLEAN", "int": "BIGINT", "float": "DOUBLE", "str": "STRING",
          "list[str]": "ARRAY<STRING>", "list[int]": "ARRAY<BIGINT>"}


def _spark_type(kinds: set[str]) -> str:
    """One Spark type for the kinds of value a column holds: numbers widen to DOUBLE; an empty list
    takes the other lists' type; anything mixed or nested stays JSON text."""
    kinds = kinds - {"null"}
    if "list" in kinds and len(kinds) > 1:
        kinds = kinds - {"list"}  # empty lists take the others' type
    if kinds == {"list"}:
        return "ARRAY<STRING>"
    if kinds == {"int", "float"}:
        return "DOUBLE"
    if len(kinds) == 1 and next(iter(kinds)) in _TYPES:
        return _TYPES[next(iter(kinds))]
    return "STRING"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)
