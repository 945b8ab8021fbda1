"""The course's promises: every notebook is stored with its outputs and listed in the README."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]*-*.ipynb"))  # 06b- too


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_has_stored_outputs_from_a_clean_run(path):
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in cells]
    assert counts == list(range(1, len(cells) + 1)), f"{path.name}: run it top to bottom (make notebooks)"
    assert sum(bool(c["outputs"]) for c in cells) >= len(cells) // 2, f"{path.name} has no outputs"
    errors = [o for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name} stores an error: {errors[0].get('ename')}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_says_what_you_learn_and_where_to_go_next(path):
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    assert "What you will learn" in text and "## Summary" in text


def test_the_readme_course_table_lists_exactly_the_notebooks():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## The course", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\]\((notebooks/[^)]+\.ipynb)\)", table)
    assert linked == [f"notebooks/{p.name}" for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_between_notebooks_lead_somewhere(path):
    text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                     if c["cell_type"] == "markdown")
    for target in re.findall(r"\]\(((?:solutions/)?[^)/]+\.ipynb)\)", text):
        assert (path.parent / target).exists(), f"{path.name} links to {target}, which does not exist"
