"""Bad input to the Connect API gets a 4xx naming the problem and changes nothing."""

from __future__ import annotations

import pytest

from tests.connect.support import set_up, tear_down

pytestmark = pytest.mark.backend


def _mappings(conn) -> dict:
    return {m["object_name"]: m for m in conn.state()["mappings"]}


def test_bad_mapping_numbers_and_shapes_are_refused(app, standin):
    conn = set_up(app, standin)
    try:
        conn.map("Contact", fields={"LastName": {}}, sf_polling_seconds=1)
        before = _mappings(conn)["Contact"]["config"]
        for config in (
            {"sf_max_daily_api_calls": "abc"},
            {"sf_max_daily_api_calls": {"a": 1}},
            {"sf_max_daily_api_calls": -1},
            {"sf_max_daily_api_calls": True},
            {"sf_polling_seconds": [600]},
        ):
            answer = conn.api(
                "POST",
                f"/connections/{conn.uuid}/mappings",
                json={"object_name": "Contact", "config": {"fields": {"Email": {}}, **config}},
            )
            assert answer.status_code == 422, (config, answer.get_json())
            assert next(iter(config)) in answer.get_json()["message"]
        for body in (
            {"object_name": "Contact", "config": []},
            {"object_name": "Contact", "config": "x"},
        ):
            answer = conn.api("POST", f"/connections/{conn.uuid}/mappings", json=body)
            assert answer.status_code == 400, (body, answer.get_json())
        answer = conn.api(
            "POST",
            f"/connections/{conn.uuid}/actions/import",
            json={"version": True, "mappings": []},
        )
        assert answer.status_code == 422 and "version 1" in answer.get_json()["message"]
        assert _mappings(conn)["Contact"]["config"] == before
        good = conn.map("Contact", fields={"LastName": {}}, sf_max_daily_api_calls="5000")
        assert good["config"]["sf_max_daily_api_calls"] == 5000
    finally:
        tear_down(conn)


def test_unknown_mappings_are_404_on_every_mapping_call(app, standin):
    conn = set_up(app, standin)
    try:
        conn.map("Contact", fields={"LastName": {}}, sf_polling_seconds=1)
        for name in ("Lead", "Contact.x", "Cont\u00e4ct"):
            mapping = f"/mappings/{conn.uuid}.{name}"
            for method, path in (
                ("GET", mapping),
                ("DELETE", mapping),
                ("GET", f"{mapping}/errors"),
                ("POST", f"{mapping}/actions/reload"),
            ):
                answer = conn.api(method, path)
                assert answer.status_code == 404, (method, path, answer.get_json())
                assert answer.get_json()["message"] == "No mapping with this id."
        assert list(_mappings(conn)) == ["Contact"]
    finally:
        tear_down(conn)
