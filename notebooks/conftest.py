"""nbval runs every notebook; notebook 13 runs Spark, which needs pyspark and Java 17.

Without them it is skipped with the reason (as tests/test_spark.py is), except under
CI=true, where they must be there: `.ci/run` installs Java.
"""

from __future__ import annotations

import os

import pytest

import eventlab

NEEDS_SPARK = "13-past-one-machine.ipynb"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = eventlab.spark.unavailable()
    if reason is None or os.environ.get("CI", "").lower() == "true":
        return
    for item in items:
        if item.path.name == NEEDS_SPARK:
            item.add_marker(pytest.mark.skip(reason=f"notebook 13 runs Spark, but {reason}"))
