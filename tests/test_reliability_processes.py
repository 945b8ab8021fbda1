"""Two processes and one store file: readers share it, a writer has it alone, and everything else is
told so in one line that says what to do, with a non-zero exit and no traceback.

The "notebook kernel" is a child process holding the file open for writing, as a
kernel with ``store = eventlab.EventStore("shop.duckdb")`` does until it is closed
or restarted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import eventlab
from eventlab import NewEvent

SAMPLE_CSV = Path(__file__).resolve().parents[1] / "data" / "orders-sample.csv"

KERNEL = textwrap.dedent("""
    import sys
    import eventlab
    from eventlab import NewEvent

    store = eventlab.EventStore(sys.argv[1], read_only=sys.argv[2] == "read")
    if not store.read_only:
        store.append("kernel", [NewEvent("Before")])
    print("holding", store.count(), flush=True)
    sys.stdin.readline()  # until the test lets go
    if not store.read_only:
        store.append("kernel", [NewEvent("After")])
    print("done", store.count(), flush=True)
    store.close()
""")


class Kernel:
    """A child process holding the store open (for writing, or for reading) until released."""

    def __init__(self, path: Path, mode: str = "write"):
        self.process = subprocess.Popen([sys.executable, "-c", KERNEL, str(path), mode],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().split()
        assert line[:1] == ["holding"], line
        self.count = int(line[1])
        self.pid = self.process.pid

    def release(self) -> int:
        """Let it finish (a writer appends once more); returns the count it saw at the end."""
        out, _ = self.process.communicate("\n", timeout=120)
        assert self.process.returncode == 0
        return int(out.split()[-1])


def eventlab_command(*args: object, script: bool = False) -> subprocess.Popen:
    """Start `eventlab ARGS` as a user would: `python -m eventlab.cli`, or the installed script."""
    if script:
        found = shutil.which("eventlab", path=str(Path(sys.executable).parent))
        if found is None:
            pytest.skip("the eventlab script is not installed (pip install -e .)")
        command = [found]
    else:
        command = [sys.executable, "-m", "eventlab.cli"]
    return subprocess.Popen([*command, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def one_line_failure(started: subprocess.Popen) -> str:
    """The command failed with exit code 1 and one line on stderr, no traceback; returns that line."""
    out, err = started.communicate(timeout=120)
    assert started.returncode == 1, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert out == "", out
    return err.strip()


@pytest.fixture
def shop(tmp_path) -> Path:
    path = tmp_path / "shop.duckdb"
    with eventlab.EventStore(path) as store:
        store.append("order-1", [NewEvent("OrderPlaced", {"items": ["a"]})])
    return path


def test_a_kernel_holding_the_store_gets_every_other_writer_a_clear_error_and_loses_nothing(shop):
    kernel = Kernel(shop)
    try:
        started = {  # all at once: they only have to fail, quickly and clearly
            "demo": eventlab_command("demo", "--db", shop),
            "demo --force": eventlab_command("demo", "--db", shop, "--force", "--orders", 5),
            "load": eventlab_command("load", SAMPLE_CSV, "--db", shop),
            "info": eventlab_command("info", "--db", shop),
            "verify (the script)": eventlab_command("verify", "--db", shop, script=True),
        }
        said = {name: one_line_failure(command) for name, command in started.items()}
        assert "exists already" in said["demo"] and "--force" in said["demo"]
        for name in ("demo --force", "load", "info", "verify (the script)"):
            assert f"process {kernel.pid}" in said[name], said[name]
            assert "close the store there" in said[name] and "notebook kernel" in said[name], said[name]
        # and in Python, in this process: the same clear error, writing or reading
        for read_only in (False, True):
            with pytest.raises(eventlab.StoreLockedError, match=f"process {kernel.pid}"):
                eventlab.EventStore(shop, read_only=read_only)
    finally:
        final = kernel.release()
    # the kernel kept its store: --force did not delete the file under it
    assert final == 3
    with eventlab.EventStore(shop, read_only=True) as store:
        assert [r.type for r in store.read_all()] == ["OrderPlaced", "Before", "After"]
        assert store.verify().ok
    info = eventlab_command("info", "--db", shop)
    out, err = info.communicate(timeout=120)
    assert info.returncode == 0 and "events:    3" in out, err


def test_readers_share_the_file_while_nobody_writes_and_keep_a_writer_out(shop):
    readers = [Kernel(shop, "read"), Kernel(shop, "read")]
    try:
        assert [r.count for r in readers] == [1, 1]
        with eventlab.EventStore(shop, read_only=True) as here:  # a third reader, in this process
            assert here.read("order-1")[0].data == {"items": ["a"]} and here.verify().ok
        with pytest.raises(eventlab.StoreLockedError) as locked:
            eventlab.EventStore(shop)
        message = str(locked.value)
        assert f"process {readers[0].pid}" in message or f"process {readers[1].pid}" in message
        assert "read_only=True" in message and "open for writing in" not in message  # they only read
        assert "error: " in one_line_failure(eventlab_command("load", SAMPLE_CSV, "--db", shop))
    finally:
        assert [r.release() for r in readers] == [1, 1]
    with eventlab.EventStore(shop) as store:  # the readers are gone: writing works again
        assert store.append("order-1", [NewEvent("OrderPaid")], expected_version=1)[0].position == 2
