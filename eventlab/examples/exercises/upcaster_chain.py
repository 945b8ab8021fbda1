"""Notebook 8's exercise: one more link in an upcaster chain.

``AddressChanged`` has had three shapes. Version 1 kept the address as one
line; version 2 split it into street and city (that upcaster is here, already
registered); version 3 adds the country. The learner writes only the step
from 2 to 3, and old events of version 1 must still read, through both steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventlab.core.events import NewEvent, event_type
from eventlab.core.upcasters import temporary_upcaster, upcaster
from eventlab.errors import UnknownEventTypeError
from eventlab.examples.exercises.verdict import Verdict, not_yet, solved, unwritten
from eventlab.lab.determinism import seeded_ids, ticking_clock
from eventlab.storage.store import EventStore


@event_type("AddressChanged", version=3)
@dataclass(frozen=True)
class AddressChanged:
    """A customer moved. Every address before version 3 was in Belgium (country "BE")."""

    customer_id: str
    street: str
    city: str
    country: str


@upcaster("AddressChanged", from_version=1)
def split_address(data: dict) -> dict:
    """Version 1 -> 2: "street, city" becomes two fields (the city follows the last comma)."""
    street, _, city = data["address"].rpartition(",")
    return {"customer_id": data["customer_id"], "street": street.strip(), "city": city.strip()}


def address_log() -> EventStore:
    """A customer who moved four times, recorded by three releases of the code."""
    store = EventStore(clock=ticking_clock(), ids=seeded_ids(83))
    store.append("customer-7", [
        NewEvent("AddressChanged", {"customer_id": "7", "address": "Rue Neuve 4, Liège"}, schema_version=1),
        NewEvent("AddressChanged", {"customer_id": "7", "street": "Quai de la Batte 2", "city": "Liège"},
                 schema_version=2),
        NewEvent("AddressChanged", {"customer_id": "7", "street": "Grand-Place 1", "city": "Namur"},
                 schema_version=2),
        AddressChanged("7", "Damrak 1", "Amsterdam", "NL"),
    ])
    return store


EXPECTED = [AddressChanged("7", "Rue Neuve 4", "Liège", "BE"),
            AddressChanged("7", "Quai de la Batte 2", "Liège", "BE"),
            AddressChanged("7", "Grand-Place 1", "Namur", "BE"),
            AddressChanged("7", "Damrak 1", "Amsterdam", "NL")]


def check_address_upcaster(fn: Callable[[dict], dict]) -> Verdict:
    """``fn(data)`` turns AddressChanged version 2 data into version 3; checked by reading all four events."""
    try:
        fn({"customer_id": "7", "street": "Quai de la Batte 2", "city": "Liège"})
    except NotImplementedError:
        return unwritten("the upcaster")
    except KeyError as error:
        return not_yet(f"the upcaster looks for the field {error}, which version 2 data does not have. It "
                       f"gets version 2 data (customer_id, street, city): eventlab runs the 1 -> 2 step "
                       f"first, so each upcaster knows one step only")
    except Exception as error:  # a learner's function may fail in any way
        return not_yet(f"the upcaster fails on version 2 data: {type(error).__name__}: {error}")
    store = address_log()
    with temporary_upcaster("AddressChanged", 2, fn):
        try:
            got = [recorded.event for recorded in store.read("customer-7")]
        except UnknownEventTypeError as error:
            return not_yet(f"the upgraded data cannot be read as AddressChanged: {str(error).rstrip('.')}. "
                           f"Version 3 has exactly the fields customer_id, street, city and country")
        except Exception as error:  # a learner's function may fail in any way
            return not_yet(f"the upcaster fails: {type(error).__name__}: {error}")
    for n, (event, want) in enumerate(zip(got, EXPECTED), 1):
        if event != want:
            before_v3 = n < len(EXPECTED)
            hint = " (every address before version 3 was in Belgium, BE)" \
                if before_v3 and event.country != "BE" else ""
            return not_yet(f"event {n} should read as {want}, yours reads as {event}{hint}")
    return solved("all four addresses read in version 3: the old one-line address through both steps")
