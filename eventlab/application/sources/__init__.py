"""Event logs that other software wrote, read into the DataFrame ``EventStore.import_events`` takes.

Each reader knows one format and gives back eventlab's columns (``stream_id``,
``type``, ``data``, ``recorded_at`` and, where the format has them, ``event_id``,
``occurred_at``, ``metadata``), keeping everything else the source said in the
event's data or metadata::

    store.import_events(eventlab.sources.cloudevents("bus.jsonl"), sort=True)
    store.import_events(eventlab.sources.xes("process.xes"), sort=True)
    store.import_events(eventlab.sources.eventsourcing("app.sqlite"))   # or "postgresql://..."

``eventlab load FILE --format cloudevents|xes|eventsourcing`` does the same from the command line.
"""

from eventlab.application.sources.cloudevents import cloudevents
from eventlab.application.sources.eventsourcing import eventsourcing
from eventlab.application.sources.xes import xes

__all__ = ["cloudevents", "eventsourcing", "xes"]
