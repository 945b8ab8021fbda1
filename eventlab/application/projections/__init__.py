"""CQRS read sides: projections build read models from the log; subscriptions feed other systems.

>>> from eventlab.projections import catch_up, lag            # doctest: +SKIP
>>> from eventlab.examples import read_models                # doctest: +SKIP
>>> catch_up(store, read_models.ALL)                                  # doctest: +SKIP
>>> store.sql("SELECT * FROM order_summary WHERE status = 'Paid'").df()   # doctest: +SKIP

Three ways to answer "what is the state now?", which the course contrasts:

- **inline** (:func:`inline`): the read model is updated in the same transaction
  as the append, never behind, but every write pays for it;
- **async** (:func:`catch_up`, :class:`Runner`): updated afterwards, in batches,
  maybe by a background thread; cheap writes, a read model that may lag;
- **live** (``eventlab.states_at``): computed from the events on demand, always
  right, paid for at every read.

Modules: ``core`` (projections, checkpoints, catch-up, rebuild, lag),
``inline``, ``runner`` (the background thread), ``read_models`` (the order
read models), ``subscriptions`` (follow the log, export it).
"""

from eventlab.application.projections.core import Projection, ProjectionError, catch_up, lag, rebuild
from eventlab.application.projections.inline import inline
from eventlab.application.projections.runner import Runner
from eventlab.application.projections.subscriptions import (
    ExportReport,
    Subscription,
    export_events,
    subscribe,
)

__all__ = [
    "Projection", "ProjectionError", "catch_up", "rebuild", "lag", "inline", "Runner",
    "subscribe", "Subscription", "export_events", "ExportReport",
]
