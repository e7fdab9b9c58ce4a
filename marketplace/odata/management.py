"""Turning External Objects on and off, credentials, and the shared tables of a resource.

Used by the Connect API (:mod:`marketplace.odata.admin_api`) and the dashboard
(:mod:`marketplace.odata.dashboard`). A resource offers External Objects when its adapter is
a :class:`~marketplace.adapters.DataService` and its plan's ``external_objects`` limit is at
least 1. The shared tables live in :class:`~marketplace.models.ODataService` (the truth) and
are copied into the adapter's state under ``"external_objects"`` (``{"tables": [...]}``) so
the adapter sees them on its other calls too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from marketplace.adapters import AdapterError, DataService, ResourceRef, TableCatalog
from marketplace.adapters.data import TableCandidate
from marketplace.errors import Conflict, Unprocessable, from_adapter_error
from marketplace.extensions import db
from marketplace.models import ODataService, Resource, ResourceState
from marketplace.odata import credentials
from marketplace.services.leases import lock_resource
from marketplace.services.lifecycle import Lifecycle

log = logging.getLogger(__name__)

PLAN_LIMIT = "external_objects"
STATE_KEY = "external_objects"
OVERLAP = timedelta(minutes=10)
MAX_TABLES = 500


@dataclass(frozen=True)
class Credentials:
    """What turning on or resetting answers, once: the service URL and its credentials."""

    url: str
    username: str
    password: str


@dataclass(frozen=True)
class ServiceState:
    """What ``GET …/odata`` answers: never the password."""

    enabled: bool
    url: str | None
    username: str | None
    tables: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """``{"state": "enabled"|"disabled", "url", "username", "tables"}``."""
        return {
            "state": "enabled" if self.enabled else "disabled",
            "url": self.url,
            "username": self.username,
            "tables": list(self.tables),
        }


def service_url(base_url: str, service: ODataService) -> str:
    """``<MARKETPLACE_URL>/odata/v4/<service id>/``."""
    return f"{base_url.rstrip('/')}/odata/v4/{service.service_id}/"


def unavailable_reason(resource: Resource, lifecycle: Lifecycle) -> str | None:
    """Why the resource cannot have External Objects (None when it can)."""
    adapter = lifecycle.registry.get(resource.addon.slug)
    if adapter is None or not isinstance(adapter, DataService):
        return f"{resource.addon.name} does not offer External Objects."
    plan = lifecycle.plan_spec(resource)
    if int(plan.limits.get(PLAN_LIMIT, 0)) < 1:
        return f"The {plan.human_name} plan does not include External Objects; change plan first."
    return None


def service_of(resource: Resource) -> ODataService | None:
    """The resource's service row, if it ever had one."""
    return db.session.scalar(select(ODataService).where(ODataService.resource_id == resource.id))


def data_ref(resource: Resource, service: ODataService, lifecycle: Lifecycle) -> ResourceRef:
    """The :class:`ResourceRef` for data-service calls: the shared tables from the service
    row, whatever the adapter's stored state holds."""
    ref = lifecycle.ref(resource)
    state = {**ref.state, STATE_KEY: {"tables": list(service.tables or ())}}
    return replace(ref, state=state)


def state_of(uuid: str, base_url: str) -> ServiceState:
    """The service's state for ``GET …/odata``."""
    resource = _resource(uuid)
    service = service_of(resource)
    db.session.rollback()
    if service is None:
        return ServiceState(False, None, None, ())
    return ServiceState(
        service.enabled,
        service_url(base_url, service) if service.enabled else None,
        service.username if service.enabled else None,
        tuple(service.tables or ()),
    )


def enable(uuid: str, lifecycle: Lifecycle, base_url: str) -> Credentials:
    """Turn External Objects on; answer the credentials (shown this once).

    :raises Unprocessable: not provisioned, or the adapter or plan does not offer it.
    :raises Conflict: already on (reset the credentials to get a new password).
    """
    resource = _locked(uuid, lifecycle)
    try:
        service = service_of(resource)
        if service is not None and service.enabled:
            raise Conflict(
                "External Objects are already on; reset the credentials for a new password."
            )
        if service is None:
            service = ODataService(resource_id=resource.id, tables=[])
            db.session.add(service)
        service.enabled = True
        service.username = credentials.new_username()
        password = credentials.new_password()
        service.password_hash = credentials.hash_password(password)
        service.previous_password_hash = service.previous_expires_at = None
        db.session.flush()
        answer = Credentials(service_url(base_url, service), service.username, password)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    log.info("external objects on", extra={"resource": uuid})
    return answer


