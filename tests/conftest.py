"""Shared test setup: the test data, the conformance corpus setting, and the cluster marker."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from paths import (  # noqa: E402
    CONFORMANCE,
    DATA,
    REQUIRE_CONFORMANCE,
    conformance_present,
)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The test data folder (recorded API-server exchanges under `apiserver/`)."""
    return DATA


def pytest_report_header(config: pytest.Config) -> str:
    if conformance_present():
        return f"pss-conformance: {CONFORMANCE}"
    return (f"pss-conformance: not found at {CONFORMANCE}: its 3,573 cases are skipped "
            "(set MIGRATOR_PSS_CONFORMANCE to the folder)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not conformance_present() and REQUIRE_CONFORMANCE:
        raise pytest.UsageError(
            f"MIGRATOR_REQUIRE_CONFORMANCE=1 but the conformance corpus is not at {CONFORMANCE}")
    if os.environ.get("MIGRATOR_TEST_KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="set MIGRATOR_TEST_KUBECONFIG to run against a real cluster")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)
