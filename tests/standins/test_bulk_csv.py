"""The stand-in's Bulk API 2.0 result pages (``standins/salesforce/bulk_csv.py``): every value
quoted, inner quotes doubled, nulls ``""``, booleans ``true``/``false``, datetimes ``...Z``,
numbers in their shortest form."""

from __future__ import annotations

from standins.salesforce import bulk_csv, queries
from standins.salesforce.seed import generate
from standins.salesforce.server import build
from standins.salesforce.soql_compile import plan

SOQL = "SELECT Id, Name, AnnualRevenue, NumberOfEmployees, IsDeleted, SystemModstamp FROM Account"


def _page(org, delimiter=",", line_ending="\n", start=0, count=10):
    p = plan(org.schema, SOQL, False)
    cursor = queries.open_cursor(org, p, queries.matching_rowids(org, p), 2000, pinned=True)
    return bulk_csv.page(org, cursor, p.obj, p.fields, start, count, delimiter, line_ending)


def test_values_are_written_as_bulk_api_csv():
    org, _ = build(":memory:")
    generate(org, "Account", 3)
    table = org.schema.get("Account").table
    org.db.execute(
        f'UPDATE {table} SET "Name" = ?, "AnnualRevenue" = ?, "NumberOfEmployees" = NULL, '
        '"SystemModstamp" = ? WHERE rowid = 1',
        ('Say "hi",\nthen go', 0.1 + 0.2, "2024-05-06T07:08:09.000+0000"),
    )
    org.db.execute(f'UPDATE {table} SET "AnnualRevenue" = 1e16 WHERE rowid = 2')
    org.db.execute(f'UPDATE {table} SET "AnnualRevenue" = NULL WHERE rowid = 3')
    text, rows = _page(org)
    lines = text.split("\n")
    assert rows == 3 and text.endswith("\n")
    assert lines[0] == (
        '"Id","Name","AnnualRevenue","NumberOfEmployees","IsDeleted","SystemModstamp"'
    )
    first_id = lines[1].split(",")[0]
    assert lines[1] + "\n" + lines[2] == (
        f'{first_id},"Say ""hi"",\nthen go","0.30000000000000004","","false",'
        '"2024-05-06T07:08:09.000Z"'
    )
    assert ',"10000000000000000",' in lines[3]
    assert ',"",' in lines[4]


def test_delimiter_line_ending_and_paging():
    org, _ = build(":memory:")
    generate(org, "Account", 5)
    text, rows = _page(org, delimiter="|", line_ending="\r\n", start=3, count=10)
    assert rows == 2
    lines = text.split("\r\n")
    assert lines[0].startswith('"Id"|"Name"|') and lines[-1] == "" and len(lines) == 4
    assert all(line.count('"|"') == 5 for line in lines[:-1])
