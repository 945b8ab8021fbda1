"""Figures: what a person looks for (lanes, labels, legends, counts), from data that agrees with replay."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import matplotlib
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.patches import FancyArrowPatch, Rectangle

from eventlab import Decider, EventStore, UsageError, event_type, handle, history, sample, states_at, viz
from eventlab.core.decider import Summary
from eventlab.determinism import COURSE_START, seeded_ids, ticking_clock
from eventlab.examples import orders

matplotlib.use("Agg")


def run(store: EventStore, stream: str, *commands: object) -> None:
    for command in commands:
        handle(store, orders.decider, stream, command)


@pytest.fixture
def shop():
    """Three orders, a minute per event: 123 shipped, 124 cancelled after a change of items, 125 placed."""
    store = EventStore(clock=ticking_clock(), ids=seeded_ids(1))
    run(store, "order-123", orders.PlaceOrder("123", 1, ["a", "b"]))
    run(store, "order-124", orders.PlaceOrder("124", 2, ["b"]))
    run(store, "order-123", orders.AddItem("123", "c"), orders.PayOrder("123", 100))
    run(store, "order-124", orders.RemoveItem("124", "b"), orders.AddItem("124", "d"),
        orders.CancelOrder("124", "changed mind"))
    run(store, "order-125", orders.PlaceOrder("125", 3, ["e"]))
    run(store, "order-123", orders.ShipOrder("123"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def demo():
    store = sample.demo_store(n_orders=150)
    yield store
    store.close()


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_each_event_type_keeps_one_colour_and_each_status_takes_the_colour_of_its_event():
    colors = viz.event_colors()
    assert viz.color_of("OrderPaid") == colors["OrderPaid"] == viz.level_colors(orders.decider)["Paid"]
    assert len(set(colors.values())) == len(colors)
    unknown = viz.color_of("LoyaltyPointsGranted")
    assert unknown == viz.color_of("LoyaltyPointsGranted") and unknown not in colors.values()
    assert viz.in_palette_order(["Zeta", "OrderPaid", "OrderPlaced", "Alpha"]) == [
        "OrderPlaced", "OrderPaid", "Alpha", "Zeta"]


def test_order_changes_agree_with_replay_at_every_position(demo):
    changes = viz.changes(demo, orders.decider)
    for position in (0, 300, demo.head_position // 2, demo.head_position):
        seen = changes[changes["position"] <= position].groupby("stream_id", observed=True).last()
        replayed = states_at(demo, orders.decider, position=position).set_index("stream_id")
        assert seen["status"].astype(str).sort_index().tolist() == replayed["status"].sort_index().tolist()
        assert seen["paid"].sort_index().tolist() == pytest.approx(replayed["paid"].sort_index().tolist())
    one = changes[changes["stream_id"] == "order-000001"]
    replayed = history(demo, "order-000001", orders.decider)
    assert one["status"].astype(str).tolist() == replayed["status"].tolist()
    assert one["status_before"].isna().tolist() == [True] + [False] * (len(one) - 1)


def test_changes_replayed_in_python_are_those_duckdb_computes_from_the_summary():
    """Without set_by/total_from the frame comes from replaying every stream with the decider: the same."""
    with sample.demo_store(n_orders=300) as store:
        summary = replace(orders.decider.summary, set_by={}, total_from={})
        python = viz.changes(store, replace(orders.decider, summary=summary))
        pd.testing.assert_frame_equal(python, viz.changes(store, orders.decider))
    assert list(python.columns) == ["position", "stream_id", "version", "type", "recorded_at", "occurred_at",
                                    "status_before", "status", "paid_before", "paid"]
    assert list(python["status"].cat.categories) == ["New", "Placed", "Paid", "Shipped", "Cancelled"]


@pytest.mark.parametrize("summed", ["sql", "python"])
def test_summary_steps_are_the_changes_as_numbers(summed):
    """The slider's index (codes and totals by DuckDB, or taken from changes()) says what changes() says."""
    with sample.demo_store(n_orders=300) as store:
        decider = orders.decider if summed == "sql" else replace(
            orders.decider, summary=replace(orders.decider.summary, set_by={}, total_from={}))
        frame = viz.changes(store, decider)
        steps = viz.summary_steps(store, decider)
    order = steps.position.argsort()
    assert steps.levels == list(frame["status"].cat.categories)
    assert steps.position[order].tolist() == frame["position"].tolist()
    assert steps.after[order].tolist() == frame["status"].cat.codes.tolist()
    assert steps.before[order].tolist() == frame["status_before"].cat.codes.tolist()
    assert -1 in steps.before and steps.before.max() >= 0
    assert steps.total[order].tolist() == pytest.approx(frame["paid"].tolist())
    assert steps.total_before[order].tolist() == pytest.approx(frame["paid_before"].tolist())


