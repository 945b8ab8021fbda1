"""Pictures of an event log: what happened, and how state grew out of it.

Every function here takes an ``EventStore`` or a DataFrame and returns a
matplotlib ``Figure`` (display it in a notebook, or ``fig.savefig("x.png")``).
Nothing calls ``plt.show()``, so the figures work the same in JupyterLab, in a
script and in a headless test.

One colour per event type, the same in every figure (:data:`EVENT_COLORS`),
and each order status takes the colour of the event that leads into it: a
green "Paid" band in one picture is the green ``OrderPaid`` dot in the next.

>>> from eventlab.sample import demo_store
>>> store = demo_store()
>>> timeline(store, limit=20).savefig("timeline.png")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
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

from eventlab.examples import orders
from eventlab.model import Decider
from eventlab.store import EventStore
from eventlab.timetravel import history

EVENT_COLORS: dict[str, str] = {
    "OrderPlaced": "#1f77b4",     # blue
    "ItemAdded": "#17becf",       # cyan
    "ItemRemoved": "#e377c2",     # pink
    "OrderPaid": "#2ca02c",       # green
    "OrderShipped": "#9467bd",    # purple
    "OrderCancelled": "#d62728",  # red
    "StockReceived": "#bcbd22",   # olive
    "StockReserved": "#ff7f0e",   # orange
    "StockReleased": "#8c564b",   # brown
}
"""The colour of each known event type, in every figure and widget."""

_SPARE_COLORS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354")

STATUS_AFTER: dict[str, str] = {
    "OrderPlaced": "Placed", "OrderPaid": "Paid", "OrderShipped": "Shipped", "OrderCancelled": "Cancelled",
}
"""The event types that move an order to a status; the other order events leave it as it was.

