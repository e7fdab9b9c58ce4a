"""Writes, HEAD and request headers as OData clients send them: ``If-Match``/``If-None-Match``
on a service that offers no ETags, HEAD of an entity, 204 answers, ``Accept`` and
``OData-MaxVersion`` (real Postgres)."""

from __future__ import annotations

import pytest

from tests.odata_support import error_message, module_world

SCHEMA = """
CREATE SCHEMA cw;
CREATE TABLE cw.notes (id int PRIMARY KEY, body text);
INSERT INTO cw.notes VALUES (1, 'one'), (2, 'two');
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('odata') / 'store.db'}"
    with module_world(store, "xocw", SCHEMA, "cw.notes") as world:
        yield world


def send(world, method, path, body=None, **headers):
    client = world.app.test_client()
    return client.open(
        world.root + path, method=method, json=body, headers={**world.auth, **headers}
    )


def test_if_match_with_an_etag_is_412_and_changes_nothing_as_no_etags_are_offered(world):
    for method, body in (("PATCH", {"body": "changed"}), ("DELETE", None)):
        answer = send(world, method, "cw$notes(1)", body, **{"If-Match": 'W/"abc"'})
        assert error_message(answer, 412)
        assert answer.get_json()["error"]["code"] == "precondition_failed"
    assert world.sql("SELECT body FROM cw.notes WHERE id = 1") == [("one",)]
    assert (
        send(world, "PATCH", "cw$notes(1)", {"body": "uno"}, **{"If-Match": "*"}).status_code == 204
    )
    assert world.sql("SELECT body FROM cw.notes WHERE id = 1") == [("uno",)]


def test_if_none_match_star_refuses_a_write_to_an_existing_entity(world):
    answer = send(world, "PATCH", "cw$notes(2)", {"body": "x"}, **{"If-None-Match": "*"})
    assert "exists" in error_message(answer, 412)
    assert error_message(send(world, "DELETE", "cw$notes(2)", **{"If-None-Match": "*"}), 412)
    assert world.sql("SELECT body FROM cw.notes WHERE id = 2") == [("two",)]
    missing = send(world, "PATCH", "cw$notes(99)", {"body": "x"}, **{"If-None-Match": "*"})
    assert error_message(missing, 404)


def test_head_of_an_entity_reads_it_instead_of_taking_it_for_a_write(world):
    client = world.app.test_client()
    found = client.head(world.root + "cw$notes(2)", headers=world.auth)
    assert found.status_code == 200 and found.headers["OData-Version"] == "4.0"
    assert found.headers["Content-Type"].startswith("application/json")
    missing = client.head(world.root + "cw$notes(99)", headers=world.auth)
    assert missing.status_code == 404


def test_no_content_answers_carry_no_content_type_and_representation_is_acknowledged(world):
    created = send(world, "POST", "cw$notes", {"id": 7, "body": "seven"})
    assert created.status_code == 201 and "Preference-Applied" not in created.headers
    patched = send(world, "PATCH", "cw$notes(7)", {"body": "7"})
    assert patched.status_code == 204 and "Content-Type" not in patched.headers
    assert patched.get_data() == b""
    shown = send(world, "PATCH", "cw$notes(7)", {"body": "sju"}, Prefer="return=representation")
    assert shown.status_code == 200 and shown.get_json()["body"] == "sju"
    assert shown.headers["Preference-Applied"] == "return=representation"
    again = send(world, "POST", "cw$notes", {"id": 8, "body": "b"}, Prefer="return=representation")
    assert (
        again.status_code == 201 and again.headers["Preference-Applied"] == "return=representation"
    )
    deleted = send(world, "DELETE", "cw$notes(7)")
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers
    assert send(world, "DELETE", "cw$notes(8)").status_code == 204


def get(world, path, **headers):
    return world.app.test_client().get(world.root + path, headers={**world.auth, **headers})


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false",
        "application/json;odata.metadata=full",  # answered with minimal, and says so
        "application/json;odata.metadata=none, text/plain;q=0.5",
        "application/*",
        "*/*;q=0.1",
        "application/atom+xml;q=0.9, application/json;q=0.8",
        "",
    ],
)
def test_an_accept_that_allows_json_gets_json(world, accept):
    for path in ("", "cw$notes", "cw$notes(1)"):
        answer = get(world, path, Accept=accept)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert answer.headers["Content-Type"] == "application/json;odata.metadata=minimal"


@pytest.mark.parametrize(
    "accept", ["application/xml", "application/atom+xml", "text/html", "application/json;q=0"]
)
def test_an_accept_that_excludes_json_is_406_and_writes_nothing(world, accept):
    for path in ("", "cw$notes", "cw$notes(1)"):
        answer = get(world, path, Accept=accept)
        assert "Accept" in error_message(answer, 406)
        assert answer.get_json()["error"]["code"] == "not_acceptable"
    posted = send(world, "POST", "cw$notes", {"id": 50, "body": "x"}, Accept=accept)
    assert error_message(posted, 406)
    assert world.sql("SELECT count(*) FROM cw.notes WHERE id = 50") == [(0,)]
    # $metadata is CSDL XML and $count plain text whatever is asked
    assert get(world, "$metadata", Accept=accept).status_code == 200
    assert get(world, "cw$notes/$count", Accept=accept).status_code == 200


def test_a_client_below_odata_4_is_told_so(world):
    for version in ("3.0", "2.0", "x"):
        answer = get(world, "cw$notes", **{"OData-MaxVersion": version})
        assert "OData 4.0" in error_message(answer)
    for version in ("4.0", "4.01", "5.0"):
        answer = get(world, "cw$notes", **{"OData-MaxVersion": version})
        assert answer.status_code == 200 and answer.headers["OData-Version"] == "4.0"
