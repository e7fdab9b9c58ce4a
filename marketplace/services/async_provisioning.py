"""Asynchronous provisioning and removal, driven step by step by the worker.

A resource's row is the durable truth: ``step`` names the next step, and each step commits
before the next begins, so a killed worker resumes where it stopped. Steps of a provision:

1. ``authorize``: exchange the OAuth grant for tokens (once);
2. ``allocate``: create the backend objects through the adapter (idempotent);
3. ``configure``: ``PATCH /addons/<uuid>/config`` with the config vars;
4. ``activate``: ``POST /addons/<uuid>/actions/provision``.

A removal (state ``deprovisioning``) deletes the backend objects, then, for add-ons that
deprovision asynchronously, tells the platform. Transient failures are retried with
exponential backoff until the deadline; after it, or when the platform refuses for good,
the resource ends ``failed`` with everything it created removed.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from marketplace.adapters import AdapterError, BackendUnavailable
from marketplace.extensions import db
from marketplace.models import Resource, ResourceState
from marketplace.models._types import as_utc, utcnow
from marketplace.services import leases
from marketplace.services.async_settings import AsyncSettings
from marketplace.services.crypto import Vault
from marketplace.services.lifecycle import Lifecycle
from marketplace.services.platform_client import (
    PlatformClient,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    Tokens,
)

log = logging.getLogger(__name__)

PROVISION_STEPS = ("authorize", "allocate", "configure", "activate")
CANCEL_STEP = "cancel"  # deprovision of a resource whose provisioning never finished
PUSH_CONFIG_STEP = "push-config"  # a provisioned resource's config changed (rotation)
DEPROVISION_STEP = "deprovision"  # asynchronous deprovision: tell the platform when done
REFRESH_MARGIN = timedelta(seconds=90)
FINISHED = object()  # what the last step returns once the resource is provisioned


class RetryLater(Exception):
    """A step hit a transient failure; the resource is driven again after a backoff."""


Scheduler = Callable[[str, float], None]


class AsyncDriver:
    """Drives one resource's pending asynchronous work to its end (or its next retry)."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        vault: Vault,
        settings: AsyncSettings,
        schedule: Scheduler,
        worker_id: str | None = None,
        schedule_tick: Scheduler | None = None,
    ) -> None:
        self._lifecycle = lifecycle
        self._vault = vault
        self._schedule_tick = schedule_tick
        self._settings = settings
        self._schedule = schedule
        self._worker_id = worker_id or uuid_module.uuid4().hex

    def drive(self, uuid: str) -> str:
        """Run the resource's pending steps; return what happened (for logs and tests)."""
        if not leases.claim(uuid, self._worker_id, self._settings.lease):
            return "busy"
        delay: float | None = None
        try:
            return self._run(uuid)
        except RetryLater as retry:
            delay = self._record_retry(uuid, str(retry))
            return "retry"
        finally:
            leases.release(uuid, self._worker_id)
            if delay is not None:  # only once the lease is free, or the retry finds it busy
                self._schedule(uuid, delay)

    # --- the loop ---------------------------------------------------------------------------

    def _run(self, uuid: str) -> str:
        while True:
            resource = _load(uuid)
            if resource is None:
                return "missing"
            if resource.state == ResourceState.DEPROVISIONING:
                self._remove(resource)
                return "deprovisioned"
            if resource.state == ResourceState.PROVISIONED:
                return self._maintain(resource)
            if resource.state != ResourceState.PROVISIONING or not resource.is_async:
                return "idle"
            if resource.deadline_at and utcnow() > as_utc(resource.deadline_at):
                self._fail(resource, "Provisioning did not finish before its deadline.")
                return "failed"
            step = resource.step or PROVISION_STEPS[0]
            if getattr(self, f"_{step}")(resource) is FINISHED:
                return "provisioned"
            leases.claim(uuid, self._worker_id, self._settings.lease)  # renew between steps

    # --- provision steps --------------------------------------------------------------------

    def _authorize(self, resource: Resource) -> None:
        auth = resource.authorization
        if auth is None or auth.grant_code_encrypted is None:
            self._fail(resource, "The provision request carried no OAuth grant.")
            return
        refusal = self._exchange_grant(resource)
        if refusal:
            self._fail(resource, refusal)
            return
        self._advance(resource, "allocate")

    def _exchange_grant(self, resource: Resource) -> str | None:
        """Trade the stored grant for tokens (not committed); return why not, if refused.

        :raises RetryLater: the platform could not be reached.
        """
        auth = resource.authorization
        assert auth is not None and auth.grant_code_encrypted is not None
        if auth.grant_expires_at and utcnow() > as_utc(auth.grant_expires_at):
            return "The OAuth grant expired before it could be exchanged."
        try:
            tokens = self._client(resource).exchange_grant(
                self._vault.decrypt(auth.grant_code_encrypted)
            )
        except PlatformRejected as error:
            return f"The platform refused the OAuth grant ({error})."
        except PlatformUnavailable as error:
            raise RetryLater(str(error)) from error
        self._store_tokens(resource, tokens)
        auth.grant_code_encrypted = None  # single use; nothing to keep
        self._identify_app(resource, tokens.access_token)
        return None

    def _identify_app(self, resource: Resource, access_token: str) -> None:
        """Learn the resource's app from the platform's add-on info (links need it).

        :raises RetryLater: the platform could not be reached.
        """
        try:
            info = self._client(resource).addon_info(resource.uuid, access_token)
        except PlatformRejected as error:
            log.warning(
                "add-on info refused", extra={"resource": resource.uuid, "error": str(error)}
            )
            return
        except PlatformUnavailable as error:
            raise RetryLater(str(error)) from error
        app: dict[str, Any] = info.get("app") or {} if isinstance(info, dict) else {}
        app_id, app_name = app.get("id"), app.get("name")
        if isinstance(app_id, str) and app_id:
            resource.app_id = app_id[:64]
            resource.app_name = app_name[:255] if isinstance(app_name, str) else None

    def _allocate(self, resource: Resource) -> None:
        try:
            self._lifecycle.allocate(resource)
        except BackendUnavailable as error:
            db.session.rollback()  # the next try converges on what this one made
            raise RetryLater(error.message) from error
        except AdapterError as error:
            db.session.rollback()
            self._fail(_load_or_raise(resource.uuid), error.message)
            return
        self._advance(resource, "configure")

    def _configure(self, resource: Resource) -> None:
        config = self._vault.decrypt_mapping(resource.config_encrypted)
        self._platform_call(resource, lambda c, t: c.update_config(resource.uuid, config, t))
        self._advance(resource, "activate")

    def _activate(self, resource: Resource) -> object | None:
        self._platform_call(resource, lambda c, t: c.mark_provisioned(resource.uuid, t))
        # Only from "provisioning": a DELETE may have cancelled the resource while the platform
        # was being told; then the loop reads "deprovisioning" and removes what exists.
        values: dict[str, Any] = {
            "state": ResourceState.PROVISIONED,
            "step": None,
            "last_error": None,
            "next_attempt_at": None,
        }
        ticking = self._lifecycle.has_background_work(resource)
        values["next_tick_at"] = utcnow() if ticking else None
        finished = db.session.execute(
            update(Resource)
            .where(Resource.uuid == resource.uuid, Resource.state == ResourceState.PROVISIONING)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if finished.rowcount != 1:  # type: ignore[attr-defined]
            return None
        log.info("async provision complete", extra={"resource": resource.uuid})
        if ticking and self._schedule_tick is not None:
            self._schedule_tick(resource.uuid, 0.0)
        return FINISHED

    # --- a provisioned resource -------------------------------------------------------------

    def _maintain(self, resource: Resource) -> str:
        """Exchange a synchronous resource's grant (so later config changes can be pushed),
        and push the config after a change such as a credential rotation."""
        auth = resource.authorization
        if auth is not None and auth.grant_code_encrypted and not auth.exchanged:
            self._exchange_for_later(resource)
        if resource.step == PUSH_CONFIG_STEP:
            if resource.authorization is not None and resource.authorization.exchanged:
                config = self._vault.decrypt_mapping(resource.config_encrypted)
                self._platform_call(
                    resource, lambda c, t: c.update_config(resource.uuid, config, t)
                )
            self._advance(resource, None)
            return "config pushed"
        return "idle"

    def _exchange_for_later(self, resource: Resource) -> None:
        refusal = self._exchange_grant(resource)
        if refusal and resource.authorization is not None:
            # The resource works without it; only pushing config changes is lost.
            log.warning("grant not exchanged", extra={"resource": resource.uuid, "error": refusal})
            db.session.delete(resource.authorization)
        db.session.commit()

    # --- removal ----------------------------------------------------------------------------

    def _remove(self, resource: Resource) -> None:
        """Delete the backend objects; tell the platform when the add-on deprovisions async."""
        try:
            self._lifecycle.remove_backend(resource)
        except AdapterError as error:
            raise RetryLater(error.message) from error
        if resource.step == DEPROVISION_STEP:
            self._platform_call(resource, lambda c, t: c.mark_deprovisioned(resource.uuid, t))
        self._lifecycle.forget(resource, ResourceState.DEPROVISIONED)
        db.session.commit()

    def _fail(self, resource: Resource, reason: str) -> None:
        """End in ``failed`` with every backend object removed."""
        try:
            self._lifecycle.fail(resource, reason)
        except AdapterError as error:
            raise RetryLater(error.message) from error
        db.session.commit()
        log.warning("async provision failed", extra={"resource": resource.uuid, "reason": reason})

    # --- platform plumbing ------------------------------------------------------------------

    def _platform_call(
        self, resource: Resource, call: Callable[[PlatformClient, str], None]
    ) -> None:
        client = self._client(resource)
        try:
            call(client, self._access_token(resource, client))
        except PlatformRejected as error:
            if error.status != 401:
                raise RetryLater(str(error)) from error
            # The access token was refused before its expiry (revoked or rotated): refresh once.
            try:
                call(client, self._access_token(resource, client, force_refresh=True))
            except PlatformError as retry_error:
                raise RetryLater(str(retry_error)) from retry_error
        except PlatformUnavailable as error:
            raise RetryLater(str(error)) from error

    def _access_token(
        self, resource: Resource, client: PlatformClient, *, force_refresh: bool = False
    ) -> str:
        auth = resource.authorization
        if auth is None or auth.refresh_token_encrypted is None:
            raise RetryLater("no platform tokens yet")
        expires = as_utc(auth.access_expires_at) if auth.access_expires_at else utcnow()
        if force_refresh or expires - utcnow() < REFRESH_MARGIN:
            try:
                tokens = client.refresh(self._vault.decrypt(auth.refresh_token_encrypted))
            except PlatformError as error:
                raise RetryLater(f"token refresh failed: {error}") from error
            self._store_tokens(resource, tokens)
            db.session.commit()
        return self._vault.decrypt(auth.access_token_encrypted or "")

    def _store_tokens(self, resource: Resource, tokens: Tokens) -> None:
        auth = resource.authorization
        assert auth is not None
        auth.access_token_encrypted = self._vault.encrypt(tokens.access_token)
        if tokens.refresh_token:
            auth.refresh_token_encrypted = self._vault.encrypt(tokens.refresh_token)
        auth.access_expires_at = tokens.expires_at
        auth.user_id = tokens.user_id or auth.user_id

    def _client(self, resource: Resource) -> PlatformClient:
        secret = self._settings.client_secret(resource.addon.slug)
        return PlatformClient(self._settings.api_url, self._settings.id_url, secret)

    def _advance(self, resource: Resource, step: str | None) -> None:
        resource.step = step
        db.session.commit()

    def _record_retry(self, uuid: str, reason: str) -> float:
        db.session.rollback()
        resource = _load(uuid)
        if resource is None:
            return 0.0
        resource.attempts += 1
        resource.last_error = reason
        delay = self._settings.backoff(resource.attempts)
        resource.next_attempt_at = utcnow() + timedelta(seconds=delay)
        db.session.commit()
        log.info("async step will be retried", extra={"resource": uuid, "delay": delay})
        return delay


def _load(uuid: str) -> Resource | None:
    return db.session.scalar(
        select(Resource).where(Resource.uuid == uuid).execution_options(populate_existing=True)
    )


def _load_or_raise(uuid: str) -> Resource:
    resource = _load(uuid)
    if resource is None:
        raise RetryLater("the resource row disappeared")
    return resource
