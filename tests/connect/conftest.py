"""Fixtures for the Connect add-on: a Salesforce stand-in trusted through REQUESTS_CA_BUNDLE
(certificate checks stay on) and a broker configured for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from standins.salesforce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, StandIn, serve
from tests.support import build_app, remove_leftovers


@pytest.fixture
def standin(tmp_path, monkeypatch) -> Iterator[StandIn]:
    running = serve(":memory:", cert_dir=tmp_path / "certs", seed=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", running.ca_bundle)
    try:
        yield running
    finally:
        running.stop()


def connect_app(store_url: str, standin: StandIn, **overrides) -> Flask:
    return build_app(
        store_url,
        SALESFORCE_LOGIN_URL=standin.url,
        SALESFORCE_CLIENT_ID=DEFAULT_CLIENT_ID,
        SALESFORCE_CLIENT_SECRET=DEFAULT_CLIENT_SECRET,
        CONNECT_MIN_POLL_SECONDS=1,
        MARKETPLACE_ADDONS=["postgres", "connect"],
        **overrides,
    )


@pytest.fixture
def app(sqlite_url, standin) -> Iterator[Flask]:
    app = connect_app(sqlite_url, standin)
    yield app
    remove_leftovers(app)