def reset_credentials(uuid: str, lifecycle: Lifecycle, base_url: str) -> Credentials:
    """A new password; the previous one keeps working for :data:`OVERLAP`.

    :raises Unprocessable: External Objects are off.
    """
    resource = _locked(uuid, lifecycle)
    try:
        service = _enabled_service(resource)
        password = credentials.new_password()
        service.previous_password_hash = service.password_hash
        service.previous_expires_at = credentials.now() + OVERLAP
        service.password_hash = credentials.hash_password(password)
        answer = Credentials(service_url(base_url, service), service.username or "", password)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    log.info("external objects credentials reset", extra={"resource": uuid})
    return answer


def disable(uuid: str) -> None:
    """Turn External Objects off and revoke the credentials at once (tables are kept)."""
    resource = lock_resource(uuid)
    service = service_of(resource)
    if service is not None:
        service.enabled = False
        service.username = service.password_hash = None
        service.previous_password_hash = service.previous_expires_at = None
    db.session.commit()
    log.info("external objects off", extra={"resource": uuid})


def candidates(uuid: str, lifecycle: Lifecycle) -> list[TableCandidate]:
    """Every table and view the adapter could share, with why not (empty when it cannot list
    them).

    :raises ServiceUnavailable: the database is down or not attached.
    """
    resource = _resource(uuid)
    adapter = lifecycle.adapter(resource)
    ref = lifecycle.ref(resource)
    db.session.rollback()
    if not isinstance(adapter, TableCatalog):
        return []
    try:
        return sorted(adapter.table_candidates(ref), key=lambda c: c.name)
    except AdapterError as error:
        raise from_adapter_error(error) from error


def set_tables(uuid: str, tables: Sequence[str], lifecycle: Lifecycle) -> tuple[str, ...]:
    """Share exactly ``tables`` (``schema.table`` names); answer them.

    :raises Unprocessable: off, or naming every table that does not exist or cannot be
        shared (nothing changed).
    """
    wanted = tuple(dict.fromkeys(t.strip() for t in tables))
    if len(wanted) > MAX_TABLES or any(not t or len(t) > 200 or "." not in t for t in wanted):
        raise Unprocessable(f"Name at most {MAX_TABLES} tables as schema.table.")
    resource = _locked(uuid, lifecycle)
    try:
        service = _enabled_service(resource)
        adapter = lifecycle.adapter(resource)
        problems = _problems(adapter, lifecycle.ref(resource), wanted)
        if problems:
            raise Unprocessable("These tables cannot be shared: " + "; ".join(problems) + ".")
        service.tables = list(wanted)
        state = lifecycle.adapter_state(resource)
        lifecycle.store_state(resource, {**state, STATE_KEY: {"tables": list(wanted)}})
    except AdapterError as error:
        db.session.rollback()
        raise from_adapter_error(error) from error
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    log.info("external objects tables", extra={"resource": uuid, "count": len(wanted)})
    return wanted


def _problems(adapter: object, ref: ResourceRef, wanted: Sequence[str]) -> list[str]:
    if isinstance(adapter, TableCatalog):
        known = {c.name: c for c in adapter.table_candidates(ref)}
        problems = []
        for name in wanted:
            candidate = known.get(name)
            if candidate is None:
                problems.append(f"{name[:80]}: no such table or view")
            elif candidate.reason:
                problems.append(f"{name}: {candidate.reason}")
        return problems
    assert isinstance(adapter, DataService)  # checked by _locked
    state = {**ref.state, STATE_KEY: {"tables": list(wanted)}}
    served = {s.name for s in adapter.entity_sets(replace(ref, state=state))}
    return [f"{n[:80]}: cannot be shared" for n in wanted if n.replace(".", "$", 1) not in served]


def _resource(uuid: str) -> Resource:
    resource = db.session.scalar(select(Resource).where(Resource.uuid == uuid))
    if resource is None or resource.state != ResourceState.PROVISIONED:
        raise Unprocessable("The resource is not provisioned.")
    return resource


def _locked(uuid: str, lifecycle: Lifecycle) -> Resource:
    resource = lock_resource(uuid)
    reason = (
        "The resource is not provisioned."
        if resource.state != ResourceState.PROVISIONED
        else unavailable_reason(resource, lifecycle)
    )
    if reason:
        db.session.rollback()
        raise Unprocessable(reason)
    return resource


def _enabled_service(resource: Resource) -> ODataService:
    service = service_of(resource)
    if service is None or not service.enabled:
        raise Unprocessable("External Objects are off; turn them on first.")
    return service
