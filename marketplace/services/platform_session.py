"""One resource's conversation with the platform: its OAuth grant and tokens, calls to the
Platform API for Partners on its behalf, and what the platform says about it.

Every failure worth retrying raises :class:`RetryLater`; the caller (the worker's driver, or
a web request trying the grant exchange early) decides when to try again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.models._types import as_utc, utcnow
from marketplace.services.async_settings import AsyncSettings
from marketplace.services.crypto import Vault
from marketplace.services.platform_client import (
    PlatformClient,
    PlatformError,
    PlatformRejected,
    PlatformUnavailable,
    Tokens,
)

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(seconds=90)
#: What :meth:`PlatformSession.addon_state` answers when the broker holds no tokens: the
#: platform was never told anything, so it cannot consider the add-on live.
NEVER_TOLD = "never-told"


#: Refusals that another try may not get: a conflicting change on the platform's side.
TRANSIENT_REFUSALS = frozenset({408, 409})


class RetryLater(Exception):
    """A step hit a transient failure; the resource is driven again after a backoff, and no
    sooner than ``not_before`` seconds when the platform asked for that (``Retry-After``)."""

    def __init__(self, message: str, not_before: float | None = None) -> None:
        super().__init__(message)
        self.not_before = not_before

    @classmethod
    def after(cls, error: PlatformError) -> RetryLater:
        """The retry a platform error calls for (its ``Retry-After``, if it had one)."""
        not_before = error.retry_after if isinstance(error, PlatformUnavailable) else None
        return cls(str(error), not_before)


class Refused(Exception):
    """The platform refused a call for good (a 4xx other than 401, 408, 409 and 429): every
    further try would get the same answer, so the caller ends the work instead."""


class PlatformSession:
    """The platform side of the resources' lifecycles (tokens stored encrypted)."""

    def __init__(self, vault: Vault, settings: AsyncSettings) -> None:
        self._vault = vault
        self._settings = settings

    # --- the grant ----------------------------------------------------------------------------

    def exchange_grant(self, resource: Resource) -> str | None:
        """Trade the stored grant for tokens and learn the resource's app (not committed);
        return why not, if the platform refused.

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
            raise RetryLater.after(error) from error
        self._store_tokens(resource, tokens)
        auth.grant_code_encrypted = None  # single use; nothing to keep
        self._identify_app(resource, tokens.access_token)
        return None

    def _identify_app(self, resource: Resource, access_token: str) -> None:
        """Learn the resource's app from the platform's add-on info (links need it)."""
        info = self._addon_info(resource, access_token)
        app: dict[str, Any] = (info.get("app") or {}) if isinstance(info, dict) else {}
        app_id, app_name = app.get("id"), app.get("name")
        if isinstance(app_id, str) and app_id:
            resource.app_id = app_id[:64]
            resource.app_name = app_name[:255] if isinstance(app_name, str) else None

    # --- what the platform thinks -------------------------------------------------------------

    def addon_state(self, resource: Resource) -> str:
        """The add-on's state on the platform (``provisioning``, ``provisioned``,
        ``deprovisioned``), ``gone`` when the platform no longer knows it, or
        :data:`NEVER_TOLD` when the broker holds no tokens for it; ``gone`` too when the
        platform revoked them (it refuses the refresh token).

        :raises RetryLater: the platform could not be asked.
        """
        auth = resource.authorization
        if auth is None or auth.refresh_token_encrypted is None:
            return NEVER_TOLD
        client = self._client(resource)
        try:
            access_token = self.access_token(resource, client)
        except Refused:
            return "gone"
        info = self._addon_info(resource, access_token, strict=True)
        state = info.get("state") if isinstance(info, dict) else None
        return str(state) if state else "gone"

    def addon_state_or_none(self, resource: Resource) -> str | None:
        """:meth:`addon_state`, or None when the platform cannot be asked right now."""
        try:
            return self.addon_state(resource)
        except RetryLater:
            return None

    def _addon_info(self, resource: Resource, access_token: str, *, strict: bool = False) -> Any:
        try:
            return self._client(resource).addon_info(resource.uuid, access_token)
        except PlatformRejected as error:
            if strict and error.status in (404, 410):
                return {"state": "gone"}
            if strict:
                raise RetryLater(str(error)) from error
            log.warning(
                "add-on info refused", extra={"resource": resource.uuid, "error": str(error)}
            )
            return None
        except PlatformUnavailable as error:
            raise RetryLater.after(error) from error

    # --- calls on the resource's behalf -------------------------------------------------------

    def call(self, resource: Resource, call: Callable[[PlatformClient, str], None]) -> None:
        """Run ``call`` with a valid access token (refreshed once when refused).

        :raises Refused: the platform refused the call for good.
        :raises RetryLater: the platform could not be reached, or refused for now.
        """
        client = self._client(resource)
        try:
            call(client, self.access_token(resource, client))
        except PlatformRejected as error:
            if error.status != 401:
                raise _refusal(error) from error
            # The access token was refused before its expiry (revoked or rotated): refresh once.
            try:
                call(client, self.access_token(resource, client, force_refresh=True))
            except PlatformRejected as retry_error:
                if retry_error.status == 401:
                    raise RetryLater(str(retry_error)) from retry_error
                raise _refusal(retry_error) from retry_error
            except PlatformUnavailable as retry_error:
                raise RetryLater.after(retry_error) from retry_error
        except PlatformUnavailable as error:
            raise RetryLater.after(error) from error

    def access_token(
        self, resource: Resource, client: PlatformClient, *, force_refresh: bool = False
    ) -> str:
        """A valid access token, refreshed (and committed) when due.

        :raises Refused: the platform refused the refresh token (the authorization is revoked).
        :raises RetryLater: no tokens yet, or the refresh could not be done now.
        """
        auth = resource.authorization
        if auth is None or auth.refresh_token_encrypted is None:
            raise RetryLater("no platform tokens yet")
        expires = as_utc(auth.access_expires_at) if auth.access_expires_at else utcnow()
        if force_refresh or expires - utcnow() < REFRESH_MARGIN:
            try:
                tokens = client.refresh(self._vault.decrypt(auth.refresh_token_encrypted))
            except PlatformRejected as error:
                if error.status in TRANSIENT_REFUSALS:
                    raise RetryLater(f"token refresh failed: {error}") from error
                raise Refused(f"token refresh refused: {error}") from error
            except PlatformUnavailable as error:
                raise RetryLater(f"token refresh failed: {error}", error.retry_after) from error
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


def _refusal(error: PlatformRejected) -> Refused | RetryLater:
    """What a refusal means for the caller: :class:`Refused`, unless it may pass."""
    if error.status in TRANSIENT_REFUSALS:
        return RetryLater(str(error))
    return Refused(str(error))
