"""The OData 4.0 service over real Postgres: what the catalog refuses to share and why (odd
names, wide numeric keys), what it leaves out, how it describes scales and computed columns,
and the database's own refusals (generated columns, triggers) as 400s."""

from __future__ import annotations

from urllib.parse import quote
from xml.etree import ElementTree as ET

import pytest

from addons.postgres.dataservice import tenant_session
from marketplace.adapters import ProvisionRejected
from tests.odata_support import error_message, module_world, odata_get, odata_send, strict_json

SCHEMA = """
CREATE SCHEMA edge;
CREATE TABLE edge.wide (id numeric PRIMARY KEY);
CREATE TABLE edge.wide16 (id numeric(16,0) PRIMARY KEY);
CREATE TABLE edge.hundreds_key (id numeric(14,-2) PRIMARY KEY);
CREATE TABLE edge.narrow (id numeric(15,0) PRIMARY KEY, label text);
INSERT INTO edge.narrow VALUES (999999999999999, 'nines'), (999999999999998, 'eights');
CREATE TABLE edge."odd name" (id int PRIMARY KEY);
CREATE TABLE edge."a$b" (id int PRIMARY KEY);
CREATE TABLE edge."1st" (id int PRIMARY KEY);
CREATE TABLE edge."p(q)" (id int PRIMARY KEY);
CREATE TABLE edge."s/t" (id int PRIMARY KEY);
CREATE SCHEMA "we$ird";
CREATE TABLE "we$ird".t (id int PRIMARY KEY);
CREATE SCHEMA "a.b";
CREATE TABLE "a.b".c (id int PRIMARY KEY, x int);
CREATE SCHEMA a;
CREATE TABLE a."b.c" (id int PRIMARY KEY, y text);
CREATE TABLE edge.badkey ("key col" int PRIMARY KEY);
CREATE SCHEMA "Größen";
CREATE TABLE "Größen"."Maße" (
  id int PRIMARY KEY, "Größe" int, "first name" text, "a-b" int, "x,y" int, "$z" int, "1st" int
);
INSERT INTO "Größen"."Maße" (id, "Größe", "first name")
  VALUES (1, 10, 'a'), (2, 30, 'b'), (3, 20, 'c');
CREATE TABLE edge.scales (
  id int PRIMARY KEY, hundreds numeric(5,-2), tiny numeric(2,5), plain numeric(7,3)
);
INSERT INTO edge.scales VALUES (1, 12345, 0.00012, 1.5);
CREATE TABLE edge.computed (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, g int GENERATED ALWAYS AS (a * 2) STORED
);
CREATE TABLE edge.guarded (id int PRIMARY KEY, v int);
CREATE FUNCTION edge.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.v < 0 THEN RAISE EXCEPTION 'v must not be negative'; END IF;
  ASSERT NEW.v <> 13, 'v is unlucky';
  RETURN NEW;
END $$;
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON edge.guarded
  FOR EACH ROW EXECUTE FUNCTION edge.refuse();
"""
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
TABLES = ("edge.narrow", "Größen.Maße", "edge.scales", "edge.computed", "edge.guarded")
get, send = odata_get, odata_send


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('odata') / 'store.db'}"
    with module_world(store, "xoct", SCHEMA, *TABLES) as world:
        yield world


# --- what the catalog refuses ------------------------------------------------------------------

NOT_AN_IDENTIFIER = "its schema and table names must be identifiers"
REFUSED = {
    "edge.wide": "key column id is numeric: OData serves decimals as doubles",
    "edge.wide16": "key column id is numeric(16,0)",
    "edge.hundreds_key": "key column id is numeric(14,-2)",
    "edge.odd name": NOT_AN_IDENTIFIER,
    "edge.a$b": NOT_AN_IDENTIFIER,
    "edge.1st": NOT_AN_IDENTIFIER,
    "edge.p(q)": NOT_AN_IDENTIFIER,
    "edge.s/t": NOT_AN_IDENTIFIER,
    "we$ird.t": NOT_AN_IDENTIFIER,
    "a.b.c": NOT_AN_IDENTIFIER,
    "edge.badkey": "key column 'key col' is not an identifier",
}


def test_the_catalog_refuses_odd_names_and_wide_numeric_keys_and_says_why(world):
    api = f"/connect/api/v3/connections/{world.xo_uuid}/odata/tables"
    client = world.app.test_client()
    tables = client.get(api, headers=world.bearer).get_json()["tables"]
    listed = {t["name"]: t["reason"] for t in tables}
    for name, reason in REFUSED.items():
        assert listed[name] is not None and reason in listed[name], (name, listed[name])
        refused = world.share(name)
        assert refused.status_code == 422
        assert f"{name}: {reason}" in refused.get_json()["message"], name
    for name in TABLES:
        assert listed[name] is None
    served = [s["name"] for s in strict_json(get(world, ""))["value"]]
    assert served == [name.replace(".", "$", 1) for name in TABLES]  # sharing nothing changed


def test_a_numeric_key_of_15_digits_keeps_its_identity(world):
    answer = get(world, "edge$narrow(999999999999998)")
    assert strict_json(answer)["label"] == "eights"
    created = send(world, "POST", "edge$narrow", {"id": "999999999999997", "label": "sevens"})
    assert created.status_code == 201, created.get_data(as_text=True)
    followed = world.app.test_client().get(created.headers["Location"], headers=world.auth)
    assert strict_json(followed)["label"] == "sevens"


