"""Pictures of an event log: what happened, and how state grew out of it.

Every function here takes an ``EventStore`` or a DataFrame and returns a
matplotlib ``Figure`` (display it in a notebook, or ``fig.savefig("x.png")``).
Nothing calls ``plt.show()``, so the figures work the same in JupyterLab, in a
script and in a headless test.

One colour per event type, the same in every figure: the colour its class
declared with ``@event_type(name, color=...)`` (:func:`event_colors`). The
pictures of a whole system sum up one decider's streams as its
:class:`~eventlab.core.decider.Summary` says (the shop: orders counted by
``status``, ``paid`` added up as "Revenue"), and each value of the field they
are counted by takes the colour of the event that leads into it
(:func:`level_colors`): a green "Paid" band in one picture is the green
``OrderPaid`` dot in the next.

>>> from eventlab.sample import demo_store
>>> from eventlab.examples import orders
>>> store = demo_store()
>>> timeline(store, limit=20).savefig("timeline.png")  # doctest: +SKIP
>>> transitions(store, orders.decider).savefig("lifecycle.png")  # doctest: +SKIP
"""

from __future__ import annotations

import enum
import re
import zlib
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from eventlab.application.timetravel import DECODE_ROWS, history, state_columns, state_row
from eventlab.core.decider import Decider, Summary, replay
from eventlab.core.events import declared_colors
from eventlab.errors import UsageError
from eventlab.storage.store import SELECT_EVENTS, EventStore, records_from_rows

_SPARE_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")

INITIAL_COLOR = "#c7c7c7"
"""The colour of a state value before anything happened (the shop's "New"): grey."""

EVENT_COLUMNS = ("position", "stream_id", "version", "type", "recorded_at", "occurred_at")
"""The columns of :func:`changes` about the event itself; the state's columns follow them."""

Source = EventStore | pd.DataFrame


def event_colors() -> dict[str, str]:
    """Event type -> its colour in every figure and widget: as declared with
    ``@event_type(name, color=...)``, in the order declared (import the module that defines them)."""
    return declared_colors()


def color_of(event_type: str) -> str:
    """The colour of an event type: the one it declared, or a stable pick for the others.

    Types without a declared colour hash (crc32, not Python's salted ``hash``)
    into a spare palette, so a new type gets the same colour in every figure and
    every run.
    """
    declared = declared_colors().get(event_type)
    return declared if declared is not None else _stable_color(event_type)


def in_palette_order(event_types: Sequence[str]) -> list[str]:
    """Event types sorted as declared (see :func:`event_colors`; the others last, by name): stable legends."""
    known = list(declared_colors())
    return sorted(set(event_types), key=lambda t: (known.index(t) if t in known else len(known), t))


# --- what a decider's summary says ------------------------------------------------------------


def summary_of(decider: Decider, by: str | None = None) -> Summary:
    """How to sum up ``decider``'s streams: its own :class:`Summary`, or one counting them by ``by``.

    ``by`` names a state field to count the streams by instead (or when the
    decider has no summary); the summary's total is kept, its levels and
    ``set_by`` (which are about its own ``by``) are not.
    """
    fields = state_columns(decider)
    own = decider.summary
    if by is None:
        if own is None:
            raise UsageError(
                f"decider {decider.name or decider.category or '(unnamed)'!r} has no summary, so there is "
                f"nothing to count its streams by: pass by='<state field>' (one of {fields}), or give "
                f"the Decider summary=Summary(by=...)")
        summary = own
    elif own is not None and by == own.by:
        summary = own
    else:
        summary = Summary(by=by) if own is None else Summary(
            by=by, total=own.total, total_label=own.total_label, total_from=own.total_from)
    grows = isinstance(decider.initial_state, dict)  # a dict state may gain fields along the log
    for what, name in (("by", summary.by), ("total", summary.total)):
        if name is not None and name not in fields and not grows:
            raise UsageError(f"the summary's {what}={name!r} is not a field of decider "
                             f"{decider.name!r}'s state; its fields are {fields}")
        if name in EVENT_COLUMNS:
            raise UsageError(f"the state field {name!r} has the name of an event column {EVENT_COLUMNS}; "
                             f"pictures cannot count by it")
    return summary


def levels_of(decider: Decider, *, by: str | None = None) -> list[Hashable]:
    """The values of the summary's ``by`` field that the decider knows of, in the order pictures show them.

    The summary's ``levels`` first, then the other values its ``set_by`` leads
    to and the initial state's value, by name. Enum members become their values.
    """
    summary = summary_of(decider, by)
    return _ordered([*summary.levels, *summary.set_by.values(), _initial(decider, summary)], summary)


def level_colors(decider: Decider, values: Sequence[Hashable] | None = None, *, by: str | None = None
                 ) -> dict[Hashable, str]:
    """The colour of each of ``values`` (default: :func:`levels_of`): the colour of the event type that
    leads into it (the summary's ``set_by``), grey for the initial state's value, else a stable pick.

    >>> level_colors(orders.decider)["Paid"] == color_of("OrderPaid")  # doctest: +SKIP
    True
    """
    summary = summary_of(decider, by)
    values = levels_of(decider, by=by) if values is None else [_plain(v) for v in values]
    return _colors_for(values, summary, _initial(decider, summary))


def _plain(value: object) -> object:
    return value.value if isinstance(value, enum.Enum) else value


def _initial(decider: Decider, summary: Summary) -> object:
    return state_row(decider.initial_state).get(summary.by)


def _ordered(values: Sequence[object], summary: Summary) -> list[Hashable]:
    """``values`` without None or repeats: the summary's levels first, in their order, then the others,
    by name."""
    levels = list(dict.fromkeys(_plain(v) for v in summary.levels))
    others = {_plain(v) for v in values if v is not None} - set(levels)
    return [v for v in levels if v is not None] + sorted(others, key=str)


def _colors_for(values: Sequence[Hashable], summary: Summary, initial: object) -> dict[Hashable, str]:
    leads_into: dict[object, str] = {}
    for type_, value in summary.set_by.items():
        leads_into.setdefault(_plain(value), color_of(type_))
    return {value: leads_into.get(value) or (INITIAL_COLOR if value == initial else _stable_color(str(value)))
            for value in values}


def _stable_color(name: str) -> str:
    return _SPARE_COLORS[zlib.crc32(name.encode()) % len(_SPARE_COLORS)]


def stream_names(decider: Decider) -> tuple[str, str]:
    """How the pictures call the decider's streams: one (``"order"``) and many (``"orders"``)."""
    many = decider.name or (f"{decider.category}s" if decider.category else "streams")
    return decider.category or many, many


def capitalized(text: str) -> str:
    """``text`` with its first letter upper case (``str.capitalize`` would lower the rest)."""
    return text[:1].upper() + text[1:]


def total_label(summary: Summary) -> str:
    """What the pictures call the summary's total: its ``total_label``, else the field's name."""
    return summary.total_label or capitalized(summary.total or "")


# --- the state along the log ------------------------------------------------------------------


def changes(store: EventStore, decider: Decider, *, by: str | None = None) -> pd.DataFrame:
    """One row per event of ``decider``'s streams, in log order, with the two summed-up state fields
    before and after it.

    Columns: ``position, stream_id, version, type, recorded_at, occurred_at``
    (``recorded_at`` when the event has no business time), then ``<by>_before``
    and ``<by>``, the field the summary counts streams by (the shop:
    ``status_before, status``), as a categorical in the order of
    :func:`levels_of`; then, when the summary has a total, ``<total>_before``
    and ``<total>`` as floats (the shop: ``paid_before, paid``). ``<by>_before``
    is missing on a stream's first event: before it, the stream did not exist.

    When the summary says which events set ``by`` (``set_by``) and, for a total,
    which add to it (``total_from``), this is replay done by DuckDB: window
    functions carry each stream's last value and running total along it, about
    a second for a million events where a Python fold over every event takes ten
    times longer. Otherwise each stream is replayed in Python with the decider.
    Both give the same frame (a test checks it on the shop).
    """
    summary = summary_of(decider, by)
    prefix = f"{decider.category}-" if decider.category else ""
    initial = state_row(decider.initial_state)
    if summary.set_by and (summary.total is None or summary.total_from):
        return _changes_sql(store, summary, prefix, initial)
    return _changes_python(store, decider, summary, prefix, initial)


def _sql_text(text: object) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _summary_sql(summary: Summary, initial: dict) -> tuple[list, str, str, str]:
    """The pieces of the vectorized replay of a summary: its values (codes are indexes into them), the
    SQL of the code an event sets (NULL: none), of the amount it adds to the total, and the code before
    a stream's first event."""
    values = _ordered([*summary.set_by.values(), initial.get(summary.by)], summary)
    code = {value: k for k, value in enumerate(values)}
    sets_by = " ".join(f"WHEN {_sql_text(type_)} THEN {code[_plain(value)]}"
                       for type_, value in summary.set_by.items())
    adds = " ".join(f"WHEN {_sql_text(type_)} THEN (data ->> {_sql_text(field)})::DOUBLE"
                    for type_, field in summary.total_from.items())
    amount = f"CASE type {adds} ELSE 0 END" if adds else "0::DOUBLE"
    return values, f"CASE type {sets_by} END", amount, str(code.get(_plain(initial.get(summary.by)), "NULL"))


def _changes_sql(store: EventStore, summary: Summary, prefix: str, initial: dict) -> pd.DataFrame:
    values, sets_by, amount, start = _summary_sql(summary, initial)
    frame = store.sql(f"""
        WITH stream_events AS (
            SELECT position, stream_id, version, type, recorded_at,
                   coalesce(occurred_at, recorded_at) AS occurred_at,
                   {sets_by} AS sets_by,
                   {amount} AS amount
            FROM events WHERE starts_with(stream_id, ?)
        )
        SELECT position, stream_id, version, type, recorded_at, occurred_at, amount,
               coalesce(last_value(sets_by IGNORE NULLS) OVER stream, {start}) AS by_code,
               ? + sum(amount) OVER stream AS total
        FROM stream_events
        WINDOW stream AS (PARTITION BY stream_id ORDER BY position ROWS UNBOUNDED PRECEDING)
        ORDER BY position""", params=[prefix, float(initial.get(summary.total) or 0)]).df()
    codes = frame.pop("by_code").fillna(-1).astype(_code_type(values))
    total = frame.pop("total")
    frame["total_before"] = total - frame.pop("amount")
    frame["total"] = total
    return _changes_frame(frame, codes, values, summary)


@dataclass(frozen=True)
class Steps:
    """What :func:`changes` says about each event, as bare arrays (one entry per event of the decider's
    streams, in no particular order): enough to count streams at every position of a million-event log
    without a row object or a string per event."""

    levels: list[Hashable]         # the values of ``by``; the codes below index them (-1: none)
    position: np.ndarray           # the event's global position
    before: np.ndarray             # the code of its stream's ``by`` before the event (-1 at its first event)
    after: np.ndarray              # ... and after it
    total_before: np.ndarray | None  # its stream's total before and after (None: the summary has none)
    total: np.ndarray | None


