"""Helpers for tests/test_browser.py: a throwaway JupyterLab server and a Playwright-driven page on it.

JupyterLab runs on a localhost port the system picks (``--port=0``: no other
process can take it between choosing and binding), with a random token, as its own
process group, with HOME and every Jupyter config/data/runtime folder in a
temporary directory, so a test neither reads nor writes the user's Jupyter
settings. ``expose_app_in_browser`` gives the page ``window.jupyterapp``: the
tests open notebooks and run their cells through JupyterLab's own commands
(what the menus do), then use the keyboard and the mouse like a person.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# the real Chromium binary of Debian's `chromium` package (/usr/bin/chromium is a wrapper script)
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The Chromium to drive: ``$EVENTLAB_CHROMIUM``, else Debian's binary, else one on the PATH."""
    configured = os.environ.get("EVENTLAB_CHROMIUM")
    if configured:
        return configured if Path(configured).is_file() else None
    for candidate in CHROMIUM_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class Lab:
    """A running JupyterLab: where it serves, with which token, over which folder."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def lab_url(self, workspace: str = "eventlab-tests") -> str:
        """JupyterLab in a workspace of its own: two pages in one workspace would make the second
        page move itself to a new one (a navigation, in the middle of a test)."""
        return f"{self.url}/lab/workspaces/{workspace}?token={self.token}"

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.log, lines)


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def _children(pid: int) -> list[int]:
    """The ids of the processes whose parent is ``pid`` (the kernels a Jupyter server started)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # the command name is in parentheses and may hold spaces: the fields after it are plain
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _stop(process: subprocess.Popen) -> None:
    """End the server's process group; then any kernel it left (each kernel is a session of its own)."""
    kernels = _children(process.pid)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # the server shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    for kernel in kernels:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(kernel, signal.SIGKILL)


