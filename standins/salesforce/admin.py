"""Test and admin hooks: what a person in Salesforce Setup, or in the Salesforce UI, would do.

None of this is Salesforce API; it is reached as Python calls on a running stand-in
(``StandIn.admin``) or over HTTP under ``/_standin/`` (see :mod:`admin_views`). Writes made
here behave as a user's edits in Salesforce: same validation, same clock, SystemModstamp bumped,
but no API call counted.
"""

from __future__ import annotations

import json
from typing import Any

from standins.salesforce import dml, records
from standins.salesforce.auth import Auth
from standins.salesforce.errors import ApiError, not_found
from standins.salesforce.schema import ObjectDef
from standins.salesforce.store import Org

API_VERSION = "59.0"


class Admin:
    """Hooks on one org."""

    def __init__(self, org: Org, auth: Auth) -> None:
        self.org = org
        self.auth = auth

    def _object(self, name: str) -> ObjectDef:
        obj = self.org.schema.get(name)
        if obj is None:
            raise ApiError(404, "NOT_FOUND", f"sObject type '{name}' is not supported")
        return obj

    def expire_access_tokens(self) -> int:
        """Expire every access token now; return how many were live."""
        return self.auth.expire_all()

    def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh token (and its access tokens), as revoking the app in Setup does."""
        self.auth.revoke(token)

    def set_api_limit(self, maximum: int | None = None, used: int | None = None) -> dict[str, int]:
        """Set DailyApiRequests ``Max`` and/or the calls used so far; return both."""
        if maximum is not None:
            self.org.set_meta("api_max", str(maximum))
        if used is not None:
            self.org.set_meta("api_used", str(used))
        return self.api_usage()

    def api_usage(self) -> dict[str, int]:
        """``{"used": N, "max": M}``: API calls counted so far and the daily limit."""
        used, limit = self.org.api_usage()
        return {"used": used, "max": limit}

    def add_validation_rule(self, sobject: str, field: str, value: Any, message: str,
                            error_field: str | None = None) -> int:
        """Reject saves of ``sobject`` whose ``field`` equals ``value`` (null: is blank).

        Failing saves report ``FIELD_CUSTOM_VALIDATION_EXCEPTION`` with ``message``, and
        ``fields: [error_field]`` when the error is shown at a field.
        """
        obj = self._object(sobject)
        f = obj.field(field)
        if f is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{field}' on {obj.name}")
        records.coerce(f, value)
        with self.org.lock:
            cursor = self.org.db.execute(
                "INSERT INTO validation_rule (sobject, field, value, message, error_field) "
                "VALUES (?, ?, ?, ?, ?)",
                (obj.name, f.name, json.dumps(value), message, error_field),
            )
        return int(cursor.lastrowid or 0)

    def clear_validation_rules(self) -> None:
        """Remove every injected validation rule."""
        with self.org.lock:
            self.org.db.execute("DELETE FROM validation_rule")

    def _save(self, step: dml.Step) -> str:
        result = dml.run(self.org, [step], False)[0]
        if not result.success:
            raise ApiError.from_record_errors(400, result.errors)
        return str(result.id)

    def create_record(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create a record as a Salesforce user would; return its id."""
        obj = self._object(sobject)
        return self._save(dml.insert_step(self.org, obj, records.parse_body(obj, fields)))

    def update_record(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Edit a record as a Salesforce user would."""
        obj = self._object(sobject)
        self._save(dml.update_step(self.org, record_id, records.parse_body(obj, fields), obj))

    def delete_record(self, sobject: str, record_id: str) -> None:
        """Delete a record (to the recycle bin) as a Salesforce user would."""
        self._save(dml.delete_step(self.org, record_id, self._object(sobject)))

    def get_record(self, sobject: str, record_id: str) -> dict[str, Any]:
        """Every field of one record, deleted or not."""
        obj = self._object(sobject)
        with self.org.reading():
            found = dml.find(self.org, record_id)
        if found is None or found[0] is not obj:
            raise not_found()
        row = found[1]
        return records.record_json(obj, obj.fields, tuple(row[f.name] for f in obj.fields),
                                   API_VERSION, row["Id"])

    def list_records(self, sobject: str, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every field of every record of ``sobject``, oldest first."""
        obj = self._object(sobject)
        columns = ", ".join(f'"{f.name}"' for f in obj.fields)
        where = "" if include_deleted else 'WHERE "IsDeleted" = 0'
        with self.org.reading() as db:
            rows = db.execute(f"SELECT {columns} FROM {obj.table} {where} ORDER BY rowid")
            return [records.record_json(obj, obj.fields, row, API_VERSION, row[0])
                    for row in rows]
