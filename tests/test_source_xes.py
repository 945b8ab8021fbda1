"""XES event logs written by pm4py, read by eventlab's own streaming reader and imported as streams.

pm4py (AGPL) only writes the logs here and reads them back as the reference;
eventlab never imports it. Its play-out of a random process model gives traces
of varied lengths; the fixture adds the attributes real logs have (resources,
lifecycle transitions, costs, flags, a case priority), writes some traces with
a +02:00 offset and moves some back in time, so the log is not in time order.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib
import io
import logging
import warnings
import xml.etree.ElementTree as ET
from datetime import timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

import eventlab
from eventlab.application.sources.xes import xes

pm4py = pytest.importorskip("pm4py")
from pm4py.objects.log.obj import EventLog  # noqa: E402

PARIS_SUMMER = timezone(timedelta(hours=2))
# the module itself: the package's attribute `xes` is the function
xes_module = importlib.import_module("eventlab.application.sources.xes")


@contextlib.contextmanager
def quiet():
    """pm4py prints a banner and progress bars, and warns about optional packages: none of it here."""
    logging.getLogger("pm4py").setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, Path, object]:
    """A played-out process log with extra attributes, written by pm4py as .xes and as .xes.gz."""
    with quiet():
        tree = pm4py.generate_process_tree()
        net, im, fm = pm4py.convert_to_petri_net(tree)
        played = pm4py.play_out(net, im, fm, parameters={"noTraces": 40})
    log = EventLog([trace for trace in played if len(trace)], attributes=played.attributes)  # a tau-only run
    for number, trace in enumerate(log):
        trace.attributes["concept:name"] = f"order-{number}"
        trace.attributes["priority"] = number % 3
        for position, event in enumerate(trace):
            event["org:resource"] = ["Ann", "Bob", "Cleo"][(number + position) % 3]
            event["lifecycle:transition"] = "complete"
            event["cost"] = 2.5 * position
            event["rework"] = position % 2 == 1
            moved = event["time:timestamp"] - timedelta(minutes=5 * (number % 4))  # cases overlap in time
            event["time:timestamp"] = moved.astimezone(PARIS_SUMMER) if number % 2 else moved
    folder = tmp_path_factory.mktemp("xes")
    plain, packed = folder / "process.xes", folder / "process.xes.gz"
    with quiet():
        pm4py.write_xes(log, str(plain))
        pm4py.write_xes(log, str(packed))
    return plain, packed, log


def pm4py_reads(path: Path) -> pd.DataFrame:
    """The reference: pm4py's own reader (a DataFrame in pm4py 2.3+), or its log object converted."""
    with quiet():
        read = pm4py.read_xes(str(path))
        return read if isinstance(read, pd.DataFrame) else pm4py.convert_to_dataframe(read)


def test_the_fixture_is_what_the_tests_need(written):
    plain, packed, log = written
    with gzip.open(packed) as file:
        assert file.read(5) == b"<?xml"  # pm4py compresses a name ending in .gz
    text = plain.read_text()
    assert "+02:00" in text and "+00:00" in text and 'key="priority"' in text
    frame = xes(plain)
    assert not frame["time:timestamp"].is_monotonic_increasing  # cases overlap, as in real logs
    assert frame["case:concept:name"].nunique() == len(log) > 30


@pytest.mark.parametrize("which", ["xes", "xes.gz"])
def test_it_reads_what_pm4py_reads(written, which):
    plain, packed, log = written
    path = plain if which == "xes" else packed
    mine, theirs = xes(path), pm4py_reads(path)
    # the same columns in the same order, the same rows in the same (file) order, the same dtypes:
    # text as str, dates as datetime64[us, UTC], cost float64, rework bool, case:priority int64
    pd.testing.assert_frame_equal(mine, theirs)
    assert mine["case:concept:name"].tolist() == [t.attributes["concept:name"] for t in log for _ in t]
    assert mine["concept:name"].tolist() == [e["concept:name"] for t in log for e in t]
    assert mine["time:timestamp"].tolist() == [e["time:timestamp"] for t in log for e in t]  # same instants
    assert mine["org:resource"].tolist() == [e["org:resource"] for t in log for e in t]
    assert mine["case:priority"].tolist() == [t.attributes["priority"] for t in log for _ in t]