@contextlib.contextmanager
def jupyterlab(root: Path, scratch: Path, *, timeout: float = 90) -> Iterator[Lab]:
    """Serve JupyterLab over ``root``, its settings and logs in ``scratch``; always stopped on exit."""
    home, config = scratch / "home", scratch / "jupyter-config"
    for folder in (home, config / "labconfig", scratch / "jupyter-data", scratch / "jupyter-runtime"):
        folder.mkdir(parents=True, exist_ok=True)
    # the "news and updates" pop-up would cover the page and ask a question
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {key: value for key, value in os.environ.items() if not key.startswith(("JUPYTER", "JPY_"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(config), JUPYTER_DATA_DIR=str(scratch / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(scratch / "jupyter-runtime"), IPYTHONDIR=str(home / ".ipython"),
               MPLCONFIGDIR=str(home / ".matplotlib"), JUPYTER_PLATFORM_DIRS="1", PYTHONDONTWRITEBYTECODE="1")
    token = secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", "--port=0",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = scratch / "jupyterlab.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        port = _port_taken(process, scratch / "jupyter-runtime", log, deadline)
        lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
        _wait_until_serving(lab, deadline)
        yield lab
    finally:
        _stop(process)


def _port_taken(process: subprocess.Popen, runtime: Path, log: Path, deadline: float) -> int:
    """The port the server bound, from the file it writes once listening (``jpserver-<pid>.json``)."""
    info = runtime / f"jpserver-{process.pid}.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
            return int(json.loads(info.read_text())["port"])
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not start listening in time:\n{_tail(log)}")


def _wait_until_serving(lab: Lab, deadline: float) -> None:
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {lab.process.returncode}:\n{lab.log_tail()}")
        try:
            with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer in time:\n{lab.log_tail()}")


# --- in the page ------------------------------------------------------------------------------

# Open a notebook and start "Run All Cells" as the menu does. Running takes a while: the page keeps
# the outcome in window.eventlabRuns[panel id] and Python polls for it (so a hung cell times out).
OPEN_AND_RUN = """async (path) => {
    const app = window.jupyterapp;
    const panel = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
    await panel.context.ready;
    await panel.sessionContext.ready;
    app.shell.activateById(panel.id);
    window.eventlabRuns = window.eventlabRuns || {};
    const runs = window.eventlabRuns;
    runs[panel.id] = null;
    app.commands.execute('notebook:run-all-cells').then(
        ok => { runs[panel.id] = {ok: Boolean(ok)}; },
        error => { runs[panel.id] = {ok: false, failure: String(error)}; });
    return panel.id;
}"""

# done: the run has finished and the notebook's kernel is idle
RUN_FINISHED = """(id) => {
    const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.id === id);
    const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
    return Boolean(window.eventlabRuns[id]) && Boolean(kernel) && kernel.status === 'idle';
}"""

# every code cell's execution count and outputs, as the notebook file would store them
NOTEBOOK_STATE = """(id) => {
    const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.id === id);
    const cells = [];
    for (const cell of panel.content.model.cells) {
        if (cell.type === 'code') cells.push({count: cell.executionCount, outputs: cell.outputs.toJSON()});
    }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return {...window.eventlabRuns[id], status: kernel ? kernel.status : 'no kernel', cells};
}"""

CLOSE = """async (id) => {
    const panel = Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.id === id);
    if (!panel) return;
    await panel.sessionContext.shutdown();
    panel.dispose();
}"""


def evaluate(page: Any, script: str, arg: Any = None, timeout_s: float = 120) -> Any:
    """``page.evaluate(script, arg)``, but a promise that never settles fails after ``timeout_s``.

    (Playwright waits for an evaluated promise forever: a dialog or a kernel that never starts
    would hang the test run instead of failing it.)
    """
    late = f"new Error('no answer in the page within {timeout_s:.0f} s')"
    raced = f"""async (arg) => Promise.race([
        ({script})(arg),
        new Promise((_, reject) => setTimeout(() => reject({late}), {timeout_s * 1000:.0f}))])"""
    return page.evaluate(raced, arg)


def wait_for_app(page: Any, lab: Lab, workspace: str = "eventlab-tests", timeout_ms: float = 120_000) -> None:
    """Load JupyterLab in ``page`` and wait until the application has started."""
    page.goto(lab.lab_url(workspace), wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_function("() => Boolean(window.jupyterapp)", timeout=timeout_ms)
    evaluate(page, "async () => { await window.jupyterapp.started; await window.jupyterapp.restored; }",
             timeout_s=timeout_ms / 1000)
    page.wait_for_selector("#jp-main-statusbar", timeout=timeout_ms)


def run_notebook(page: Any, path: str, timeout_ms: float = 240_000) -> dict:
    """Open ``path`` (relative to the server's root), run all its cells, wait until its kernel is idle.

    Returns ``{"id": panel id, "ok": bool, "status": kernel status, "cells": [{count, outputs}]}``;
    ``ok`` is what JupyterLab's Run All says: false when a cell failed.
    """
    panel = evaluate(page, OPEN_AND_RUN, path)
    page.wait_for_function(RUN_FINISHED, arg=panel, timeout=timeout_ms, polling=250)
    state = page.evaluate(NOTEBOOK_STATE, panel)
    if state["status"] == "busy":  # a widget's message right after the run can wake the kernel briefly
        page.wait_for_function(RUN_FINISHED, arg=panel, timeout=timeout_ms, polling=250)
        state = page.evaluate(NOTEBOOK_STATE, panel)
    return {"id": panel, **state}


def run_notebooks(pages: list[Any], paths: list[str], timeout_s: float = 300) -> dict[str, dict]:
    """Run every notebook of ``paths``, one per page at a time (so as many at once as there are pages).

    Each page is a JupyterLab of its own, so "Run All" there runs the notebook just opened. A
    notebook's result is what :func:`run_notebook` returns plus ``shown``, the errors its page
    shows (:func:`errors_shown`), taken before its tab is closed and its kernel shut down.
    """
    pending, busy, results = list(paths), {}, {}
    while pending or busy:
        for worker, page in enumerate(pages):
            if worker not in busy and pending:
                path = pending.pop(0)
                busy[worker] = (path, evaluate(page, OPEN_AND_RUN, path), time.monotonic())
        for worker, (path, panel, started) in list(busy.items()):
            page = pages[worker]
            finished = page.evaluate(RUN_FINISHED, panel)
            if finished or time.monotonic() - started > timeout_s:
                state = {"id": panel, **page.evaluate(NOTEBOOK_STATE, panel)}
                if not finished:
                    state.update(ok=False, failure=f"(still running after {timeout_s:.0f} s)")
                state["shown"] = errors_shown(page, panel)
                close_notebook(page, panel)
                results[path] = state
                del busy[worker]
        time.sleep(0.25)
    return results


def close_notebook(page: Any, panel: str) -> None:
    """Shut the notebook's kernel down and close its tab."""
    evaluate(page, CLOSE, panel, timeout_s=60)


def problems(state: dict) -> list[str]:
    """What went wrong in a run notebook: cells not run, error outputs, text on stderr; one line each."""
    found = [] if state.get("ok") else [f"Run All did not succeed {state.get('failure', '')}".strip()]
    for index, cell in enumerate(state["cells"], 1):
        if cell["count"] is None:
            found.append(f"code cell {index} was not run")
        for output in cell["outputs"]:
            text = output.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            if output.get("output_type") == "error":
                found.append(f"code cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream" and output.get("name") == "stderr":
                found.append(f"code cell {index} wrote to stderr: {text.strip()[:500]}")
    return found


# what the page shows as an error: tracebacks and stderr (JupyterLab renders both with this mime
# type) and widgets that failed to render
ERRORS_SHOWN = """(id) => {
    const shown = [];
    const notebook = document.getElementById(id);
    for (const e of notebook.querySelectorAll(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
        shown.push(e.innerText.slice(0, 500));
    }
    for (const e of notebook.querySelectorAll('.jp-OutputArea-output')) {
        if (e.innerText.includes('Error displaying widget')) shown.push(e.innerText.slice(0, 500));
    }
    return shown;
}"""


def errors_shown(page: Any, panel: str) -> list[str]:
    """The tracebacks, stderr text and broken widgets that notebook ``panel`` shows on the page."""
    return page.evaluate(ERRORS_SHOWN, panel)
