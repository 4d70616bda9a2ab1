"""Shared test setup: where the read-only shared corpus lives, and the cluster marker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present beside the project")
    return SHARED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("MIGRATOR_TEST_KUBECONFIG"):
        return
    skip = pytest.mark.skip(reason="set MIGRATOR_TEST_KUBECONFIG to run against a real cluster")
    for item in items:
        if "cluster" in item.keywords:
            item.add_marker(skip)
