"""The stand-in's SOQL parser/compiler and id helpers, without a server."""

from __future__ import annotations

import pytest

from standins.salesforce import ids, queries, soql
from standins.salesforce.errors import ApiError
from standins.salesforce.schema import load_schema
from standins.salesforce.server import build


@pytest.fixture
def org():
    made, _ = build(":memory:", seed=True)
    yield made
    made.close()


def run(org, text: str, include_deleted: bool = False) -> dict:
    return queries.run_query(org, text, "59.0", include_deleted=include_deleted, batch=2000)


@pytest.mark.parametrize(
    ("id15", "id18"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("003000000000000", "003000000000000AAA"),
        ("a01ZZZZZZZZZZZZ", "a01ZZZZZZZZZZZZY55"),
    ],
)
def test_case_safe_suffix(id15, id18):
    assert ids.to18(id15) == id18
    assert ids.normalize(id18.lower()) == id18
    assert ids.is_valid(id18) and not ids.is_valid(id18[:15] + "AAB")


def test_minted_ids_carry_prefix_and_counter():
    minted = ids.make("00Q", 12345)
    assert minted.startswith("00Q") and len(minted) == 18 and ids.is_valid(minted)
    assert ids.counter_of(minted) == 12345
    assert ids.normalize("not an id") is None


def test_parser_reads_the_subset():
    query = soql.parse(
        "select Id, Name from Account where (Name like 'a\\_b%' or "
        "NumberOfEmployees in (1, 2.5)) and not IsDeleted = false "
        "order by Name desc nulls last, Id limit 5 offset 2"
    )
    assert [f.name for f in query.fields] == ["Id", "Name"]
    assert query.sobject == "Account" and query.limit == 5 and query.offset == 2
    assert query.order_by[0].descending and query.order_by[0].nulls_last
    assert isinstance(query.where, soql.Junction) and query.where.op == "AND"
    like = query.where.items[0].items[0]  # type: ignore[union-attr]
    assert like.op == "LIKE" and like.values[0].like == "a\\_b%"
    counted = soql.parse("SELECT COUNT() FROM Lead")
    assert counted.count == soql.Count(None, None) and counted.fields == ()


@pytest.mark.parametrize(
    ("literal", "stored"),
    [
        ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.000+0000"),
        ("2024-01-01T00:00:00.000+0000", "2024-01-01T00:00:00.000+0000"),
        ("2024-01-01T02:30:00+02:30", "2024-01-01T00:00:00.000+0000"),
        ("2023-12-31T19:00:00.5-05:00", "2024-01-01T00:00:00.500+0000"),
    ],
)
def test_datetime_literals_normalise_to_the_stored_form(literal, stored):
    where = soql.parse(f"SELECT Id FROM Account WHERE SystemModstamp > {literal}").where
    assert isinstance(where, soql.Comparison)
    assert where.values[0].kind == "datetime" and where.values[0].value == stored


@pytest.mark.parametrize(
    ("text", "column", "detail"),
    [
        ("SELECT Id FROM", 15, "unexpected token: <EOF>"),
        ("SELECT Id, FROM Account", 12, "unexpected token: 'FROM'"),
        ("SELECT Id FROM Account WHERE Name = 'open", 37, "Missing closing quote"),
        ("SELECT Id FROM Account WHERE Name = 'a\\qb'", 39, "Illegal character sequence"),
        ("SELECT Id FROM Account GROUP BY Name", 24, "not supported by the Salesforce stand-in"),
    ],
)
def test_malformed_queries_point_at_the_problem(text, column, detail):
    with pytest.raises(ApiError) as caught:
        soql.parse(text)
    message = caught.value.errors[0].message
    assert caught.value.errors[0].code == "MALFORMED_QUERY"
    assert f"ERROR at Row:1:Column:{column}" in message and detail in message


def test_text_comparisons_ignore_case_and_null_semantics(org):
    assert run(org, "SELECT Id FROM Account WHERE Name = 'ACME CORPORATION'")["totalSize"] == 1
    assert run(org, "SELECT Id FROM Account WHERE Name LIKE 'g%'")["totalSize"] == 1
    assert run(org, "SELECT Id FROM Account WHERE AnnualRevenue = null")["totalSize"] == 1
    assert run(org, "SELECT Id FROM Account WHERE AnnualRevenue != null")["totalSize"] == 2
    assert run(org, "SELECT Id FROM Account WHERE NOT AnnualRevenue > 20000000")["totalSize"] == 2
    assert run(org, "SELECT Id FROM Account WHERE Industry NOT IN ('Finance')")["totalSize"] == 2
    assert run(org, "SELECT Id FROM Invoice__c WHERE Paid__c = true")["totalSize"] == 1
    assert run(org, "SELECT Id FROM Contact WHERE Birthdate < 1900-01-01")["totalSize"] == 1


def test_count_with_field_is_an_aggregate_result(org):
    result = run(org, "SELECT COUNT(Id) total FROM Account")
    assert result == {
        "totalSize": 1,
        "done": True,
        "records": [{"attributes": {"type": "AggregateResult"}, "total": 3}],
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Account.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE NumberOfEmployees = '3'", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Name = 3", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE CreatedDate > 2024-01-01", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE Id = 'xyz'", "INVALID_QUERY_FILTER_OPERATOR"),
        ("SELECT Id, id FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity", "INVALID_TYPE"),
    ],
)
def test_schema_errors(org, text, code):
    with pytest.raises(ApiError) as caught:
        run(org, text)
    assert caught.value.errors[0].code == code


def test_at_most_ten_cursors_stay_open(org):
    from standins.salesforce import generate

    generate(org, "Lead", 450)
    locators = [
        queries.run_query(org, "SELECT Id FROM Lead", "59.0", include_deleted=False, batch=200)[
            "nextRecordsUrl"
        ].rsplit("/", 1)[1]
        for _ in range(11)
    ]
    with pytest.raises(ApiError) as caught:
        queries.query_more(org, locators[0], "59.0", "query")
    assert caught.value.errors[0].code == "INVALID_QUERY_LOCATOR"
    page = queries.query_more(org, locators[-1], "59.0", "query")
    assert len(page["records"]) == 200 and page["totalSize"] == 452


def test_schema_file_defines_the_requested_objects():
    schema = load_schema()
    prefixes = {o.name: o.key_prefix for o in schema.objects}
    assert prefixes == {"Account": "001", "Contact": "003", "Lead": "00Q", "Invoice__c": "a01"}
    lead = schema.get("lead")
    assert lead is not None and lead.field("status").default_value == "Open - Not Contacted"
