"""The OData 4.0 service over real Postgres: metadata, every query option, paging, keys,
writes, views, errors and injection attempts (plain HTTP through the test client)."""

from __future__ import annotations

from urllib.parse import quote
from xml.etree import ElementTree as ET

import pytest

from tests.odata_support import basic, module_world, odata_get

EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
NAMES = ["alpha", "beta", "gamma", "delta", "O'Brien", "50%_off", "epsilon", "zeta", "eta", "theta"]

SCHEMA = """
CREATE TABLE public.items (
  id serial PRIMARY KEY, name varchar(40) NOT NULL, note text, price numeric(10,2), qty int,
  big bigint, ratio float8, active boolean, born date, at timestamptz, local_at timestamp,
  u uuid, meta jsonb, tags text[]
);
CREATE SCHEMA crm;
CREATE TABLE crm."Accounts" (code text PRIMARY KEY, label text);
CREATE TABLE public.nokey (a int);
CREATE TABLE public.writable (
  id serial PRIMARY KEY, name text NOT NULL UNIQUE, amount int CHECK (amount >= 0)
);
CREATE VIEW public.items_view AS SELECT id, name, price FROM public.items;
CREATE VIEW public.noid AS SELECT name FROM public.items;
INSERT INTO crm."Accounts" VALUES ('O''Neil', 'quoted'), ('plain', 'p'), ('a b', 'space');
"""
TABLES = ("public.items", "crm.Accounts", "public.writable", "public.items_view")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('odata') / 'store.db'}"
    with module_world(store, "xosv", SCHEMA, *TABLES) as world:
        for i, name in enumerate(NAMES, start=1):
            world.sql(
                "INSERT INTO public.items (name, note, price, qty, big, ratio, active, born,"
                " at, local_at, u, meta) VALUES (" + ", ".join(["%s"] * 12) + ")",
                (
                    name,
                    None if i % 3 == 0 else f"note {i}",
                    None if i == 4 else i * 1.25,
                    i,
                    i * 10**12,
                    i / 4,
                    i % 2 == 0,
                    f"2020-01-{i:02d}",
                    f"2021-06-{i:02d}T10:00:00+02:00",
                    f"2021-06-{i:02d}T10:00:00",
                    f"00000000-0000-0000-0000-0000000000{i:02d}",
                    f'{{"n": {i}}}',
                ),
            )
        yield world


get = odata_get


def ids(answer):
    assert answer.status_code == 200, answer.get_json()
    return [row["id"] for row in answer.get_json()["value"]]


def test_service_document_lists_the_shared_sets_with_odata_headers(world):
    answer = get(world, "")
    assert answer.status_code == 200
    assert answer.headers["OData-Version"] == "4.0"
    assert answer.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    body = answer.get_json()
    assert body["@odata.context"].endswith(world.root + "$metadata")
    assert [s["name"] for s in body["value"]] == [
        "public$items",
        "crm$Accounts",
        "public$writable",
        "public$items_view",
    ]
    assert {s["kind"] for s in body["value"]} == {"EntitySet"}


