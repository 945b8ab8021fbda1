"""The layers of ARCHITECTURE.md hold: what a module may use of another, and what ``import eventlab`` loads.

The import-linter contract in pyproject.toml (run by ``make test``) checks that
layers import only downward; these tests check what it cannot see.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "eventlab"


def _modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(PACKAGE.parent)): ast.parse(path.read_text())
            for path in sorted(PACKAGE.rglob("*.py"))}


def _eventlab_modules_imported(tree: ast.Module) -> dict[str, str]:
    """Local name -> eventlab module, for ``import eventlab.x as y`` and ``from eventlab.x import y``."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("eventlab"):
                    names[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eventlab"):
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_underscore_name_crosses_a_module_boundary():
    crossings = []
    for where, tree in _modules().items():
        imported = _eventlab_modules_imported(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eventlab"):
                crossings += [f"{where}:{node.lineno} imports {alias.name} from {node.module}"
                              for alias in node.names if alias.name.startswith("_")]
            elif (isinstance(node, ast.Attribute) and _private(node.attr)
                  and isinstance(node.value, ast.Name) and node.value.id in imported):
                crossings.append(f"{where}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert crossings == []


def test_no_module_outside_the_storage_layer_touches_the_store_s_private_names():
    reaches = []
    for where, tree in _modules().items():
        if where.startswith("eventlab/storage/"):
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in {"store", "source", "target"}):
                reaches.append(f"{where}:{node.lineno} {node.value.id}.{node.attr}")
    assert reaches == []


def test_import_eventlab_loads_no_example_domain_and_no_lab():
    code = ("import sys, eventlab; store = eventlab.EventStore(); "
            "print(sorted(m for m in sys.modules if m.startswith(('eventlab.examples', 'eventlab.lab'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_eventlab_spark_loads_pyspark_and_sqlglot_only_when_they_are_needed():
    code = ("import sys, eventlab; reason = eventlab.spark.unavailable(); "
            "print(sorted(m for m in ('pyspark', 'sqlglot') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"  # a user without the spark extra can still ask what is missing


def test_a_user_s_own_order_placed_is_not_taken_by_the_shop():
    code = """
import dataclasses, eventlab
@eventlab.event_type("OrderPlaced")
@dataclasses.dataclass(frozen=True)
class OrderPlaced:
    ticket: str
store = eventlab.EventStore()
store.append("t-1", [OrderPlaced("x")], expected_version=0)
print(type(store.read("t-1")[0].event).__module__)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "__main__"


def test_short_module_names_are_the_modules_of_their_layers():
    import eventlab
    import eventlab.sample
    from eventlab.lab import widgets
    from eventlab.widgets import TimeSlider

    assert TimeSlider is widgets.TimeSlider
    assert eventlab.widgets is widgets
    assert eventlab.sample.__name__ == "eventlab.examples.sample"
    assert eventlab.sample.__spec__.name == "eventlab.examples.sample"