def test_compressed_and_plain_files_read_the_same(written):
    plain, packed, _ = written
    assert xes(plain).equals(xes(packed))


def test_a_log_imports_as_one_stream_per_trace_in_the_trace_order(written):
    plain, _, log = written
    store = eventlab.EventStore()
    report = store.import_events(xes(plain), sort=True)
    events = sum(len(trace) for trace in log)
    assert report.imported == events
    assert store.streams("case-") == sorted(f"case-{t.attributes['concept:name']}" for t in log)
    for trace in log:
        stored = store.read(f"case-{trace.attributes['concept:name']}")
        assert [e.type for e in stored] == [e["concept:name"] for e in trace]
        assert [e.recorded_at for e in stored] == [e["time:timestamp"] for e in trace]
        assert stored[0].data["org:resource"] == trace[0]["org:resource"]
        assert stored[0].data["case:priority"] == trace.attributes["priority"]
    assert store.read_all_df()["recorded_at"].is_monotonic_increasing
    assert store.verify().ok
    again = store.import_events(xes(plain), sort=True)  # the ids come from the content: nothing new
    assert (again.imported, again.skipped) == (0, events)


def test_the_log_must_be_sorted_to_import_as_pm4py_wrote_it(written):
    plain, _, _ = written
    with pytest.raises(eventlab.InvalidEventError, match="sort=True"):
        eventlab.EventStore().import_events(xes(plain))


HAND_WRITTEN = """<?xml version="1.0" encoding="UTF-8"?>
<!-- as OpenXES writes it, but with the namespace bound to a prefix -->
<xes:log xes.version="1849-2016" xmlns:xes="http://www.xes-standard.org/">
  <xes:extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <xes:global scope="trace"><xes:string key="concept:name" value="__INVALID__"/></xes:global>
  <xes:global scope="event"><xes:string key="concept:name" value="__INVALID__"/></xes:global>
  <xes:classifier name="Activity" keys="concept:name"/>
  <xes:string key="concept:name" value="the log itself"/>
  <xes:trace>
    <xes:event>
      <xes:string key="concept:name" value="Place"/>
      <xes:date key="time:timestamp" value="2024-05-06T11:00:00.250+02:00"/>
      <xes:id key="identity:id" value="7c1e"/>
      <xes:int key="items" value="2"/>
      <xes:boolean key="gift" value="true"/>
      <xes:string key="org:resource" value="Ann"><xes:string key="role" value="clerk"/></xes:string>
      <xes:list key="basket"><xes:values>
        <xes:string key="item" value="mug"/><xes:int key="item" value="3"/>
      </xes:values></xes:list>
      <xes:container key="address">
        <xes:string key="city" value="Lyon"/><xes:date key="since" value="2020-01-01T00:00:00Z"/>
      </xes:container>
    </xes:event>
    <xes:event>
      <xes:string key="concept:name" value="Pay"/>
      <xes:date key="time:timestamp" value="2024-05-06T09:30:00Z"/>
      <xes:float key="amount" value="12.5"/>
    </xes:event>
    <xes:string key="concept:name" value="order-1"/>
    <xes:date key="due" value="2024-05-10T00:00:00+02:00"/>
  </xes:trace>
</xes:log>
"""