def test_metadata_is_csdl_xml_matching_the_tables(world):
    answer = get(world, "$metadata")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(
        "application/xml"
    )
    root = ET.fromstring(answer.data)
    assert root.tag == f"{EDMX}Edmx" and root.get("Version") == "4.0"
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    types = {t.get("Name"): t for t in schema.findall(f"{EDM}EntityType")}
    items = types["public_items"]
    assert [r.get("Name") for r in items.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["id"]
    props = {p.get("Name"): p.attrib for p in items.findall(f"{EDM}Property")}
    assert {name: a["Type"] for name, a in props.items()} == {
        "id": "Edm.Int32",
        "name": "Edm.String",
        "note": "Edm.String",
        "price": "Edm.Decimal",
        "qty": "Edm.Int32",
        "big": "Edm.Int64",
        "ratio": "Edm.Double",
        "active": "Edm.Boolean",
        "born": "Edm.Date",
        "at": "Edm.DateTimeOffset",
        "local_at": "Edm.DateTimeOffset",
        "u": "Edm.Guid",
        "meta": "Edm.String",
    }  # tags (text[]) is not served
    assert props["name"]["MaxLength"] == "40" and props["name"]["Nullable"] == "false"
    assert props["id"]["Nullable"] == "false"
    assert (props["price"]["Precision"], props["price"]["Scale"]) == ("10", "2")
    accounts = types["crm_Accounts"]
    assert [r.get("Name") for r in accounts.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["code"]
    view = types["public_items_view"]
    assert [r.get("Name") for r in view.findall(f"{EDM}Key/{EDM}PropertyRef")] == ["id"]
    container = schema.find(f"{EDM}EntityContainer")
    sets = {s.get("Name"): s.get("EntityType") for s in container.findall(f"{EDM}EntitySet")}
    assert sets == {
        "public$items": "ExternalObjects.public_items",
        "crm$Accounts": "ExternalObjects.crm_Accounts",
        "public$writable": "ExternalObjects.public_writable",
        "public$items_view": "ExternalObjects.public_items_view",
    }


def test_a_collection_serves_rows_in_odata_json(world):
    body = get(world, "public$items", **{"$filter": "id eq 2"}).get_json()
    assert body["@odata.context"].endswith("$metadata#public$items")
    assert body["value"] == [
        {
            "id": 2,
            "name": "beta",
            "note": "note 2",
            "price": 2.5,
            "qty": 2,
            "big": 2 * 10**12,
            "ratio": 0.5,
            "active": True,
            "born": "2020-01-02",
            "at": "2021-06-02T08:00:00.000000Z",
            "local_at": "2021-06-02T10:00:00.000000Z",
            "u": "00000000-0000-0000-0000-000000000002",
            "meta": '{"n": 2}',
        }
    ]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"$select": "name,qty", "$top": "2"},
            [{"name": "alpha", "qty": 1, "id": 1}, {"name": "beta", "qty": 2, "id": 2}],
        ),
        ({"$orderby": "qty desc", "$top": "3"}, [10, 9, 8]),
        (  # a page of converted columns (timestamps) ordered by one it does not select
            {"$select": "at", "$orderby": "price desc", "$top": "2", "$skip": "1"},
            [
                {"at": "2021-06-09T08:00:00.000000Z", "id": 9},
                {"at": "2021-06-08T08:00:00.000000Z", "id": 8},
            ],
        ),
        ({"$orderby": "price asc", "$top": "2"}, [4, 1]),  # null first ascending (OData)
        ({"$top": "2", "$skip": "3"}, [4, 5]),
        ({"$skip": "8"}, [9, 10]),
        ({"$search": "OFF"}, [6]),
        ({"$search": '"o\'brien"'}, [5]),
        ({"$search": "%"}, [6]),
        (
            {"$filter": "qty gt 3 and qty le 6", "$orderby": "qty desc", "$top": "2", "$skip": "1"},
            [5, 4],
        ),
        (
            {"$filter": "active", "$search": "ta", "$orderby": "name", "$select": "name"},
            [
                {"name": "beta", "id": 2},
                {"name": "delta", "id": 4},
                {"name": "theta", "id": 10},
                {"name": "zeta", "id": 8},
            ],
        ),
    ],
)
def test_query_options_alone_and_combined(world, options, expected):
    answer = get(world, "public$items", **options)
    assert answer.status_code == 200, answer.get_json()
    rows = answer.get_json()["value"]
    assert (rows if isinstance(expected[0], dict) else [r["id"] for r in rows]) == expected


def test_count_is_the_total_of_the_filter_not_the_page(world):
    body = get(
        world, "public$items", **{"$filter": "qty ge 3", "$top": "2", "$count": "true"}
    ).get_json()
    assert body["@odata.count"] == 8 and len(body["value"]) == 2
    assert "@odata.count" not in get(world, "public$items", **{"$count": "false"}).get_json()
    count = get(world, "public$items/$count", **{"$filter": "active eq true"})
    assert count.status_code == 200 and count.get_data(as_text=True) == "5"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("name eq 'O''Brien'", [5]),
        ("name ne 'alpha' and qty lt 4", [2, 3]),
        ("not (qty lt 9)", [9, 10]),
        ("(qty eq 1 or qty eq 2) and active eq false", [1]),
        ("price eq null", [4]),
        ("price ne null and qty le 4", [1, 2, 3]),
        ("not (price gt 5)", [1, 2, 3, 4]),  # null price: 'price gt 5' is false, so not(...) holds
        ("note ne 'note 1' and qty le 4", [2, 3, 4]),  # null ne 'x' is true in OData
        ("startswith(name, 'al')", [1]),
        ("endswith(name, 'eta')", [2, 8, 9, 10]),
        ("contains(name, '%_')", [6]),
        ("contains(name, 'ET')", []),  # case-sensitive, as OData defines it
        ("not contains(note, 'note')", [3, 6, 9]),
        ("price ge 11.25", [9, 10]),
        ("ratio lt 0.5", [1]),
        ("big gt 9000000000000", [10]),
        ("born ge 2020-01-09", [9, 10]),
        ("at lt 2021-06-02T09:00:00Z", [1, 2]),
        ("local_at eq 2021-06-03T10:00:00Z", [3]),
        ("u eq 00000000-0000-0000-0000-000000000007", [7]),
        ("meta eq '{\"n\": 3}'", [3]),
        ("3 gt qty", [1, 2]),
        ("active", [2, 4, 6, 8, 10]),
    ],
)
def test_filter_expressions(world, expression, expected):
    assert ids(get(world, "public$items", **{"$filter": expression, "$orderby": "id"})) == expected


