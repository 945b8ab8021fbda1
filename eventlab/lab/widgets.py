"""Scrub through time: sliders over the log that show the state as it stood, and an event explorer.

- :class:`TimeSlider`: one decider's whole system after any global position (or
  as of any moment), summed up as its :class:`~eventlab.core.decider.Summary`
  says (the shop: orders by status, revenue known then), the streams that
  changed last, and the event just applied with what it changed.
- :class:`StreamSlider`: one stream, version by version, with a stream picker.
- :class:`EventExplorer`: filter events by stream, type and time; read their JSON.

Each widget is an ``ipywidgets.VBox``: display it in JupyterLab and drag. From
Python, set ``widget.slider.value`` (or ``widget.mode.value = "time"``) and read
what it shows in ``widget.current`` and ``widget.state_table``; that is how the
tests drive them. In a static render (nbconvert, GitHub) a widget shows a still
of its current frame instead, with a note that it is interactive in JupyterLab.

Why it stays fast on a million events: replaying the log for every frame would
cost seconds. The slider instead computes, once, the summed-up field of each
event's stream after it (the shop: an order's status and amount paid;
:func:`eventlab.viz.summary_steps`, one DuckDB window that returns numbers, not
a string per event), turns them into running counts indexed by position, and
then each frame is a lookup, a read of the few events before it (the streams
changed last) and the state of the event's stream before it: a short stream
read whole by its index, a long one from a checkpoint plus at most
``checkpoints.EVERY`` events.
"""

from __future__ import annotations

import bisect
import html
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from eventlab.application import checkpoints, replaying
from eventlab.application.checkpoints import StreamCheckpoints
from eventlab.application.timetravel import state_row
from eventlab.core.decider import Decider, replay
from eventlab.core.events import RecordedEvent
from eventlab.errors import UsageError
from eventlab.lab.viz import (
    Steps,
    capitalized,
    color_of,
    in_palette_order,
    level_colors,
    stream_names,
    summary_of,
    summary_steps,
    total_label,
)
from eventlab.storage.store import EventStore

STATIC_NOTE = "A still of this widget: it is interactive in JupyterLab (run the notebook to scrub)."


@dataclass(frozen=True)
class Frame:
    """What a slider shows at one point of the log."""

    step: int                   # the slider's step: global position (TimeSlider) or version (StreamSlider)
    position: int               # global position of the last event included; 0 before the first
    as_of: datetime | None      # in time mode, the moment asked for
    event: RecordedEvent | None  # the event just applied, highlighted
    before: Any                 # its stream's state before that event (None if no decider owns the stream)
    after: Any                  # ... and after it
    diff: pd.DataFrame          # field, before, after: what the event changed


def state_diff(before: Any, after: Any) -> pd.DataFrame:
    """The fields whose value differs between two states: columns ``field, before, after``."""
    old, new = state_row(before), state_row(after)
    rows = [(name, old.get(name), value) for name, value in new.items() if old.get(name) != value]
    return pd.DataFrame(rows, columns=["field", "before", "after"])


def time_scrubbing(widget: _Scrubber, steps: Sequence[int]) -> pd.Series:
    """Move ``widget``'s slider to each of ``steps`` in turn; the milliseconds each move took to show.

    What the benchmark measures: ``time_scrubbing(slider, steps).quantile(0.95)``.
    """
    timings = []
    for step in steps:
        start = time.perf_counter()
        widget.slider.value = int(step)
        timings.append((time.perf_counter() - start) * 1000)
    return pd.Series(timings, name="ms")