def test_unicode_names_are_served_and_encoded_in_urls(world):
    document = strict_json(get(world, ""))
    entry = next(s for s in document["value"] if s["name"] == "Größen$Maße")
    assert entry["url"] == quote("Größen$Maße", safe="$")
    answer = world.app.test_client().get(world.root + entry["url"], headers=world.auth)
    body = strict_json(answer)
    assert body["@odata.context"].endswith("$metadata#" + quote("Größen$Maße", safe="$"))
    assert body["@odata.context"].isascii()
    assert [r["id"] for r in body["value"]] == [1, 2, 3]
    selected = strict_json(get(world, "Größen$Maße", **{"$select": "Größe"}))
    assert selected["@odata.context"].isascii()
    assert selected["@odata.context"].endswith(quote("(Größe,id)", safe="(),"))


def test_columns_that_are_not_identifiers_are_left_out(world):
    rows = strict_json(get(world, "Größen$Maße", **{"$orderby": "Größe desc"}))["value"]
    assert rows == [{"id": 2, "Größe": 30}, {"id": 3, "Größe": 20}, {"id": 1, "Größe": 10}]
    filtered = strict_json(get(world, "Größen$Maße", **{"$filter": "Größe ge 20"}))["value"]
    assert [r["id"] for r in filtered] == [2, 3]
    for name in ("first name", "a-b", "x,y", "$z", "1st"):
        assert "first name" not in get(world, "$metadata").get_data(as_text=True)
        assert error_message(get(world, "Größen$Maße", **{"$select": name}))
    assert "no property" in error_message(send(world, "POST", "Größen$Maße", {"id": 9, "a-b": 1}))
    assert send(world, "POST", "Größen$Maße", {"id": 9, "Größe": 1}).status_code == 201
    assert send(world, "DELETE", "Größen$Maße(9)").status_code == 204


def _properties(world, type_name):
    root = ET.fromstring(get(world, "$metadata").data)
    schema = root.find(f"{EDMX}DataServices/{EDM}Schema")
    entity_type = next(t for t in schema.findall(f"{EDM}EntityType") if t.get("Name") == type_name)
    return {p.get("Name"): p for p in entity_type.findall(f"{EDM}Property")}


def test_metadata_of_unicode_columns_and_negative_or_large_scales(world):
    assert list(_properties(world, "Gr__en_Ma_e")) == ["id", "Größe"]
    scales = _properties(world, "edge_scales")
    shown = {name: (p.get("Precision"), p.get("Scale")) for name, p in scales.items()}
    assert shown["hundreds"] == ("7", "0")  # numeric(5,-2): up to 9999900
    assert shown["tiny"] == ("5", "5")  # numeric(2,5): up to 0.00099
    assert shown["plain"] == ("7", "3")
    assert strict_json(get(world, "edge$scales(1)"))["hundreds"] == 12300


# --- database refusals -------------------------------------------------------------------------


def test_generated_columns_are_computed_in_metadata_and_refused_in_bodies(world):
    properties = _properties(world, "edge_computed")
    computed = {
        name
        for name, prop in properties.items()
        if any(
            a.get("Term") == "Org.OData.Core.V1.Computed" for a in prop.findall(f"{EDM}Annotation")
        )
    }
    assert computed == {"id", "g"}
    created = send(world, "POST", "edge$computed", {"a": 2})
    assert created.status_code == 201 and strict_json(created)["g"] == 4
    key = created.headers["Location"].removeprefix("http://localhost" + world.root)
    for method, path, body, name in (
        ("POST", "edge$computed", {"a": 1, "g": 5}, "g"),
        ("POST", "edge$computed", {"id": 99, "a": 1}, "id"),
        ("PATCH", key, {"g": 5}, "g"),
    ):
        assert f"{name} is computed" in error_message(send(world, method, path, body))
    assert send(world, "PATCH", key, {"a": 5, "id": strict_json(created)["id"]}).status_code == 204
    assert world.sql("SELECT a, g FROM edge.computed") == [(5, 10)]


def test_the_database_refusing_a_generated_column_is_a_refusal(world):
    # a column that became generated after the catalog was read reaches the database
    with (
        pytest.raises(ProvisionRejected, match="non-DEFAULT value"),
        tenant_session(world.database_url) as conn,
    ):
        conn.execute("INSERT INTO edge.computed (a, g) VALUES (1, 5)")


def test_a_trigger_that_refuses_a_row_is_a_400_not_a_503(world):
    message = error_message(send(world, "POST", "edge$guarded", {"id": 1, "v": -1}))
    assert "v must not be negative" in message
    assert "unlucky" in error_message(send(world, "POST", "edge$guarded", {"id": 1, "v": 13}))
    assert send(world, "POST", "edge$guarded", {"id": 1, "v": 1}).status_code == 201
    assert "negative" in error_message(send(world, "PATCH", "edge$guarded(1)", {"v": -5}))
    assert world.sql("SELECT v FROM edge.guarded") == [(1,)]
