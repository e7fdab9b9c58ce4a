"""The serving model under slow and odd clients: a real gunicorn, started with the Procfile's
``gunicorn.conf.py`` on a loopback port (issue 11, inputs 5, 7 and 8 end to end)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests import support
from tests.slow_clients import SlowClients, gunicorn
from tests.support import PartnerClient, admin_url, build_app, remove_leftovers

pytestmark = pytest.mark.backend


@dataclass
class Served:
    base: str
    partner: PartnerClient

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    """gunicorn (2 workers) on a SQLite store that an in-process app migrated and seeded."""
    folder = tmp_path_factory.mktemp("served")
    store = f"sqlite:///{folder / 'store.db'}"
    prefix = f"{support.SESSION_PREFIX}sc_"
    app = build_app(store, BACKEND_NAME_PREFIX=prefix)
    partner = PartnerClient(app.test_client(), app, "postgres")
    env = {
        "DATABASE_URL": store,
        "QUEUE_URL": f"sqlite:///{folder / 'queue.db'}",
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEYS": support.ENCRYPTION_KEY,
        "BACKEND_NAME_PREFIX": prefix,
        "POSTGRES_ADMIN_URL": admin_url(),
        "MARKETPLACE_ADDONS": "postgres",
        "LOG_LEVEL": "WARNING",
    }
    try:
        with gunicorn(env) as base:
            yield Served(base, partner)
    finally:
        remove_leftovers(app)


def test_7_fifty_slow_clients_leave_healthz_and_a_provision_answering(served):
    clients = SlowClients("127.0.0.1", served.port, count=50, interval=0.5, max_seconds=120)
    try:
        assert clients.all_waiting()
        health = requests.get(f"{served.base}/healthz", timeout=30)
        body = served.partner.provision_body()
        provisioned = requests.post(
            f"{served.base}/heroku/resources",
            json=body,
            headers=served.partner.headers,
            timeout=120,
        )
        # Both answered while every slow client was still connected and still unanswered.
        waiting_after = clients.all_waiting()
        removed = requests.delete(
            f"{served.base}/heroku/resources/{body['uuid']}",
            headers=served.partner.headers,
            timeout=120,
        )
    finally:
        clients.close()

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert provisioned.status_code == 200, provisioned.text
    assert provisioned.json()["config"]["DATABASE_URL"].startswith("postgres")
    assert waiting_after, "a slow client was answered or dropped before the others were served"
    assert removed.status_code == 204


def test_8_chunked_and_declared_bodies_over_the_limit_are_413(served):
    body = json.dumps(
        served.partner.provision_body(options={"blob": "x" * (2 * 1024 * 1024)})
    ).encode()
    url = f"{served.base}/heroku/resources"
    headers = {**served.partner.headers, "Content-Type": "application/json"}

    declared = requests.post(url, data=body, headers=headers, timeout=60)
    chunked = requests.post(
        url,
        data=(body[i : i + 65536] for i in range(0, len(body), 65536)),
        headers=headers,
        timeout=60,
    )

    for response in (declared, chunked):
        assert response.status_code == 413, (declared.status_code, chunked.status_code)
        assert response.json()["id"] == "payload_too_large"

    small = served.partner.provision_body()
    accepted = requests.post(url, data=iter([json.dumps(small).encode()]), headers=headers)
    assert accepted.status_code == 200, accepted.text  # a chunked body within the limit is whole
    assert requests.delete(f"{url}/{small['uuid']}", headers=headers).status_code == 204


def test_6_nul_in_the_path_reaches_the_app_decoded_and_is_400(served):
    response = requests.get(f"{served.base}/api/addon-services/%00", timeout=30)
    assert response.status_code == 400 and "NUL" in response.json()["message"]
    unicode_path = requests.get(f"{served.base}/api/addon-services/%C3%A9", timeout=30)
    assert unicode_path.status_code == 404
    assert "'é'" in unicode_path.json()["message"]


def test_5_escape_in_nav_data_still_signs_in_through_gunicorn(served):
    provisioned = requests.post(
        f"{served.base}/heroku/resources",
        json=served.partner.provision_body(),
        headers=served.partner.headers,
        timeout=120,
    )
    resource_id = provisioned.json()["id"]
    try:
        session = requests.Session()
        form = served.partner.sso_form(resource_id, **{"nav-data": "abc\x1bdef"})
        login = session.post(f"{served.base}/sso/login", data=form, allow_redirects=False)
        assert login.status_code == 302
        dashboard = session.get(f"{served.base}{login.headers['Location']}", timeout=30)
        assert dashboard.status_code == 200
    finally:
        requests.delete(
            f"{served.base}/heroku/resources/{resource_id}",
            headers=served.partner.headers,
            timeout=120,
        )