def summary_steps(store: EventStore, decider: Decider, *, by: str | None = None) -> Steps:
    """:func:`changes` as :class:`Steps`: what the time slider indexes.

    When the summary says which events set ``by`` (and add to the total), DuckDB
    computes them with one window over the streams and returns numbers only (no
    stream ids, types or times: fetching and encoding a million strings costs
    more than the window itself); else they come from :func:`changes`. A test
    checks both give the same.
    """
    summary = summary_of(decider, by)
    prefix = f"{decider.category}-" if decider.category else ""
    initial = state_row(decider.initial_state)
    if not (summary.set_by and (summary.total is None or summary.total_from)):
        return _steps_of(changes(store, decider, by=by), summary)
    values, sets_by, amount, start = _summary_sql(summary, initial)
    table = store.arrow(f"""
        WITH stream_events AS (
            SELECT position, stream_id, {sets_by} AS sets_by, {amount} AS amount
            FROM events WHERE starts_with(stream_id, ?))
        SELECT position, coalesce(last_value(sets_by IGNORE NULLS) OVER stream, {start}, -1) AS code,
               lag(position, 1, 0) OVER stream AS previous,
               ? + sum(amount) OVER stream AS total, amount
        FROM stream_events
        WINDOW stream AS (PARTITION BY stream_id ORDER BY position)""",
        [prefix, float(initial.get(summary.total) or 0)])
    position = table.column("position").to_numpy()
    after = table.column("code").to_numpy().astype(_code_type(values))
    previous = table.column("previous").to_numpy()
    code_at = np.full(int(position.max()) + 1 if len(position) else 1, -1, dtype=after.dtype)
    code_at[position] = after
    before = np.where(previous > 0, code_at[previous], -1).astype(after.dtype)  # the previous event's code
    total = table.column("total").to_numpy() if summary.total is not None else None
    total_before = total - table.column("amount").to_numpy() if total is not None else None
    return Steps(values, position, before, after, total_before, total)


def _steps_of(frame: pd.DataFrame, summary: Summary) -> Steps:
    """A :func:`changes` frame as :class:`Steps`."""
    by, total = summary.by, summary.total
    return Steps(list(frame[by].cat.categories), frame["position"].to_numpy(),
                 frame[f"{by}_before"].cat.codes.to_numpy(), frame[by].cat.codes.to_numpy(),
                 frame[f"{total}_before"].to_numpy(float) if total else None,
                 frame[total].to_numpy(float) if total else None)


def _changes_python(store: EventStore, decider: Decider, summary: Summary, prefix: str, initial: dict
                    ) -> pd.DataFrame:
    frame = store.sql("""
        SELECT position, stream_id, version, type, recorded_at,
               coalesce(occurred_at, recorded_at) AS occurred_at
        FROM events WHERE starts_with(stream_id, ?) ORDER BY position""", params=[prefix]).df()
    last = int(frame["position"].max()) if len(frame) else 0
    states: dict[str, object] = {}
    after, totals = [], np.zeros(len(frame))
    for first in range(1, last + 1, DECODE_ROWS):  # a slice of the log at a time: memory stays flat
        records = records_from_rows(store.rows(
            f"{SELECT_EVENTS} WHERE starts_with(stream_id, ?) AND position BETWEEN ? AND ? ORDER BY position",
            [prefix, first, min(first + DECODE_ROWS - 1, last)]))
        for record in records:
            state = replay([record], decider, states.get(record.stream_id, decider.initial_state))
            states[record.stream_id] = state
            fields = state_row(state)
            if summary.total is not None:
                totals[len(after)] = float(fields.get(summary.total) or 0)
            after.append(_plain(fields.get(summary.by)))
    values = _ordered([*summary.set_by.values(), initial.get(summary.by), *after], summary)
    code = {value: k for k, value in enumerate(values)}
    codes = pd.Series([code.get(value, -1) for value in after], dtype=_code_type(values))
    frame["total"] = totals
    start = float(initial.get(summary.total) or 0) if summary.total is not None else 0.0
    frame["total_before"] = frame["total"].groupby(frame["stream_id"].to_numpy()).shift(fill_value=start)
    return _changes_frame(frame, codes, values, summary)


def _code_type(values: list) -> type:
    return np.int8 if len(values) < 127 else np.int32


def _changes_frame(frame: pd.DataFrame, codes: pd.Series, values: list, summary: Summary) -> pd.DataFrame:
    """The frame of :func:`changes`, from the event columns, ``total_before``, ``total`` and the codes of
    the ``by`` value after each event (-1: none)."""
    streams, names = pd.factorize(frame["stream_id"])
    before = pd.Series(codes.to_numpy()).groupby(streams).shift(fill_value=-1).to_numpy()
    frame["stream_id"] = pd.Categorical.from_codes(streams, names)
    frame["type"] = frame["type"].astype("category")
    by, total = summary.by, summary.total
    frame[f"{by}_before"] = pd.Categorical.from_codes(before, values)
    frame[by] = pd.Categorical.from_codes(codes.to_numpy(), values)
    columns = [*EVENT_COLUMNS, f"{by}_before", by]
    if total is not None:
        frame[f"{total}_before"], frame[total] = frame.pop("total_before"), frame.pop("total")
        columns += [f"{total}_before", total]
    return frame[columns]


def counts_over_time(changes: pd.DataFrame, decider: Decider, freq: str = "D", *, by: str | None = None
                     ) -> pd.DataFrame:
    """How many streams had each value of ``by`` at the end of each period (one row per period).

    ``changes`` is a :func:`changes` frame of ``decider``. Each event moves one
    stream out of ``<by>_before`` and into ``<by>``: a +1 and a -1; the running
    sum of those moves is the count at any moment. Columns are the values ever
    counted, in the order of :func:`levels_of`.
    """
    by = summary_of(decider, by).by
    moves = pd.concat([
        pd.DataFrame({"recorded_at": changes["recorded_at"], by: changes[by], "n": 1}),
        pd.DataFrame({"recorded_at": changes["recorded_at"], by: changes[f"{by}_before"], "n": -1}),
    ]).dropna(subset=[by])
    period = moves["recorded_at"].dt.floor(freq)
    table = moves.pivot_table(index=period, columns=by, values="n", aggfunc="sum", observed=False)
    periods = pd.date_range(period.min(), period.max(), freq=freq, name="period")
    table = table.reindex(periods, fill_value=0).fillna(0).cumsum().astype(int)
    order = list(changes[by].cat.categories)
    return table[[v for v in order if v in table.columns and table[v].any()]]


