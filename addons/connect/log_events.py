"""Heroku Connect's lines for the app's log stream, from what a tick or an action changed.

Heroku Connect logs to Logplex (dyno ``herokuconnect``) lines such as
``event="Contact QUERY ↷SALESFORCE 500 rows (0.77 secs)" addon_id=<uuid> object_type=sync|mapping
object_id=<uuid> state=IDLE|RELOAD_TABLE level=info`` (``/work/shared/reference/connect.md``
section 1.8). :func:`changes` compares the adapter's state before and after and reports, as
:class:`~marketplace.adapters.AddonEvent` values (the core adds ``addon_id``, ``addon`` and
``plan`` and posts them once the new state is stored):

* a connection state change (``event="connection NEED_AUTHENTICATION" object_type=sync``),
  except the IDLE <-> BUSY flips of every load step, which the mappings' lines already tell;
* a mapping state change or removal (``event="Contact DATA_SYNCED" object_type=mapping
  object_id=<resource uuid>.Contact state=DATA_SYNCED``);
* each new sync error (``level=error`` with the message Salesforce or the database gave).

No secret is ever in a state field these lines read (tokens live under ``sf``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from addons.connect import states
from addons.connect.mappings import mapping_id
from marketplace.adapters import AddonEvent

_QUIET = frozenset({states.IDLE, states.BUSY})
MAX_MESSAGE = 300


def changes(
    resource_id: str, before: Mapping[str, Any], after: Mapping[str, Any] | None
) -> tuple[AddonEvent, ...]:
    """The lines for going from state ``before`` to ``after`` (None: nothing changed)."""
    if after is None:
        return ()
    found: list[AddonEvent] = []
    old = _connection_state(before)
    new = _connection_state(after)
    if new and new != old and not {old, new} <= _QUIET:
        found.append(_sync_line(resource_id, f"connection {new}", new))
    old_mappings = _mappings(before)
    new_mappings = _mappings(after)
    for name, mapping in new_mappings.items():
        state = str(mapping.get("state") or "")
        if state and state != str(old_mappings.get(name, {}).get("state") or ""):
            found.append(_mapping_line(resource_id, name, f"{name} {state}", state))
    for name in old_mappings.keys() - new_mappings.keys():
        found.append(_mapping_line(resource_id, name, f"{name} DELETED", "DELETED"))
    seen = {_error_key(e) for e in before.get("errors") or ()}
    for error in after.get("errors") or ():
        if _error_key(error) in seen:
            continue
        mapping = error.get("mapping")
        fields = {
            "object_type": "mapping" if mapping else "sync",
            "object_id": mapping_id(resource_id, mapping) if mapping else resource_id,
            "state": new or "",
            "level": "error",
            "message": str(error.get("message") or "")[:MAX_MESSAGE],
        }
        found.append(AddonEvent(f"{mapping or 'sync'} ERROR", fields))
    return tuple(found)


def _connection_state(state: Mapping[str, Any]) -> str:
    return str((state.get("connection") or {}).get("state") or "")


def _mappings(state: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    mappings = state.get("mappings") or {}
    return mappings if isinstance(mappings, Mapping) else {}


def _error_key(error: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(error.get("at")), str(error.get("mapping")), str(error.get("message")))


def _sync_line(resource_id: str, event: str, state: str) -> AddonEvent:
    fields = {"object_type": "sync", "object_id": resource_id, "state": state, "level": "info"}
    return AddonEvent(event, fields)


def _mapping_line(resource_id: str, name: str, event: str, state: str) -> AddonEvent:
    fields = {
        "object_type": "mapping",
        "object_id": mapping_id(resource_id, name),
        "state": state,
        "level": "error" if state in states.ERROR_STATES else "info",
    }
    return AddonEvent(event, fields)
