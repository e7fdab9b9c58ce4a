"""The Kafka adapter's login check, run beside the rest of a provision (no Kafka needed)."""

from __future__ import annotations

import threading

import pytest

from addons.kafka.cluster import ClusterSettings, login_awaited
from marketplace.adapters import BackendUnavailable

NOWHERE = ClusterSettings("127.0.0.1:1", "admin", "secret", timeout_seconds=0.3)


def test_a_login_that_never_works_fails_the_provision_once_the_rest_is_made():
    made = []
    with (
        pytest.raises(BackendUnavailable, match="not reachable"),
        login_awaited(NOWHERE, "tenant", "password", deadline_seconds=5),
    ):
        made.append("acls and quotas")
    assert made == ["acls and quotas"]


def test_a_failing_provision_stops_the_login_check_without_waiting_for_it():
    with (
        pytest.raises(ValueError, match="quota refused"),
        login_awaited(NOWHERE, "tenant", "password", deadline_seconds=60),
    ):
        raise ValueError("quota refused")
    (check,) = [t for t in threading.enumerate() if t.name == "kafka-login-check"]
    assert check.is_alive()  # the error came straight back
    check.join(timeout=20)  # its current try ends; it would poll for 60 s if not stopped
    assert not check.is_alive()
