"""Fixtures for the Salesforce stand-in: a fresh org over HTTPS per test, and clients of it.

Clients trust the stand-in's throwaway CA through ``REQUESTS_CA_BUNDLE``, exactly as a
developer's shell would; certificate checks stay on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from simple_salesforce import Salesforce

from standins.salesforce import StandIn, serve

CALLBACK = "https://broker.example.test/connect/oauth/callback"


@pytest.fixture
def standin(tmp_path, monkeypatch) -> Iterator[StandIn]:
    """A running stand-in org (in-memory store) trusted through REQUESTS_CA_BUNDLE."""
    running = serve(":memory:", cert_dir=tmp_path / "certs", seed=True)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", running.ca_bundle)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sf(standin) -> Salesforce:
    """simple-salesforce on a session from the OAuth code flow."""
    tokens = oauth_login(standin)
    return Salesforce(instance_url=tokens["instance_url"], session_id=tokens["access_token"])


def authorize(standin: StandIn, decision: str = "allow", state: str = "xyz") -> dict[str, Any]:
    """Drive the authorize page as a browser would; return the callback's query parameters."""
    with requests.Session() as browser:
        page = browser.get(
            f"{standin.url}/services/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": standin.client_id,
                "redirect_uri": CALLBACK,
                "state": state,
                "scope": "api refresh_token",
            },
            timeout=10,
        )
        assert page.status_code == 200, page.text
        form = re.search(r'<form method="post" action="([^"]+)"', page.text)
        nonce = re.search(r'name="consent" value="([^"]+)"', page.text)
        assert form and nonce, page.text
        answer = browser.post(
            standin.url + form.group(1),
            data={"consent": nonce.group(1), "username": "x", "decision": decision},
            allow_redirects=False,
            timeout=10,
        )
    assert answer.status_code == 302, answer.text
    location = urlparse(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def token_call(standin: StandIn, **form: str) -> requests.Response:
    """POST /services/oauth2/token with the default connected app's credentials."""
    data = {"client_id": standin.client_id, "client_secret": standin.client_secret, **form}
    return requests.post(f"{standin.url}/services/oauth2/token", data=data, timeout=10)


def oauth_login(standin: StandIn) -> dict[str, Any]:
    """The whole web-server flow: authorize, allow, trade the code for tokens."""
    code = authorize(standin)["code"]
    response = token_call(
        standin, grant_type="authorization_code", code=code, redirect_uri=CALLBACK
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens
