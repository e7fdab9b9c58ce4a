"""What happened to a resource, told once from the code that made it happen.

:func:`record` is called at each lifecycle transition (provisioned, plan changed,
credentials rotated, deprovisioned, failed). It

* appends a usage record for billing (plan periods) to the caller's transaction, so the
  record exists exactly when the transition does;
* queues one line for the app's log stream, in Heroku Connect's style
  (``event=provisioned addon_id=<uuid> addon=<slug> plan=<plan> state=provisioned``), sent
  only once the transaction commits (a rollback discards it).

:func:`emit` is the generic hook for everything else worth a line in the customer's logs
(a Connect sync, a data connector's state change): a log line only. Neither ever raises into
the caller, and neither sends a secret: a line that contains one of the resource's config
values is withheld (and counted).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from marketplace.adapters import AddonEvent
from marketplace.extensions import db
from marketplace.metrics.instruments import ADDON_LOG_LINES
from marketplace.models import DataConnector, Plan, Resource, UsageRecord
from marketplace.models._types import utcnow
from marketplace.models.usage import PERIOD_KINDS
from marketplace.services.crypto import Vault
from marketplace.services.log_drain import LogDrainSender, LogLine

log = logging.getLogger(__name__)

EXTENSION_KEY = "marketplace_events"
_PENDING = "marketplace_pending_log_lines"
_SHORTEST_SECRET = 6  # config values shorter than this are not searched for in lines


@dataclass(frozen=True)
class EventSink:
    """Where an app's events go: the vault (to read log input URLs) and the sender."""

    vault: Vault
    sender: LogDrainSender


def init_events(app: Any, vault: Vault, sender: LogDrainSender) -> None:
    """Give ``app`` its sink, and send queued lines when a session commits."""
    app.extensions[EXTENSION_KEY] = EventSink(vault, sender)
    if not event.contains(Session, "after_commit", _send_pending):
        event.listen(Session, "after_commit", _send_pending)
        event.listen(Session, "after_rollback", _drop_pending)


def record(resource: Resource, name: str, *, commit: bool = False, **fields: object) -> None:
    """A lifecycle transition of ``resource``: usage record (plan periods) plus log line.

    Call it inside the transaction that makes the transition, before the resource's secrets
    are forgotten (``commit=True`` commits it now, for a transition already committed).
    ``fields`` are added to the line (``state`` overrides the resource's).
    """
    try:
        # Reading the resource must not flush its pending changes early (one UPDATE, not two).
        with db.session.no_autoflush:
            if name in PERIOD_KINDS:
                db.session.add(
                    UsageRecord(
                        resource_uuid=resource.uuid,
                        addon=resource.addon.slug,
                        plan=resource.plan.slug,
                        kind=name,
                        occurred_at=utcnow(),
                    )
                )
            _queue_line(resource, name, fields)
    except Exception:  # an event must never break the transition it reports
        log.exception("event not recorded", extra={"resource": resource.uuid, "event": name})
    if commit:
        db.session.commit()


def plan_changed(resource: Resource, new_plan: Plan) -> None:
    """The resource moves to ``new_plan`` (call it before the plan is replaced)."""
    try:
        with db.session.no_autoflush:
            previous = resource.plan.slug
            db.session.add(
                UsageRecord(
                    resource_uuid=resource.uuid,
                    addon=resource.addon.slug,
                    plan=new_plan.slug,
                    kind="plan_changed",
                    occurred_at=utcnow(),
                )
            )
            fields = {"plan": new_plan.slug, "previous_plan": previous}
            _queue_line(resource, "plan_changed", fields)
    except Exception:
        log.exception("event not recorded", extra={"resource": resource.uuid})


def emit(resource: Resource, name: str, *, commit: bool = False, **fields: object) -> None:
    """Queue one line about ``resource`` for its app's log stream, sent after the current
    transaction commits (``commit=True`` commits it now). Does nothing when the platform
    gave no log input. Never raises (except a failing ``commit``)."""
    with db.session.no_autoflush:
        _queue_line(resource, name, fields)
    if commit:
        db.session.commit()


