"""The OData 4.0 service over real Postgres at its edges: special numbers, long filters,
odd keys and their Location, query options, and what is logged."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import pytest

from marketplace.odata import protocol
from tests.odata_support import error_message, module_world, odata_get, odata_send, strict_json

SCHEMA = """
CREATE SCHEMA edge;
CREATE TABLE edge.floats (id int PRIMARY KEY, d float8, r real, n numeric, n2 numeric(10,2));
INSERT INTO edge.floats VALUES
  (1, 'NaN', 'Infinity', 'NaN', 1.5), (2, '-Infinity', 1, 'Infinity', 2),
  (3, 'Infinity', '-Infinity', '-Infinity', 3), (4, 0.5, 0.25, 1, 4);
CREATE TABLE edge.flags (id int PRIMARY KEY, b boolean NOT NULL DEFAULT true);
INSERT INTO edge.flags SELECT g, g % 2 = 0 FROM generate_series(0, 99) g;
CREATE TABLE edge.guids (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), label text);
CREATE TABLE edge.days (d date PRIMARY KEY, label text);
CREATE TABLE edge.moments (at timestamptz PRIMARY KEY, label text);
CREATE TABLE edge.locals (at timestamp PRIMARY KEY, label text);
CREATE TABLE edge.clocks (t time PRIMARY KEY, label text);
CREATE TABLE edge.texts (code text PRIMARY KEY, label text);
CREATE TABLE edge.pairs (a text, b int, label text, PRIMARY KEY (a, b));
CREATE TABLE edge.decimals (id numeric(12,3) PRIMARY KEY, label text);
INSERT INTO edge.texts VALUES ('x=y', 'equals'), ('a,b', 'comma'), ('k=''v''', 'quoted');
INSERT INTO edge.pairs VALUES ('p=q,r', 1, 'both');
"""
TABLES = (
    "edge.floats",
    "edge.flags",
    "edge.guids",
    "edge.days",
    "edge.moments",
    "edge.locals",
    "edge.clocks",
    "edge.texts",
    "edge.pairs",
    "edge.decimals",
)
get, send = odata_get, odata_send


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('odata') / 'store.db'}"
    with module_world(store, "xoed", SCHEMA, *TABLES) as world:
        yield world


# --- special numbers ---------------------------------------------------------------------------


def test_nan_and_infinities_are_odata_strings_in_strict_json(world):
    answer = get(world, "edge$floats", **{"$orderby": "id"})
    assert answer.status_code == 200
    rows = strict_json(answer)["value"]
    assert [(r["d"], r["r"], r["n"]) for r in rows] == [
        ("NaN", "INF", "NaN"),
        ("-INF", 1.0, "INF"),
        ("INF", "-INF", "-INF"),
        (0.5, 0.25, 1.0),
    ]
    assert rows[0]["n2"] == 1.5
    one = get(world, "edge$floats(1)")
    assert strict_json(one)["d"] == "NaN"


def test_double_columns_take_the_special_strings_and_refuse_overflowing_numbers(world):
    created = send(world, "POST", "edge$floats", {"id": 10, "d": "INF", "r": "NaN", "n2": 1})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert strict_json(created)["d"] == "INF" and strict_json(created)["r"] == "NaN"
    assert world.sql("SELECT d::text, r::text FROM edge.floats WHERE id = 10") == [
        ("Infinity", "NaN")
    ]
    assert send(world, "PATCH", "edge$floats(10)", {"d": "-INF"}).status_code == 204
    assert world.sql("SELECT d::text FROM edge.floats WHERE id = 10") == [("-Infinity",)]
    client = world.app.test_client()
    for raw in ('{"id": 11, "d": 1e400}', '{"id": 11, "d": NaN}', '{"id": 11, "d": -Infinity}'):
        answer = client.post(
            world.root + "edge$floats",
            data=raw,
            headers={**world.auth, "Content-Type": "application/json"},
        )
        assert "d" in error_message(answer)
    assert "d" in error_message(send(world, "POST", "edge$floats", {"id": 11, "d": 10**400}))
    assert "d" in error_message(send(world, "POST", "edge$floats", {"id": 11, "d": "inf"}))
    for text in ("NaN", "sNaN", "Infinity", "-Infinity"):
        answer = send(world, "POST", "edge$floats", {"id": 11, "n": text})
        assert "Edm.Decimal" in error_message(answer)
    assert world.sql("SELECT count(*) FROM edge.floats WHERE id = 11") == [(0,)]
    assert send(world, "DELETE", "edge$floats(10)").status_code == 204


def test_a_key_too_large_for_its_index_is_a_400_not_a_503(world):
    # Postgres refuses an index entry over ~2.7 kB (program_limit_exceeded, class 54): the
    # client sent too much, the database is not down
    huge = secrets.token_urlsafe(6000)  # 8000 characters that do not compress
    message = error_message(send(world, "POST", "edge$texts", {"code": huge, "label": "big"}))
    assert "index row size" in message and huge[:20] not in message
    assert world.sql("SELECT count(*) FROM edge.texts WHERE label = 'big'") == [(0,)]
    answer = send(world, "PATCH", quote("edge$texts('a,b')", safe="$()"), {"code": huge})
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert world.sql("SELECT code FROM edge.texts WHERE label = 'comma'") == [("a,b",)]


@pytest.mark.parametrize("entity_set", ["edge$moments", "edge$locals"])
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_time_that_leaves_the_years_1_to_9999_in_utc_is_a_400(world, entity_set, moment):
    # Postgres would store year 10000 or 1 BC, which no key literal can then address
    message = error_message(send(world, "POST", entity_set, {"at": moment, "label": "far"}))
    assert "years 1 to 9999" in message
    table = entity_set.replace("$", ".")
    assert world.sql(f"SELECT count(*) FROM {table} WHERE label = 'far'") == [(0,)]
    # in a URL too (odata-query's lexer already refuses the year 0001 with an offset)
    answer = get(world, entity_set, **{"$filter": f"at lt {moment}"})
    key = get(world, quote(f"{entity_set}({moment})", safe="$()"))
    for message in (error_message(answer), error_message(key)):
        assert "years 1 to 9999" in message or moment.startswith("0001")


# --- what is logged ----------------------------------------------------------------------------


def test_an_unexpected_error_is_a_500_that_logs_no_client_text(world, monkeypatch, caplog):
    secret = "secret-from-" + "the-exception"

    def explode(*args, **kwargs):
        raise RuntimeError(secret)

    monkeypatch.setattr(protocol, "parse_query", explode)
    caplog.set_level(logging.DEBUG)
    answer = get(world, "edge$floats", **{"clienttext": "secret-from-the-client"})
    assert "internal_error" in answer.get_data(as_text=True) and answer.status_code == 500
    # the access log's line (every request's path, at INFO) is not this error's
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert "RuntimeError" in logged
    assert "secret-from" not in logged
    assert "edge$floats" not in logged


# --- long filters ------------------------------------------------------------------------------


def test_a_long_chain_of_or_is_one_level_not_too_deep(world):
    chain = " or ".join(f"id eq {i}" for i in range(0, 140, 2))  # 70 terms, as Salesforce sends
    answer = get(world, "edge$flags", **{"$filter": chain, "$orderby": "id"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert [r["id"] for r in strict_json(answer)["value"]] == list(range(0, 100, 2))
    chain = " and ".join(f"id ne {i}" for i in range(0, 99))  # 99 terms
    answer = get(world, "edge$flags", **{"$filter": chain})
    assert [r["id"] for r in strict_json(answer)["value"]] == [99]
    mixed = f"b and ({' or '.join(f'id eq {i}' for i in range(70))}) and not (id lt 60)"
    answer = get(world, "edge$flags", **{"$filter": mixed, "$orderby": "id"})
    assert [r["id"] for r in strict_json(answer)["value"]] == [60, 62, 64, 66, 68]


def test_real_nesting_and_the_number_of_conditions_stay_bounded(world):
    nested = "(" * 70 + "b" + ")" * 70
    assert get(world, "edge$flags", **{"$filter": nested}).status_code == 200  # parentheses only
    deep = "not " * 70 + "b"
    assert "nested too deeply" in error_message(get(world, "edge$flags", **{"$filter": deep}))
    too_many = " or ".join(["b"] * 1001)
    answer = get(world, "edge$flags", **{"$filter": too_many})
    assert "more than 1000 conditions" in error_message(answer)
    alternating = " and ".join(["(b or b)"] * 501)  # 1002 conditions
    answer = get(world, "edge$flags", **{"$filter": alternating})
    assert "more than 1000 conditions" in error_message(answer)
    assert get(world, "edge$flags", **{"$filter": " or ".join(["b"] * 1000)}).status_code == 200


# --- query options -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "٣", "1²", "\uff11", "9" * 5000, "1_0", "+1", " "])
@pytest.mark.parametrize("option", ["$top", "$skip"])
def test_top_and_skip_take_ascii_digits_only(world, option, value):
    assert option in error_message(get(world, "edge$flags", **{option: value}))


def test_top_and_skip_with_ascii_digits(world):
    answer = get(world, "edge$flags", **{"$top": " 2 ", "$skip": "0003", "$orderby": "id"})
    assert [r["id"] for r in strict_json(answer)["value"]] == [3, 4]


# --- keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("edge$texts('x=y')", "equals"),
        ("edge$texts(code='x=y')", "equals"),
        ("edge$texts( code = 'x=y' )", "equals"),
        ("edge$texts('a,b')", "comma"),
        ("edge$texts(code='a,b')", "comma"),
        ("edge$texts('k=''v''')", "quoted"),
        ("edge$pairs(a='p=q,r',b=1)", "both"),
        ("edge$pairs(b=1,a='p=q,r')", "both"),
    ],
)
def test_string_keys_with_equals_and_commas_inside_quotes(world, path, label):
    answer = get(world, quote(path, safe="$()"))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert strict_json(answer)["label"] == label


@pytest.mark.parametrize(
    "path",
    [
        "edge$texts(code=)",
        "edge$texts(=1)",
        "edge$texts(code='x'=1)",
        "edge$pairs('p=q,r')",
        "edge$pairs(a='x',a='y')",
        "edge$pairs(a='x',b=1,c=2)",
        "edge$texts('x=y)",
    ],
)
def test_malformed_keys_are_400(world, path):
    assert "key" in error_message(get(world, quote(path, safe="$()")))


@pytest.mark.parametrize(
    ("entity_set", "body", "bare_key"),
    [
        ("edge$guids", {"label": "g"}, "id"),
        ("edge$days", {"d": "2024-02-29", "label": "leap"}, "d"),
        ("edge$moments", {"at": "2024-01-01T10:00:00.123456+02:00", "label": "m"}, "at"),
        ("edge$locals", {"at": "2024-01-01T10:00:00Z", "label": "l"}, "at"),
        ("edge$clocks", {"t": "10:30:00.25", "label": "c"}, "t"),
        ("edge$texts", {"code": "it's = a/b, 50% #1?", "label": "odd"}, None),
        ("edge$pairs", {"a": "x=y,'z'", "b": -3, "label": "pair"}, None),
        ("edge$decimals", {"id": "123456789.125", "label": "dec"}, "id"),
        ("edge$floats", {"id": 77, "d": "NaN"}, "id"),
    ],
)
def test_location_after_post_can_be_followed_for_every_key_type(world, entity_set, body, bare_key):
    created = send(world, "POST", entity_set, body)
    assert created.status_code == 201, created.get_data(as_text=True)
    location = created.headers["Location"]
    assert created.headers["OData-EntityId"] == location
    assert location.startswith("http://localhost" + world.root)
    path = location.removeprefix("http://localhost")
    assert "'" not in path and " " not in path  # percent-encoded
    client = world.app.test_client()
    followed = client.get(path, headers=world.auth)
    assert followed.status_code == 200, (path, followed.get_data(as_text=True))
    entity = strict_json(created)
    assert strict_json(followed) | {"@odata.context": 0} == entity | {"@odata.context": 0}
    if bare_key is not None:  # typed literals are not quoted like strings
        assert path.endswith("(" + quote(str(entity[bare_key]), safe="") + ")")
    assert client.delete(path, headers=world.auth).status_code == 204


@pytest.mark.parametrize(
    "value",
    [
        "json",
        "JSON",
        "application/json",
        "application/json;odata.metadata=minimal",
        "application/json; odata.metadata=none",
        "json;odata.metadata=minimal;odata.streaming=true",
        "application/json;IEEE754Compatible=false;charset=utf-8",
    ],
)
def test_format_json_with_parameters_is_served(world, value):
    answer = get(world, "edge$flags", **{"$format": value, "$top": "1"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    assert get(world, "edge$flags(1)", **{"$format": value}).status_code == 200


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("xml", "json"),
        ("application/atom+xml", "json"),
        ("application/json;odata.metadata=full", "odata.metadata=minimal"),
        ("json;odata.metadata=bogus", "odata.metadata=minimal"),
        ("application/json;IEEE754Compatible=true", "IEEE754Compatible"),
    ],
)
def test_other_formats_are_refused_by_name(world, value, words):
    assert words in error_message(get(world, "edge$flags", **{"$format": value}))


# --- smaller protocol points -------------------------------------------------------------------


def test_batch_is_refused_as_not_served(world):
    for method in ("GET", "POST"):
        answer = world.app.test_client().open(
            world.root + "$batch", method=method, headers=world.auth
        )
        assert "$batch is not served" in error_message(answer)


def test_a_system_query_option_given_twice_is_400(world):
    client = world.app.test_client()
    for query in ("$top=1&$top=3", "$filter=b&$filter=id eq 1", "$format=json&$format=json"):
        answer = client.get(world.root + "edge$flags?" + query, headers=world.auth)
        assert "more than once" in error_message(answer)
    answer = client.get(world.root + "edge$flags(1)?$select=b&$select=id", headers=world.auth)
    assert "more than once" in error_message(answer)
    custom = client.get(world.root + "edge$flags?x=1&x=2&$top=1", headers=world.auth)
    assert custom.status_code == 200  # custom options are ignored


def test_expand_on_one_entity_is_400_like_on_a_collection(world):
    assert "$expand" in error_message(get(world, "edge$flags(1)", **{"$expand": "x"}))
    assert "$apply" in error_message(get(world, "edge$flags(1)", **{"$apply": "x"}))


def test_a_honoured_maxpagesize_preference_is_applied(world):
    answer = get(world, "edge$flags", headers={"Prefer": "odata.maxpagesize=7"})
    assert answer.headers["Preference-Applied"] == "odata.maxpagesize=7"
    assert len(strict_json(answer)["value"]) == 7
    huge = get(world, "edge$flags", headers={"Prefer": "odata.maxpagesize=" + "9" * 5000})
    assert huge.status_code == 200 and len(strict_json(huge)["value"]) == 100
    assert "Preference-Applied" not in get(world, "edge$flags").headers