def test_prefixed_namespaces_types_and_nested_attributes(tmp_path):
    path = tmp_path / "hand.xes"
    path.write_text(HAND_WRITTEN)
    frame = xes(path)
    # columns in the order keys first appear, as pandas (and pm4py) make them: "amount" comes with row 2
    assert list(frame.columns) == ["concept:name", "time:timestamp", "identity:id", "items", "gift",
                                   "org:resource", "basket", "address", "case:concept:name", "case:due",
                                   "amount"]
    place, pay = frame.to_dict("records")
    assert str(frame["time:timestamp"].dtype) == "datetime64[us, UTC]"  # offsets resolved to UTC
    assert place["time:timestamp"] == pd.Timestamp("2024-05-06T09:00:00.250Z")
    assert (place["items"], place["gift"], place["identity:id"]) == (2, True, "7c1e")
    assert place["org:resource"] == "Ann"  # its meta-attribute (role) is not kept
    assert place["basket"] == [{"item": "mug"}, {"item": 3}]
    assert place["address"] == {"city": "Lyon", "since": "2020-01-01T00:00:00+00:00"}
    assert pay["amount"] == 12.5 and pd.isna(place["amount"])
    assert place["case:concept:name"] == pay["case:concept:name"] == "order-1"  # given after the events
    assert pay["case:due"] == pd.Timestamp("2024-05-09T22:00:00Z")
    store = eventlab.EventStore()
    store.import_events(frame, sort=True)
    first, second = store.read("case-order-1")
    assert (first.type, second.type) == ("Place", "Pay")
    assert first.data["basket"] == [{"item": "mug"}, {"item": 3}]
    assert first.data["address"]["city"] == "Lyon"


def test_the_default_namespace_and_no_namespace_read_the_same(tmp_path):
    prefixed = tmp_path / "prefixed.xes"
    prefixed.write_text(HAND_WRITTEN)
    default = tmp_path / "default.xes"
    default.write_text(HAND_WRITTEN.replace("xes:", "").replace("xmlns:xes=", "xmlns="))
    bare = tmp_path / "bare.xes"
    bare.write_text(HAND_WRITTEN.replace("xes:", "").replace(' xmlns:xes="http://www.xes-standard.org/"', ""))
    assert "xmlns" not in bare.read_text()
    assert xes(prefixed).equals(xes(default)) and xes(prefixed).equals(xes(bare))


def trace(case: str, *events: str) -> str:
    return f'<trace><string key="concept:name" value="{case}"/>{"".join(events)}</trace>'


def event(activity: str = "Pay", time: str = "2024-05-06T09:00:00+00:00", extra: str = "") -> str:
    return (f'<event><string key="concept:name" value="{activity}"/>'
            f'<date key="time:timestamp" value="{time}"/>{extra}</event>')


def log_file(tmp_path: Path, *traces: str, name: str = "log.xes") -> Path:
    path = tmp_path / name
    path.write_text('<?xml version="1.0"?>\n<log xmlns="http://www.xes-standard.org/">\n'
                    + "\n".join(traces) + "\n</log>\n")
    return path


