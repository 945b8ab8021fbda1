"""The application layer: what an event-sourced application does with a store.

``handling`` (commands: ``handle``), ``statecache`` and ``snapshots`` (not
replaying from the start), ``upcasting`` (``migrate``), ``timetravel``
(``state_at``, ``states_at``, ``history``), ``projections`` (read models,
subscriptions), ``sqlmacros`` (time travel in plain SQL). Built on the core and
on the store's public surface only.
"""
