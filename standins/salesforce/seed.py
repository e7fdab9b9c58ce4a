"""Demo data (``--seed``) and fast generated loads (benchmarks: 100,000 Accounts).

:func:`seed_demo` creates a few related records of each object through the normal write path.
:func:`generate` skips per-record validation and inserts straight into SQLite with
``executemany``, 200 records per SystemModstamp (Salesforce's trigger chunk size), so a
100,000-record load takes a couple of seconds and still gives pollers distinct, increasing
stamps.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from standins.salesforce import dml, ids, records
from standins.salesforce.errors import ApiError
from standins.salesforce.schema import FieldDef, ObjectDef
from standins.salesforce.store import Org, quote

CHUNK = 200


def _value(f: FieldDef, obj: ObjectDef, n: int, rng: random.Random,
           parents: dict[str, list[str]]) -> Any:
    """A plausible value for field ``f`` of generated record number ``n``."""
    if f.external_id:
        return f"{obj.key_prefix}-gen-{n}"
    if f.name_field or f.name in ("LastName", "Company"):
        return f"{obj.label} {n:06d}"
    kind = f.type
    if kind == "picklist":
        return rng.choice(f.picklist_values) if f.picklist_values else None
    if kind == "reference":
        choices = parents.get(f.reference_to or "", [])
        return rng.choice(choices) if choices else None
    if kind in ("currency", "double", "percent"):
        return float(round(rng.uniform(1_000, 5_000_000), f.scale))
    if kind == "int":
        return rng.randint(1, 50_000)
    if kind == "boolean":
        return int(rng.random() < 0.5)
    if kind == "date":
        return (date(2020, 1, 1) + timedelta(days=rng.randint(0, 2500))).isoformat()
    if kind == "email":
        return f"person{n}@example.com"
    if kind == "phone":
        return f"+1 415 555 {n % 10000:04d}"
    if kind == "url":
        return f"https://example.com/{obj.name.lower()}/{n}"
    if kind in ("string", "textarea"):
        return f"{f.label} {n}"[: f.length or 80]
    return None


def _parents(org: Org, obj: ObjectDef) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in obj.fields:
        target = org.schema.get(f.reference_to or "") if not f.system else None
        if target is not None:
            found[target.name] = [r[0] for r in org.db.execute(
                f'SELECT "Id" FROM {target.table} WHERE "IsDeleted" = 0 LIMIT 1000')]
    return found


def generate(org: Org, sobject: str, count: int, seed: int = 0) -> int:
    """Insert ``count`` generated records of ``sobject`` in one transaction; return the count."""
    obj = org.schema.get(sobject)
    if obj is None:
        raise ApiError(404, "NOT_FOUND", f"sObject type '{sobject}' is not supported")
    if count <= 0:
        return 0
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    names = [f.name for f in obj.fields]
    sql = (f"INSERT INTO {obj.table} ({', '.join(quote(n) for n in names)}) "
           f"VALUES ({', '.join('?' for _ in names)})")
    with org.transaction() as db:
        parents = _parents(org, obj)
        new_ids = org.allocate_ids(obj, count)
        for start in range(0, count, CHUNK):
            stamp = org.clock.next()
            rows = []
            for record_id in new_ids[start : start + CHUNK]:
                n = ids.counter_of(record_id)
                system = dml.system_values(org, record_id, stamp, creating=True)
                rows.append([system[f.name] if f.system else _value(f, obj, n, rng, parents)
                             for f in obj.fields])
            db.executemany(sql, rows)
    return count


DEMO: dict[str, list[dict[str, Any]]] = {
    "Account": [
        {"Name": "Acme Corporation", "Industry": "Manufacturing", "AnnualRevenue": 12000000,
         "NumberOfEmployees": 350, "Phone": "+1 415 555 0100",
         "Website": "https://acme.example.com", "External_Id__c": "demo-acc-1"},
        {"Name": "Globex", "Industry": "Technology", "AnnualRevenue": 54000000,
         "NumberOfEmployees": 1200, "External_Id__c": "demo-acc-2"},
        {"Name": "Initech", "Industry": "Finance", "Description": "Printers, mostly.",
         "External_Id__c": "demo-acc-3"},
    ],
    "Contact": [
        {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@acme.example.com",
         "Birthdate": "1815-12-10", "External_Id__c": "demo-con-1"},
        {"FirstName": "Grace", "LastName": "Hopper", "Email": "grace@globex.example.com",
         "External_Id__c": "demo-con-2"},
        {"FirstName": "Peter", "LastName": "Gibbons", "Email": "peter@initech.example.com",
         "External_Id__c": "demo-con-3"},
    ],
    "Lead": [
        {"LastName": "Smykowski", "Company": "Initech", "Email": "tom@initech.example.com"},
        {"LastName": "Bolton", "Company": "Initech", "Status": "Working - Contacted"},
    ],
    "Invoice__c": [
        {"Name": "INV-0001", "Amount__c": 1200.5, "Due_Date__c": "2025-01-31",
         "External_Id__c": "demo-inv-1"},
        {"Name": "INV-0002", "Amount__c": 99.99, "Paid__c": True, "Due_Date__c": "2025-02-28",
         "External_Id__c": "demo-inv-2"},
    ],
}


def seed_demo(org: Org) -> int:
    """Create the demo records unless the org already has accounts; return how many."""
    account = org.schema.get("Account")
    assert account is not None
    with org.reading() as db:
        if db.execute(f"SELECT COUNT(*) FROM {account.table}").fetchone()[0]:
            return 0
    created: dict[str, list[str]] = {}
    for name, bodies in DEMO.items():
        obj = org.schema.get(name)
        assert obj is not None
        for i, body in enumerate(bodies):
            values = records.parse_body(obj, body)
            accounts = created.get("Account", [])
            if accounts and name in ("Contact", "Invoice__c"):
                values["AccountId" if name == "Contact" else "Account__c"] = accounts[
                    i % len(accounts)]
            result = dml.run(org, [dml.insert_step(org, obj, values)], False)[0]
            if not result.success:
                raise ApiError.from_record_errors(400, result.errors)
            created.setdefault(name, []).append(str(result.id))
    return sum(len(v) for v in created.values())