def data_connector_changed(connector: DataConnector) -> None:
    """A data connector reached a new status (creating, available, paused, error,
    deprovisioned): one line on its database's app log stream, sent once the change commits:
    ``event=data_connector_state_changed … connector=<name> connector_id=<id>
    state=<status> reason=<why>``. Never raises."""
    try:
        fields: dict[str, object] = {
            "connector": connector.name,
            "connector_id": connector.id,
            "state": str(connector.status),
        }
        if connector.status_reason:
            fields["reason"] = connector.status_reason[:300]
        with db.session.no_autoflush:
            _queue_line(connector.postgres, "data_connector_state_changed", fields)
    except Exception:  # a log line must never break the change it reports
        log.exception("event not recorded", extra={"connector": connector.id})


def emit_all(
    resource: Resource, addon_events: Iterable[AddonEvent], *, commit: bool = False
) -> None:
    """Queue the lines an adapter reported in a result (:class:`AddonEvent`)."""
    for addon_event in addon_events:
        _queue_line(resource, addon_event.name, dict(addon_event.fields))
    if commit:
        db.session.commit()


def _queue_line(resource: Resource, name: str, fields: Mapping[str, object]) -> None:
    try:
        sink = _sink()
        if sink is not None and resource.log_input_url_encrypted:
            message = format_line(resource, name, fields)
            if _leaks_config(sink.vault, resource, message):
                ADDON_LOG_LINES.labels("withheld").inc()
                log.error("a log line with a config value was withheld", extra={"event": name})
            else:
                line = LogLine(
                    url=sink.vault.decrypt(resource.log_input_url_encrypted),
                    token=resource.log_drain_token,
                    source=resource.addon.slug,
                    message=message,
                    at=utcnow(),
                )
                db.session.info.setdefault(_PENDING, []).append((sink.sender, line))
    except Exception:
        log.exception("log line not queued", extra={"resource": resource.uuid, "event": name})


def format_line(resource: Resource, name: str, fields: Mapping[str, object]) -> str:
    """``event=<name> addon_id=<uuid> addon=<slug> plan=<plan> state=<state> k=v…``,
    logfmt-quoted."""
    values: dict[str, object] = {
        "event": name,
        "addon_id": resource.uuid,
        "addon": resource.addon.slug,
        "plan": resource.plan.slug,
        "state": resource.state,
    }
    values.update(fields)
    return " ".join(f"{key}={_logfmt(value)}" for key, value in values.items())


def _logfmt(value: object) -> str:
    text = " ".join(str(value).splitlines())
    if text and not any(c in text for c in ' "=\\'):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _leaks_config(vault: Vault, resource: Resource, message: str) -> bool:
    """Whether ``message`` holds a config value, or the password inside one that is a URL
    (``DATABASE_URL``'s password on its own is as secret as the whole URL)."""
    if not resource.config_encrypted:
        return False
    secrets: set[str] = set()
    for value in vault.decrypt_mapping(resource.config_encrypted).values():
        secrets |= {value, *_url_passwords(value)}
    return any(len(s) >= _SHORTEST_SECRET and s in message for s in secrets)


def _url_passwords(value: str) -> set[str]:
    """The password of a ``scheme://user:password@host`` value as written and
    percent-decoded (either may reach a line); none for anything else."""
    try:
        password = urlsplit(value).password
    except ValueError:
        return set()
    return {password, unquote(password)} if password else set()


def _sink() -> EventSink | None:
    if not has_app_context():
        return None
    sink: EventSink | None = current_app.extensions.get(EXTENSION_KEY)
    return sink


def _send_pending(session: Session) -> None:
    for sender, line in session.info.pop(_PENDING, ()):
        sender.submit(line)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
