"""The project's promises about itself: dependencies agree, the quick start is two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _name(requirement: str) -> tuple[str, str]:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", requirement)
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_name(r) for r in listed)


def environment_requirements() -> dict[str, str]:
    found = {}
    dependencies = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in dependencies.splitlines():
        item = re.match(r"\s*-\s+([^#]+)", line)
        if not item or item.group(1).strip().startswith(("-e", "pip", "python")) or ":" in item.group(1):
            continue
        name, spec = _name(item.group(1).strip())
        found[name] = spec
    return found


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert environment_requirements() == pyproject_requirements()


def test_the_spark_extra_is_in_the_dev_extra_so_make_test_runs_the_spark_tests():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["spark"] and set(extras["spark"]) <= set(extras["dev"])


def test_environment_yml_installs_the_package_itself():
    assert re.search(r"^\s*-\s+-e\s+\.\s*$", (ROOT / "environment.yml").read_text(), re.M)


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines() if line.strip()]


def test_the_readme_quick_start_is_two_commands_that_the_makefile_defines():
    commands = quick_start_commands()
    assert commands == ["make lab", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    for command in commands:
        assert re.search(rf"^{command.split()[1]}:", makefile, re.M)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_the_readme_api_tour_runs():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A short tour of the API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    code = block.replace("some_aware_datetime", "datetime.now(timezone.utc)").replace("    ...", "    pass")
    namespace: dict = {}
    exec(compile("from datetime import datetime, timezone\n" + code, "README tour", "exec"), namespace)
    assert (namespace["state"].items, namespace["state"].paid, namespace["state"].status) == (
        ["a", "b", "c"], 100, "Paid")
