"""The time slider, tested in a real browser: JupyterLab + headless Chromium, driven by Playwright.

A throwaway JupyterLab serves a copy of notebooks/ (the repository's files are
never touched). Chromium opens notebook 4, runs all its cells, and then moves
the time slider with the keyboard and the mouse as a learner would; after each
move the position, the recorded time and the state the widget shows must be
what the store says for that position. The expectation is computed here, in
the test process, from a second copy of the same deterministic store and
``eventlab.states_at(..., method="python")``: never from the widget's code.
Every course notebook is then run in JupyterLab too, and must show no error.

Screenshots of the last run go to ``$EVENTLAB_TEST_ARTIFACTS/browser/``
(default ``tests/artifacts/browser/``, git-ignored). Without Chromium (Debian:
``apt-get install chromium``) the tests are skipped, except under ``CI=true``,
where a missing browser is a failure.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import browser_lab  # tests/browser_lab.py, beside this file
import pytest

import eventlab
from eventlab import sample
from eventlab.examples import orders
from eventlab.timetravel import state_row

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*-*.ipynb"))  # 06b- too
TIME_TRAVEL = "04-time-travel.ipynb"
ARTIFACTS = Path(os.environ.get("EVENTLAB_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts") / "browser"
IN_CI = os.environ.get("CI", "").lower() == "true"
SETTLE_S = 30  # how long the page may take to show what the kernel sends after a move
LONG_STREAM = "zz-long-stream.ipynb"  # written into the course's copy by this test: no course notebook
LONG_STREAM_STORE = {"n_orders": 2_500}  # its stock streams are longer than checkpoints.EVERY
LONG_STREAM_ID = "stock-espresso-beans"

pytestmark = pytest.mark.slow


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; under CI=true the browser test must run, so fail."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# --- the server, the browser, and notebook 4 run once for the whole module -----------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    path = browser_lab.find_chromium()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set EVENTLAB_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", autouse=True)
def fresh_artifacts() -> None:
    """Only this run's screenshots: a FAILED-... picture from an earlier run would mislead."""
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[browser_lab.Lab]:
    scratch = tmp_path_factory.mktemp("jupyterlab")
    course = scratch / "course"
    # a copy of the course: JupyterLab saves checkpoints and notebooks write store files where they run
    shutil.copytree(ROOT / "notebooks", course / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.duckdb*"))
    (course / "data").symlink_to(ROOT / "data")  # for notebooks that read ../data
    (course / "tests").symlink_to(ROOT / "tests")  # notebook 8 imports ../tests/fixtures/orders_log_v1.jsonl
    (course / "notebooks" / LONG_STREAM).write_text(json.dumps(long_stream_notebook()))
    with browser_lab.jupyterlab(course / "notebooks", scratch) as server:
        yield server


@pytest.fixture(scope="module")
def page(browser: Any, lab: browser_lab.Lab) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1050})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.page_errors = []
    page.on("pageerror", lambda error: page.page_errors.append(str(error)))
    try:
        with screenshot_on_failure(page, "jupyterlab-start"):
            browser_lab.wait_for_app(page, lab)
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def time_travel(page: Any) -> dict:
    """Notebook 4, run in JupyterLab: what Run All reported, and the time slider's output on the page."""
    if not (ROOT / "notebooks" / TIME_TRAVEL).exists():
        pytest.fail(f"notebooks/{TIME_TRAVEL} is missing")
    with screenshot_on_failure(page, "time-travel-run"):
        run = browser_lab.run_notebook(page, TIME_TRAVEL)
        notebook = page.locator(f"#{run['id']}")
        # the first output holding a slider whose readout names a global position: the TimeSlider
        slider = (notebook.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-slider"))
                  .filter(has_text=re.compile(r"position [\d,]+ of [\d,]+")).first)
        slider.locator(".widget-slider .noUi-handle").wait_for(state="visible")
    return {"run": run, "slider": slider, "notebook": notebook}


@pytest.fixture(scope="module")
def store() -> eventlab.EventStore:
    """The store that notebook 4's TimeSlider shows, rebuilt here from the same deterministic call."""
    return sample.demo_store(**demo_store_call(ROOT / "notebooks" / TIME_TRAVEL))


@contextlib.contextmanager
def screenshot_on_failure(page: Any, name: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            save(page, f"FAILED-{name}")
        raise


def save(target: Any, name: str) -> Path:
    """A screenshot of a page or an element, kept as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    return path


# --- what the store says: computed here, independently of eventlab.widgets ---------------------


def demo_store_call(notebook: Path) -> dict:
    """The keyword arguments of the ``sample.demo_store(...)`` call that made the first TimeSlider's store.

    Read from the notebook's code (literal arguments only), so the test follows the notebook.
    """
    cells = json.loads(notebook.read_text())["cells"]
    cells = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    trees = []
    for source in cells:
        with contextlib.suppress(SyntaxError):  # a cell with IPython magics is no store construction
            trees.append(ast.parse(source))
    calls = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Call)]
    name_of = lambda call: getattr(call.func, "attr", getattr(call.func, "id", None))  # noqa: E731
    slider = next((c for c in calls if name_of(c) == "TimeSlider"), None)
    assert slider is not None and slider.args and isinstance(slider.args[0], ast.Name), (
        f"{notebook.name}: no TimeSlider(<store variable>, ...) call found")
    variable = slider.args[0].id
    for tree in trees:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == variable for t in node.targets)
                    and isinstance(node.value, ast.Call) and name_of(node.value) == "demo_store"):
                call = node.value
                arguments = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
                for name, value in zip(["path", "n_orders", "seed"], call.args):
                    arguments[name] = ast.literal_eval(value)
                arguments.pop("path", None)  # the same events, in memory
                return arguments
    raise AssertionError(f"{notebook.name}: the TimeSlider's store {variable!r} is not made by "
                         "demo_store(...)")


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class Truth:
    """What the store says at each global position: the frame the slider must show there."""

    def __init__(self, store: eventlab.EventStore):
        self.store = store
        self.events = store.read_all()
        self.deciders = {"order-": orders.decider, "stock-": orders.stock_decider}

    def position_as_of(self, moment: datetime) -> int:
        """How many events were recorded at or before ``moment``."""
        return sum(e.recorded_at <= moment for e in self.events)

    @functools.cache  # noqa: B019  (one Truth per module; positions repeat while polling)
    def frame(self, position: int) -> dict:
        states = eventlab.states_at(self.store, orders.decider, position=position, method="python")
        expected = {
            "clock": f"position {position:,} of {len(self.events):,}",
            "orders by status": states["status"].astype(str).value_counts().to_dict(),
            "orders": len(states),
            "revenue": round(float(states["paid"].sum()), 2),
            "event": None, "event data": None, "changed fields": [], "highlighted": []}
        if position == 0:
            return expected
        event = self.events[position - 1]
        assert event.position == position
        expected["clock"] += f" · recorded {utc(event.recorded_at)}"
        expected["event"] = f"{event.type} {event.stream_id} v{event.version} · position {position:,}"
        expected["event data"] = event.data
        decider = next((d for p, d in self.deciders.items() if event.stream_id.startswith(p)), None)
        if decider is not None:
            before, after = (state_row(eventlab.state_at(self.store, event.stream_id, decider, version=v))
                             for v in (event.version - 1, event.version))
            expected["changed fields"] = sorted(k for k in after if before.get(k) != after[k])
        if event.stream_id.startswith("order-"):  # the order just changed tops "Orders changed last"
            expected["highlighted"] = [event.stream_id]
        return expected


@pytest.fixture(scope="module")
def truth(store: eventlab.EventStore) -> Truth:
    return Truth(store)


# --- what the page shows -----------------------------------------------------------------------

SLIDER_SHOWS = """(output) => {
    const html = output.querySelectorAll('.widget-html-content');
    const body = html[1];
    const [system, card] = body.firstElementChild.children;
    // a table's data rows (header rows hold th cells), each as its cells' text
    const dataRows = table => table ? Array.from(table.querySelectorAll('tr'))
        .filter(row => row.querySelector('td')) : [];
    const cells = row => Array.from(row.children).map(cell => cell.innerText.trim());
    const rows = table => dataRows(table).map(cells);
    const recent = body.querySelector(':scope > table');
    const code = card.querySelector('code');
    const readout = output.querySelector('.widget-readout');
    return {
        readout: readout.offsetParent === null ? null : readout.innerText.trim(),
        handle: output.querySelector('.widget-slider .noUi-handle').getAttribute('aria-valuenow'),
        clock: html[0].innerText.trim(),
        system: system.innerText,
        statuses: rows(system.querySelector('table')),
        card: card.innerText,
        data: code ? code.innerText : null,
        changed: rows(card.querySelector('table')),
        highlighted: dataRows(recent).filter(row => (row.getAttribute('style') || '').includes('fff3b0'))
            .map(row => cells(row)[0]),
    };
}"""


def number(text: str) -> float:
    return float(text.replace(",", ""))


def readout_value(raw: dict) -> int | str:
    """The slider's readout as a number; as the text itself while it holds none (yet)."""
    return int(number(raw["readout"])) if re.fullmatch(r"[\d,]+", raw["readout"] or "") else raw["readout"]


def shown_frame(slider: Any) -> tuple[dict, dict]:
    """What the TimeSlider shows, raw (readout, handle ...) and in the shape of :meth:`Truth.frame`.

    On a loaded machine the page was once read while a status count's cell was still empty
    (a full ``make test`` run, not alone): such a half-drawn table is read again, for up to 5 s.
    """
    raw = slider.evaluate(SLIDER_SHOWS)
    for _ in range(50):
        if all(n for _, n, *_ in raw["statuses"]):
            break
        slider.page.wait_for_timeout(100)
        raw = slider.evaluate(SLIDER_SHOWS)
    orders_line = re.search(r"Orders by status \(([\d,]+) orders\)", raw["system"])
    revenue = re.search(r"Revenue known then: ([\d,.]+)", raw["system"])
    event = re.search(r"^(\w+) (\S+) (v\d+ · position [\d,]+)$", raw["card"], re.M)
    shown = {} if raw["readout"] is None else {"readout": readout_value(raw)}  # hidden in time mode
    return raw, {
        **shown,
        "clock": raw["clock"],
        "orders by status": {status: int(number(n)) for status, n, *_ in raw["statuses"]},
        "orders": int(number(orders_line.group(1))) if orders_line else None,
        "revenue": number(revenue.group(1)) if revenue else None,
        "event": " ".join(event.groups()) if event else None,
        "event data": json.loads(raw["data"]) if raw["data"] else None,
        "changed fields": sorted(row[0] for row in raw["changed"]),
        "highlighted": raw["highlighted"]}


def position_in(clock: str) -> int:
    found = re.match(r"position ([\d,]+) of", clock)
    assert found, f"the slider's clock reads {clock!r}"
    return int(number(found.group(1)))


def wait_for_frame(slider: Any, expected_for: Callable[[dict, dict], dict], what: str) -> dict:
    """Poll until the slider shows the frame ``expected_for(raw, shown)`` says it must; the shown frame.

    Each poll recomputes the expectation from what is shown (e.g. the readout), so a frame that is
    still on its way from the kernel is waited for, and a wrong one fails with both side by side.
    """
    deadline = time.monotonic() + SETTLE_S
    while True:
        raw, shown = shown_frame(slider)
        expected = expected_for(raw, shown)
        if shown == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert shown == expected, f"after {what}, the slider shows (left) what the store does not say (right)"
    return raw


def at_readout(truth: Truth, target: int | None = None) -> Callable[[dict, dict], dict]:
    """The expectation in position mode: the readout at ``target`` (or wherever the mouse left it),
    and the store's frame at that position."""
    def expected(raw: dict, shown: dict) -> dict:
        position = target if target is not None else shown.get("readout")
        if not isinstance(position, int):  # no number in the readout (yet): wait for one
            return {"readout": "<a position>"}
        return {**truth.frame(position), "readout": position}
    return expected


def as_of_clock(truth: Truth) -> Callable[[dict, dict], dict]:
    """The expectation in time mode: the moment the clock names, and the store's frame as of then."""
    def expected(raw: dict, shown: dict) -> dict:
        found = re.search(r" · as of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", shown["clock"])
        if not found:  # not (yet) in time mode: wait for a clock that names one
            return {"clock": "position ... · as of <the moment asked for> · recorded ..."}
        moment = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
        frame = dict(truth.frame(truth.position_as_of(moment)))
        head, _, recorded = frame["clock"].partition(" · recorded ")
        frame["clock"] = f"{head} · as of {utc(moment)}" + (f" · recorded {recorded}" if recorded else "")
        return frame
    return expected


def press(slider: Any, key: str) -> None:
    slider.locator(".widget-slider .noUi-handle").press(key)


# --- the tests ---------------------------------------------------------------------------------


def test_notebook_4_runs_in_jupyterlab_and_the_kernel_goes_idle(page: Any, time_travel: dict) -> None:
    run = time_travel["run"]
    assert browser_lab.problems(run) == []
    assert run["status"] == "idle"
    page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for()
    assert browser_lab.errors_shown(page, run["id"]) == []


def test_the_slider_shows_the_store_built_by_the_notebook(time_travel: dict, truth: Truth) -> None:
    slider = time_travel["slider"]
    with screenshot_on_failure(slider.page, "time-slider-before"):
        slider.scroll_into_view_if_needed()
        total = re.search(r"position [\d,]+ of ([\d,]+)", shown_frame(slider)[1]["clock"]).group(1)
        assert int(number(total)) == len(truth.events), (
            "the TimeSlider's store is not the one demo_store_call() rebuilds: was it changed since?")
        wait_for_frame(slider, at_readout(truth), "running the notebook")
        save(slider, "time-slider-before")
        save(slider.page, "time-slider-before-page")


def test_the_keyboard_moves_the_time_slider(time_travel: dict, truth: Truth) -> None:
    slider = time_travel["slider"]
    last = len(truth.events)
    with screenshot_on_failure(slider.page, "time-slider-keyboard"):
        slider.scroll_into_view_if_needed()
        press(slider, "Home")
        wait_for_frame(slider, at_readout(truth, 0), "Home")
        for step in (1, 2):
            press(slider, "ArrowRight")
            wait_for_frame(slider, at_readout(truth, step), f"ArrowRight to {step}")
        press(slider, "End")
        wait_for_frame(slider, at_readout(truth, last), "End")
        press(slider, "ArrowLeft")
        wait_for_frame(slider, at_readout(truth, last - 1), "ArrowLeft")
        # the readout is editable: type a position and press Enter
        middle = last // 2 + 7
        slider.locator(".widget-readout").click()
        slider.page.keyboard.press("Control+A")
        slider.page.keyboard.type(str(middle))
        slider.page.keyboard.press("Enter")
        wait_for_frame(slider, at_readout(truth, middle), f"typing {middle} into the readout")
        save(slider, "time-slider-after-keyboard")


def test_the_mouse_moves_the_time_slider(time_travel: dict, truth: Truth) -> None:
    slider, mouse = time_travel["slider"], time_travel["slider"].page.mouse
    last = len(truth.events)
    with screenshot_on_failure(slider.page, "time-slider-mouse"):
        slider.scroll_into_view_if_needed()
        press(slider, "End")
        wait_for_frame(slider, at_readout(truth, last), "End")
        track = slider.locator(".widget-slider .noUi-base").bounding_box()
        handle = slider.locator(".widget-slider .noUi-handle").bounding_box()
        y = handle["y"] + handle["height"] / 2
        # drag the handle from the end to 40% of the track
        mouse.move(handle["x"] + handle["width"] / 2, y)
        mouse.down()
        mouse.move(track["x"] + 0.4 * track["width"], y, steps=12)
        mouse.up()
        raw = wait_for_frame(slider, at_readout(truth), "dragging the handle")
        assert abs(readout_value(raw) - 0.4 * last) <= 0.03 * last, raw["readout"]
        # click on the track at 75%: the handle jumps there
        mouse.click(track["x"] + 0.75 * track["width"], track["y"] + track["height"] / 2)
        raw = wait_for_frame(slider, at_readout(truth), "clicking the track")
        assert abs(readout_value(raw) - 0.75 * last) <= 0.03 * last, raw["readout"]
        assert raw["handle"] and int(float(raw["handle"])) == readout_value(raw)
        save(slider, "time-slider-after-mouse")
        save(slider.page, "time-slider-after-page")


def test_in_time_mode_the_slider_shows_the_store_as_of_the_moment_it_names(
        time_travel: dict, truth: Truth) -> None:
    slider = time_travel["slider"]
    with screenshot_on_failure(slider.page, "time-slider-time-mode"):
        slider.scroll_into_view_if_needed()
        slider.get_by_role("button", name="time", exact=True).click()
        wait_for_frame(slider, as_of_clock(truth), "switching to time mode")
        seen = {slider.evaluate(SLIDER_SHOWS)["clock"]}
        for _ in range(3):  # one key press, one new moment: wait for it, then check it
            press(slider, "ArrowRight")
            deadline = time.monotonic() + SETTLE_S
            while slider.evaluate(SLIDER_SHOWS)["clock"] in seen and time.monotonic() < deadline:
                time.sleep(0.1)
            raw = wait_for_frame(slider, as_of_clock(truth), "ArrowRight in time mode")
            seen.add(raw["clock"])
        track = slider.locator(".widget-slider .noUi-base").bounding_box()
        slider.page.mouse.click(track["x"] + 0.3 * track["width"], track["y"] + track["height"] / 2)
        deadline = time.monotonic() + SETTLE_S
        while slider.evaluate(SLIDER_SHOWS)["clock"] in seen and time.monotonic() < deadline:
            time.sleep(0.1)
        raw = wait_for_frame(slider, as_of_clock(truth), "clicking the track in time mode")
        assert 0 < position_in(raw["clock"]) < len(truth.events)
        save(slider, "time-slider-time-mode")
        slider.get_by_role("button", name="position", exact=True).click()
        wait_for_frame(slider, at_readout(truth), "switching back to position mode")


EXPLORER_SHOWS = """(output) => ({
    count: output.querySelector('.widget-html-content p b').innerText,
    rows: output.querySelectorAll('.widget-html-content table tr').length - 1,
    types: Array.from(output.querySelectorAll('.widget-select-multiple option')).map(o => o.innerText),
    json: (output.querySelector('.widget-html-content pre') || {}).innerText || null,
})"""


def test_the_event_explorer_renders_and_filters(time_travel: dict, truth: Truth) -> None:
    explorer = (time_travel["notebook"].locator(".jp-OutputArea-output")
                .filter(has=time_travel["notebook"].page.locator(".widget-select-multiple")).first)
    page = explorer.page
    with screenshot_on_failure(page, "event-explorer"):
        explorer.evaluate("output => output.scrollIntoView({block: 'start'})")
        shown = explorer.evaluate(EXPLORER_SHOWS)
        assert sorted(shown["types"]) == sorted({e.type for e in truth.events})
        assert shown["rows"] > 0 and shown["json"]
        picked = json.loads(shown["json"])
        recorded = truth.events[picked["position"] - 1]
        assert (picked["stream_id"], picked["version"], picked["type"], picked["data"]) == (
            recorded.stream_id, recorded.version, recorded.type, recorded.data)
        # one type (a click selects just that option) and a stream prefix typed in, then Enter
        explorer.locator(".widget-select-multiple select").select_option("OrderPlaced")
        stream = explorer.locator(".widget-text input")
        stream.fill("order-0000")
        stream.press("Enter")
        matching = [e for e in truth.events
                    if e.type == "OrderPlaced" and e.stream_id.startswith("order-0000")]
        wanted = (f"the first {min(50, len(matching))} of {len(matching):,} events" if len(matching) > 50
                  else f"{len(matching):,} events")
        deadline = time.monotonic() + SETTLE_S
        while explorer.evaluate(EXPLORER_SHOWS)["count"] != wanted and time.monotonic() < deadline:
            time.sleep(0.1)
        shown = explorer.evaluate(EXPLORER_SHOWS)
        assert (shown["count"], shown["rows"]) == (wanted, min(50, len(matching)))
        # the JSON of another event, picked in the dropdown
        explorer.locator(".widget-dropdown select").select_option(index=2)
        third = matching[2]
        deadline = time.monotonic() + SETTLE_S
        while (json.loads(explorer.evaluate(EXPLORER_SHOWS)["json"] or "{}").get("position") != third.position
               and time.monotonic() < deadline):
            time.sleep(0.1)
        picked = json.loads(explorer.evaluate(EXPLORER_SHOWS)["json"])
        assert (picked["position"], picked["stream_id"], picked["data"]) == (
            third.position, third.stream_id, third.data)
        explorer.evaluate("output => output.scrollIntoView({block: 'start'})")
        save(page, "event-explorer")  # the page: the whole explorer is taller than the window
        explorer.locator(".widget-html-content pre").scroll_into_view_if_needed()
        save(page, "event-explorer-json")


@pytest.fixture(scope="module")
def notebook_runs(page: Any, lab: browser_lab.Lab) -> dict[str, dict]:
    """Every course notebook but notebook 4 (run already), two at a time: one per JupyterLab page."""
    second = page.context.new_page()
    second.on("pageerror", lambda error: page.page_errors.append(str(error)))
    try:
        browser_lab.wait_for_app(second, lab, workspace="eventlab-tests-2")
        others = [p.name for p in NOTEBOOKS if p.name != TIME_TRAVEL]
        with screenshot_on_failure(page, "run-notebooks"):
            return browser_lab.run_notebooks([page, second], others)
    finally:
        second.close()


@pytest.mark.parametrize("notebook", [p.name for p in NOTEBOOKS], ids=str)
def test_every_notebook_runs_in_jupyterlab_without_errors(page: Any, request: pytest.FixtureRequest,
                                                         notebook: str) -> None:
    if notebook == TIME_TRAVEL:  # run once already, by the time_travel fixture, and still open
        run = request.getfixturevalue("time_travel")["run"]
        shown = browser_lab.errors_shown(page, run["id"])
    else:
        run = request.getfixturevalue("notebook_runs")[notebook]
        shown = run["shown"]
    assert browser_lab.problems(run) == [], notebook
    assert shown == [], notebook


# --- a store with long streams: the sliders read their frames from checkpoints ------------------


def long_stream_notebook() -> dict:
    """A scratch notebook: the demo store with long stock streams, its TimeSlider and a StreamSlider."""
    cells = [f"from eventlab import sample\nfrom eventlab.examples import orders\n"
             f"from eventlab.widgets import StreamSlider, TimeSlider\n"
             f"store = sample.demo_store(**{LONG_STREAM_STORE!r})",
             "TimeSlider(store, orders.decider, others=[orders.stock_decider])",
             f"StreamSlider(store, {LONG_STREAM_ID!r}, decider=orders.stock_decider)"]
    return {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                       "source": source} for source in cells],
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def long_store() -> eventlab.EventStore:
    return sample.demo_store(**LONG_STREAM_STORE)


