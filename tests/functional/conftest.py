"""Fixtures shared by the functional test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.functional.cdc_support import CdcWorld


@pytest.fixture
def cdc_world(sqlite_url) -> Iterator[CdcWorld]:
    """Postgres and Kafka resources and the data connectors API on a SQLite store; every
    resource the test made is deprovisioned afterwards."""
    world = CdcWorld(sqlite_url)
    try:
        yield world
    finally:
        world.deprovision_all()