def test_server_driven_paging_follows_next_links_to_the_end(world):
    client = world.app.test_client()
    url = world.root + "public$items?$filter=" + quote("qty ge 2") + "&$orderby=name"
    seen, pages = [], 0
    while url:
        answer = client.get(url, headers={**world.auth, "Prefer": "odata.maxpagesize=4"})
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        seen += [row["name"] for row in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    assert seen == sorted(NAMES[1:])
    limited = client.get(
        world.root + "public$items?$top=5", headers={**world.auth, "Prefer": "odata.maxpagesize=3"}
    ).get_json()
    assert len(limited["value"]) == 3 and "%24top=2" in limited["@odata.nextLink"]


def test_single_entities_by_key_and_string_keys_quoted(world):
    one = get(world, "public$items(3)")
    assert one.status_code == 200
    assert one.get_json()["name"] == "gamma"
    assert one.get_json()["@odata.context"].endswith("$metadata#public$items/$entity")
    assert get(world, "public$items(id=3)", **{"$select": "name"}).get_json()["name"] == "gamma"
    assert get(world, "crm$Accounts('O''Neil')").get_json()["label"] == "quoted"
    assert get(world, "crm$Accounts('a b')").get_json()["label"] == "space"
    assert get(world, "public$items(999)").status_code == 404
    assert get(world, "public$items_view(2)").get_json()["name"] == "beta"


@pytest.mark.parametrize(
    ("path", "options", "words"),
    [
        ("public$items", {"$filter": "name eq"}, ["$filter", "malformed"]),
        ("public$items", {"$filter": "nope eq 1"}, ["no property", "nope"]),
        ("public$items", {"$filter": "qty eq 'x'"}, ["qty", "Edm.Int32"]),
        ("public$items", {"$filter": "born eq 5"}, ["born", "Edm.Date"]),
        ("public$items", {"$filter": "qty eq 99999999999"}, ["out of range"]),
        ("public$items", {"$filter": "qty add 1 eq 2"}, ["not"]),
        ("public$items", {"$filter": "qty eq qty"}, ["two properties"]),
        ("public$items", {"$filter": "length(name) eq 1"}, ["length"]),
        ("public$items", {"$filter": "tags eq 'x'"}, ["no property", "tags"]),
        ("public$items", {"$filter": "contains(qty, '1')"}, ["string property"]),
        ("public$items", {"$orderby": "nope"}, ["$orderby", "nope"]),
        ("public$items", {"$orderby": "name sideways"}, ["$orderby"]),
        ("public$items", {"$select": "name,nope"}, ["$select", "nope"]),
        ("public$items", {"$top": "-1"}, ["$top"]),
        ("public$items", {"$skip": "x"}, ["$skip"]),
        ("public$items", {"$count": "maybe"}, ["$count"]),
        ("public$items", {"$expand": "x"}, ["$expand"]),
        ("public$nothing", {}, ["no entity set"]),
        ("public$nokey", {}, ["no entity set"]),
        ("public$items('x')", {}, ["key", "id"]),
        ("public$items(1,2)", {}, ["key"]),
    ],
)
def test_bad_requests_are_odata_errors_that_name_the_problem(world, path, options, words):
    answer = get(world, path, **options)
    assert answer.status_code in (400, 404), answer.get_data(as_text=True)
    error = answer.get_json()["error"]
    assert set(error) == {"code", "message"}
    for word in words:
        assert word in error["message"], error["message"]
    assert "Traceback" not in answer.get_data(as_text=True)


FINGERPRINT = "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY id)) FROM public.items t"
INJECTIONS = [
    ("public$items", {"$filter": "name eq 'x'; DROP TABLE public.items; --"}),
    ("public$items", {"$filter": "name eq 'x' or 1 eq 1) --"}),
    ("public$items", {"$filter": "\"name\" eq 'x'"}),
    ("public$items", {"$filter": "name; DROP TABLE public.items eq 'x'"}),
    ("public$items", {"$orderby": "name; DROP TABLE public.items"}),
    ("public$items", {"$orderby": "(SELECT 1)"}),
    ("public$items", {"$orderby": 'name" desc, "id'}),
    ("public$items", {"$select": "name,(select password from pg_shadow)"}),
    ("public$items", {"$select": 'name", current_user as "x'}),
    ("public$items", {"$search": "x' OR 1=1 --", "$filter": "id eq 1 or id eq 1) OR (1=1"}),
    ("public$items(1;DROP TABLE public.items)", {}),
    ("public$items(1 or 1 eq 1)", {}),
    ("crm$Accounts('a' or '1' eq '1')", {}),
    ("public$items(id=1,id=2)", {}),
]


@pytest.mark.parametrize(("path", "options"), INJECTIONS)
def test_injection_attempts_are_400_and_change_nothing(world, path, options):
    before = world.sql(FINGERPRINT)
    answer = get(world, path, **options)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "error" in answer.get_json()
    assert world.sql(FINGERPRINT) == before


def test_a_quoted_key_with_sql_in_it_is_just_a_string(world):
    answer = get(world, "crm$Accounts('x'');DROP TABLE crm.\"Accounts\";--')")
    assert answer.status_code == 404
    assert world.sql('SELECT count(*) FROM crm."Accounts"') == [(3,)]


def test_writes_on_a_table(world):
    client = world.app.test_client()
    base = world.root + "public$writable"
    created = client.post(base, json={"name": "first", "amount": 5}, headers=world.auth)
    assert created.status_code == 201, created.get_json()
    row = created.get_json()
    assert row["name"] == "first" and row["amount"] == 5 and isinstance(row["id"], int)
    assert created.headers["Location"].endswith(f"/public%24writable({row['id']})")
    key = f"{base}({row['id']})"
    assert client.get(key, headers=world.auth).get_json()["amount"] == 5
    patched = client.patch(key, json={"amount": 7, "@odata.type": "#x"}, headers=world.auth)
    assert patched.status_code == 204 and patched.headers["OData-Version"] == "4.0"
    assert world.sql("SELECT amount FROM public.writable WHERE id = %s", (row["id"],)) == [(7,)]
    refused = client.patch(key, json={"amount": -1}, headers=world.auth)
    assert (
        refused.status_code == 400 and "check constraint" in refused.get_json()["error"]["message"]
    )
    duplicate = client.post(base, json={"name": "first"}, headers=world.auth)
    assert duplicate.status_code == 400 and "unique" in duplicate.get_json()["error"]["message"]
    missing = client.post(base, json={"amount": 1}, headers=world.auth)
    assert missing.status_code == 400 and "null" in missing.get_json()["error"]["message"]
    wrong = client.post(base, json={"name": 5}, headers=world.auth)
    assert wrong.status_code == 400 and "Edm.String" in wrong.get_json()["error"]["message"]
    unknown = client.post(base, json={"name": "x", "nope": 1}, headers=world.auth)
    assert unknown.status_code == 400 and "nope" in unknown.get_json()["error"]["message"]
    not_json = client.post(base, data="name=x", headers=world.auth)
    assert not_json.status_code == 400
    assert client.delete(key, headers=world.auth).status_code == 204
    assert client.delete(key, headers=world.auth).status_code == 404
    assert client.patch(key, json={"amount": 1}, headers=world.auth).status_code == 404
    assert world.sql("SELECT count(*) FROM public.writable") == [(0,)]


def test_views_are_read_only(world):
    client = world.app.test_client()
    base = world.root + "public$items_view"
    for answer in (
        client.post(base, json={"name": "x"}, headers=world.auth),
        client.patch(base + "(1)", json={"name": "x"}, headers=world.auth),
        client.delete(base + "(1)", headers=world.auth),
    ):
        assert answer.status_code == 405
        assert answer.headers["Allow"] == "GET"
        assert "read-only" in answer.get_json()["error"]["message"]
    assert world.sql("SELECT name FROM public.items WHERE id = 1") == [("alpha",)]


def test_wrong_or_missing_credentials_get_401_with_a_basic_challenge(world):
    client = world.app.test_client()
    for headers in (
        {},
        basic(world.credentials["username"], "wrong-password"),
        basic("0" * 32, world.credentials["password"]),
        {"Authorization": "Basic !!!"},
        {"Authorization": f"Bearer {world.token}"},
    ):
        answer = client.get(world.root + "public$items", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Basic realm="External Objects"')
        assert set(answer.get_json()["error"]) == {"code", "message"}
    other = client.get("/odata/v4/" + "f" * 32 + "/public$items", headers=world.auth)
    assert other.status_code == 401
    assert client.get("/odata/elsewhere").status_code == 404
