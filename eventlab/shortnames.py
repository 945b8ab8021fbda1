"""The short public names of eventlab's modules: ``eventlab.widgets`` is ``eventlab.lab.widgets``.

The code lives in layers (``core``, ``storage``, ``application``, ``lab``,
``examples``: see ARCHITECTURE.md), and users reach the modules they need by
short, stable names. ``import eventlab.widgets``, ``from eventlab.widgets import
TimeSlider``, ``from eventlab import widgets`` and plain ``eventlab.widgets``
after ``import eventlab`` all give the one module object of its layer. Nothing
is imported before it is first used, so ``import eventlab`` stays light and
loads no example domain.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

SHORT_NAMES = {
    "events": "eventlab.core.events",
    "testing": "eventlab.core.testing",
    "store": "eventlab.storage.store",
    "dataset": "eventlab.storage.dataset",
    "snapshots": "eventlab.application.snapshots",
    "checkpoints": "eventlab.application.checkpoints",
    "upcasting": "eventlab.application.upcasting",
    "timetravel": "eventlab.application.timetravel",
    "projections": "eventlab.application.projections",
    "sqlmacros": "eventlab.application.sqlmacros",
    "sources": "eventlab.application.sources",
    "spark": "eventlab.application.spark",
    "processes": "eventlab.application.processes",
    "outbox": "eventlab.application.outbox",
    "inbox": "eventlab.application.inbox",
    "shredding": "eventlab.application.shredding",
    "keystore": "eventlab.storage.keystore",
    "viz": "eventlab.lab.viz",
    "widgets": "eventlab.lab.widgets",
    "determinism": "eventlab.lab.determinism",
    "sample": "eventlab.examples.sample",
    "crud": "eventlab.examples.crud",
    "queries": "eventlab.examples.queries",
    "exercises": "eventlab.examples.exercises",
}
"""``eventlab.<short name>`` -> the module of its layer that it stands for."""


class ShortNameFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import eventlab.<short name>`` give the module of its layer, imported once."""

    def __init__(self) -> None:
        self.specs: dict[str, importlib.machinery.ModuleSpec | None] = {}

    def find_spec(self, fullname: str, path: object = None, target: object = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if fullname.removeprefix("eventlab.") not in SHORT_NAMES or not fullname.startswith("eventlab."):
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(SHORT_NAMES[spec.name.removeprefix("eventlab.")])
        self.specs[spec.name] = module.__spec__  # the import system writes the short one over it
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self.specs.pop(module.__spec__.name)  # the module keeps its real name


def install() -> None:
    """Add the finder to the import system (once)."""
    if not any(isinstance(finder, ShortNameFinder) for finder in sys.meta_path):
        sys.meta_path.append(ShortNameFinder())


def module(name: str) -> ModuleType:
    """``eventlab.<name>`` for a short name, imported on first use (``eventlab.__getattr__``)."""
    if name not in SHORT_NAMES:
        raise AttributeError(f"module 'eventlab' has no attribute {name!r}")
    return importlib.import_module(f"eventlab.{name}")
