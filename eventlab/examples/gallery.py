"""Render every figure of :mod:`eventlab.viz` on the sample data into a folder, with an index.html.

    python -m eventlab.examples.gallery OUTDIR

Open ``OUTDIR/index.html`` in a browser: each picture with the call that drew
it, and stills of the widgets as a static page shows them. Everything comes
from ``eventlab.examples.sample.demo_store()``, so the gallery is the same on every run
(except the measured replay times).
"""

from __future__ import annotations

import argparse
import html
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from eventlab.application import snapshots
from eventlab.application.handling import handle
from eventlab.application.projections import catch_up, lag
from eventlab.application.timetravel import state_at
from eventlab.examples import orders, read_models, sample
from eventlab.examples.crud import CrudShop
from eventlab.lab import viz, widgets
from eventlab.lab.determinism import seeded_ids, ticking_clock
from eventlab.storage.store import EventStore


def lag_readings(source: EventStore, batches: int = 24) -> pd.DataFrame:
    """Projection lag while the log of ``source`` arrives again in ``batches``, each read model at its pace.

    ``order_summary`` catches up after every batch, ``daily_revenue`` every 4th
    and ``product_sales`` every 12th: the same log, three degrees of "eventually".
    """
    events = source.read_all_df()
    pace = [(read_models.order_summary, 1), (read_models.daily_revenue, 4), (read_models.product_sales, 12)]
    readings = []
    with EventStore() as store:
        bounds = np.linspace(0, len(events), batches + 1).astype(int)
        for k, (start, end) in enumerate(zip(bounds[:-1], bounds[1:]), start=1):
            batch = events.iloc[start:end]
            store.import_events(batch)
            for projection, every in pace:
                if k % every == 0:
                    catch_up(store, projection)
            readings.append(lag(store, [p for p, _ in pace]).assign(time=batch["recorded_at"].iloc[-1]))
    return pd.concat(readings, ignore_index=True)


def replay_measurements(longest: int = 30_000, repeat: int = 5, snapshot_age: int = 50) -> pd.DataFrame:
    """Time ``state_at`` on order streams of 10, 100, ... up to ``longest`` events: replayed from the
    start, and from a snapshot taken ``snapshot_age`` events before the end."""
    lengths = sorted({*(n for n in (10, 100, 1_000, 10_000) if n < longest), longest})
    rows = []
    with EventStore() as store:
        for n in lengths:
            stream = orders.stream_id(f"long-{n}")
            store.append(stream, [orders.OrderPlaced(f"long-{n}", 1, ["a"]),
                                  *(orders.ItemAdded(f"long-{n}", f"sku-{i % 50}") for i in range(n - 1))])
            for label in ("without snapshots", f"from a snapshot ≤ {snapshot_age} events old"):
                if label != "without snapshots":
                    snapshots.take(store, stream, orders.decider, version=max(1, n - snapshot_age))
                for _ in range(repeat):
                    start = time.perf_counter()
                    state_at(store, stream, orders.decider)
                    rows.append((n, time.perf_counter() - start, label))
    return pd.DataFrame(rows, columns=["events", "seconds", "snapshots"])


def crud_tables(shop: CrudShop, order_ids: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """The rows of the CRUD twin's two tables (for ``order_ids`` only, when given)."""
    where, params = ("WHERE order_id IN (SELECT unnest(?::VARCHAR[]))", [list(order_ids)]) if order_ids \
        else ("", [])
    return {table: shop.sql(f"SELECT * FROM {table} {where} ORDER BY ALL", params).df()
            for table in ("orders", "order_items")}


def figures(store: EventStore, longest: int = 30_000) -> dict[str, tuple[str, Callable[[], Figure]]]:
    """Name -> (the call, a function drawing it), for every figure in the gallery."""
    busiest = store.sql("SELECT stream_id FROM events WHERE starts_with(stream_id, 'order-') "
                        "GROUP BY stream_id ORDER BY count(*) DESC, stream_id LIMIT 1").fetchall()[0][0]
    first_orders = store.streams("order-")[:3]
    first_ids = [stream.removeprefix("order-") for stream in first_orders]
    seed_store, seed_shop = _seed_example()
    sample_shop = CrudShop.from_store(store)
    return {
        "timeline-one-order": (f"viz.timeline(store, [{busiest!r}])", lambda: viz.timeline(store, [busiest])),
        "timeline-100-orders": ("viz.timeline(store, limit=100, prefix='order-')",
                                lambda: viz.timeline(store, limit=100, prefix="order-")),
        "timeline-stock": ("viz.timeline(store, limit=12, prefix='stock-')",
                           lambda: viz.timeline(store, limit=12, prefix="stock-")),
        "state-evolution": (f"viz.state_evolution(store, {busiest!r}, decider=orders.decider)",
                            lambda: viz.state_evolution(store, busiest, decider=orders.decider)),
        "system-over-time": ("viz.system_over_time(store, orders.decider)",
                             lambda: viz.system_over_time(store, orders.decider)),
        "transitions": ("viz.transitions(store, orders.decider)",
                        lambda: viz.transitions(store, orders.decider)),
        "projection-lag": ("viz.projection_lag(gallery.lag_readings(store))",
                           lambda: viz.projection_lag(lag_readings(store))),
        "replay-cost": (f"viz.replay_cost(gallery.replay_measurements({longest}))",
                        lambda: viz.replay_cost(replay_measurements(longest))),
        "es-vs-crud": ("viz.es_vs_crud(store.read_all_df(), gallery.crud_tables(shop)), the same commands "
                       "sent to an EventStore and to a CrudShop",
                       lambda: viz.es_vs_crud(seed_store.read_all_df(), crud_tables(seed_shop))),
        "es-vs-crud-sample": ("the first three orders of the sample, and CrudShop.from_store(store)",
                              lambda: viz.es_vs_crud(
                                  store.read_all_df().pipe(lambda e: e[e["stream_id"].isin(first_orders)]),
                                  crud_tables(sample_shop, first_ids))),
    }


def render(folder: str | Path, *, n_orders: int = 1000, longest: int = 30_000) -> list[Path]:
    """Write every figure as a PNG into ``folder``, and an index.html showing them; returns the PNGs.

    ``n_orders`` sizes the sample, ``longest`` the longest stream of the replay-cost measurement.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    store = sample.demo_store(n_orders=n_orders)
    written, sections = [], []
    for name, (call, draw) in figures(store, longest).items():
        fig = draw()
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=110)
        written.append(path)
        sections.append(f"<h2>{name}</h2><p><code>{html.escape(call)}</code></p>"
                        f"<img src='{path.name}' style='max-width:100%'>")
    time_slider = widgets.TimeSlider(store, orders.decider, others=[orders.stock_decider])
    time_slider.slider.value = store.head_position // 2
    first_order = store.streams("order-")[0]
    stills = [("TimeSlider(store, orders.decider, others=[orders.stock_decider]), at the middle of the log",
               time_slider),
              ("StreamSlider(store, ..., decider=orders.decider)",
               widgets.StreamSlider(store, first_order, decider=orders.decider)),
              ("EventExplorer(store)", widgets.EventExplorer(store, limit=10))]
    sections += [f"<h2>Still: {html.escape(title)}</h2>{widget.to_html()}" for title, widget in stills]
    (folder / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>eventlab gallery</title>"
        "<body style='font-family:sans-serif;max-width:1200px;margin:auto'>"
        "<h1>eventlab gallery</h1><p>Every figure of <code>eventlab.viz</code> on "
        "<code>eventlab.sample.demo_store()</code>.</p>" + "\n".join(sections) + "</body>", encoding="utf-8")
    return written


def _seed_example() -> tuple[EventStore, CrudShop]:
    """The course's first example and a cancelled order, sent to an event store and to its CRUD twin."""
    store = EventStore(clock=ticking_clock(), ids=seeded_ids(7))
    shop = CrudShop(clock=ticking_clock())
    for command in [orders.PlaceOrder("123", 1, ["a", "b"]), orders.AddItem("123", "c"),
                    orders.PlaceOrder("124", 2, ["b"]), orders.PayOrder("123", 100),
                    orders.RemoveItem("124", "b"), orders.AddItem("124", "d"), orders.ShipOrder("123"),
                    orders.CancelOrder("124", "changed mind")]:
        handle(store, orders.decider, orders.stream_id(command.order_id), command)
        shop.execute(command)
    return store, shop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m eventlab.examples.gallery",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="folder to write the PNGs and index.html into")
    args = parser.parse_args(argv)
    paths = render(args.outdir)
    print(f"wrote {len(paths)} figures and index.html to {args.outdir}")


if __name__ == "__main__":
    main()
