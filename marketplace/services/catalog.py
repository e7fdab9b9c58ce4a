"""The catalog: seeding add-ons and plans from the adapters, and reading them back."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping

from sqlalchemy import or_, select

from marketplace.adapters import AdapterRegistry, AddonSpec
from marketplace.errors import NotFound, quoted
from marketplace.extensions import db
from marketplace.models import Addon, CatalogVersion, Plan
from marketplace.models._types import utcnow
from marketplace.services.crypto import Vault


def sync_catalog(
    registry: AdapterRegistry, vault: Vault, modes: Mapping[str, str] | None = None
) -> list[Addon]:
    """Upsert every registered add-on and its plans. Idempotent.

    The add-on's API password and SSO salt are generated on first sight and never changed
    here, so manifests stay stable across restarts.

    :param modes: ``PROVISIONING_MODES`` overrides, ``{"<slug>[:<plan>]": "sync"|"async"}``;
        a plan's own entry beats its add-on's, which beats the adapter's declaration.
    """
    addons = [_upsert_addon(adapter.spec, vault, modes or {}) for adapter in registry]
    db.session.flush()
    _record_version()
    db.session.commit()
    return addons


def catalog_version() -> str:
    """The digest of the catalog as last synced ("" before the first sync).

    One primary-key read; callers cache what they render per version, so this is asked
    every few seconds per process, not per request.
    """
    digest = db.session.scalar(select(CatalogVersion.digest).where(CatalogVersion.id == 1))
    return digest or ""


def _record_version() -> None:
    """Store the digest of every add-on and plan in the store (not only this process's
    adapters: another app on the same store may serve more), if it changed."""
    digest = _catalog_digest()
    row = db.session.get(CatalogVersion, 1)
    if row is None:
        db.session.add(CatalogVersion(id=1, digest=digest, changed_at=utcnow()))
    elif row.digest != digest:
        row.digest = digest
        row.changed_at = utcnow()


def _catalog_digest() -> str:
    """SHA-256 over what the catalog shows (never the secrets); the same catalog always
    gives the same digest, so processes syncing the same adapters agree."""
    content = [
        {
            "id": addon.id,
            "fields": [
                addon.slug, addon.name, addon.summary, addon.description, addon.category,
                addon.state, addon.config_vars_prefix, addon.config_vars, addon.regions,
                addon.requires, addon.features,
            ],
            "plans": [
                [
                    plan.id, plan.slug, plan.human_name, plan.description, plan.price_cents,
                    plan.is_default, plan.is_async, plan.state, plan.limits,
                ]
                for plan in sorted(addon.plans, key=lambda plan: plan.slug)
            ],
        }
        for addon in db.session.scalars(select(Addon).order_by(Addon.slug))
    ]
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _upsert_addon(spec: AddonSpec, vault: Vault, modes: Mapping[str, str]) -> Addon:
    addon = db.session.scalar(select(Addon).where(Addon.slug == spec.slug))
    if addon is None:
        addon = Addon(
            slug=spec.slug,
            api_password_encrypted=vault.encrypt(secrets.token_urlsafe(24)),
            sso_salt_encrypted=vault.encrypt(secrets.token_urlsafe(24)),
        )
        db.session.add(addon)
    addon.name = spec.name
    addon.summary = spec.summary
    addon.description = spec.description
    addon.category = spec.category
    addon.config_vars_prefix = spec.config_vars_prefix
    addon.config_vars = list(spec.config_vars)
    addon.regions = list(spec.regions)
    addon.requires = platform_requires(spec)
    addon.features = list(spec.features)
    declared = {plan.slug for plan in spec.plans}
    for plan_spec in spec.plans:
        plan = addon.plan(plan_spec.slug)
        if plan is None:
            plan = Plan(slug=plan_spec.slug)
            addon.plans.append(plan)
        plan.human_name = plan_spec.human_name
        plan.description = plan_spec.description
        plan.price_cents = plan_spec.price_cents
        plan.is_default = plan_spec.default
        mode = modes.get(f"{spec.slug}:{plan_spec.slug}") or modes.get(spec.slug)
        plan.is_async = plan_spec.asynchronous if mode is None else mode == "async"
        plan.limits = dict(plan_spec.limits)
        plan.state = "public"
    for plan in addon.plans:
        if plan.slug not in declared:
            plan.state = "retired"  # kept: existing resources still point at it
    return addon


#: Every add-on's events go to its app's log stream through the provision request's
#: ``log_input_url`` (``marketplace.services.events``), which the platform sends only to
#: add-ons whose manifest ``requires`` ``log_input``.
CORE_REQUIRES = ("log_input",)


def platform_requires(spec: AddonSpec) -> list[str]:
    """The manifest's ``api.requires``: the adapter's own needs plus the core's, once each."""
    return list(dict.fromkeys((*spec.requires, *CORE_REQUIRES)))


def list_addons() -> list[Addon]:
    """Every add-on, by name."""
    return list(db.session.scalars(select(Addon).order_by(Addon.name)))


def get_addon(slug: str) -> Addon:
    """The add-on called ``slug``.

    :raises NotFound: no such add-on.
    """
    addon = db.session.scalar(select(Addon).where(Addon.slug == slug))
    if addon is None:
        raise NotFound(f"No add-on called {quoted(slug)}.")
    return addon


def get_addon_service(id_or_name: str) -> Addon:
    """The add-on whose slug or id is ``id_or_name``, as the Platform API's
    ``/addon-services/{addon_service_id_or_name}`` reads it.

    :raises NotFound: no such add-on.
    """
    addon = db.session.scalar(
        select(Addon).where(or_(Addon.slug == id_or_name, Addon.id == id_or_name.lower()))
    )
    if addon is None:
        raise NotFound(f"No add-on called {quoted(id_or_name)}.")
    return addon


def find_public_plan(addon: Addon, id_or_name: str) -> Plan | None:
    """The public plan of ``addon`` named ``<slug>:<plan>``, ``<plan>``, or with this id."""
    name = id_or_name.removeprefix(f"{addon.slug}:")
    found = addon.plan(name) or next(
        (plan for plan in addon.plans if plan.id == id_or_name.lower()), None
    )
    return found if found is not None and found.state == "public" else None


def public_plans(addon: Addon) -> list[Plan]:
    """The plans a customer can choose, cheapest first."""
    return addon.public_plans


def search_addons(query: str = "", region: str = "", category: str = "") -> list[Addon]:
    """Add-ons whose name, summary or category contain every word of ``query``, optionally
    served in ``region`` and in ``category``."""
    words = query.lower().split()
    found = []
    for addon in list_addons():
        haystack = f"{addon.name} {addon.slug} {addon.summary} {addon.category}".lower()
        if not all(word in haystack for word in words):
            continue
        if region and region not in addon.regions and "*" not in addon.regions:
            continue
        if category and addon.category != category:
            continue
        found.append(addon)
    return found


def catalog_facets() -> tuple[list[str], list[str]]:
    """The categories and regions that exist in the catalog, sorted."""
    addons = list_addons()
    categories = sorted({addon.category for addon in addons})
    regions = sorted({region for addon in addons for region in addon.regions if region != "*"})
    return categories, regions
