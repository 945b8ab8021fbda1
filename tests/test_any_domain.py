"""Any domain: a log whose event types have no classes is explored with raw deciders and latest_values."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventlab
from eventlab.lab.determinism import HandClock

START = datetime(2024, 5, 6, 9, 0, tzinfo=timezone.utc)

# --- a support-ticket log with no event classes: five types, two categories ---------------------------

TICKET_STEPS = [("Ticket opened", {"title": "printer jams", "priority": "low"}),
                ("Take in charge ticket", {"agent": "ann"}),
                ("Priority raised", {"priority": "high"}),
                ("Resolve ticket", {"resolution": "new drum"}),
                ("Closed", {})]


def ticket_log() -> eventlab.EventStore:
    """Three tickets at different stages and two agents, an hour per event."""
    clock = HandClock(START)
    store = eventlab.EventStore(clock=clock)
    streams = [("ticket-1", 5), ("ticket-2", 2), ("agent-ann", 1), ("ticket-3", 4), ("agent-bob", 1)]
    for stream, steps in streams:
        for type_, data in (TICKET_STEPS[:steps] if stream.startswith("ticket") else [("Agent hired", {})]):
            store.append(stream, [eventlab.NewEvent(type_, {**data, "ticket": stream})])
            clock.now += timedelta(hours=1)
    return store


STAGE_AFTER = {"Ticket opened": "open", "Take in charge ticket": "in progress", "Resolve ticket": "resolved",
               "Closed": "closed"}


def evolve_ticket(state: dict, event: eventlab.RecordedEvent) -> dict:
    """A raw evolve: it reads the stored type and data, no class needed."""
    return {**state, "stage": STAGE_AFTER.get(event.type, state["stage"]),
            "priority": event.data.get("priority", state["priority"]), "changes": state["changes"] + 1}


tickets = eventlab.Decider({"stage": "new", "priority": None, "changes": 0}, evolve_ticket, None,
                           name="tickets", category="ticket", raw=True)


def test_a_raw_decider_explores_a_log_with_no_event_classes():
    store = ticket_log()
    now = eventlab.states_at(store, tickets)
    assert now[["stream_id", "stage", "priority"]].values.tolist() == [
        ["ticket-1", "closed", "high"], ["ticket-2", "in progress", "low"], ["ticket-3", "resolved", "high"]]
    # as of a moment: after 7 events (ticket-1 done, ticket-2 opened and taken), before ticket-3 began
    then = eventlab.states_at(store, tickets, as_of=START + timedelta(hours=6, minutes=30))
    assert then["stage"].tolist() == ["closed", "in progress"]
    at_three = eventlab.states_at(store, tickets, position=3)
    assert at_three.to_dict("records") == [
        {"stream_id": "ticket-1", "stage": "in progress", "priority": "high", "changes": 3}]
    assert eventlab.state_at(store, "ticket-3", tickets, version=2) == {
        "stage": "in progress", "priority": "low", "changes": 2}
    trail = eventlab.history(store, "ticket-1", tickets)
    assert trail["type"].tolist() == [type_ for type_, _ in TICKET_STEPS]
    assert trail["stage"].tolist() == ["open", "in progress", "in progress", "resolved", "closed"]
    with pytest.raises(eventlab.UsageError, match="no decide function"):
        eventlab.handle(store, tickets, "ticket-1", {"close": True})
    with pytest.raises(eventlab.UsageError, match="is raw"):
        eventlab.replay([{"type": "Closed"}], tickets)


def test_latest_values_needs_no_code_at_all():
    store = ticket_log()
    table = eventlab.states_at(store, eventlab.latest_values("ticket"))
    assert table.columns.tolist() == ["stream_id", "events", "first_at", "last_at", "last_type",
                                      "agent", "priority", "resolution", "ticket", "title"]
    first = table.iloc[0]
    assert (first["events"], first["last_type"], first["priority"], first["resolution"]) == (
        5, "Closed", "high", "new drum")
    assert first["first_at"] == START and first["last_at"] == START + timedelta(hours=4)
    agents = eventlab.states_at(store, eventlab.latest_values("agent"))
    assert agents["stream_id"].tolist() == ["agent-ann", "agent-bob"]


# --- the law: latest_values' SQL and its Python evolve give the same table --------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False, width=32),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)
field_names = st.sampled_from(["status", "amount", "note", "events", "tags", "who"]) | st.sampled_from(
    ["", "$", "a.b", "/x", "~1", "it's", 'say "hi"', "back\\slash", "ünï"])  # names a JSON path must quote
logs = st.lists(st.tuples(st.sampled_from(["task-1", "task-2", "task-3", "other-1"]),
                          st.sampled_from(["Created", "Updated", "Done"]),
                          st.dictionaries(field_names, json_values, max_size=4)),
                min_size=1, max_size=25)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs, st.randoms(use_true_random=False))
def test_latest_values_sql_equals_its_python_evolve(log, rng: random.Random):
    clock = HandClock(START)
    store = eventlab.EventStore(clock=clock)
    for stream, type_, data in log:
        store.append(stream, [eventlab.NewEvent(type_, data)])
        clock.now += timedelta(minutes=rng.choice([0, 1, 7]))
    decider = eventlab.latest_values("task")
    # the same SQL in other words: states_at then runs STATE_SQL as written, not its fast form
    as_written = dataclasses.replace(decider, state_sql=f"SELECT * FROM ({decider.state_sql})")
    position = rng.randint(0, len(log))
    moment = START + timedelta(minutes=rng.randint(0, 7 * len(log)))
    for point in ({}, {"position": position}, {"as_of": moment}):
        by_sql = eventlab.states_at(store, decider, method="sql", **point)
        by_python = eventlab.states_at(store, decider, method="python", **point)
        pd.testing.assert_frame_equal(by_sql, by_python)
        pd.testing.assert_frame_equal(eventlab.states_at(store, as_written, method="sql", **point), by_python)


def test_the_latest_values_macros_answer_what_states_at_answers():
    from eventlab.sqlmacros import install_macros

    store = ticket_log()
    install_macros(store)
    moment = START + timedelta(hours=9)
    in_sql = store.sql("SELECT * FROM latest_values_as_of('ticket', ?)", params=[moment]).df()
    in_python = eventlab.states_at(store, eventlab.latest_values("ticket"), as_of=moment)
    assert in_sql["stream_id"].tolist() == in_python["stream_id"].tolist() == ["ticket-1", "ticket-2",
                                                                               "ticket-3"]
    assert in_sql["last_type"].tolist() == in_python["last_type"].tolist()
    fields = [json.loads(text) for text in in_sql["fields"]]
    assert [f.get("priority") for f in fields] == in_python["priority"].tolist()
    at_position = store.sql("SELECT stream_id, events FROM latest_values_at('agent', 8)").fetchall()
    assert at_position == [("agent-ann", 1)]


def test_snapshots_of_a_raw_decider_change_no_answer():
    from eventlab import snapshots

    store = ticket_log()
    for decider in (tickets, eventlab.latest_values("ticket")):
        before = [eventlab.state_at(store, "ticket-1", decider, version=v) for v in range(6)]
        snapshots.take(store, "ticket-1", decider, version=3)
        assert snapshots.latest(store, "ticket-1", decider).state == before[3]
        assert [eventlab.state_at(store, "ticket-1", decider, version=v) for v in range(6)] == before


def test_the_slider_and_the_pictures_take_a_raw_decider_with_a_summary():
    from eventlab import viz, widgets

    store = ticket_log()
    stages = ("new", "open", "in progress", "resolved", "closed")
    pictured = dataclasses.replace(tickets, summary=eventlab.Summary(by="stage", levels=stages))
    slider = widgets.TimeSlider(store, pictured)
    for position in range(store.head_position + 1):
        slider.slider.value = position
        expected = eventlab.states_at(store, pictured, position=position)["stage"].value_counts()
        shown = slider.state_table.iloc[:, 0]
        assert shown[shown > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    assert len(viz.changes(store, pictured)) == 11  # the ticket events, not the agents'
    assert viz.transitions(store, pictured).axes and viz.system_over_time(store, pictured).axes
    assert widgets.StreamSlider(store, "ticket-1", decider=pictured).state_table["field"].tolist() == [
        "stage", "priority", "changes"]
