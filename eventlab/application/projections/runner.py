"""The background runner: projections kept up to date while commands keep arriving.

This is eventual consistency made visible. A command returns as soon as its
events are stored; the read models follow a moment later, when the runner's
thread next polls the log. ``lag()`` says how far behind each one is, in events
and in seconds. One projection failing, or being rebuilt, does not hold up the
others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

import pandas as pd

from eventlab.application.projections import core
from eventlab.application.projections.core import Method, Projection, ProjectionError
from eventlab.errors import StoreError, UsageError
from eventlab.storage.store import EventStore


class Runner:
    """Catches ``projections`` up in a background thread, every ``interval`` seconds.

    >>> with Runner(store, read_models.ALL) as runner:       # doctest: +SKIP
    ...     ...                                             # handle commands meanwhile
    ...     runner.lag()

    ``errors`` maps the name of each failed projection to its ``ProjectionError``;
    the runner leaves it at its checkpoint until ``resume`` gets a fixed version.
    """

    def __init__(self, store: EventStore, projections: Iterable[Projection], *, interval: float = 0.05,
                 batch_size: int = 10_000, method: Method = "auto"):
        self.store = store
        self.projections = {p.name: p for p in core.as_projection_list(projections)}
        self.interval = interval
        self.batch_size = batch_size
        self.method = method
        self.errors: dict[str, ProjectionError] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._crash: BaseException | None = None

    def start(self) -> Runner:
        """Start the thread (it stops with ``stop()``, or at the end of a ``with`` block)."""
        core.check_writable(self.store)
        if self.running:
            raise StoreError("this Runner is running already; stop() it before starting it again")
        self._stop.clear()
        self._crash = None
        self._thread = threading.Thread(target=self._loop, name="eventlab-projections", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after its current batch, and wait for it (at most ``timeout`` s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise StoreError(f"the projection runner did not stop within {timeout} s; a batch is "
                                 f"still being applied: call stop() again, or use a smaller batch_size")
        if self._crash is not None:
            raise StoreError(f"the projection runner stopped on its own: {self._crash!r}") from self._crash

    @property
    def running(self) -> bool:
        """True while the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def lag(self) -> pd.DataFrame:
        """Each projection's lag in events and seconds, and its error if it failed (see ``core.lag``)."""
        return core.lag(self.store, self.projections.values())

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until every projection that has not failed reaches the head as it is now.

        Returns False if that takes longer than ``timeout`` seconds (or the thread died).
        """
        target = self.store.head_position
        deadline = time.monotonic() + timeout
        while True:
            frame = self.lag()
            if ((frame["position"] >= target) | frame["error"].notna()).all():
                return True
            if not self.running or time.monotonic() > deadline:
                return False
            time.sleep(self.interval / 2)

    def rebuild(self, name: str, **options) -> pd.DataFrame:
        """Rebuild one projection from scratch (see ``core.rebuild``); the thread keeps the others going."""
        projection = self._known(name)
        report = core.rebuild(self.store, projection, method=self.method, **options)
        self.errors.pop(name, None)
        return report

    def resume(self, projection: Projection) -> None:
        """Replace a projection by a fixed version of it; the thread carries on from its checkpoint."""
        self._known(projection.name)
        self.projections[projection.name] = projection
        self.errors.pop(projection.name, None)

    def _known(self, name: str) -> Projection:
        if name not in self.projections:
            raise UsageError(
                f"this runner has no projection {name!r}; it runs {list(self.projections)}")
        return self.projections[name]

    def _loop(self) -> None:
        try:
            with self.store.cursor() as con:
                con.execute(core.CHECKPOINTS_DDL)
                while not self._stop.is_set():
                    self._poll(con)
                    self._stop.wait(self.interval)
        except BaseException as exc:  # reported by stop(): a thread has nobody else to tell
            self._crash = exc

    def _poll(self, con) -> None:
        """One round: catch every projection up to the head, skipping failed and busy ones."""
        head = core.head_position(con)
        for projection in list(self.projections.values()):
            if projection.name in self.errors or self._stop.is_set():
                continue
            lock = core.projection_lock(self.store, projection.name)
            if not lock.acquire(blocking=False):
                continue  # someone is rebuilding it: the others go on
            try:
                core.run_projection(con, projection, head, self.batch_size, self.method, progress=False)
            except ProjectionError as exc:
                self.errors[projection.name] = exc
            finally:
                lock.release()
