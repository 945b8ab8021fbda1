"""Notebook 2's exercise: open a new order stream, refusing to write over an order that exists."""

from __future__ import annotations

from collections.abc import Callable

from eventlab.errors import CommandRejected, ConcurrencyError
from eventlab.examples import orders
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten
from eventlab.lab.determinism import seeded_ids, ticking_clock
from eventlab.storage.store import EventStore


class RacingStore(EventStore):
    """A store where another clerk places the same order number just before your first append."""

    def __init__(self, rival: orders.OrderPlaced | None) -> None:
        super().__init__(clock=ticking_clock(), ids=seeded_ids(2))
        self.rival = rival

    def append(self, stream_id: str, events, expected_version="any", *, metadata=None):
        if self.rival is not None:
            rival, self.rival = self.rival, None
            super().append(orders.stream_id(rival.order_id), [rival], expected_version=0)
        return super().append(stream_id, events, expected_version, metadata=metadata)


def check_open_order(open_order: Callable[[EventStore, str, int, list[str]], object]) -> Verdict:
    """``open_order(store, order_id, user_id, items)`` appends OrderPlaced to a stream that is new."""
    stream = orders.stream_id("900")
    want = orders.OrderPlaced(order_id="900", user_id=1, items=["a"])
    for rival in (None, orders.OrderPlaced(order_id="900", user_id=2, items=["b"])):
        store = RacingStore(rival)
        when = "when the stream is new" if rival is None else "when another clerk opens order 900 first"
        try:
            open_order(store, "900", 1, ["a"])
            outcome = "written"
        except NotImplementedError:
            return unwritten("open_order")
        except (ConcurrencyError, CommandRejected):  # handle() re-reads and its decider refuses
            outcome = "refused"
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"{when}, open_order fails: {type(error).__name__}: {error}")
        written = [e.event for e in store.read(stream)]
        if rival is None:
            if written != [want]:
                return not_yet(f"{when}, stream {stream!r} should hold [{want}]; it holds {written} "
                               f"(orders.stream_id('900') names the stream)")
            continue
        if len(written) > 1:
            return not_yet(f"{when}, order 900 now has two OrderPlaced events, the clerk's and yours: "
                           f"append with expected_version=0, which means 'this stream must not exist yet' "
                           f"(a check of stream_version before the append can be overtaken; the store's "
                           f"check happens inside the append)")
        if outcome != "refused":
            return not_yet(f"{when}, open_order returned quietly though nothing of yours was written: let "
                           f"the store's ConcurrencyError reach the caller, who must know")
    again = RacingStore(None)
    open_order(again, "900", 1, ["a"])
    try:
        open_order(again, "900", 1, ["a"])
    except (ConcurrencyError, CommandRejected):
        return solved("a new order is written once; a second opening of order 900 is refused, "
                      "even when it races another clerk")
    except Exception as error:  # a learner's function may fail in any way
        return not_yet(f"opening order 900 twice fails with {type(error).__name__}: {error}; the store "
                       f"raises ConcurrencyError by itself when you pass expected_version=0")
    return not_yet("opening order 900 a second time was not refused: pass expected_version=0")
