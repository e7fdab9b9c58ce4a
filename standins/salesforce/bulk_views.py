"""Bulk API 2.0 query jobs (Bulk API 2.0 Developer Guide, "Query Jobs").

- ``POST /vXX.X/jobs/query`` ``{"operation": "query"|"queryAll", "query": "SELECT ...",
  "columnDelimiter": "COMMA", "lineEnding": "LF"}`` answers the job with state
  ``UploadComplete``; a worker thread moves it through ``InProgress`` to ``JobComplete``.
- ``GET /vXX.X/jobs/query/<id>``: the job, with ``numberRecordsProcessed``.
- ``GET /vXX.X/jobs/query/<id>/results?maxRecords=&locator=``: CSV with every value quoted,
  headers ``Sforce-NumberOfRecords`` and ``Sforce-Locator`` (the next page's locator, or
  ``null`` after the last). Datetimes are ``2024-01-01T00:00:00.000Z``.
- ``PATCH .../<id>`` ``{"state": "Aborted"}``, ``DELETE .../<id>``, ``GET /vXX.X/jobs/query``.

simple-salesforce's ``sf.bulk2.Account.query(soql, max_records=N)`` creates the job, polls it
until ``JobComplete`` and reads results until the locator is empty or ``null``.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any

from flask import Blueprint, Response, request

from standins.salesforce import bulk_csv, queries, sftime, web
from standins.salesforce.errors import ApiError, not_found
from standins.salesforce.soql_compile import plan
from standins.salesforce.store import Org

log = logging.getLogger(__name__)
bp = Blueprint("sfdc_bulk", __name__, url_prefix="/services/data/v<version>/jobs/query")

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^",
              "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
JOB_PREFIX = "750"


@bp.before_request
def _authenticate() -> None:
    web.check_data_call((request.view_args or {}).get("version", ""))


bp.after_request(web.add_limit_header)


def _invalid(message: str) -> ApiError:
    return ApiError(400, "INVALIDJOB", message)


def _load(org: Org, job_id: str) -> dict[str, Any]:
    with org.reading() as db:
        row = db.execute("SELECT body FROM bulk_job WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise not_found()
    job: dict[str, Any] = json.loads(row[0])
    return job


def _save(org: Org, job: dict[str, Any], cursor_id: str | None = None) -> None:
    with org.lock:
        org.db.execute("UPDATE bulk_job SET body = ?, cursor_id = COALESCE(?, cursor_id) "
                       "WHERE id = ?", (json.dumps(job), cursor_id, job["id"]))


def _run(org: Org, job_id: str) -> None:
    """The worker thread; a job that breaks ends ``Failed`` with an ``errorMessage``."""
    try:
        _execute(org, job_id)
    except Exception as exc:  # the failure is reported on the job itself
        try:
            job = _load(org, job_id)
            job.update(state="Failed", errorMessage=str(exc))
            _save(org, job)
        except Exception:  # the org was closed under the job: nobody is left to tell
            log.warning("bulk job %s failed and could not be marked: %s", job_id, exc)


def _execute(org: Org, job_id: str) -> None:
    """Materialise the result as a pinned cursor, then mark the job complete."""
    started = time.monotonic()
    job = _load(org, job_id)
    job["state"] = "InProgress"
    _save(org, job)
    p = plan(org.schema, job["query"], job["operation"] == "queryAll")
    with org.transaction():
        rowids = queries.matching_rowids(org, p)
        cursor_id = queries.open_cursor(org, p, rowids, queries.DEFAULT_BATCH, pinned=True)
    job = _load(org, job_id)
    if job["state"] == "Aborted":
        return
    job.update(state="JobComplete", numberRecordsProcessed=len(rowids),
               totalProcessingTime=int((time.monotonic() - started) * 1000))
    _save(org, job, cursor_id)


@bp.post("")
def create(version: str) -> Response:
    """Create a query job and start it."""
    body = web.json_body()
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise _invalid(f"InvalidJob : Invalid operation: {operation}")
    delimiter = body.get("columnDelimiter", "COMMA")
    line_ending = body.get("lineEnding", "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise _invalid("InvalidJob : Invalid columnDelimiter or lineEnding")
    org = web.org()
    p = plan(org.schema, str(body.get("query", "")), operation == "queryAll")
    if p.is_count:
        raise ApiError(400, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0")
    stamp = sftime.format_datetime(sftime.now())
    with org.transaction() as db:
        job_id = org.mint(JOB_PREFIX)[0]
        job = {
            "id": job_id, "operation": operation, "object": p.obj.name,
            "createdById": org.user_id, "createdDate": stamp, "systemModstamp": stamp,
            "state": "UploadComplete", "concurrencyMode": "Parallel", "contentType": "CSV",
            "apiVersion": float(version), "jobType": "V2Query", "lineEnding": line_ending,
            "columnDelimiter": delimiter, "numberRecordsProcessed": 0, "retries": 0,
            "totalProcessingTime": 0, "isPkChunkingSupported": True, "query": body["query"],
        }
        db.execute("INSERT INTO bulk_job (id, body, soql) VALUES (?, ?, ?)",
                   (job_id, json.dumps(job), body["query"]))
    threading.Thread(target=_run, args=(org, job_id), daemon=True,
                     name=f"bulk-{job_id}").start()
    created = {k: v for k, v in job.items() if k not in ("numberRecordsProcessed", "retries",
                                                         "totalProcessingTime", "query")}
    return web.json_response(created)


@bp.get("")
def list_jobs(version: str) -> Response:
    """Every query job."""
    with web.org().reading() as db:
        rows = db.execute("SELECT body FROM bulk_job ORDER BY id").fetchall()
    jobs = [json.loads(r[0]) for r in rows]
    return web.json_response({"done": True, "records": jobs, "nextRecordsUrl": None})


@bp.get("/<job_id>")
def get_job(version: str, job_id: str) -> Response:
    """A job's state."""
    return web.json_response(_load(web.org(), job_id))


