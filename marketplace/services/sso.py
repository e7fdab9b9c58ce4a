"""Single sign-on from the platform: token checks, replay protection.

Accepted token forms (``timestamp`` is Unix seconds):

* ``resource_id`` + ``resource_token`` = sha1(uuid:salt:timestamp)
* ``resource_id`` + ``user_scoped_resource_token`` = sha256(uuid:salt:timestamp:user_id:email)
* legacy ``id`` + ``token`` = sha1(id:salt:timestamp), ``id`` being the provider id we returned

The platform sends every form it can in one sign-on (``resource_token``,
``user_scoped_resource_token`` and the legacy ``token``). The strongest one present is checked;
on success every token of the form that is valid is spent with it, so a copy of the form cannot
be replayed with one of the others.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from marketplace.errors import Forbidden
from marketplace.extensions import db
from marketplace.metrics import sso_login
from marketplace.models import Resource, ResourceState, UsedSsoToken
from marketplace.services.crypto import Vault, secrets_equal

log = logging.getLogger(__name__)

MAX_AGE = timedelta(minutes=5)
MAX_CLOCK_SKEW = timedelta(minutes=1)
_REFUSED = "Single sign-on failed. Open the add-on again from the platform's dashboard."


@dataclass(frozen=True)
class SsoLogin:
    """A verified sign-on."""

    resource_uuid: str
    email: str
    user_id: str
    app: str
    nav_data: str


def resource_token(resource_id: str, salt: str, timestamp: str) -> str:
    """sha1 token of the v3 (``resource_token``) and legacy (``token``) forms."""
    return hashlib.sha1(f"{resource_id}:{salt}:{timestamp}".encode()).hexdigest()  # noqa: S324


def user_scoped_token(resource_id: str, salt: str, timestamp: str, user_id: str, email: str) -> str:
    """sha256 token of the ``user_scoped_resource_token`` form."""
    message = f"{resource_id}:{salt}:{timestamp}:{user_id}:{email}"
    return hashlib.sha256(message.encode()).hexdigest()


def verify_sso(form: Mapping[str, str], vault: Vault, now: datetime | None = None) -> SsoLogin:
    """Check an SSO form post and consume its token.

    :raises Forbidden: bad or reused token, stale or future timestamp, unknown or removed
        resource (one message for all, so the answer reveals nothing about resources).
    """
    now = now or datetime.now(UTC)
    resource_id = (form.get("resource_id") or form.get("id") or "").strip()
    timestamp = (form.get("timestamp") or "").strip()
    issued = _parse_timestamp(timestamp)
    if issued is None or now - issued > MAX_AGE or issued - now > MAX_CLOCK_SKEW:
        _refuse("timestamp outside the accepted window", "bad_timestamp")
    resource = db.session.scalar(select(Resource).where(Resource.uuid == resource_id))
    if resource is None or resource.state in (
        ResourceState.DEPROVISIONING,
        ResourceState.DEPROVISIONED,
    ):
        _refuse("unknown or removed resource", "unknown_resource")
    salt = vault.decrypt(resource.addon.sso_salt_encrypted)
    given = _given_token(form)
    if given is None or not secrets_equal(
        given, _expected_token(form, resource_id, salt, timestamp)
    ):
        _refuse("token mismatch", "bad_token")
    siblings = _valid_tokens(form, resource_id, salt, timestamp)
    _consume(given or "", siblings, issued + MAX_AGE + MAX_CLOCK_SKEW, now)
    sso_login("ok")
    return SsoLogin(
        resource_uuid=resource.uuid,
        email=form.get("email", ""),
        user_id=form.get("user_id", ""),
        app=form.get("app", "") or form.get("context_app", ""),
        nav_data=form.get("nav-data", ""),
    )


def _given_token(form: Mapping[str, str]) -> str | None:
    for key in ("user_scoped_resource_token", "resource_token", "token"):
        if form.get(key):
            return form[key].strip().lower()
    return None


def _expected_token(form: Mapping[str, str], resource_id: str, salt: str, timestamp: str) -> str:
    if form.get("user_scoped_resource_token"):
        return user_scoped_token(
            resource_id, salt, timestamp, form.get("user_id", ""), form.get("email", "")
        )
    return resource_token(resource_id, salt, timestamp)


def _valid_tokens(
    form: Mapping[str, str], resource_id: str, salt: str, timestamp: str
) -> list[str]:
    """Every token of the form that is valid (whichever one was checked), lower-cased."""
    expected = {
        "resource_token": resource_token(resource_id, salt, timestamp),
        "token": resource_token(resource_id, salt, timestamp),
        "user_scoped_resource_token": user_scoped_token(
            resource_id, salt, timestamp, form.get("user_id", ""), form.get("email", "")
        ),
    }
    valid = []
    for key, value in expected.items():
        given = (form.get(key) or "").strip().lower()
        if given and secrets_equal(given, value):
            valid.append(given)
    return valid


def _parse_timestamp(value: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _consume(token: str, siblings: Iterable[str], expires_at: datetime, now: datetime) -> None:
    """Record the token; a second use fails. The form's other valid tokens are recorded too
    (already recorded is fine: two users of one resource may sign in within one second, and
    share its ``resource_token``). Expired records are purged on the way."""
    db.session.execute(delete(UsedSsoToken).where(UsedSsoToken.expires_at < now))
    db.session.add(UsedSsoToken(digest=_digest(token), expires_at=expires_at))
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        _refuse("token already used", "replayed")
    for digest in sorted({_digest(sibling) for sibling in siblings if sibling != token}):
        db.session.execute(_insert_unless_present(digest, expires_at))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _refuse("token already used", "replayed")


def _insert_unless_present(digest: str, expires_at: datetime) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` of one used-token record, on either store."""
    values = {"digest": digest, "expires_at": expires_at, "used_at": datetime.now(UTC)}
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(UsedSsoToken).values(**values).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(UsedSsoToken).values(**values).on_conflict_do_nothing()
    return insert(UsedSsoToken).values(**values)  # pragma: no cover (two stores are supported)


def _refuse(reason: str, outcome: str) -> NoReturn:
    """Refuse with one message for every reason; ``outcome`` labels the metric."""
    log.info("sso refused: %s", reason)
    sso_login(outcome)
    raise Forbidden(_REFUSED)
