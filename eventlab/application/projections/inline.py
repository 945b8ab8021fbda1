"""Inline projections: the read model is updated in the same transaction as the append.

The opposite end from a background runner: the read model is never behind,
because the write and the read-model update commit together or not at all.
The price: every write also does the projection's work, and a failing
projection makes the write fail. (``eventlab.states_at`` is the third way:
no read model at all, every answer computed from the events when asked.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from eventlab.application.projections.core import (
    CHECKPOINTS_DDL,
    Method,
    Projection,
    ProjectionError,
    apply_events,
    as_projection_list,
    as_sentence,
    check_writable,
    checkpoint_of,
    chosen_method,
    head_position,
    projection_lock,
    rollback,
    save_checkpoint,
)
from eventlab.errors import StoreError
from eventlab.storage.store import EventStore


@contextlib.contextmanager
def inline(store: EventStore, projections: Projection | Iterable[Projection], *,
           method: Method = "auto") -> Iterator[EventStore]:
    """Appends made inside the block and the projections' update commit as one transaction.

    >>> with inline(store, [order_summary]):                       # doctest: +SKIP
    ...     eventlab.handle(store, orders.decider, "order-1", command)

    The read model is never behind, at the price of every write doing the
    projection's work too; and if the projection fails, the write fails with
    it (nothing is written). Other threads wait for the block. Use ``append``
    or ``handle`` inside, not ``unit_of_work`` (which commits on its own).
    """
    projections = as_projection_list(projections)
    paths = [chosen_method(projection, method) for projection in projections]
    check_writable(store)
    with store.connection() as con, contextlib.ExitStack() as locks:
        if store.in_unit_of_work:
            raise StoreError("inline() cannot run inside a unit_of_work, which commits on its own; "
                             "open the inline block outside it and append there")
        for projection in projections:
            locks.enter_context(projection_lock(store, projection.name))
        con.execute(CHECKPOINTS_DDL)
        for projection in projections:
            con.execute(projection.setup)
        con.execute("BEGIN TRANSACTION")
        try:
            yield store
            head = head_position(con)
            for projection, path in zip(projections, paths):
                first = checkpoint_of(con, projection.name) + 1
                try:
                    apply_events(con, projection, first, head, path)
                except Exception as exc:
                    raise ProjectionError(
                        f"inline projection {projection.name!r} failed on the events at positions "
                        f"{first}..{head}: {type(exc).__name__}: {as_sentence(exc)} Nothing was written: the "
                        f"appends of the block were rolled back with it", projection.name, first,
                        None) from exc
                save_checkpoint(con, projection.name, head)
            con.execute("COMMIT")
        except BaseException:
            rollback(con)
            store.refresh()  # its cached head and versions included the rolled-back appends
            raise