def test_status_counts_at_the_end_of_each_day_are_the_states_known_then(demo):
    counts = viz.counts_over_time(viz.changes(demo, orders.decider), orders.decider, "D")
    for day in counts.index[[0, len(counts) // 2, -1]]:
        end = day + timedelta(days=1) - timedelta(microseconds=1)
        replayed = states_at(demo, orders.decider, as_of=end.to_pydatetime())["status"].value_counts()
        assert counts.loc[day][counts.loc[day] > 0].to_dict() == replayed.to_dict()


def test_timeline_has_one_lane_per_stream_and_a_legend_entry_per_event_type(shop):
    fig = viz.timeline(shop)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["order-123", "order-124", "order-125"]
    assert legend_labels(ax) == ["OrderPlaced", "ItemAdded", "ItemRemoved", "OrderPaid", "OrderShipped",
                                 "OrderCancelled"]
    dots = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert dots == shop.count()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recorded at (UTC)", "stream")
    assert ax.get_title() == "Timeline of 3 streams: 9 events"


def test_a_one_stream_timeline_names_each_event_and_a_hundred_streams_fit(shop, demo):
    ax = viz.timeline(shop, ["order-124"]).axes[0]
    assert [t.get_text().split("\n")[0] for t in ax.texts] == [
        "OrderPlaced", "ItemRemoved", "ItemAdded", "OrderCancelled"]
    assert legend_labels(ax) == ["OrderPlaced", "ItemAdded", "ItemRemoved", "OrderCancelled"]
    hundred = viz.timeline(demo, limit=100, prefix="order-").axes[0]
    assert len(hundred.get_yticklabels()) == 100 and not hundred.texts
    from_frame = viz.timeline(shop.read_all_df(), limit=2).axes[0]
    assert [t.get_text() for t in from_frame.get_yticklabels()] == ["order-123", "order-124"]


def test_state_evolution_draws_status_items_and_paid_event_by_event(shop):
    fig = viz.state_evolution(shop, "order-123", decider=orders.decider)
    status, items, paid = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == ["status", "items (count)", "paid"]
    assert [t.get_text() for t in status.get_yticklabels()] == ["Placed", "Paid", "Shipped"]
    assert items.collections[0].get_offsets()[:, 1].tolist() == [2, 3, 3, 3]
    assert paid.collections[0].get_offsets()[:, 1].tolist() == [0, 0, 100, 100]
    assert [t.get_text() for t in paid.get_xticklabels()] == [
        "1\nOrderPlaced", "2\nItemAdded", "3\nOrderPaid", "4\nOrderShipped"]
    assert legend_labels(status) == ["OrderPlaced", "ItemAdded", "OrderPaid", "OrderShipped"]
    assert fig.get_suptitle() == "How order-123 evolved: its state after each event"
    same = viz.state_evolution(history(shop, "order-123", orders.decider), decider=orders.decider)
    assert len(same.axes) == 3
    with pytest.raises(ValueError, match="stream_id"):
        viz.state_evolution(shop)
    with pytest.raises(UsageError, match="decider="):
        viz.state_evolution(shop, "order-123")


def test_system_over_time_stacks_statuses_counts_revenue_and_events(shop):
    fig = viz.system_over_time(shop, orders.decider, freq="min")
    by_status, revenue, late, rate = fig.axes
    assert legend_labels(by_status) == ["Placed", "Paid", "Shipped", "Cancelled"]
    assert sum(isinstance(c, PolyCollection) for c in by_status.collections) == 4
    assert revenue.lines[0].get_ydata()[-1] == 100
    bars = [p for p in rate.patches if isinstance(p, Rectangle) and p.get_height() > 0]
    assert sum(p.get_height() for p in bars) == shop.count()
    assert legend_labels(rate) == ["OrderPlaced", "ItemAdded", "ItemRemoved", "OrderPaid", "OrderShipped",
                                   "OrderCancelled"]
    assert (by_status.get_ylabel(), rate.get_ylabel(), rate.get_xlabel()) == (
        "orders", "events per min", "recorded at (UTC)")
    assert fig.get_suptitle() == "The order system over time (3 orders, 9 events)"


def test_transitions_count_each_move_and_the_orders_in_each_status_now(demo):
    fig = viz.transitions(demo, orders.decider)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    now = states_at(demo, orders.decider)["status"].value_counts()
    for status, n in now.items():
        assert f"{status}\n{n} now" in texts
    changes = viz.changes(demo, orders.decider)
    paid = (changes["type"] == "OrderPaid").sum()
    assert f"OrderPaid\n×{paid}" in texts
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == sum(t.startswith("Order") and "×" in t for t in texts)
    assert legend_labels(ax)[0] == "OrderPlaced"
    assert ax.get_title().endswith(f"moves of {changes['stream_id'].nunique()} orders")
    # the shop's lifecycle left to right, the cancelled orders below the middle: as it was always drawn
    boxes = {t.get_text().split("\n")[0]: tuple(t.get_position()) for t in ax.texts if "now" in t.get_text()}
    assert boxes == {"Placed": (2.0, 0.0), "Paid": (4.4, 0.0), "Shipped": (6.8, 0.0),
                     "Cancelled": (4.4, -1.8)}


# --- another domain: the pictures know only what its decider says ------------------------------


@event_type("TicketOpened")
@dataclass(frozen=True)
class TicketOpened:
    ticket_id: str


@event_type("TicketWorked")
@dataclass(frozen=True)
class TicketWorked:
    ticket_id: str
    minutes: int


@event_type("TicketSolved")
@dataclass(frozen=True)
class TicketSolved:
    ticket_id: str


@event_type("TicketDropped")
@dataclass(frozen=True)
class TicketDropped:
    ticket_id: str


@dataclass(frozen=True)
class Ticket:
    ticket_id: str | None = None
    stage: str = "draft"
    minutes: int = 0


def evolve_ticket(state: Ticket, event: object) -> Ticket:
    match event:
        case TicketOpened(ticket_id=ticket_id):
            return Ticket(ticket_id, "open")
        case TicketWorked(minutes=minutes):
            return replace(state, stage="working", minutes=state.minutes + minutes)
        case TicketSolved():
            return replace(state, stage="solved")
        case TicketDropped():
            return replace(state, stage="dropped")
    return state


tickets = Decider(Ticket(), evolve_ticket, lambda command, state: [], name="tickets", category="ticket",
                  summary=Summary(by="stage", levels=("open", "working", "solved", "dropped"),
                                  total="minutes", total_label="Time spent"))
"""A help desk: no set_by, no total_from, so every picture replays its streams in Python."""


@pytest.fixture
def desk():
    """Four tickets, a minute per event: 1 solved, 2 dropped, 3 just opened, 4 worked on twice."""
    store = EventStore(clock=ticking_clock(), ids=seeded_ids(3))
    for n, events in enumerate([[TicketWorked("1", 30), TicketSolved("1")],
                                [TicketWorked("2", 10), TicketDropped("2")], [],
                                [TicketWorked("4", 5), TicketWorked("4", 20)]], start=1):
        store.append(f"ticket-{n}", [TicketOpened(str(n)), *events])
    yield store
    store.close()


def test_another_domain_gets_its_changes_and_its_system_over_time(desk):
    changes = viz.changes(desk, tickets)
    assert list(changes.columns[-4:]) == ["stage_before", "stage", "minutes_before", "minutes"]
    assert list(changes["stage"].cat.categories) == ["open", "working", "solved", "dropped", "draft"]
    assert changes.groupby("stream_id", observed=True)["minutes"].last().tolist() == [30, 10, 0, 25]
    fig = viz.system_over_time(desk, tickets, freq="min")
    by_stage, spent, late, rate = fig.axes
    assert legend_labels(by_stage) == ["open", "working", "solved", "dropped"]
    assert by_stage.get_title() == "Tickets by stage at the end of each min"
    assert spent.lines[0].get_ydata()[-1] == 65 and spent.get_ylabel() == "time spent (sum minutes)"
    bars = [p for p in rate.patches if isinstance(p, Rectangle) and p.get_height() > 0]
    assert sum(p.get_height() for p in bars) == desk.count()
    assert rate.get_title() == "Ticket events per min"
    assert fig.get_suptitle() == "The ticket system over time (4 tickets, 10 events)"
    colors = viz.level_colors(tickets)
    assert colors["draft"] == viz.INITIAL_COLOR and len(set(colors.values())) > 1
    without_total = replace(tickets, summary=Summary(by="stage"))
    assert len(viz.system_over_time(desk, without_total, freq="min").axes) == 2


def test_another_domain_gets_its_lifecycle(desk):
    ax = viz.transitions(desk, tickets).axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert {"open\n1 now", "working\n1 now", "solved\n1 now", "dropped\n1 now"} <= set(texts)
    assert {"TicketOpened\n×4", "TicketWorked\n×3", "TicketSolved\n×1", "TicketDropped\n×1"} <= set(texts)
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 4
    assert ax.get_title() == "Stage transitions in the log: 9 moves of 4 tickets"
    boxes = {t.get_text().split("\n")[0]: tuple(t.get_position()) for t in ax.texts if "now" in t.get_text()}
    assert boxes == {"open": (2.0, 0.0), "working": (4.4, 0.0), "solved": (6.8, 0.0), "dropped": (4.4, -1.8)}
    moved = viz.transitions(desk, tickets, layout={"dropped": (9.2, 0.0)}).axes[0]
    assert ("dropped\n1 now", (9.2, 0.0)) in [(t.get_text(), tuple(t.get_position())) for t in moved.texts]


def test_a_decider_without_a_summary_is_counted_by_the_field_named(desk):
    plain = replace(tickets, summary=None)
    with pytest.raises(UsageError, match="by='<state field>'"):
        viz.transitions(desk, plain)
    with pytest.raises(UsageError, match="not a field"):
        viz.changes(desk, plain, by="colour")
    ax = viz.transitions(desk, plain, by="stage").axes[0]
    assert "solved\n1 now" in [t.get_text() for t in ax.texts]


def test_projection_lag_draws_a_line_per_projection_and_hours_when_long():
    t0 = pd.Timestamp(COURSE_START)
    frame = pd.DataFrame({"time": [t0, t0 + pd.Timedelta(hours=1)] * 2,
                          "projection": ["summary", "summary", "revenue", "revenue"],
                          "events_behind": [0, 0, 10, 40], "seconds_behind": [0, 0, 600, 36000]})
    fig = viz.projection_lag(frame)
    events, seconds = fig.axes
    assert legend_labels(events) == ["summary", "revenue"]
    assert len(events.lines) == 2 and max(events.lines[1].get_ydata()) == 40
    assert seconds.get_ylabel() == "hours behind" and max(seconds.lines[1].get_ydata()) == 10
    assert seconds.get_xlabel() == "time (UTC)"
    assert len(viz.projection_lag(frame.drop(columns="seconds_behind")).axes) == 1


def test_replay_cost_compares_with_and_without_snapshots_on_log_axes():
    frame = pd.DataFrame({"events": [10, 100, 1000] * 2, "seconds": [0.001, 0.01, 0.1, 0.002, 0.002, 0.003],
                          "snapshots": [False] * 3 + [True] * 3})
    ax = viz.replay_cost(frame).axes[0]
    assert legend_labels(ax) == ["without snapshots", "with snapshots"]
    assert ax.get_xscale() == "log" and ax.lines[0].get_ydata()[-1] == pytest.approx(100)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("events in the stream", "time to current state (ms)")


def test_es_vs_crud_shows_the_log_above_each_table(shop):
    tables = {"orders": pd.DataFrame({"order_id": ["123"], "status": ["Shipped"]}),
              "order_items": pd.DataFrame({"order_id": ["123"] * 3, "item": ["a", "b", "c"]})}
    fig = viz.es_vs_crud(shop.read_all_df(), tables, max_rows=5)
    log, orders_ax, items_ax = fig.axes
    assert log.get_title(loc="left") == "Event sourcing: events (9 rows, append-only)"
    assert orders_ax.get_title(loc="left") == "CRUD: orders (1 rows, current state only)"
    cells = {(r, c): cell.get_text().get_text() for (r, c), cell in log.tables[0].get_celld().items()}
    assert [cells[(0, c)] for c in range(7)] == [
        "position", "stream_id", "version", "type", "recorded_at", "data", "metadata"]
    assert cells[(1, 3)] == "OrderPlaced" and cells[(6, 0)] == "… 4 more"
    assert (cells[(1, 4)], cells[(5, 4)], cells[(1, 6)]) == ("Mon 09:00", "Mon 09:04", "{}")  # a minute apart
    assert {cell.get_text().get_text() for cell in items_ax.tables[0].get_celld().values()} >= {"a", "b", "c"}
    # readable where a notebook shows it: 10 pt text, no wider than a notebook, the log above the tables
    sizes = {cell.get_text().get_fontsize() for ax in fig.axes for cell in ax.tables[0].get_celld().values()}
    assert sizes == {10}
    assert fig.get_size_inches()[0] <= 10
    assert log.get_position().y0 > max(orders_ax.get_position().y1, items_ax.get_position().y1)


def test_es_vs_crud_wraps_long_values_and_shows_the_metadata(shop):
    shop.append("order-126", [orders.OrderPlaced("126", 4, ["a"])],
                metadata={"actor": "support", "reason": "mug out of stock, customer agreed"})
    frame = shop.read_all_df().tail(1).assign(recorded_at=COURSE_START + timedelta(days=7))
    log = viz.es_vs_crud(pd.concat([shop.read_all_df().head(1), frame]), {}).axes[0]
    cells = {(r, c): cell.get_text().get_text() for (r, c), cell in log.tables[0].get_celld().items()}
    assert cells[(2, 6)] == '{"actor":"support",\n"reason":"mug out of stock,\ncustomer agreed"}'
    assert (cells[(1, 4)], cells[(2, 4)]) == ("03 Jun 09:00", "10 Jun 09:00")  # two Mondays: dates


def test_the_gallery_writes_every_figure_and_an_index(tmp_path):
    from eventlab.examples import gallery

    paths = gallery.render(tmp_path, n_orders=60, longest=300)
    assert len(paths) == 10 and all(p.stat().st_size > 10_000 for p in paths)
    index = (tmp_path / "index.html").read_text()
    assert all(p.name in index for p in paths) and "interactive in JupyterLab" in index
