"""nbval runs every notebook; notebook 13 runs Spark, which needs pyspark and Java 17.

Without them it is skipped with the reason (as tests/test_spark.py is), except under
CI=true, where they must be there: `.ci/run` installs Java.
"""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

NEEDS_SPARK = "13-past-one-machine.ipynb"


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (pip install -e '.[dev]' or '.[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime (apt-get install openjdk-17-jre-headless)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = spark_missing()
    if reason is None or os.environ.get("CI", "").lower() == "true":
        return
    for item in items:
        if item.path.name == NEEDS_SPARK:
            item.add_marker(pytest.mark.skip(reason=f"notebook 13 runs Spark, but {reason}"))
