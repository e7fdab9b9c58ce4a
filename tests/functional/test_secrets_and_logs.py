"""Secrets stay encrypted at rest and out of the logs; every request logs one line with an id."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.backend


def _all_stored_text(sqlite_url: str) -> str:
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        values = [
            str(v) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for v in row
        ]
    return "\n".join(values)


def test_no_secret_is_stored_in_plaintext_or_logged(app, partner, sqlite_url, caplog):
    caplog.set_level("DEBUG")
    response = partner.provision()
    resource_id = response.get_json()["id"]
    database_url = response.get_json()["config"]["DATABASE_URL"]
    tenant_password = urlsplit(database_url).password
    form = partner.sso_form(resource_id)
    assert partner.client.post("/sso/login", data=form).status_code == 302

    secrets = {
        "addon password": partner.manifest["api"]["password"],
        "sso salt": partner.manifest["api"]["sso_salt"],
        "tenant password": tenant_password,
        "sso token": form["resource_token"],
    }
    stored = _all_stored_text(sqlite_url)
    assert resource_id in stored  # the reader does see the rows
    for label, secret in secrets.items():
        assert secret and secret not in stored, f"{label} stored in plaintext"
        assert secret not in caplog.text, f"{label} logged"


def test_each_request_logs_one_line_with_its_request_id(client, caplog):
    caplog.set_level("INFO")
    response = client.get("/healthz", headers={"X-Request-Id": "req-123"})

    assert response.headers["X-Request-Id"] == "req-123"
    lines = [r.msg for r in caplog.records if r.name == "marketplace.access"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "req-123"
    assert lines[0]["path"] == "/healthz" and lines[0]["status"] == 200


def test_a_hostile_request_id_is_replaced(client):
    hostile = 'bad id" {injected}'
    response = client.get("/healthz", headers={"X-Request-Id": hostile})
    assert response.headers["X-Request-Id"] != hostile
    assert len(response.headers["X-Request-Id"]) == 32


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["store"]["ok"] is True
    assert ready.get_json()["checks"]["postgres"]["ok"] is True


def test_readyz_is_503_when_the_store_is_unreachable(tmp_path):
    from tests.support import build_app

    app = build_app(f"sqlite:///{tmp_path / 'store.db'}")
    app.config["SQLALCHEMY_DATABASE_URI"] = "unused"
    with app.app_context():
        from marketplace.extensions import db

        db.engine.dispose()
    (tmp_path / "store.db").unlink()
    (tmp_path / "store.db").mkdir()  # a directory where the file was: SQLite cannot open it
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"]["store"]["ok"] is False