# --- figures ------------------------------------------------------------------------------------


def timeline(source: Source, streams: Sequence[str] | None = None, *, limit: int = 100,
             prefix: str = "") -> Figure:
    """Events as dots on time, one lane per stream, coloured by type.

    ``source`` is a store (then the first ``limit`` streams, of those starting
    with ``prefix`` such as ``"order-"``, or the ``streams`` named) or a
    DataFrame with the columns ``stream_id, type, recorded_at`` such as
    ``store.read_all_df()``. Lanes are in the order the streams began, the
    oldest on top.
    """
    events = _timeline_events(source, streams, limit, prefix)
    lanes = list(dict.fromkeys(events["stream_id"]))[:limit]
    events = events[events["stream_id"].isin(lanes)]
    lane_of = events["stream_id"].map({stream: i for i, stream in enumerate(lanes)}).astype(int)
    # inches per lane, dot size and label size: roomy for a few lanes, compact for a hundred
    per_lane, dot, font = (0.45, 110, 9) if len(lanes) <= 10 else (0.3, 40, 9) if len(lanes) <= 30 else (
        0.11, 18, 6)
    fig = _figure(11, 3.6 if len(lanes) == 1 else min(2.2 + per_lane * len(lanes), 14))
    ax = fig.add_subplot()
    spans = events.groupby(lane_of)["recorded_at"].agg(["min", "max"])
    ax.hlines(spans.index, spans["min"], spans["max"], color="0.85", linewidth=1.5, zorder=1)
    for type_ in in_palette_order(events["type"].unique()):
        these = events["type"] == type_
        ax.scatter(events.loc[these, "recorded_at"], lane_of[these], s=dot,
                   color=color_of(type_), edgecolor="white", linewidth=0.6, label=type_, zorder=2)
    ax.set_yticks(range(len(lanes)), lanes, fontsize=font)
    ax.set_ylim(len(lanes) - 0.5, -0.5)
    if len(lanes) == 1 and len(events) <= 12:
        _label_one_lane(ax, events)
    ax.set_xlabel("recorded at (UTC)")
    ax.set_ylabel("stream")
    _date_axis(ax)
    if len(lanes) > 30:  # a tall figure: the dates at the top too, where reading starts
        ax.tick_params(axis="x", labeltop=True)
    ax.grid(axis="x", color="0.93")
    # legend dots at full size, however small the lanes' dots: a colour must be easy to match
    ax.legend(title="event type", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
              markerscale=(110 / dot) ** 0.5)
    what = lanes[0] if len(lanes) == 1 else f"{len(lanes)} streams"
    ax.set_title(f"Timeline of {what}: {len(events)} events")
    return fig



def state_evolution(source: Source, stream_id: str | None = None, *, decider: Decider | None = None,
                    fields: Sequence[str] | None = None) -> Figure:
    """One entity's state after each of its events: one panel per field, the events along x.

    ``source`` is a store and a ``stream_id`` (replayed with ``decider``), or a
    ``history(...)`` DataFrame. By default the panels are the field the
    decider's summary counts by (the shop: ``status``), when it has one, and
    every field that changes along the stream; a list field is drawn as its
    length ("items" becomes the number of items). Text values go up in the
    order of the summary's levels (others after them, by name).
    """
    if isinstance(source, EventStore):
        if stream_id is None:
            raise UsageError("state_evolution(store, ...) needs the stream_id to draw, e.g. 'order-000247'")
        if decider is None:
            raise UsageError(f"state_evolution(store, {stream_id!r}, decider=...) needs the decider that "
                             f"replays the stream")
        source = history(source, stream_id, decider)
    summary = decider.summary if decider is not None else None
    frame = source.reset_index(drop=True)
    fields = list(fields) if fields is not None else _changing_fields(frame, summary.by if summary else None)
    x = frame["version"].to_numpy()
    fig = _figure(10, 1.3 + 1.7 * len(fields))
    axes = fig.subplots(len(fields), 1, sharex=True, squeeze=False)[:, 0]
    colors = [color_of(t) for t in frame["type"]]
    for ax, name in zip(axes, fields):
        values = frame[name].map(len) if _is_list_column(frame[name]) else frame[name]
        if values.dtype == object or isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            known = summary if summary is not None and name == summary.by else Summary(by=name)
            present = set(values.map(_plain))
            levels = [v for v in _ordered(list(present), known) if v in present]
            levels += [None] if None in present else []
            values = values.map(_plain).map(levels.index)
            ax.set_yticks(range(len(levels)), levels)
            ax.set_ylim(-0.5, len(levels) - 0.5)
        elif pd.api.types.is_integer_dtype(values):
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.step(x, values, where="post", color="0.55", linewidth=1.5, zorder=1)
        ax.scatter(x, values, c=colors, s=70, edgecolor="white", linewidth=0.6, zorder=2)
        ax.set_ylabel(f"{name} (count)" if _is_list_column(frame[name]) else name)
        ax.grid(axis="y", color="0.93")
    many = len(x) > 20
    axes[-1].set_xticks(x, [str(v) if many else f"{v}\n{t}" for v, t in zip(x, frame["type"])],
                        fontsize=8, rotation=90 if many else 0)
    axes[-1].set_xlabel("event (stream version)")
    axes[0].legend(handles=_type_handles(frame["type"]), title="event type", loc="upper left",
                   bbox_to_anchor=(1.01, 1), frameon=False)
    name = stream_id or "one stream"
    fig.suptitle(f"How {name} evolved: its state after each event")
    return fig


