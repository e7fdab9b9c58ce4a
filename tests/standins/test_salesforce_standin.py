"""The Salesforce stand-in, driven by the real simple-salesforce client over verified HTTPS."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import io
from datetime import UTC, datetime, timedelta

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from standins.salesforce import ids
from tests.standins.conftest import CALLBACK, authorize, oauth_login, token_call

SMALL_BATCH = {"Sforce-Query-Options": "batchSize=200"}


def _error(exc: pytest.ExceptionInfo) -> dict:
    """The first Salesforce error of a simple-salesforce exception."""
    return exc.value.content[0]


# --- TLS and OAuth ---------------------------------------------------------------------------


def test_certificate_is_checked_not_skipped(standin, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{standin.url}/services/data/", timeout=10)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", standin.ca_bundle)
    assert requests.get(f"{standin.url}/services/data/", timeout=10).status_code == 200
    localhost = standin.url.replace("127.0.0.1", "localhost")
    assert requests.get(f"{localhost}/services/data/", timeout=10).status_code == 200


def test_code_flow_returns_salesforce_token_shape(standin):
    tokens = oauth_login(standin)
    assert set(tokens) == {
        "access_token",
        "refresh_token",
        "signature",
        "scope",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert tokens["instance_url"] == standin.url
    assert tokens["id"] == f"{standin.url}/id/{standin.org.org_id}/{standin.org.user_id}"
    assert tokens["token_type"] == "Bearer"
    assert tokens["access_token"].startswith(standin.org.org_id[:15] + "!")
    expected = hmac.new(
        standin.client_secret.encode(),
        (tokens["id"] + tokens["issued_at"]).encode(),
        hashlib.sha256,
    ).digest()
    assert base64.b64decode(tokens["signature"]) == expected
    identity = requests.get(
        tokens["id"], timeout=10, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert identity.json()["organization_id"] == standin.org.org_id


def test_authorize_keeps_state_and_deny_reports_access_denied(standin):
    assert authorize(standin, state="s-1")["state"] == "s-1"
    denied = authorize(standin, decision="deny", state="s-2")
    assert denied == {
        "error": "access_denied",
        "state": "s-2",
        "error_description": "end-user denied authorization",
    }


def test_authorize_refuses_unknown_client_without_redirecting(standin):
    page = requests.get(
        f"{standin.url}/services/oauth2/authorize",
        allow_redirects=False,
        params={"response_type": "code", "client_id": "nobody", "redirect_uri": CALLBACK},
        timeout=10,
    )
    assert page.status_code == 400
    assert "invalid_client_id" in page.text


def test_code_is_single_use_and_checks_client_and_redirect(standin):
    code = authorize(standin)["code"]
    wrong_uri = token_call(
        standin,
        grant_type="authorization_code",
        code=code,
        redirect_uri="https://elsewhere.test/cb",
    )
    assert wrong_uri.status_code == 400
    assert wrong_uri.json() == {
        "error": "redirect_uri_mismatch",
        "error_description": "redirect_uri must match configuration",
    }
    reused = token_call(standin, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert reused.json()["error"] == "invalid_grant"
    bad_secret = token_call(
        standin,
        grant_type="authorization_code",
        code=authorize(standin)["code"],
        redirect_uri=CALLBACK,
        client_secret="wrong",
    )
    assert bad_secret.json() == {
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }
    grant = token_call(standin, grant_type="password")
    assert grant.json()["error"] == "unsupported_grant_type"


def test_refresh_then_revoke(standin):
    tokens = oauth_login(standin)
    refreshed = token_call(
        standin, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200
    body = refreshed.json()
    assert "refresh_token" not in body
    assert body["access_token"] != tokens["access_token"]
    sf = Salesforce(instance_url=body["instance_url"], session_id=body["access_token"])
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 3

    revoked = requests.post(
        f"{standin.url}/services/oauth2/revoke", data={"token": tokens["refresh_token"]}, timeout=10
    )
    assert revoked.status_code == 200
    again = token_call(standin, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json() == {
        "error": "invalid_grant",
        "error_description": "expired access/refresh token",
    }
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Account")
    unknown = requests.post(
        f"{standin.url}/services/oauth2/revoke", data={"token": "nope"}, timeout=10
    )
    assert unknown.status_code == 400
    assert unknown.text.startswith("error=unsupported_token_type")


def test_expired_access_token_gets_401_invalid_session(standin, sf):
    sf.query("SELECT Id FROM Account")
    standin.admin.expire_access_tokens()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


# --- describe and limits ---------------------------------------------------------------------


def test_describe_global_and_object(sf):
    names = {o["name"]: o for o in sf.describe()["sobjects"]}
    assert {"Account", "Contact", "Lead", "Invoice__c"} <= set(names)
    assert names["Invoice__c"]["custom"] is True
    assert names["Lead"]["keyPrefix"] == "00Q"
    account = sf.Account.describe()
    assert account["replicateable"] and account["queryable"] and account["triggerable"]
    fields = {f["name"]: f for f in account["fields"]}
    assert fields["Id"]["type"] == "id" and not fields["Id"]["createable"]
    assert fields["Name"]["nillable"] is False and fields["Name"]["length"] == 255
    assert fields["AnnualRevenue"]["type"] == "currency"
    assert fields["Website"]["type"] == "url"
    assert fields["External_Id__c"]["externalId"] and fields["External_Id__c"]["custom"]
    assert fields["SystemModstamp"]["type"] == "datetime"
    invoice = {f["name"]: f for f in sf.Invoice__c.describe()["fields"]}
    assert invoice["Account__c"]["referenceTo"] == ["Account"]
    assert invoice["Amount__c"]["scale"] == 2
    assert invoice["Paid__c"]["defaultedOnCreate"] is True


def test_limits_header_and_request_limit_exceeded(standin, sf):
    sf.query("SELECT Id FROM Account")
    used = sf.api_usage["api-usage"]
    assert used.total == 15000 and used.used >= 1
    assert sf.limits()["DailyApiRequests"]["Max"] == 15000

    standin.admin.set_api_limit(maximum=100, used=99)
    sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"] == (100, 100)
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert standin.admin.api_usage() == {"used": 100, "max": 100}


# --- queries ---------------------------------------------------------------------------------


def test_query_pages_with_batch_size_and_query_all_sees_deleted(standin, sf):
    standin.admin.set_api_limit(used=0)
    from standins.salesforce import generate

    generate(standin.org, "Account", 500)
    first = sf.query("SELECT Id, Name FROM Account ORDER BY Name", headers=SMALL_BATCH)
    assert first["totalSize"] == 503 and first["done"] is False
    assert len(first["records"]) == 200
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-200")
    everything = sf.query_all("SELECT Id, Name FROM Account", headers=SMALL_BATCH)
    assert everything["totalSize"] == 503
    assert len({r["Id"] for r in everything["records"]}) == 503

    victim = everything["records"][0]["Id"]
    sf.Account.delete(victim)
    live = sf.query_all("SELECT Id FROM Account", headers=SMALL_BATCH)["records"]
    assert victim not in {r["Id"] for r in live}
    with_deleted = sf.query_all(
        "SELECT Id, IsDeleted FROM Account WHERE IsDeleted = true", include_deleted=True
    )
    assert [r["Id"] for r in with_deleted["records"]] == [victim]


def test_soql_filters_order_limit_and_count(standin, sf):
    admin = standin.admin
    admin.create_record(
        "Account", {"Name": "O'Brien & Co", "NumberOfEmployees": 5, "Industry": "Retail"}
    )
    admin.create_record("Account", {"Name": "100% Cotton", "NumberOfEmployees": 50})
    records = sf.query("SELECT Name FROM Account WHERE Name = 'o\\'brien & co'")["records"]
    assert [r["Name"] for r in records] == ["O'Brien & Co"]
    literal_percent = sf.query("SELECT Name FROM Account WHERE Name LIKE '100\\%%'")
    assert [r["Name"] for r in literal_percent["records"]] == ["100% Cotton"]
    mixed = sf.query(
        "SELECT Name, NumberOfEmployees FROM Account WHERE (NumberOfEmployees >= 5 AND "
        "NumberOfEmployees < 50) OR Industry IN ('Technology', 'Finance') "
        "ORDER BY Name DESC LIMIT 10"
    )["records"]
    assert [r["Name"] for r in mixed] == ["O'Brien & Co", "Initech", "Globex"]
    not_retail = sf.query("SELECT Name FROM Account WHERE Industry != 'Retail'")["records"]
    assert "100% Cotton" in {r["Name"] for r in not_retail}  # null is "not Retail" in SOQL
    assert sf.query("SELECT COUNT() FROM Account WHERE Industry = null")["totalSize"] == 1
    fifteen = sf.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"][:15]
    assert sf.query(f"SELECT Id FROM Account WHERE Id = '{fifteen}'")["totalSize"] == 1
    assert (
        sf.query(
            "SELECT Id FROM Account WHERE CreatedDate > 2024-01-01T00:00:00Z "
            "AND CreatedDate < 2999-01-01T00:00:00.000+0000"
        )["totalSize"]
        == 5
    )


def test_soql_errors_use_salesforce_codes(sf):
    cases = {
        "SELECT Id FROM": "MALFORMED_QUERY",
        "SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'": "MALFORMED_QUERY",
        "SELECT Nope FROM Account": "INVALID_FIELD",
        "SELECT Id FROM Nope__c": "INVALID_TYPE",
        "SELECT Id FROM Account WHERE SystemModstamp > '2024-01-01'": "INVALID_FIELD",
    }
    for soql, code in cases.items():
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.query(soql)
        assert _error(caught)["errorCode"] == code, soql
        assert "ERROR at Row:1:Column:" in _error(caught)["message"]


def test_modstamp_poller_never_misses_a_write(standin, sf):
    last = "2000-01-01T00:00:00.000+0000"
    seen: set[str] = set()
    written: set[str] = set()
    for n in range(20):
        written.add(sf.Account.create({"Name": f"Poll {n}"})["id"])
        if n % 3 == 0:
            standin.admin.update_record("Account", next(iter(written)), {"Phone": str(n)})
        window = sf.query_all(
            f"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > "
            f"{last} ORDER BY SystemModstamp"
        )["records"]
        if window:
            stamps = [r["SystemModstamp"] for r in window]
            assert stamps == sorted(stamps)
            assert stamps[0] > last
            last = stamps[-1]
        seen.update(r["Id"] for r in window)
    assert written <= seen


# --- records ---------------------------------------------------------------------------------


def test_crud_and_server_maintained_fields(standin, sf):
    created = sf.Contact.create(
        {"LastName": "Turing", "Email": "alan@example.com", "Birthdate": "1912-06-23"}
    )
    assert created["success"] is True and created["errors"] == []
    record_id = created["id"]
    assert len(record_id) == 18 and record_id.startswith("003")
    assert ids.to18(record_id[:15]) == record_id
    record = sf.Contact.get(record_id)
    assert record["attributes"]["type"] == "Contact"
    assert record["IsDeleted"] is False
    assert record["CreatedDate"] == record["SystemModstamp"]
    assert sf.Contact.update(record_id, {"FirstName": "Alan"}) == 204
    after = sf.Contact.get(record_id)
    assert after["SystemModstamp"] > record["SystemModstamp"]
    assert after["CreatedDate"] == record["CreatedDate"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.update(record_id, {"CreatedDate": "2020-01-01T00:00:00Z"})
    assert _error(caught)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Contact.create({"FirstName": "No last name"})
    assert _error(caught) == {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
    assert sf.Contact.delete(record_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as caught:
        sf.Contact.get(record_id)
    assert _error(caught)["errorCode"] == "ENTITY_IS_DELETED"


def test_upsert_by_external_id(standin, sf):
    assert sf.Account.upsert("External_Id__c/ext-1", {"Name": "First"}) == 201
    assert sf.Account.upsert("External_Id__c/ext-1", {"Name": "Renamed"}) == 200
    updated = sf.Account.upsert("External_Id__c/ext-1", {"Phone": "1"}, raw_response=True)
    assert updated.json()["created"] is False
    record = sf.Account.get_by_custom_id("External_Id__c", "ext-1")
    assert record["Name"] == "Renamed"
    batch = sf.restful(
        "composite/sobjects/Account/External_Id__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "External_Id__c": "ext-1", "Name": "Again"},
                {"attributes": {"type": "Account"}, "External_Id__c": "ext-2", "Name": "New"},
                {"attributes": {"type": "Account"}, "External_Id__c": "ext-3"},
            ],
        },
    )
    assert [(r["success"], r.get("created")) for r in batch] == [
        (True, False),
        (True, True),
        (False, None),
    ]
    assert batch[0]["id"] == record["Id"]
    assert batch[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    names = {r["External_Id__c"]: r["Name"] for r in standin.admin.list_records("Account")}
    assert names["ext-1"] == "Again" and names["ext-2"] == "New" and "ext-3" not in names


def test_get_deleted_and_get_updated(standin, sf):
    start = datetime.now(UTC) - timedelta(minutes=2)
    doomed = sf.Lead.create({"LastName": "Gone", "Company": "Nowhere"})["id"]
    kept = sf.Lead.create({"LastName": "Kept", "Company": "Somewhere"})["id"]
    standin.admin.delete_record("Lead", doomed)
    end = datetime.now(UTC) + timedelta(minutes=2)
    deleted = sf.Lead.deleted(start, end)
    assert [d["id"] for d in deleted["deletedRecords"]] == [doomed]
    assert deleted["deletedRecords"][0]["deletedDate"].endswith("+0000")
    assert deleted["latestDateCovered"] <= end.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    assert deleted["earliestDateAvailable"] <= deleted["latestDateCovered"]
    updated = sf.Lead.updated(start, end)
    assert kept in updated["ids"] and doomed not in updated["ids"]
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.deleted(end, start)
    assert _error(caught)["errorCode"] == "INVALID_REPLICATION_DATE"


def test_collections_report_validation_failures_per_record(standin, sf):
    standin.admin.add_validation_rule("Account", "Industry", "Other", "Industry may not be Other")
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Name": "Good"},
            {"attributes": {"type": "Account"}, "Name": "Bad", "Industry": "Other"},
            {"attributes": {"type": "Account"}, "Name": "X" * 256},
            {"attributes": {"type": "Contact"}, "LastName": "Mixed types", "Email": "not-an-email"},
        ],
    }
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert results[0]["success"] is True and results[0]["id"].startswith("001")
    assert results[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "message": "Industry may not be Other",
                "fields": [],
            }
        ],
    }
    assert results[2]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert results[3]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"

    body["allOrNone"] = True
    before = len(standin.admin.list_records("Account"))
    rolled = sf.restful("composite/sobjects", method="POST", json=body)
    assert not any(r["success"] for r in rolled)
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert len(standin.admin.list_records("Account")) == before

    good = results[0]["id"]
    updates = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "records": [
                {"attributes": {"type": "Account"}, "id": good, "Industry": "Other"},
                {"attributes": {"type": "Account"}, "id": good, "Industry": "Retail"},
            ]
        },
    )
    assert [u["success"] for u in updates] == [False, True]
    assert updates[0]["id"] == good
    deletes = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{good},{good}", "allOrNone": "false"},
    )
    assert [d["success"] for d in deletes] == [True, False]
    assert deletes[1]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"
    too_many = {
        "records": [{"attributes": {"type": "Account"}, "Name": str(n)} for n in range(201)]
    }
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="POST", json=too_many)
    assert _error(caught)["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_references_must_point_at_live_records_of_the_right_type(standin, sf):
    account = sf.Account.create({"Name": "Parent"})["id"]
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    ok = sf.Invoice__c.create({"Name": "INV", "Account__c": account[:15], "Amount__c": 10.005})
    invoice = sf.Invoice__c.get(ok["id"])
    assert invoice["Account__c"] == account and invoice["Amount__c"] == 10.01
    assert invoice["Paid__c"] is False
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Invoice__c.create({"Name": "INV", "Account__c": lead})
    assert _error(caught)["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_errors_are_salesforce_json_everywhere(standin, sf):
    headers = {"Authorization": f"Bearer {standin.new_session()}"}
    for path in (
        "/services/data/v59.0/nothing",
        "/services/data/v12.0/sobjects",
        "/services/data/v59.0/sobjects/Nope/describe",
    ):
        response = requests.get(standin.url + path, headers=headers, timeout=10)
        assert response.status_code == 404
        assert response.json() == [
            {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND"}
        ]
    wrong_method = requests.put(
        f"{standin.url}/services/data/v59.0/limits", headers=headers, timeout=10
    )
    assert wrong_method.status_code == 405
    assert wrong_method.json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
    broken = requests.post(
        f"{standin.url}/services/data/v59.0/sobjects/Account",
        data="{nope",
        headers={**headers, "Content-Type": "application/json"},
        timeout=10,
    )
    assert broken.status_code == 400 and broken.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Account.create({"NumberOfEmployees": "many", "Name": "x"})
    assert _error(caught)["errorCode"] == "JSON_PARSER_ERROR"


# --- Bulk API 2.0 ----------------------------------------------------------------------------


def test_bulk2_query_pages_csv_through_simple_salesforce(standin, sf):
    from standins.salesforce import generate

    generate(standin.org, "Account", 2500)
    pages = list(
        sf.bulk2.Account.query(
            "SELECT Id, Name, AnnualRevenue, CreatedDate FROM Account", max_records=1000, wait=0
        )
    )
    assert len(pages) == 3
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(rows) == 2503
    assert len({r["Id"] for r in rows}) == 2503
    assert rows[0]["CreatedDate"].endswith(".000Z") or rows[0]["CreatedDate"][-1] == "Z"
    assert set(rows[0]) == {"Id", "Name", "AnnualRevenue", "CreatedDate"}


def test_bulk2_job_states_and_errors(standin, sf):
    headers = {
        "Authorization": f"Bearer {standin.new_session()}",
        "Content-Type": "application/json",
    }
    jobs = f"{standin.url}/services/data/v59.0/jobs/query"
    created = requests.post(
        jobs,
        json={"operation": "query", "query": "SELECT Id FROM Lead"},
        headers=headers,
        timeout=10,
    ).json()
    assert created["state"] == "UploadComplete" and created["object"] == "Lead"
    assert created["id"].startswith("750")
    bad = requests.post(
        jobs,
        json={"operation": "query", "query": "SELECT Nope FROM Lead"},
        headers=headers,
        timeout=10,
    )
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "INVALID_FIELD"
    missing = requests.get(f"{jobs}/750Dn0000000999AAA", headers=headers, timeout=10)
    assert missing.status_code == 404


def test_an_unexpected_failure_is_still_salesforce_json(sf, monkeypatch):
    from simple_salesforce.exceptions import SalesforceGeneralError

    from standins.salesforce import queries

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(queries, "run_query", broken)
    with pytest.raises(SalesforceGeneralError) as caught:
        sf.query("SELECT Id FROM Account")
    assert caught.value.status == 500
    assert _error(caught)["errorCode"] == "UNKNOWN_EXCEPTION"
    assert "disk on fire" not in _error(caught)["message"]