@bp.patch("/<job_id>")
def abort(version: str, job_id: str) -> Response:
    """``{"state": "Aborted"}`` stops a job that has not completed."""
    org = web.org()
    job = _load(org, job_id)
    wanted = (web.json_body() or {}).get("state")
    if wanted != "Aborted":
        raise _invalid(f"InvalidJob : Invalid state: {wanted}")
    if job["state"] in ("JobComplete", "Failed"):
        raise _invalid(f"InvalidJob : Cannot abort a job in state {job['state']}")
    job["state"] = "Aborted"
    _save(org, job)
    return web.json_response(job)


@bp.delete("/<job_id>")
def delete(version: str, job_id: str) -> Response:
    """Delete a job and its results."""
    org = web.org()
    _load(org, job_id)
    with org.transaction() as db:
        row = db.execute("SELECT cursor_id FROM bulk_job WHERE id = ?", (job_id,)).fetchone()
        if row and row[0]:
            queries.drop_cursor(org, row[0])
        db.execute("DELETE FROM bulk_job WHERE id = ?", (job_id,))
    return web.no_content()


def _locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None) -> int:
    if not locator:
        return 0
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError:
        raise ApiError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}") from None


@bp.get("/<job_id>/results")
def results(version: str, job_id: str) -> Response:
    """One page of a completed job's CSV."""
    org = web.org()
    job = _load(org, job_id)
    if job["state"] != "JobComplete":
        raise ApiError(400, "JOB_NOT_COMPLETE", "can only download query results of "
                       "successfully completed bulk job with status: JOB_COMPLETE. Current "
                       f"status: {job['state'].upper()}")
    obj = org.schema.get(job["object"])
    assert obj is not None
    p = plan(org.schema, job["query"], job["operation"] == "queryAll")
    offset = _offset(request.args.get("locator"))
    total = int(job["numberRecordsProcessed"])
    max_records = request.args.get("maxRecords", type=int) or total or 1
    with org.reading() as db:
        cursor_id = db.execute("SELECT cursor_id FROM bulk_job WHERE id = ?",
                               (job_id,)).fetchone()[0]
        text, found = bulk_csv.page(org, cursor_id, obj, p.fields, offset, max_records,
                                    DELIMITERS[job["columnDelimiter"]],
                                    LINE_ENDINGS[job["lineEnding"]])
    following = offset + found
    headers = {
        "Sforce-NumberOfRecords": str(found),
        "Sforce-Locator": _locator(following) if following < total else "null",
    }
    return Response(text, mimetype="text/csv", headers=headers)