def system_over_time(source: Source, decider: Decider, *, by: str | None = None, freq: str = "D") -> Figure:
    """One decider's whole system over time: its streams counted by the summary's ``by`` field, its
    total as known then (when the summary has one), and its events per period.

    ``source`` is a store or a :func:`changes` DataFrame of ``decider``. For
    the shop: orders by status, revenue, order events. The total is summed by
    when each event was *recorded* (what we knew at each moment); the grey area
    of the panel below it is the part that had already happened by then
    (``occurred_at``) but that the log had not heard of yet: late news.
    """
    summary = summary_of(decider, by)
    frame = changes(source, decider, by=by) if isinstance(source, EventStore) else source
    one, many = stream_names(decider)
    period = {"D": "day", "h": "hour", "W": "week"}.get(freq, freq)
    panels = 4 if summary.total is not None else 2
    fig = _figure(11, 10.5 if panels == 4 else 6.6)
    axes = fig.subplots(panels, 1, sharex=True, height_ratios=[3, 2, 1.3, 2] if panels == 4 else [3, 2])
    by_value, rate = axes[0], axes[-1]

    counts = counts_over_time(frame, decider, freq, by=by)
    # each period drawn from its start to its end at the count it ended with
    edges = counts.index.append(counts.index[-1:] + pd.tseries.frequencies.to_offset(freq))
    heights = np.vstack([counts.to_numpy(), counts.to_numpy()[-1:]]).T
    colors = _colors_for(list(counts.columns), summary, _initial(decider, summary))
    by_value.stackplot(edges, heights, labels=counts.columns, step="post",
                       colors=[colors[v] for v in counts.columns], alpha=0.85)
    by_value.set_ylabel(many)
    by_value.set_title(f"{capitalized(many)} by {summary.by} at the end of each {period}")
    by_value.legend(title=summary.by, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

    if summary.total is not None:
        _total_panels(axes[1], axes[2], frame, summary)

    per_period = frame.pivot_table(index=frame["recorded_at"].dt.floor(freq), columns="type",
                                   values="position", aggfunc="count", observed=True).fillna(0)
    width = pd.tseries.frequencies.to_offset(freq).nanos / 86400e9 * 0.9
    bottom = np.zeros(len(per_period))
    for type_ in in_palette_order(per_period.columns):
        rate.bar(per_period.index, per_period[type_], width=width, bottom=bottom, align="edge",
                 color=color_of(type_), label=type_)
        bottom += per_period[type_].to_numpy()
    rate.set_ylabel(f"events per {period}")
    rate.set_title(f"{capitalized(one)} events per {period}")
    rate.legend(title="event type", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    rate.set_xlabel("recorded at (UTC)")
    _date_axis(rate)
    fig.suptitle(f"The {one} system over time ({frame['stream_id'].nunique()} {many}, "
                 f"{len(frame)} events)")
    return fig


def _total_panels(ax: Axes, late: Axes, frame: pd.DataFrame, summary: Summary) -> None:
    """The total as known at each moment and, in a panel of its own, the part not recorded yet.

    A late bank transfer is in the log with ``occurred_at`` days before its
    ``recorded_at``: by business time it counts from the day the money moved,
    but nobody knew of it until it was recorded. That part is small next to the
    total, so it gets its own panel and its own scale, labelled as such,
    rather than a second axis on the total's panel, where it would look as
    large as the total itself.
    """
    total, label = summary.total, total_label(summary)
    amounts = frame[total] - frame[f"{total}_before"]
    adding = frame[amounts != 0].assign(amount=amounts)
    moments = np.unique(np.concatenate([adding["recorded_at"], adding["occurred_at"]]))

    def total_by(column: str) -> np.ndarray:
        ordered = adding.sort_values(column)
        running = np.concatenate([[0.0], ordered["amount"].cumsum().to_numpy()])
        return running[np.searchsorted(ordered[column].to_numpy(), moments, side="right")]

    # the line takes the colour of the event that adds to the total (the shop: OrderPaid, green)
    adders = list(summary.total_from) or adding["type"].astype(str).value_counts().index.tolist()
    known = total_by("recorded_at")
    ax.step(moments, known, where="post", color=color_of(adders[0]) if adders else "#333333", linewidth=1.8,
            label=f"{label.lower()} known then (by recorded_at)")
    ax.set_ylabel(f"{label.lower()} (sum {total})")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=9, frameon=False)
    ax.set_title(f"{label} as known at each moment")
    late.fill_between(moments, total_by("occurred_at") - known, step="post", color="0.55", alpha=0.5,
                      linewidth=0)
    late.set_ylabel(f"{total}, not\nrecorded yet")
    late.set_ylim(bottom=0)
    late.set_title(f"Late news: {total} already, not recorded yet (its own, smaller scale)")


def transitions(source: Source, decider: Decider, *, by: str | None = None,
                layout: Mapping[Hashable, tuple[float, float]] | None = None) -> Figure:
    """A lifecycle drawn from the data: the values of the summary's ``by`` field as boxes, arrows
    counting each move between them (the shop: order statuses).

    Every event that changes a stream's value is one step along an arrow,
    coloured by the event type that makes it. Each box says how many streams
    have that value at the end of the log. ``source`` is a store or a
    :func:`changes` DataFrame of ``decider``.

    The boxes go left to right after a "start" dot: the summary's levels in
    their order, then other values by how far into their streams they are
    reached (the mean version of the events that lead into them). The initial
    state's value (the shop's "New") sits below the start, and the last value,
    when nothing moves into it from the one before it (a side exit, such as
    "Cancelled"), below the middle of the row.
    ``layout`` places any box by hand: value -> (x, y), the boxes 2.4 apart.
    """
    summary = summary_of(decider, by)
    frame = changes(source, decider, by=by) if isinstance(source, EventStore) else source
    one, many = stream_names(decider)
    column = summary.by
    before = frame[f"{column}_before"].astype(object).where(frame[f"{column}_before"].notna(), "start")
    moved = frame.assign(before=before, after=frame[column].astype(object))
    moved = moved[moved["before"] != moved["after"]].dropna(subset=["after"])
    edges = moved.groupby(["before", "after", "type"], observed=True).size().rename("n").reset_index()
    now = frame.groupby("stream_id", observed=True)[column].last().value_counts()

    initial = _plain(_initial(decider, summary))
    nodes = list(dict.fromkeys(["start", *edges["before"], *edges["after"]]))
    depth = moved.groupby("after")["version"].mean().to_dict()  # how far into a stream each is reached
    where = _lifecycle_layout(nodes, edges, depth, initial, summary, dict(layout or {}))
    colors = _colors_for([node for node in nodes if node != "start"], summary, initial)
    fig = _figure(11, 5.2)
    ax = fig.add_subplot()
    patches = {}
    for node, (x, y) in where.items():
        if node == "start":
            patches[node] = ax.add_patch(Circle((x, y), 0.1, color="black"))
            ax.annotate("start", (x, y - 0.2), ha="center", va="top", fontsize=10)
            continue
        color = colors[node]
        patches[node] = ax.add_patch(FancyBboxPatch((x - 0.5, y - 0.28), 1.0, 0.56, boxstyle="round,pad=0.04",
                                                    facecolor=color, alpha=0.3, edgecolor=color, linewidth=2))
        ax.annotate(f"{node}\n{now.get(node, 0)} now", (x, y), ha="center", va="center", fontsize=11)
    widest = edges["n"].max()
    for i, edge in edges.iterrows():
        twins = edges[(edges["before"] == edge["before"]) & (edges["after"] == edge["after"])]
        back = ((edges["before"] == edge["after"]) & (edges["after"] == edge["before"])).any()
        rad = 0.25 * (list(twins.index).index(i) + back)  # a move back and forth: two arcs, not one line
        (x0, y0), (x1, y1) = where[edge["before"]], where[edge["after"]]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}",
                                     patchA=patches[edge["before"]], patchB=patches[edge["after"]],
                                     arrowstyle="-|>", mutation_scale=18, shrinkA=3, shrinkB=3,
                                     linewidth=1 + 5 * edge["n"] / widest, color=color_of(edge["type"])))
        # the label sits beside the middle of the arrow: on its left-hand side when it is straight, on the
        # outside of its bend when it is an arc (arc3 bends to the right, by rad * length / 2 at the middle)
        length = np.hypot(x1 - x0, y1 - y0)
        nx, ny = np.array([y0 - y1, x1 - x0]) / length * (-1 if rad else 1)
        offset = rad * length / 2 + 0.08
        mx, my = (x0 + x1) / 2 + offset * nx, (y0 + y1) / 2 + offset * ny
        ax.annotate(f"{edge['type']}\n×{edge['n']}", (mx, my), fontsize=9, color=color_of(edge["type"]),
                    fontweight="bold", ha="left" if nx > 0.3 else "right" if nx < -0.3 else "center",
                    va="bottom" if ny > 0.3 else "top" if ny < -0.3 else "center")
    xs, ys = zip(*where.values())
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(*ys, -1.8) - 0.7, max(ys) + 0.6)  # room for the second row, or the legend, below
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(handles=_type_handles(edges["type"]), title="moved by", loc="lower right", frameon=False)
    ax.set_title(f"{capitalized(column)} transitions in the log: {int(edges['n'].sum())} moves of "
                 f"{frame['stream_id'].nunique()} {many}")
    return fig