@pytest.fixture(scope="module")
def long_run(page: Any) -> dict:
    """The scratch notebook run in JupyterLab: its TimeSlider's and StreamSlider's outputs."""
    with screenshot_on_failure(page, "long-stream-run"):
        run = browser_lab.run_notebook(page, LONG_STREAM)
        assert browser_lab.problems(run) == []
        notebook = page.locator(f"#{run['id']}")
        outputs = notebook.locator(".jp-OutputArea-output").filter(has=page.locator(".widget-slider"))
        slider = outputs.filter(has_text=re.compile(r"position [\d,]+ of [\d,]+")).first
        stream = outputs.filter(has_text=re.compile(r"version \d+ of \d+")).first
        stream.locator(".widget-slider .noUi-handle").wait_for(state="visible")
    return {"slider": slider, "stream": stream}


def type_into_readout(slider: Any, value: int) -> None:
    slider.locator(".widget-readout").click()
    slider.page.keyboard.press("Control+A")
    slider.page.keyboard.type(str(value))
    slider.page.keyboard.press("Enter")


def test_the_time_slider_shows_events_deep_in_a_long_stream(long_run: dict, long_store: eventlab.EventStore
                                                            ) -> None:
    truth, slider = Truth(long_store), long_run["slider"]
    deep = [p for (p,) in long_store.rows(
        "SELECT position FROM events WHERE stream_id = ? AND version > ? ORDER BY position",
        [LONG_STREAM_ID, eventlab.checkpoints.EVERY])]
    with screenshot_on_failure(slider.page, "long-stream-time-slider"):
        slider.scroll_into_view_if_needed()
        for position in (deep[0], deep[len(deep) // 2], deep[-1]):
            type_into_readout(slider, position)
            wait_for_frame(slider, at_readout(truth, position), f"typing {position} into the readout")
        save(slider, "long-stream-time-slider")


STREAM_SHOWS = """(output) => {
    const html = output.querySelectorAll('.widget-html-content');
    const [state, card] = html[1].children[1].children;
    const rows = table => table ? Array.from(table.querySelectorAll('tr'))
        .filter(row => row.querySelector('td'))
        .map(row => Array.from(row.children).map(cell => cell.innerText.trim())) : [];
    return {clock: html[0].innerText.trim(), state: rows(state.querySelector('table')),
            event: (card.innerText.match(/^(\\w+) (\\S+) (v\\d+ · position [\\d,]+)$/m) || [])
                .slice(1).join(' '),
            changed: rows(card.querySelector('table')).map(row => row[0]).sort()};
}"""


def test_the_stream_slider_walks_a_long_stream(long_run: dict, long_store: eventlab.EventStore) -> None:
    stream = long_run["stream"]
    events = long_store.read(LONG_STREAM_ID)
    with screenshot_on_failure(stream.page, "long-stream-stream-slider"):
        stream.scroll_into_view_if_needed()
        for version in (eventlab.checkpoints.EVERY + 1, len(events) // 2, len(events) - 3, len(events)):
            before, after = (state_row(eventlab.state_at(long_store, LONG_STREAM_ID, orders.stock_decider,
                                                         version=v)) for v in (version - 1, version))
            event = events[version - 1]
            expected = {"clock": f"{LONG_STREAM_ID} · version {version} of {len(events)} · recorded "
                                 f"{utc(event.recorded_at)}",
                        "state": [[name, str(value)] for name, value in after.items()],
                        "event": f"{event.type} {LONG_STREAM_ID} v{version} · position {event.position:,}",
                        "changed": sorted(name for name in after if before[name] != after[name])}
            type_into_readout(stream, version)
            deadline = time.monotonic() + SETTLE_S
            while stream.evaluate(STREAM_SHOWS) != expected and time.monotonic() < deadline:
                time.sleep(0.1)
            assert stream.evaluate(STREAM_SHOWS) == expected, f"version {version}"
        save(stream, "long-stream-stream-slider")