class _Scrubber(widgets.VBox):
    """A slider with a Play button over steps 0..n, switchable between steps and moments.

    In ``"position"`` mode the slider's value is the step itself; in ``"time"``
    mode it walks an even grid of moments (:attr:`moments`) and each shows the
    step reached by then: every event recorded at or before that moment.
    Subclasses say what a step looks like (``_frame``, ``_body``).
    """

    frames_per_play = 400  # a Play run over the whole range shows about this many frames
    grid_size = 500        # moments in time mode

    def __init__(self, times: np.ndarray, extra: Sequence[widgets.Widget] = ()):
        self.mode = widgets.ToggleButtons(options=["position", "time"], value="position",
                                          tooltips=["step event by event", "step through the calendar"],
                                          style={"button_width": "80px"})
        self.slider = widgets.IntSlider(min=0, continuous_update=True, layout={"width": "420px"})
        self.play = widgets.Play(interval=150)
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.clock = widgets.HTML()
        self.body = widgets.HTML()
        self.current: Frame | None = None
        self._resetting = False
        controls = widgets.HBox([*extra, self.mode, self.play, self.slider], layout={"flex_flow": "row wrap"})
        super().__init__([controls, self.clock, self.body])
        self._set_times(times)
        self.slider.observe(lambda change: self._resetting or self._show(), names="value")
        self.mode.observe(self._switch, names="value")
        self._show()

    @property
    def moments(self) -> list[datetime]:
        """The moments the slider walks in time mode."""
        return [_utc(ns) for ns in self._grid]

    def to_html(self) -> str:
        """The current frame as static HTML, with a note that the widget is interactive in JupyterLab."""
        return (f"<div>{self.clock.value}{self.body.value}"
                f"<p style='color:#777'><em>{STATIC_NOTE}</em></p></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        # JupyterLab draws the live widget; static renderers fall back to text/html, a still
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.to_html()
        bundle["text/plain"] = f"{type(self).__name__}: {html.unescape(_strip_tags(self.clock.value))}"
        return bundle

    def _set_times(self, times: np.ndarray) -> None:
        """Take the recorded times (ns since the epoch) of steps 1..n; the slider goes back to the start."""
        self._times = times
        if len(times):  # whole seconds, from the first event's second to just after the last event
            second = 1_000_000_000
            first, last = times[0] // second, -(-times[-1] // second)
            grid = np.linspace(first, last, min(self.grid_size, len(times)) + 1)
            self._grid = np.round(grid).astype(np.int64) * second
        else:
            self._grid = np.zeros(1, dtype=np.int64)
        self._range(self.mode.value, 0)

    def _range(self, mode: str, value: int) -> None:
        """Give the slider the range of ``mode`` and put it at ``value``; the caller shows the frame."""
        last = len(self._times) if mode == "position" else len(self._grid) - 1
        self._resetting = True
        try:
            with self.slider.hold_trait_notifications():
                self.slider.max = last
                self.slider.value = min(value, last)
        finally:
            self._resetting = False
        self.play.max = last
        self.play.step = max(1, last // self.frames_per_play)
        self.slider.readout = mode == "position"

    def _switch(self, change: dict) -> None:
        """Keep showing about the same point when switching between position and time."""
        step = self.current.step if self.current else 0
        if change["new"] == "time":
            moment = self._times[step - 1] if step else self._grid[0]
            value = int(np.searchsorted(self._grid, moment, side="left"))
        else:
            value = step
        self._range(change["new"], value)
        self._show()

    def _show(self) -> None:
        if self.mode.value == "time":
            as_of = int(self._grid[self.slider.value])
            step = int(np.searchsorted(self._times, as_of, side="right"))
            moment = _utc(as_of)
        else:
            step, moment = self.slider.value, None
        self.current = self._frame(step, moment)
        when = f" · as of <b>{_fmt(moment)}</b>" if moment else ""
        recorded = f" · recorded {_fmt(self.current.event.recorded_at)}" if self.current.event else ""
        self.clock.value = f"<div>{self._where(step)}{when}{recorded}</div>"
        self.body.value = self._body(self.current)

    def _frame(self, step: int, moment: datetime | None) -> Frame:
        raise NotImplementedError

    def _where(self, step: int) -> str:
        raise NotImplementedError

    def _body(self, frame: Frame) -> str:
        raise NotImplementedError


class TimeSlider(_Scrubber):
    """One decider's whole system after any global position: slide through the log, or play it.

    ``decider``'s streams are counted by ``by`` (default: its summary's ``by``;
    a decider without a summary needs it) and, when its summary has a total,
    that is added up. Shows, at each point: the streams by ``by`` (table and
    bars), the total known then, the ``recent`` streams that changed last (the
    one just changed on top), and the event just applied with the change it
    made to its stream. ``others`` are more deciders, only to show that change
    for events of their categories. For the shop: orders by status, revenue,
    and ``others=[orders.stock_decider]`` for the stock events.

    >>> slider = TimeSlider(store, orders.decider, others=[orders.stock_decider])  # doctest: +SKIP
    >>> slider.slider.value = 1234              # doctest: +SKIP
    >>> slider.state_table                      # doctest: +SKIP
    """

    def __init__(self, store: EventStore, decider: Decider, *, by: str | None = None,
                 others: Sequence[Decider] = (), recent: int = 8):
        if not isinstance(decider, Decider):
            raise UsageError(f"TimeSlider(store, decider, ...) needs the Decider whose streams it sums up "
                             f"(e.g. orders.decider), got {decider!r}")
        self.store = store
        self.decider = decider
        self.summary = summary_of(decider, by)
        # prefix -> decider: whose replay shows what an event changed
        self.deciders = {f"{d.category}-" if d.category else "": d for d in (decider, *others)}
        self.recent_rows = recent
        self._many = stream_names(decider)[1]
        by, total = self.summary.by, self.summary.total
        self._prefix = f"{decider.category}-" if decider.category else ""
        # every array below is indexed by global position (index 0: before the first event); numbers only
        times = store.arrow("SELECT epoch_ns(recorded_at) AS t FROM events ORDER BY position").column("t")
        head = len(times)
        steps = summary_steps(store, decider, by=by)
        self._levels = steps.levels
        self._colors = level_colors(decider, self._levels, by=by)
        # per position: the value of `by` of the event's stream right after it (its code in self._levels;
        # -1: none) and its total
        self._value_of = _at_positions(head, steps.position, steps.after, -1)
        self._stream_total = _at_positions(head, steps.position, steps.total, 0.0) if total else None
        # running counts: how many streams have each value, and the total, after each position
        self._counts = _running_counts(head, len(self._levels), steps)
        if total:
            added = steps.total - steps.total_before
            self._totals = np.cumsum(_at_positions(head, steps.position, added, 0.0))
        # the streams longer than the checkpoints' spacing, with their events' positions in version order:
        # a move into one starts from a checkpoint (short streams are read whole by their index)
        self._positions = _long_streams(store)
        self._long: dict[tuple[str, str], StreamCheckpoints] = {}
        self.state_table = pd.DataFrame()
        self.recent = pd.DataFrame()
        self.total: float | None = None  # the summary's total known at the current frame (None: it has none)
        super().__init__(times.to_numpy())

    def _frame(self, step: int, moment: datetime | None) -> Frame:
        counts = pd.Series(self._counts[step], index=self._levels, name=self._many)
        self.state_table = counts[counts > 0].rename_axis(self.summary.by).to_frame()
        self.total = float(self._totals[step]) if self._stream_total is not None else None
        self.recent = self._recent(step)
        if step == 0:
            return Frame(0, 0, moment, None, None, None, state_diff(None, None))
        event = self.store.event_at(step)
        decider = next((d for p, d in self.deciders.items() if event.stream_id.startswith(p)), None)
        if decider is None:
            return Frame(step, step, moment, event, None, None, state_diff(None, None))
        before = self._state_before(event, decider)
        after = replay([event], decider, before)
        return Frame(step, step, moment, event, before, after, state_diff(before, after))

    def _state_before(self, event: RecordedEvent, decider: Decider) -> Any:
        """The state of ``event``'s stream before it: a long stream's from its checkpoints (a move into
        it replays at most ``checkpoints.EVERY`` events), a short stream's by reading it by its index."""
        if event.version == 1:  # the stream's first event: nothing before it to read
            return decider.initial_state
        positions = self._positions.get(event.stream_id)
        if positions is None:
            return replaying.stream_state(self.store, event.stream_id, decider, where="version < ?",
                                          params=[event.version])
        key = (event.stream_id, decider.name or "")
        if key not in self._long:
            self._long[key] = StreamCheckpoints(self.store, event.stream_id, decider, positions=positions)
        return self._long[key].state_at(event.version - 1)

    recent_span = 64     # a move reads the events this far back, to find the streams changed last ...
    recent_window = 5000  # ... and further back, up to this far, until it has found ``recent`` of them

    def _recent(self, position: int) -> pd.DataFrame:
        """The streams changed last up to ``position``, newest first, with their ``by`` value and total: from
        the last ``recent_span`` events, read by position, and further back if need be."""
        span, shown = self.recent_span, {}
        while True:
            shown = {}
            for row in sorted(self.store.rows(  # sorted here: cheaper than ORDER BY for a few rows
                    "SELECT position, stream_id, version, type FROM events WHERE position BETWEEN ? AND ?",
                    [max(1, position - span), position]), reverse=True):
                if row[1].startswith(self._prefix):  # each stream's newest event, newest first
                    shown.setdefault(row[1], row)
                    if len(shown) == self.recent_rows:
                        break
            if len(shown) == self.recent_rows or position - span <= 1 or span >= self.recent_window:
                break
            span = min(self.recent_window, span * 8)
        rows = list(shown.values())
        where = np.array([row[0] for row in rows], dtype=np.int64)
        codes = self._value_of[where]
        values = np.array([*self._levels, None], dtype=object)[np.where(codes >= 0, codes, len(self._levels))]
        table = pd.DataFrame({
            "stream_id": list(shown), "version": np.array([row[2] for row in rows], dtype=np.int64),
            "last event": [row[3] for row in rows], "position": where, self.summary.by: values})
        if self._stream_total is not None:
            table[self.summary.total] = self._stream_total[where]
        return table

    def _where(self, step: int) -> str:
        return f"<b>position {step:,}</b> of {len(self._times):,}"

    def _body(self, frame: Frame) -> str:
        many, by = self._many, self.summary.by
        count = int(self.state_table[many].sum()) if len(self.state_table) else 0
        rows = [(f"<td>{_chip(str(value), self._colors[value])}</td><td align='right'>{n:,}</td>"
                 f"<td>{_bar(n / max(count, 1), self._colors[value])}</td>")
                for value, n in self.state_table[many].items()]
        known = (f"<p>{html.escape(total_label(self.summary))} known then: <b>{self.total:,.2f}</b></p>"
                 if self.total is not None else "")
        system = (f"<h4 style='margin:4px 0'>{html.escape(capitalized(many))} by {html.escape(by)} "
                  f"({count:,} {html.escape(many)})</h4>"
                  f"<table>{''.join(f'<tr>{r}</tr>' for r in rows)}</table>{known}")
        changed = frame.event.stream_id if frame.event else None
        recent = _html_table(self.recent, marked=self.recent["stream_id"] == changed,
                             chips={"last event": color_of, by: self._colors.get})
        return (f"<div style='display:flex;gap:28px;flex-wrap:wrap'><div>{system}</div>"
                f"<div style='max-width:560px'>{_event_card(frame)}</div></div>"
                f"<h4 style='margin:8px 0 4px'>{html.escape(capitalized(many))} changed last</h4>{recent}")


class StreamSlider(_Scrubber):
    """One stream, event by event: its state after each version, and what each event changed.

    ``picker`` lists up to ``max_options`` streams of ``decider``'s category
    (and ``stream_id``, if given); choose another to load it. A stream of any
    length moves in bounded time: loading it reads its versions' positions, types
    and times and takes checkpoints of its state (:mod:`eventlab.checkpoints`);
    each move then reads the event shown and at most ``checkpoints.EVERY`` more.
    """

    def __init__(self, store: EventStore, stream_id: str | None = None, *, decider: Decider,
                 max_options: int = 500):
        self.store = store
        self.decider = decider
        options = [stream for (stream,) in store.rows(  # the first ids only: all of them cost ~0.5 s at 1 M
            "SELECT DISTINCT stream_id FROM events WHERE starts_with(stream_id, ?) ORDER BY 1 LIMIT ?",
            [f"{decider.category}-" if decider.category else "", max_options])]
        if stream_id is not None and stream_id not in options:
            options.insert(0, stream_id)
        self.picker = widgets.Dropdown(options=options, value=stream_id or (options[0] if options else None),
                                       description="stream", layout={"width": "260px"})
        self.state_table = pd.DataFrame()
        super().__init__(self._load(self.picker.value), extra=[self.picker])
        self.picker.observe(self._pick, names="value")

    def _load(self, stream_id: str | None) -> np.ndarray:
        """Index the stream: each version's position and type, checkpoints; returns its recorded times."""
        log = self.store.arrow("SELECT version, position, type, epoch_ns(recorded_at) AS t FROM events "
                               "WHERE stream_id = ?", [stream_id or ""])  # sorted below, if need be
        versions = log.column("version").to_numpy()
        if (np.diff(versions) < 0).any():  # in the log's order, which is the versions' order as a rule
            log = log.take(np.argsort(versions, kind="stable"))
        self._types = log.column("type")  # kept as Arrow: the lane turns 60 of them into Python strings
        self._checkpoints = StreamCheckpoints(self.store, stream_id or "", self.decider,
                                              positions=log.column("position").to_numpy())
        return log.column("t").to_numpy()

    def _pick(self, change: dict) -> None:
        self._set_times(self._load(change["new"]))
        self._show()

    def _frame(self, step: int, moment: datetime | None) -> Frame:
        if step == 0:
            event, before, after = None, None, self.decider.initial_state
        else:
            event = self.store.event_at(int(self._checkpoints.positions[step - 1]))
            before = self._checkpoints.state_at(step - 1)
            after = replay([event], self.decider, before)
        self.state_table = pd.DataFrame(state_row(after).items(), columns=["field", "value"])
        return Frame(step, event.position if event else 0, moment, event, before, after,
                     state_diff(after if before is None else before, after))

    def _where(self, step: int) -> str:
        return (f"<b>{html.escape(str(self.picker.value))}</b> · version <b>{step}</b> of "
                f"{self._checkpoints.length}")

    def _body(self, frame: Frame) -> str:
        first = max(1, frame.step - 29)
        lane = "".join(
            _chip(f"v{version}", color_of(type_), title=type_, faded=version > frame.step,
                  ring=version == frame.step)
            for version, type_ in enumerate(self._types[first - 1: frame.step + 30].to_pylist(), start=first))
        state = _html_table(self.state_table, marked=self.state_table["field"].isin(frame.diff["field"]))
        return (f"<div style='margin:4px 0'>{lane}</div>"
                f"<div style='display:flex;gap:28px;flex-wrap:wrap'>"
                f"<div><h4 style='margin:4px 0'>State after version {frame.step}</h4>{state}</div>"
                f"<div style='max-width:560px'>{_event_card(frame)}</div></div>")


class EventExplorer(widgets.VBox):
    """Find events by stream (id or prefix), type and day range; read any one's JSON.

    ``events`` holds the rows shown (at most ``limit``), ``total`` how many
    match, ``selected`` the event whose JSON is shown (``json``).

    Why a search stays fast on a million events: the explorer keeps every
    stream's id and event count (one query when it is built, again when the log
    has grown), so it knows how many events a stream box matches without
    counting them, and reads a few short streams by their index instead of
    scanning the log.
    """

    short = 200
    """A stream box matching at most this many events (of up to 20 streams) reads them by their index.
    DuckDB fetches each event found by the index from its compressed blocks (~30 µs an event: 33 ms for
    a 1,100-event stream), while a scan of the log that stops at the first ``limit`` rows costs ~5 ms
    at 100,000 and at 1 M events (the demo stores, measured 2026-12-03); an order's few events cost
    ~1.2 ms by index."""

    def __init__(self, store: EventStore, *, limit: int = 50):
        self.store = store
        self.limit = limit
        days = store.arrow(  # the store's sessions are in UTC: a day is a whole number of 86,400 s
            "SELECT DISTINCT floor(epoch(recorded_at) / 86400)::BIGINT AS day FROM events ORDER BY day"
        ).column("day").to_pylist()
        starts = [pd.Timestamp(day * 86_400, unit="s", tz="UTC") for day in days]
        day_options = [(f"{t:%Y-%m-%d}", t) for t in starts] or [("no events", pd.Timestamp(0, tz="UTC"))]
        self._index_streams()
        self._days_head = self._head
        self.stream = widgets.Text(placeholder=_stream_hint(store), description="stream",
                                   continuous_update=False)
        self.types = widgets.SelectMultiple(options=in_palette_order(store.counts_df()["type"].tolist()),
                                            rows=6, description="types")
        self.days = widgets.SelectionRangeSlider(options=day_options, index=(0, len(day_options) - 1),
                                                 description="days", layout={"width": "520px"})
        self.pick = widgets.Dropdown(description="JSON of", layout={"width": "420px"})
        self.table = widgets.HTML()
        self.detail = widgets.HTML()
        self.events = pd.DataFrame()
        self.total = 0
        self.selected: RecordedEvent | None = None
        self.json = ""
        for control in (self.stream, self.types, self.days):
            control.observe(lambda change: self._search(), names="value")
        self.pick.observe(lambda change: self._select(), names="value")
        super().__init__([widgets.HBox([widgets.VBox([self.stream, self.days]), self.types]),
                          self.table, self.pick, self.detail])
        self._search()

    def to_html(self) -> str:
        """The current results as static HTML, with a note that the widget is interactive in JupyterLab."""
        return (f"<div>{self.table.value}{self.detail.value}"
                f"<p style='color:#777'><em>{STATIC_NOTE}</em></p></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.to_html()
        verb = "matches" if self.total == 1 else "match"
        bundle["text/plain"] = f"EventExplorer: {_events(self.total)} {verb}"
        return bundle

    def _index_streams(self) -> None:
        """Every stream's id, sorted, and the running count of their events, as of the log's head now."""
        self._head = self.store.head_position
        table = self.store.arrow(
            "SELECT stream_id, count(*) AS n FROM events GROUP BY stream_id ORDER BY stream_id")
        self._stream_ids: list[str] = table.column("stream_id").to_pylist()
        self._counted = np.concatenate([[0], np.cumsum(table.column("n").to_numpy())])

    def _streams_matching(self, prefix: str) -> tuple[list[str], int]:
        """The streams whose id starts with ``prefix``, and how many events they hold in all."""
        if self.store.head_position != self._head:  # the log grew since the index was made
            self._index_streams()
        ids = self._stream_ids
        low = bisect.bisect_left(ids, prefix)
        high = bisect.bisect_left(ids, prefix + "\U0010ffff", low)
        while high < len(ids) and ids[high].startswith(prefix):  # ids holding that last code point itself
            high += 1
        return ids[low:high] if high - low <= 20 else [], int(self._counted[high] - self._counted[low])

    def _search(self) -> None:
        first, last = self.days.value
        types = list(self.types.value)
        prefix = self.stream.value.strip()
        few, count = self._streams_matching(prefix)
        all_days = ((first, last) == (self.days.options[0][1], self.days.options[-1][1])
                    and self._head == self._days_head)  # the days offered still span the whole log
        everything = all_days and not types
        conditions, filters = ["true"], []  # only the filters set: an unused one still costs a scan's time
        if types:
            conditions.append("type IN (SELECT unnest(?::VARCHAR[]))")
            filters.append(types)
        if not all_days:
            conditions.append("recorded_at >= ? AND recorded_at < ? + INTERVAL 1 DAY")
            filters += [first, last]
        where = " AND ".join(conditions)
        columns = "position, stream_id, version, type, recorded_at, data"
        if few and count <= self.short:  # a few short streams: by their index, then filtered
            rows = self.store.rows(f"""
                WITH found AS MATERIALIZED (
                    SELECT {columns} FROM events WHERE stream_id IN ({', '.join('?' * len(few))}))
                SELECT *, count(*) OVER () AS total FROM found WHERE {where} ORDER BY position LIMIT ?""",
                [*few, *filters, self.limit])
            self.total = rows[0][-1] if rows else 0
        else:  # the first rows by a scan of the log; the count from the index when nothing else filters
            rows = self.store.rows(f"SELECT {columns} FROM events WHERE starts_with(stream_id, ?) "
                                   f"AND {where} ORDER BY position LIMIT ?", [prefix, *filters, self.limit])
            self.total = count if everything else self.store.rows(
                f"SELECT count(*) FROM events WHERE starts_with(stream_id, ?) AND {where}", [prefix, *filters]
            )[0][0]
        frame = pd.DataFrame([row[:6] for row in rows], columns=EXPLORED)
        frame["recorded_at"] = pd.to_datetime(frame["recorded_at"], utc=True)
        self.events = frame
        shown = f"the first {len(frame)} of " if self.total > len(frame) else ""
        self.table.value = (f"<p><b>{shown}{_events(self.total)}</b></p>"
                            + _html_table(frame[list(EXPLORED[:-1])], chips={"type": color_of}))
        options = [(f"{position} · {type_} · {stream_id}", position)
                   for position, stream_id, _, type_, *_ in rows]
        self.pick.options = options  # the observer shows the JSON of the first one
        self.pick.value = options[0][1] if options else None

    def _select(self) -> None:
        self.selected = self.store.event_at(self.pick.value) if self.pick.value else None
        if self.selected is None:
            self.json, self.detail.value = "", ""
            return
        e = self.selected
        self.json = json.dumps({"position": e.position, "stream_id": e.stream_id, "version": e.version,
                                "type": e.type, "recorded_at": e.recorded_at.isoformat(),
                                "occurred_at": e.occurred_at.isoformat() if e.occurred_at else None,
                                "schema_version": e.schema_version, "event_id": str(e.event_id),
                                "data": e.data, "metadata": e.metadata}, indent=2, ensure_ascii=False)
        self.detail.value = f"<pre style='font-size:12px'>{html.escape(self.json)}</pre>"


EXPLORED = ("position", "stream_id", "version", "type", "recorded_at", "data")
"""The columns of :attr:`EventExplorer.events`."""


def _stream_hint(store: EventStore) -> str:
    """The stream box's placeholder, from the log's first stream: "order-000001, or a prefix: order-"."""
    found = store.sql("SELECT stream_id FROM events WHERE position = 1").fetchall()
    example = found[0][0] if found else "a stream id"
    prefix, dash, _ = example.partition("-")
    return f"{example}, or a prefix: {prefix}-" if dash else f"{example}, or the start of one"


def _events(count: int) -> str:
    """'1 event', '0 events', '2,000 events'."""
    return f"{count:,} event" if count == 1 else f"{count:,} events"


# --- HTML pieces: cheap to rebuild for every frame (no matplotlib in the loop) -----------------


def _event_card(frame: Frame) -> str:
    event = frame.event
    if event is None:
        return "<p><em>Before the first event: nothing has happened yet.</em></p>"
    data = html.escape(json.dumps(event.data, ensure_ascii=False))
    if frame.after is None:
        change = "<p><em>No decider here owns this stream, so its state is not shown.</em></p>"
    elif frame.diff.empty:
        change = "<p><em>It changed nothing in the state.</em></p>"
    else:
        change = _html_table(frame.diff)
    return (f"<h4 style='margin:4px 0'>Event just applied</h4>"
            f"<div style='border-left:6px solid {color_of(event.type)};padding:4px 8px;background:#f7f7f7'>"
            f"{_chip(event.type, color_of(event.type))} <b>{html.escape(event.stream_id)}</b> "
            f"v{event.version} · position {event.position:,}<br><code>{data}</code></div>"
            f"<h4 style='margin:8px 0 4px'>What it changed in {html.escape(event.stream_id)}</h4>{change}")


def _html_table(frame: pd.DataFrame, *, marked: Sequence[bool] | None = None,
                chips: dict[str, Callable[[Any], str | None]] | None = None) -> str:
    """A small HTML table: ``marked`` rows are highlighted, ``chips[column](value)`` gives a cell a colour."""
    chips = chips or {}
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(str(c))}</th>" for c in frame)
    colour = [chips.get(column, lambda value: None) for column in frame.columns]
    body = []
    marks = [False] * len(frame) if marked is None else list(marked)
    for mark, *row in zip(marks, *(frame[column].tolist() for column in frame.columns)):
        cells = "".join(_td(value, paint(value)) for paint, value in zip(colour, row))
        body.append(f"<tr style='background:#fff3b0'>{cells}</tr>" if mark else f"<tr>{cells}</tr>")
    return f"<table style='border-collapse:collapse;font-size:12px'><tr>{head}</tr>{''.join(body)}</table>"


def _td(value: object, colour: str | None) -> str:
    """A table cell: a coloured chip when there is a colour, else the value as text."""
    shown = _chip(str(value), colour) if colour else html.escape(_short(value))
    return f"<td style='padding:2px 8px'>{shown}</td>"


def _chip(text: str, color: str, *, title: str = "", faded: bool = False, ring: bool = False) -> str:
    style = (f"background:{color};color:white;border-radius:8px;padding:1px 7px;margin:1px;"
             f"font-size:11px;display:inline-block;opacity:{0.35 if faded else 1};"
             + ("outline:3px solid #222;" if ring else ""))
    return f"<span title='{html.escape(title)}' style='{style}'>{html.escape(text)}</span>"


def _bar(fraction: float, color: str) -> str:
    return (f"<div style='width:{max(1, round(220 * fraction))}px;height:12px;"
            f"background:{color};border-radius:2px'></div>")


def _short(value: object, width: int = 60) -> str:
    text = f"{value:,.2f}" if isinstance(value, float) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _strip_tags(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def _at_positions(head: int, positions: Any, values: Any, fill: Any) -> np.ndarray:
    """An array indexed by global position (0..head), ``values`` at ``positions`` and ``fill`` elsewhere."""
    values = np.asarray(values)
    out = np.full(head + 1, fill, dtype=values.dtype if values.size else type(fill))
    out[np.asarray(positions)] = values
    return out


def _running_counts(head: int, levels: int, steps: Steps) -> np.ndarray:
    """How many streams have each level after each position 0..head: each event moves its stream from the
    level before it (-1) to the one after it (+1), and the counts are the running sum of those moves."""
    if not levels:
        return np.zeros((head + 1, 0), dtype=np.int32)
    changed = steps.after != steps.before  # (most events leave their stream's level as it was)
    position, after, before = steps.position[changed], steps.after[changed], steps.before[changed]

    def moves(codes: np.ndarray) -> np.ndarray:
        kept = codes >= 0
        return np.bincount(position[kept] * levels + codes[kept], minlength=(head + 1) * levels)
    return np.cumsum((moves(after) - moves(before)).reshape(head + 1, levels), axis=0, dtype=np.int32)


def _long_streams(store: EventStore) -> dict[str, np.ndarray]:
    """The streams with more than ``checkpoints.EVERY`` events, each with its events' global positions in
    version order (the streams that reached version EVERY + 1, then their positions: one query)."""
    table = store.arrow("""
        SELECT stream_id, list(position) AS positions FROM events
        WHERE stream_id IN (SELECT stream_id FROM events WHERE version = ?) GROUP BY stream_id""",
        [checkpoints.EVERY + 1])
    lists = table.column("positions").combine_chunks()
    flat, offsets = lists.flatten().to_numpy(), lists.offsets.to_numpy()
    return {stream_id: np.sort(flat[offsets[k]:offsets[k + 1]])  # a stream's versions follow its positions
            for k, stream_id in enumerate(table.column("stream_id").to_pylist())}


def _utc(ns: int | np.integer) -> datetime:
    return pd.Timestamp(int(ns), tz="UTC").to_pydatetime()


def _fmt(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


__all__ = ["TimeSlider", "StreamSlider", "EventExplorer", "Frame", "state_diff", "time_scrubbing",
           "STATIC_NOTE"]
