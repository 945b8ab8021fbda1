"""Process managers (sagas): a business process that spans several aggregates, driven by their events.

An order is paid by a payment service and shipped by a warehouse: three
aggregates, each with its own stream and its own rules, and no transaction
around all of them. A *process manager* is the piece that listens to their
domain events ("payment captured", "shipment failed") and decides what to ask
next ("book the shipment", "refund the payment"). It remembers where each
process stands in a stream of its own (``checkout-<order id>``), so its state
is replayed, audited and time-travelled like any aggregate's: the process is
just another decider whose commands are the other streams' events.

Three things it must get right, which :func:`run` and :func:`fire_timeouts` handle:

- **correlation**: which process an event belongs to (``correlate``);
- **compensation**: when a later step fails, undo the earlier ones with new
  commands (refund, cancel), since the log cannot be rolled back;
- **timeouts**: a step that never answers is itself an event (:class:`Timeout`),
  fired by a clock, not a failure nobody sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventlab.application.handling import current_state, handle
from eventlab.core.decider import Decider
from eventlab.core.events import RecordedEvent
from eventlab.core.moments import aware
from eventlab.errors import UsageError
from eventlab.storage.store import EventStore


@dataclass(frozen=True)
class Send:
    """A command a process asks another aggregate to handle: its decider, its stream, the command."""

    decider: Decider
    stream_id: str
    command: object


@dataclass(frozen=True)
class Timeout:
    """What a process receives when its deadline has passed: the moment the clock was read."""

    at: datetime


@dataclass(frozen=True)
class ProcessManager:
    """The rules of one kind of process, as four plain functions around a decider.

    - ``decider``: the process's own state and rules. Its ``decide(trigger, state)``
      receives the ``RecordedEvent`` of another stream (or a :class:`Timeout`) and
      returns the process's own events; its ``category`` names the process streams.
    - ``correlate(recorded)``: the id of the process an event belongs to, or None
      for events the process does not follow.
    - ``sends(event, state)``: the commands one of the process's own events asks
      for (``state`` is the process state after it), as :class:`Send`\\ s.
    - ``deadline(state)``: when the process gives up waiting, or None.
    """

    decider: Decider
    correlate: Callable[[RecordedEvent], str | None]
    sends: Callable[[Any, Any], list[Send]]
    deadline: Callable[[Any], datetime | None]

    def stream_id(self, process_id: str) -> str:
        """The stream of one process: ``<category>-<process id>``."""
        return f"{self.decider.category}-{process_id}"


def run(store: EventStore, manager: ProcessManager, *, from_position: int | None = None
        ) -> list[RecordedEvent]:
    """Feed the log's new events to their processes; returns the process events written.

    Each trigger is one unit of work: the process's events and the events of the
    commands they send commit together, or, if a command is rejected, not at all
    (the error says which, and the next run tries that trigger again). The process
    remembers how far it got in its own events' metadata (``trigger_position``),
    so ``run`` resumes after the last event that moved a process; ``from_position``
    starts elsewhere. Delivering an event twice is harmless as long as ``decide``
    ignores a trigger that does not fit the process's state, which a state machine does.
    """
    start = next_position(store, manager) if from_position is None else from_position
    head = store.head_position
    written: list[RecordedEvent] = []
    for trigger in store.read_all(from_position=start, to_position=head):
        process_id = manager.correlate(trigger)
        if process_id is not None:
            written += _step(store, manager, manager.stream_id(process_id), trigger, trigger.position)
    return written


def fire_timeouts(store: EventStore, manager: ProcessManager, now: datetime) -> list[RecordedEvent]:
    """Give a :class:`Timeout` to every process whose deadline is ``now`` or earlier.

    Call it from a scheduler (every minute, say). Which processes time out depends
    only on their state and ``now``, so firing twice at the same moment does
    nothing more: the first timeout moved the process past waiting.
    """
    now = aware(now, "now")
    written: list[RecordedEvent] = []
    for stream_id in store.streams(f"{manager.decider.category}-"):
        _, state = current_state(store, manager.decider, stream_id)
        due = manager.deadline(state)
        if due is not None and due <= now:
            written += _step(store, manager, stream_id, Timeout(now), None)
    return written


def next_position(store: EventStore, manager: ProcessManager) -> int:
    """The first position :func:`run` has not fed to the processes yet (1 for a new log)."""
    category = manager.decider.category
    if not category:
        raise UsageError(f"process decider {manager.decider.name!r} has no category; give it one, e.g. "
                         f"category='checkout', so its processes have streams of their own")
    rows = store.rows("SELECT max(CAST(metadata ->> 'trigger_position' AS BIGINT)) FROM events "
                      "WHERE starts_with(stream_id, ?)", [f"{category}-"])
    return (rows[0][0] or 0) + 1


def _step(store: EventStore, manager: ProcessManager, stream_id: str, trigger: object,
          trigger_position: int | None) -> list[RecordedEvent]:
    """One trigger: the process decides, and what it decided is sent, all in one unit of work."""
    metadata: dict = {"trigger": trigger.type if isinstance(trigger, RecordedEvent) else "Timeout"}
    if trigger_position is not None:
        metadata["trigger_position"] = trigger_position
    with store.unit_of_work():
        written = handle(store, manager.decider, stream_id, trigger, metadata=metadata)
        if written:
            _, state = current_state(store, manager.decider, stream_id)
            for recorded in written:
                for send in manager.sends(recorded.event, state):
                    handle(store, send.decider, send.stream_id, send.command,
                           metadata={"correlation_id": stream_id, "causation_id": str(recorded.event_id)})
    return written