The same rule as ``orders.evolve``, written as data so that SQL can apply it to a
million events at once (a test checks that both agree on the sample)."""

STATUSES: list[str] = [status.value for status in orders.OrderStatus]
"""Order statuses in lifecycle order: New, Placed, Paid, Shipped, Cancelled."""

STATUS_COLORS: dict[str, str] = {
    "New": "#c7c7c7", **{status: EVENT_COLORS[type_] for type_, status in STATUS_AFTER.items()}}
"""A status has the colour of the event that leads into it."""

Source = EventStore | pd.DataFrame


def color_of(event_type: str) -> str:
    """The colour of an event type: from :data:`EVENT_COLORS`, or a stable pick for unknown types.

    Unknown types hash (crc32, not Python's salted ``hash``) into a spare palette,
    so a new type gets the same colour in every figure and every run.
    """
    if event_type in EVENT_COLORS:
        return EVENT_COLORS[event_type]
    return _SPARE_COLORS[zlib.crc32(event_type.encode()) % len(_SPARE_COLORS)]


def in_palette_order(event_types: Sequence[str]) -> list[str]:
    """Event types sorted as in :data:`EVENT_COLORS` (unknown ones last, by name): stable legends."""
    known = list(EVENT_COLORS)
    return sorted(set(event_types), key=lambda t: (known.index(t) if t in known else len(known), t))


def order_changes(store: EventStore, prefix: str = "order-") -> pd.DataFrame:
    """One row per order event, in log order, with the order's status and amount paid before and after it.

    Columns: ``position, stream_id, version, type, recorded_at, occurred_at``
    (``recorded_at`` when the event has no business time), ``status_before,
    status, paid_before, paid``. ``status_before`` is missing on an order's
    first event: before it, the order did not exist.

    This is replay done by DuckDB for the two fields the system pictures need:
    window functions carry each order's last status and running total along
    its stream, about a second for a million events where a Python fold over
    every event takes ten times longer.
    """
    sets_status = " ".join(f"WHEN '{type_}' THEN {STATUSES.index(status)}"
                           for type_, status in STATUS_AFTER.items())
    frame = store.sql(f"""
        WITH order_events AS (
            SELECT position, stream_id, version, type, recorded_at,
                   coalesce(occurred_at, recorded_at) AS occurred_at,
                   CASE type {sets_status} END AS sets_status,
                   CASE type WHEN 'OrderPaid' THEN (data ->> 'amount')::DOUBLE ELSE 0 END AS amount
            FROM events WHERE starts_with(stream_id, ?)
        )
        SELECT position, stream_id, version, type, recorded_at, occurred_at, amount,
               coalesce(last_value(sets_status IGNORE NULLS) OVER stream, 0)::TINYINT AS status,
               sum(amount) OVER stream AS paid
        FROM order_events
        WINDOW stream AS (PARTITION BY stream_id ORDER BY position ROWS UNBOUNDED PRECEDING)
        ORDER BY position""", params=[prefix]).df()
    codes, streams = pd.factorize(frame["stream_id"])
    before = frame["status"].groupby(codes).shift(fill_value=-1)
    frame["stream_id"] = pd.Categorical.from_codes(codes, streams)
    frame["type"] = frame["type"].astype("category")
    frame["status_before"] = pd.Categorical.from_codes(before, STATUSES)
    frame["status"] = pd.Categorical.from_codes(frame["status"], STATUSES)
    frame["paid_before"] = frame["paid"] - frame.pop("amount")
    return frame[["position", "stream_id", "version", "type", "recorded_at", "occurred_at",
                  "status_before", "status", "paid_before", "paid"]]


def status_counts_over_time(changes: pd.DataFrame, freq: str = "D") -> pd.DataFrame:
    """How many orders were in each status at the end of each period (one row per period).

    Each event moves one order out of ``status_before`` and into ``status``:
    a +1 and a -1; the running sum of those moves is the count at any moment.
    """
    moves = pd.concat([
        pd.DataFrame({"recorded_at": changes["recorded_at"], "status": changes["status"], "n": 1}),
        pd.DataFrame({"recorded_at": changes["recorded_at"], "status": changes["status_before"], "n": -1}),
    ]).dropna(subset=["status"])
    period = moves["recorded_at"].dt.floor(freq)
    table = moves.pivot_table(index=period, columns="status", values="n", aggfunc="sum", observed=False)
    periods = pd.date_range(period.min(), period.max(), freq=freq, name="period")
    table = table.reindex(periods, fill_value=0).fillna(0).cumsum().astype(int)
    return table[[s for s in STATUSES if s in table.columns and table[s].any()]]


# --- figures ------------------------------------------------------------------------------------


def timeline(source: Source, streams: Sequence[str] | None = None, *, limit: int = 100,
             prefix: str = "order-") -> Figure:
    """Events as dots on time, one lane per stream, coloured by type.

    ``source`` is a store (then the first ``limit`` streams starting with
    ``prefix``, or the ``streams`` named) or a DataFrame with the columns
    ``stream_id, type, recorded_at`` such as ``store.read_all_df()``. Lanes are
    in the order the streams began, the oldest on top.
    """
    events = _timeline_events(source, streams, limit, prefix)
    lanes = list(dict.fromkeys(events["stream_id"]))[:limit]
    events = events[events["stream_id"].isin(lanes)]
    lane_of = events["stream_id"].map({stream: i for i, stream in enumerate(lanes)}).astype(int)
    # inches per lane, dot size and label size: roomy for a few lanes, compact for a hundred
    per_lane, dot, font = (0.45, 110, 9) if len(lanes) <= 10 else (0.3, 40, 9) if len(lanes) <= 30 else (
        0.17, 22, 6.5)
    fig = _figure(11, 3.6 if len(lanes) == 1 else min(2.2 + per_lane * len(lanes), 22))
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
    ax.grid(axis="x", color="0.93")
    # legend dots at full size, however small the lanes' dots: a colour must be easy to match
    ax.legend(title="event type", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False,
              markerscale=(110 / dot) ** 0.5)
    what = lanes[0] if len(lanes) == 1 else f"{len(lanes)} streams"
    ax.set_title(f"Timeline of {what}: {len(events)} events")
    return fig


def state_evolution(source: Source, stream_id: str | None = None, *, decider: Decider = orders.decider,
                    fields: Sequence[str] | None = None) -> Figure:
    """One entity's state after each of its events: one panel per field, the events along x.

    ``source`` is a store and a ``stream_id`` (replayed with ``decider``), or a
    ``history(...)`` DataFrame. By default the panels are ``status`` (when the
    state has one) and every field that changes along the stream; a list
    field is drawn as its length ("items" becomes the number of items).
    """
    if isinstance(source, EventStore):
        if stream_id is None:
            raise ValueError("state_evolution(store, ...) needs the stream_id to draw, e.g. 'order-000247'")
        source = history(source, stream_id, decider)
    frame = source.reset_index(drop=True)
    fields = list(fields) if fields is not None else _changing_fields(frame)
    x = frame["version"].to_numpy()
    fig = _figure(10, 1.3 + 1.7 * len(fields))
    axes = fig.subplots(len(fields), 1, sharex=True, squeeze=False)[:, 0]
    colors = [color_of(t) for t in frame["type"]]
    for ax, name in zip(axes, fields):
        values = frame[name].map(len) if _is_list_column(frame[name]) else frame[name]
        if values.dtype == object or isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            levels = [s for s in STATUSES if s in set(values)] + sorted(set(values) - set(STATUSES), key=str)
            values = values.map(levels.index)
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


def system_over_time(source: Source, *, freq: str = "D") -> Figure:
    """The order system over time: orders by status, revenue as known then, and events per period.

    ``source`` is a store or an :func:`order_changes` DataFrame. Revenue is
    summed by when each payment was *recorded* (what we knew at each moment);
    the grey area is money already paid by then (``occurred_at``) that the log
    had not heard of yet: late news.
    """
    changes = order_changes(source) if isinstance(source, EventStore) else source
    period = {"D": "day", "h": "hour", "W": "week"}.get(freq, freq)
    fig = _figure(11, 9)
    by_status, revenue, rate = fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 2])

    counts = status_counts_over_time(changes, freq)
    # each period drawn from its start to its end at the count it ended with
    edges = counts.index.append(counts.index[-1:] + pd.tseries.frequencies.to_offset(freq))
    heights = np.vstack([counts.to_numpy(), counts.to_numpy()[-1:]]).T
    by_status.stackplot(edges, heights, labels=counts.columns, step="post",
                        colors=[STATUS_COLORS[s] for s in counts.columns], alpha=0.85)
    by_status.set_ylabel("orders")
    by_status.set_title(f"Orders by status at the end of each {period}")
    by_status.legend(title="status", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)

    _revenue_panel(revenue, changes)

    per_period = changes.pivot_table(index=changes["recorded_at"].dt.floor(freq), columns="type",
                                     values="position", aggfunc="count", observed=True).fillna(0)
    width = pd.tseries.frequencies.to_offset(freq).nanos / 86400e9 * 0.9
    bottom = np.zeros(len(per_period))
    for type_ in in_palette_order(per_period.columns):
        rate.bar(per_period.index, per_period[type_], width=width, bottom=bottom, align="edge",
                 color=color_of(type_), label=type_)
        bottom += per_period[type_].to_numpy()
    rate.set_ylabel(f"events per {period}")
    rate.set_title(f"Order events per {period}")
    rate.legend(title="event type", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=8)
    rate.set_xlabel("recorded at (UTC)")
    _date_axis(rate)
    fig.suptitle(f"The order system over time ({changes['stream_id'].nunique()} orders, "
                 f"{len(changes)} events)")
    return fig


def _revenue_panel(ax: Axes, changes: pd.DataFrame) -> None:
    """Revenue as known at each moment, and (right axis) money already paid but not yet recorded.

    A late bank transfer is in the log with ``occurred_at`` days before its
    ``recorded_at``: by business time it counts from the day the money moved,
    but nobody knew of it until it was recorded.
    """
    amounts = changes["paid"] - changes["paid_before"]
    payments = changes[amounts != 0].assign(amount=amounts)
    moments = np.unique(np.concatenate([payments["recorded_at"], payments["occurred_at"]]))

    def total_by(column: str) -> np.ndarray:
        ordered = payments.sort_values(column)
        running = np.concatenate([[0.0], ordered["amount"].cumsum().to_numpy()])
        return running[np.searchsorted(ordered[column].to_numpy(), moments, side="right")]

    known = total_by("recorded_at")
    ax.step(moments, known, where="post", color=EVENT_COLORS["OrderPaid"], linewidth=1.8,
            label="revenue known then (payments by recorded_at)")
    ax.set_ylabel("revenue (sum paid)")
    ax.set_ylim(bottom=0)  # both axes start at 0 on the same line, or the grey area seems to dip below it
    late = ax.twinx()
    late.fill_between(moments, total_by("occurred_at") - known, step="post", color="0.6", alpha=0.35,
                      linewidth=0, label="paid already, not recorded yet (right axis)")
    late.set_ylabel("not recorded yet")
    late.set_ylim(bottom=0)
    ax.set_zorder(late.get_zorder() + 1)  # the line in front of the area
    ax.patch.set_visible(False)
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *late.get_legend_handles_labels()[0]],
              loc="upper left", fontsize=9, framealpha=0.9, edgecolor="none")
    ax.set_title("Revenue as known at each moment (late payments: what we did not know yet)")


_LAYOUT = {"start": (0.0, 0.0), "Placed": (2.0, 0.0), "Paid": (4.4, 0.0), "Shipped": (6.8, 0.0),
           "Cancelled": (4.4, -1.8), "New": (0.0, -1.8)}


def transitions(source: Source) -> Figure:
    """The order lifecycle drawn from the data: statuses as boxes, arrows counting each move.

    Every event that changes an order's status is one step along an arrow,
    coloured by the event type that makes it. Each box says how many orders
    are in that status at the end of the log. ``source`` is a store or an
    :func:`order_changes` DataFrame.
    """
    changes = order_changes(source) if isinstance(source, EventStore) else source
    before = changes["status_before"].astype(object).where(changes["status_before"].notna(), "start")
    moved = changes.assign(before=before, after=changes["status"].astype(object))
    moved = moved[moved["before"] != moved["after"]]
    edges = moved.groupby(["before", "after", "type"], observed=True).size().rename("n").reset_index()
    now = changes.groupby("stream_id", observed=True)["status"].last().value_counts()

    nodes = list(dict.fromkeys(["start", *edges["before"], *edges["after"]]))
    spare = iter((9.2, -1.8 * row) for row in range(len(nodes)))
    where = {node: _LAYOUT.get(node) or next(spare) for node in nodes}
    fig = _figure(11, 5.2)
    ax = fig.add_subplot()
    patches = {}
    for node, (x, y) in where.items():
        if node == "start":
            patches[node] = ax.add_patch(Circle((x, y), 0.1, color="black"))
            ax.annotate("start", (x, y - 0.2), ha="center", va="top", fontsize=10)
            continue
        color = STATUS_COLORS.get(node, "0.5")
        patches[node] = ax.add_patch(FancyBboxPatch((x - 0.5, y - 0.28), 1.0, 0.56, boxstyle="round,pad=0.04",
                                                    facecolor=color, alpha=0.3, edgecolor=color, linewidth=2))
        ax.annotate(f"{node}\n{now.get(node, 0)} now", (x, y), ha="center", va="center", fontsize=11)
    widest = edges["n"].max()
    for i, edge in edges.iterrows():
        twins = edges[(edges["before"] == edge["before"]) & (edges["after"] == edge["after"])]
        rad = 0.25 * list(twins.index).index(i)
        (x0, y0), (x1, y1) = where[edge["before"]], where[edge["after"]]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), connectionstyle=f"arc3,rad={rad}",
                                     patchA=patches[edge["before"]], patchB=patches[edge["after"]],
                                     arrowstyle="-|>", mutation_scale=18, shrinkA=3, shrinkB=3,
                                     linewidth=1 + 5 * edge["n"] / widest, color=color_of(edge["type"])))
        # the label sits beside the middle of the arrow, on its left-hand side
        nx, ny = np.array([y0 - y1, x1 - x0]) / np.hypot(x1 - x0, y1 - y0)
        mx, my = (x0 + x1) / 2 + (rad / 2 + 0.08) * nx, (y0 + y1) / 2 + (rad / 2 + 0.08) * ny
        ax.annotate(f"{edge['type']}\n×{edge['n']}", (mx, my), fontsize=9, color=color_of(edge["type"]),
                    fontweight="bold", ha="left" if nx > 0.3 else "right" if nx < -0.3 else "center",
                    va="bottom" if ny > 0.3 else "top" if ny < -0.3 else "center")
    xs, ys = zip(*where.values())
    ax.set_xlim(min(xs) - 0.8, max(xs) + 0.8)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(handles=_type_handles(edges["type"]), title="moved by", loc="lower right", frameon=False)
    ax.set_title(f"Status transitions in the log: {int(edges['n'].sum())} moves of "
                 f"{changes['stream_id'].nunique()} orders")
    return fig


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


def _changing_fields(frame: pd.DataFrame) -> list[str]:
    """``status`` (if any) and the state fields whose value changes along the history."""
    about_the_event = ("position", "version", "type", "recorded_at", "occurred_at")
    state = [c for c in frame.columns if c not in about_the_event]
    changing = [c for c in state if frame[c].map(repr).nunique() > 1]
    return (["status"] if "status" in state else []) + [c for c in changing if c != "status"] or state


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
    "EVENT_COLORS", "STATUS_AFTER", "STATUSES", "STATUS_COLORS", "color_of", "in_palette_order",
    "order_changes", "status_counts_over_time", "timeline", "state_evolution", "system_over_time",
    "transitions", "projection_lag", "replay_cost", "es_vs_crud",
]
