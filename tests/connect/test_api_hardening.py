"""Bad input to the Connect API gets a 4xx naming the problem and changes nothing."""

from __future__ import annotations

import pytest

from tests.connect.support import set_up, tear_down
from tests.support import PartnerClient

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


def test_a_failed_link_leaves_the_schema_as_it_was(app, standin):
    conn = set_up(app, standin, link=False, authorize=False)
    try:
        answer = conn.api(
            "PATCH", f"/connections/{conn.uuid}", json={"schema_name": "crm", "db_key": "nope"}
        )
        assert answer.status_code == 422
        assert "'nope'" in answer.get_json()["message"]
        assert conn.state()["schema_name"] == "salesforce"
        linked = conn.api(
            "PATCH",
            f"/connections/{conn.uuid}",
            json={"schema_name": "crm", "db_key": conn.db_uuid},
        )
        assert linked.status_code == 200 and linked.get_json()["schema_name"] == "crm"
    finally:
        tear_down(conn)


def test_core_only_oauth_actions_are_not_reachable_from_outside(app, standin):
    conn = set_up(app, standin, authorize=False)
    try:
        attempts = (
            ("authorize_url", {}),
            ("authorize_url", {"state": "s", "redirect_uri": "https://evil.example/cb"}),
            ("oauth_callback", {"nonce": "n", "code": "c", "redirect_uri": "https://x/cb"}),
        )
        for action, params in attempts:
            answer = conn.client.post(
                f"/resources/{conn.uuid}/actions/{action}", json=params, headers=conn.headers
            )
            assert answer.status_code == 422, (action, answer.get_json())
            assert answer.get_json()["message"] == f"Unknown action '{action}'."
        assert conn.state()["sf_info"] is None
        conn.authorize()  # the core's own flow still works
        assert conn.state()["sf_info"]["organization_id"]
    finally:
        tear_down(conn)


def test_two_connections_cannot_share_one_schema(app, standin):
    first = set_up(app, standin, authorize=False)
    second = set_up(app, standin, link=False, authorize=False)
    try:
        path = f"/connections/{second.uuid}"
        taken = second.api("PATCH", path, json={"db_key": first.db_uuid})
        assert taken.status_code == 422, taken.get_json()
        assert "used by another Connect connection" in taken.get_json()["message"]
        assert second.state()["db_key"] is None
        other = second.api("PATCH", path, json={"db_key": first.db_uuid, "schema_name": "crm"})
        assert other.status_code == 200, other.get_json()
        assert other.get_json()["schema_name"] == "crm"
        connect = PartnerClient(app.test_client(), app, "connect")
        assert connect.deprovision(first.uuid).status_code == 204  # releases the schema
        third = set_up(app, standin, link=False, authorize=False)
        try:
            reuse = third.api("PATCH", f"/connections/{third.uuid}", json={"db_key": first.db_uuid})
            assert reuse.status_code == 200, reuse.get_json()
        finally:
            tear_down(third)
    finally:
        tear_down(second)
        tear_down(first)


def test_a_hostile_import_document_from_the_dashboard_is_422_and_changes_nothing(app, standin):
    # the dashboard sends the document as a string parameter, which the edge does not decode
    conn = set_up(app, standin)
    try:
        conn.map("Contact", fields={"LastName": {}}, sf_polling_seconds=1)
        before = _mappings(conn)["Contact"]["config"]
        mapping = '{"object_name": "Contact", "config": {"fields": {"Email": {}}, "x": %s}}'
        for inner, words in (
            ("[" * 5000 + "]" * 5000, "nested more than 32 levels"),
            ("[" * 40 + "]" * 40, "nested more than 32 levels"),
            ("9" * 5000, "more than 100 digits"),
            ("NaN", "holds NaN, which JSON does not allow"),
            ('"a\\u0000"', "NUL"),
            ('"\\ud800"', "lone UTF-16 surrogate"),
        ):
            document = '{"version": 1, "mappings": [%s]}' % (mapping % inner)
            answer = conn.client.post(
                f"/resources/{conn.uuid}/actions/import",
                json={"document": document},
                headers=conn.headers,
            )
            assert answer.status_code == 422, (inner[:20], answer.get_json())
            assert words in answer.get_json()["message"]
            assert "sys.set_int_max_str_digits" not in answer.get_json()["message"]
        assert _mappings(conn)["Contact"]["config"] == before
    finally:
        tear_down(conn)