def test_a_cut_file_is_refused_with_its_line(written, tmp_path):
    plain, _, _ = written
    cut = tmp_path / "cut.xes"
    cut.write_bytes(plain.read_bytes()[: plain.stat().st_size // 2])
    with pytest.raises(eventlab.InvalidEventError, match=r"cut\.xes is not well-formed XML \(.*line \d+"):
        xes(cut)


def test_a_cut_gzip_file_is_refused(written, tmp_path):
    _, packed, _ = written
    cut = tmp_path / "cut.xes.gz"
    cut.write_bytes(packed.read_bytes()[:-200])
    with pytest.raises(eventlab.InvalidEventError, match=r"cut\.xes\.gz cannot be decompressed"):
        xes(cut)


@pytest.mark.parametrize("element, wanted", [
    ('<date key="time:timestamp" value="yesterday"/>', "not an XES date"),
    ('<int key="items" value="two"/>', "not a whole number"),
    ('<float key="amount" value="12,50"/>', "not a number"),
    ('<boolean key="gift" value="yes"/>', "not true or false"),
    ('<string value="no key"/>', "has no key"),
    ('<string key="note"/>', "has no value"),
])
def test_a_value_its_type_cannot_hold_is_refused_naming_trace_and_event(tmp_path, element, wanted):
    damaged = trace("b", event(), event(), event(extra=element))
    path = log_file(tmp_path, trace("a", event(), event()), damaged)
    with pytest.raises(eventlab.InvalidEventError, match=rf"log\.xes, trace 2, event 3: .*{wanted}"):
        xes(path)


def test_events_without_activity_or_time_and_traces_without_id_are_refused(tmp_path):
    no_time = '<event><string key="concept:name" value="Pay"/></event>'
    with pytest.raises(eventlab.InvalidEventError, match="trace 1, event 2 has no time:timestamp"):
        xes(log_file(tmp_path, trace("a", event(), no_time)))
    with pytest.raises(eventlab.InvalidEventError, match="trace 2 has no concept:name, the case id"):
        xes(log_file(tmp_path, trace("a", event()), f"<trace>{event()}</trace>"))
    assert len(xes(log_file(tmp_path, trace("a", event()), "<trace/>", trace("c", event())))) == 2  # empty ok
    with pytest.raises(eventlab.InvalidEventError, match="outside any trace"):
        xes(log_file(tmp_path, trace("a", event()), event()))


def test_what_is_not_an_xes_file_is_refused(tmp_path):
    with pytest.raises(eventlab.InvalidEventError, match="no file at"):
        xes(tmp_path / "missing.xes")
    html = tmp_path / "page.xes"
    html.write_text("<html><body>not a log</body></html>")
    with pytest.raises(eventlab.InvalidEventError, match=r"root element is <html>, not an XES <log>"):
        xes(html)


def test_naive_dates_stay_naive_and_import_only_with_a_timezone(tmp_path):
    naive = trace("a", event("Place", "2024-05-06T11:00:00"), event("Pay", "2024-05-06T11:30:00"))
    frame = xes(log_file(tmp_path, naive))
    assert str(frame["time:timestamp"].dtype) == "datetime64[us]"
    with pytest.raises(eventlab.InvalidEventError, match="no UTC offset.*timezone="):
        eventlab.EventStore().import_events(frame, sort=True)
    store = eventlab.EventStore()
    store.import_events(frame, sort=True, timezone="Europe/Paris")
    assert [e.recorded_at for e in store.read("case-a")] == [
        pd.Timestamp("2024-05-06T09:00:00Z"), pd.Timestamp("2024-05-06T09:30:00Z")]


def test_a_column_mixing_naive_and_aware_dates_is_left_for_the_import_to_refuse(tmp_path):
    mixed = trace("a", event(time="2024-05-06T11:00:00+02:00"), event(time="2024-05-06T11:30:00"))
    frame = xes(log_file(tmp_path, mixed))
    assert frame["time:timestamp"].dtype == object  # nothing guessed
    with pytest.raises(eventlab.InvalidEventError, match="row 2: .*no UTC offset, while other rows have one"):
        eventlab.EventStore().import_events(frame, sort=True, timezone="UTC")


def test_an_empty_log_is_an_empty_table_with_the_xes_columns(tmp_path):
    frame = xes(log_file(tmp_path))
    assert frame.empty and {"case:concept:name", "concept:name", "time:timestamp"} <= set(frame.columns)


def test_a_log_of_several_megabytes_is_read_as_a_stream(tmp_path, monkeypatch):
    """Memory is not measured (that would be flaky); what makes it bounded is: every event is cleared once
    read, and every trace is taken out of the tree once its rows are made, so the log element ends empty."""
    attributes = '<string key="org:resource" value="clerk {}"/><float key="cost" value="{}.5"/>'
    events = "".join(event(f"step-{n}", f"2024-05-06T09:{n:02d}:00+00:00", attributes.format(n % 7, n))
                     for n in range(10))
    path = log_file(tmp_path, *(trace(f"case-{n}", events) for n in range(2_000)))
    with gzip.open(tmp_path / "big.xes.gz", "wb") as packed:
        packed.write(path.read_bytes())
    assert path.stat().st_size > 4_000_000
    seen: list[ET.Element] = []
    iterparse = ET.iterparse

    def watched(source, events=None):
        for action, element in iterparse(source, events):
            seen.append(element)
            yield action, element

    monkeypatch.setattr(xes_module.ET, "iterparse", watched)
    frame = xes(path)
    assert len(frame) == 20_000 and frame["case:concept:name"].nunique() == 2_000
    assert frame["cost"].sum() == 2_000 * sum(n + 0.5 for n in range(10))
    log = seen[0]
    assert xes_module._local(log.tag) == "log" and len(log) == 0  # no trace is kept in the tree
    assert all(len(element) == 0 for element in seen if xes_module._local(element.tag) in ("trace", "event"))
    assert xes(tmp_path / "big.xes.gz").equals(frame)