def _lifecycle_layout(nodes: list, edges: pd.DataFrame, depth: dict, initial: object, summary: Summary,
                      layout: dict) -> dict:
    """Where :func:`transitions` draws each node: see its docstring."""
    levels = [v for v in _ordered(nodes[1:], summary) if v in nodes and v in summary.levels]
    others = sorted(set(nodes[1:]) - set(levels), key=lambda v: (depth.get(v, 0), str(v)))
    row = [v for v in levels + others if v != initial and v not in layout]
    below = None
    if len(row) >= 2 and not ((edges["before"] == row[-2]) & (edges["after"] == row[-1])).any():
        below = row.pop()  # a side exit: reached from earlier values only
    where = {"start": (0.0, 0.0), **{value: (2.0 + 2.4 * k, 0.0) for k, value in enumerate(row)}}
    if below is not None:
        where[below] = (where[row[len(row) // 2]][0], -1.8)
    if initial in nodes:
        where[initial] = (0.0, -1.8)
    where.update(layout)
    return {node: where[node] for node in nodes}


def projection_lag(frame: pd.DataFrame) -> Figure:
    """How far each read model trails the log, over time.

    ``frame`` stacks readings of ``eventlab.projections.lag(store)`` taken at
    different times, with a ``time`` column added (a datetime, or seconds since
    the start): one row per projection and reading, with ``projection``,
    ``events_behind`` (events in the log it has not applied yet) and optionally
    ``seconds_behind`` (how much older its view is than the head of the log),
    drawn in a second panel.
    """
    panels = ["events_behind"] + (["seconds_behind"] if "seconds_behind" in frame else [])
    fig = _figure(10, 1.5 + 3 * len(panels))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    hours = "seconds_behind" in frame and frame["seconds_behind"].max() > 7200
    for ax, column in zip(axes, panels):
        scale = 3600 if column == "seconds_behind" and hours else 1
        for k, (name, rows) in enumerate(frame.groupby("projection", sort=False)):
            rows = rows.sort_values("time")
            ax.step(rows["time"], rows[column] / scale, where="post", label=str(name), linewidth=1.6,
                    color=_SERIES_COLORS[k % len(_SERIES_COLORS)])
        ax.set_ylabel("hours behind" if scale > 1 else column.replace("_", " "))
        ax.grid(color="0.93")
        ax.set_ylim(bottom=-0.02 * max(frame[column].max() / scale, 1))  # a lag of 0 stays visible
    axes[0].legend(title="projection", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    dated = pd.api.types.is_datetime64_any_dtype(frame["time"])
    axes[-1].set_xlabel("time (UTC)" if dated else "seconds")
    if dated:
        _date_axis(axes[-1])
    fig.suptitle("Projection lag: how far each read model trails the log (eventual consistency)")
    return fig


_SERIES_COLORS = ("#333333", "#e6550d", "#3182bd", "#756bb1", "#31a354", "#969696")


def replay_cost(frame: pd.DataFrame) -> Figure:
    """Time to rebuild one entity's state as its stream grows, with and without snapshots.

    ``frame`` has one row per measurement: ``events`` (the stream's length),
    ``seconds`` (time to get the current state) and ``snapshots`` (True/False,
    or a label such as "snapshot every 100"). Both axes are logarithmic when
    the lengths span more than a factor of ten.
    """
    fig = _figure(8, 5)
    ax = fig.add_subplot()
    for k, (flag, rows) in enumerate(frame.groupby("snapshots", sort=False)):
        rows = rows.groupby("events", as_index=False)["seconds"].median()
        label = {True: "with snapshots", False: "without snapshots"}.get(flag, str(flag))
        ax.plot(rows["events"], rows["seconds"] * 1000, marker="o", label=label,
                color=_SERIES_COLORS[k % len(_SERIES_COLORS)], linewidth=1.8)
    if frame["events"].max() > 10 * frame["events"].min():
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("events in the stream")
    ax.set_ylabel("time to current state (ms)")
    ax.grid(color="0.93", which="both")
    ax.legend(frameon=False)
    ax.set_title("Replay cost grows with the stream; a snapshot caps it")
    return fig


def es_vs_crud(events: pd.DataFrame, tables: Mapping[str, pd.DataFrame], *, max_rows: int = 16) -> Figure:
    """Two ways to store the same commands, one above the other: the event log and the CRUD tables.

    ``events`` is the log (e.g. ``store.read_all_df()``; the columns
    ``position, stream_id, version, type, recorded_at, data, metadata`` are
    shown when present); ``tables`` maps each CRUD table's name to its rows,
    e.g. ``{"orders": ..., "order_items": ...}``, drawn side by side below the
    log. The log keeps every step, with when it was recorded and who did it or
    why (its metadata); the tables keep only where each thing ended up.

    At most ``max_rows`` rows of each are drawn. Times read "Mon 09:00" when
    they fall within one week (no weekday twice), "03 Jun 09:00" otherwise;
    long values wrap onto up to three lines, and are cut after that.
    """
    shown = [c for c in ("position", "stream_id", "version", "type", "recorded_at", "data", "metadata")
             if c in events] or list(events)
    frames = [events[shown], *tables.values()]
    titles = [f"Event sourcing: events ({len(events)} rows, append-only)",
              *(f"CRUD: {name} ({len(t)} rows, current state only)" for name, t in tables.items())]
    moments = [v for frame in frames for column in frame for v in frame[column].head(max_rows)
               if isinstance(v, datetime) and pd.notna(v)]
    days = {moment.date() for moment in moments}
    time_format = "%a %H:%M" if len({day.weekday() for day in days}) == len(days) else "%d %b %H:%M"

    fig = _figure(10, 4)
    fig.set_layout_engine("none")  # placed by hand below, in inches, from the measured tables
    axes = [fig.add_axes((0, 0, 1, 1)) for _ in frames]
    heights = [_table(ax, frame, max_rows, time_format, type_column=k == 0 and "type" in shown)
               for k, (ax, frame) in enumerate(zip(axes, frames))]
    drawn = [ax.set_title(title, loc="left", fontsize=_TABLE_FONT + 1.5) for ax, title in zip(axes, titles)]
    widths = [_table_width(ax) for ax in axes]  # inches, as are all the sizes below
    slots = [max(w, text.get_window_extent().width / fig.dpi) for w, text in zip(widths, drawn)]  # + title
    suptitle = fig.suptitle("The same commands, stored two ways: every change, or only the latest state",
                            va="top", fontsize=_TABLE_FONT + 3)

    margin, gap, title_room, suptitle_room = 0.1, 0.35, 0.35, 0.45
    width = 2 * margin + max(slots[0], sum(slots[1:]) + gap * max(len(slots) - 2, 0),
                             suptitle.get_window_extent().width / fig.dpi)
    crud_height = max(heights[1:], default=0)
    height = margin + suptitle_room + title_room + heights[0]
    height += (gap + title_room + crud_height) if tables else 0
    fig.set_size_inches(width, height)
    boxes = [(margin, height - suptitle_room - title_room - heights[0])]  # lower left corners, in inches
    for k in range(1, len(frames)):
        boxes.append((margin + sum(slots[1:k]) + gap * (k - 1), margin + crud_height - heights[k]))
    for ax, (x, y), w, h in zip(axes, boxes, widths, heights):
        ax.set_position((x / width, y / height, w / width, h / height))
    suptitle.set_y(1 - margin / height)
    return fig


# --- helpers ---------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Figure:
    """A new figure, closed in pyplot at once.

    Going through pyplot gives the figure the notebook's display hook (a returned
    figure then shows as a picture); closing it right away means pyplot never
    shows it a second time at the end of the cell, and nothing piles up in scripts.
    """
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _timeline_events(source: Source, streams: Sequence[str] | None, limit: int, prefix: str
                     ) -> pd.DataFrame:
    if not isinstance(source, EventStore):
        return source.sort_values("recorded_at", kind="stable")
    if streams is not None:
        chosen, params = "SELECT unnest(?::VARCHAR[])", [list(streams)]
    else:
        chosen = ("SELECT stream_id FROM events WHERE starts_with(stream_id, ?) "
                  "GROUP BY stream_id ORDER BY min(position) LIMIT ?")
        params = [prefix, limit]
    return source.sql(f"SELECT position, stream_id, version, type, recorded_at FROM events "
                      f"WHERE stream_id IN ({chosen}) ORDER BY position", params=params).df()


def _label_one_lane(ax: Axes, events: pd.DataFrame) -> None:
    """Name each event of a single lane, labels spread evenly above it: events minutes apart stay readable."""
    ax.set_ylim(0.4, -1.1)
    for i, (moment, type_) in enumerate(zip(events["recorded_at"], events["type"])):
        ax.annotate(f"{type_}\n{moment:%b %d %H:%M}", xy=(mdates.date2num(moment), 0),
                    xytext=((i + 0.5) / len(events), 0.95), textcoords="axes fraction", ha="center",
                    va="top", fontsize=8.5, color=color_of(type_),
                    arrowprops={"arrowstyle": "-", "color": "0.7", "linewidth": 0.8})


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _type_handles(types: Sequence[str]) -> list[Line2D]:
    return [Line2D([], [], marker="o", linestyle="none", markersize=8, color=color_of(t), label=t)
            for t in in_palette_order(list(types))]


def _is_list_column(column: pd.Series) -> bool:
    return column.map(lambda v: isinstance(v, list | tuple)).any()


def _changing_fields(frame: pd.DataFrame, first: str | None) -> list[str]:
    """The field ``first`` (the one the summary counts by, if any) and the state fields whose value
    changes along the history."""
    about_the_event = ("position", "version", "type", "recorded_at", "occurred_at")
    state = [c for c in frame.columns if c not in about_the_event]
    changing = [c for c in state if frame[c].map(repr).nunique() > 1]
    return ([first] if first in state else []) + [c for c in changing if c != first] or state


_TABLE_FONT = 10  # points: es_vs_crud's tables, readable at the size a notebook shows them


def _table(ax: Axes, frame: pd.DataFrame, max_rows: int, time_format: str, *, type_column: bool = False
           ) -> float:
    """Draw a DataFrame as a table filling ``ax``; returns the height it needs, in inches.

    Each row is as high as its tallest cell (long cells wrap, see ``_cell``); the
    columns are as wide as their text (``_table_width`` tells how wide that is).
    """
    ax.axis("off")
    head = frame.head(max_rows)
    cells = [[_cell(v, time_format) for v in row] for row in head.itertuples(index=False)]
    if len(frame) > max_rows or not cells:
        note = f"… {len(frame) - max_rows} more" if cells else "(no rows)"
        cells.append([note] + [""] * (len(frame.columns) - 1))
    table = ax.table(cellText=cells, colLabels=list(frame.columns), bbox=(0, 0, 1, 1), cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(_TABLE_FONT)
    table.auto_set_column_width(range(len(frame.columns)))
    lines = [1] + [max(text.count("\n") + 1 for text in row) for row in cells]
    row_heights = [(1.25 * n + 0.5) * _TABLE_FONT / 72 for n in lines]  # inches
    for (row, col), cell in table.get_celld().items():
        cell.PAD = 0.04  # matplotlib pads by 10% of the cell's width: too much for long JSON
        cell.set_height(row_heights[row])  # the bbox scales the rows to fill the axes, in these proportions
        cell.set_edgecolor("0.85")
        if row == 0:
            cell.set_facecolor("0.92")
            cell.set_text_props(fontweight="bold")
        elif type_column and frame.columns[col] == "type" and row <= len(head):
            cell.set_facecolor(color_of(head.iloc[row - 1]["type"]))
            cell.set_alpha(0.35)
    return sum(row_heights)


def _table_width(ax: Axes) -> float:
    """The width in inches that the table on ``ax`` needs: each column as wide as its widest text."""
    columns: dict[int, float] = {}
    for (_, col), cell in ax.tables[0].get_celld().items():
        needed = cell.get_text().get_window_extent().width * (1 + 2 * cell.PAD)
        columns[col] = max(columns.get(col, 0.0), needed)
    return sum(columns.values()) / ax.figure.dpi


def _cell(value: object, time_format: str, width: int = 30, lines: int = 3) -> str:
    """The value as table text: times in ``time_format``, wrapped after a comma or space to ``width``
    characters a line, cut with "…" after ``lines`` lines."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = format(value, time_format) if isinstance(value, datetime) else str(value)
    wrapped = [""]
    for piece in re.findall(r"[^, ]+[, ]*|[, ]+", text):  # words, each with the separators after it
        while piece:
            if len(wrapped[-1]) + len(piece.rstrip()) <= width:
                wrapped[-1], piece = wrapped[-1] + piece, ""
            elif wrapped[-1]:
                wrapped.append("")
            else:  # a word longer than a line
                wrapped[-1], piece = piece[:width], piece[width:]
                wrapped.append("")
    wrapped = [line.rstrip() for line in wrapped if line.strip()]
    if len(wrapped) > lines:
        wrapped = wrapped[:lines - 1] + [wrapped[lines - 1][: width - 1] + "…"]
    return "\n".join(wrapped)


__all__ = [
    "INITIAL_COLOR", "event_colors", "color_of", "in_palette_order", "summary_of", "levels_of",
    "level_colors", "changes", "Steps", "summary_steps", "counts_over_time", "timeline", "state_evolution",
    "system_over_time", "transitions", "projection_lag", "replay_cost", "es_vs_crud",
]
