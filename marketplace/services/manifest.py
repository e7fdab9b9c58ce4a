"""Add-on manifests (v3) for the platform's partner portal, built from the catalog."""

from __future__ import annotations

from typing import Any

from marketplace.models import Addon
from marketplace.services.crypto import Vault


def build_manifest(addon: Addon, marketplace_url: str, vault: Vault) -> dict[str, Any]:
    """Return the v3 manifest of ``addon`` with URLs under ``marketplace_url``.

    It holds the add-on's API password and SSO salt: print it for the operator, never log it.
    """
    endpoints = {
        "base_url": f"{marketplace_url}/heroku/resources",
        "sso_url": f"{marketplace_url}/sso/login",
    }
    return {
        "id": addon.slug,
        "name": addon.name,
        "api": {
            "config_vars_prefix": addon.config_vars_prefix,
            "config_vars": list(addon.config_vars),
            "password": vault.decrypt(addon.api_password_encrypted),
            "sso_salt": vault.decrypt(addon.sso_salt_encrypted),
            "regions": list(addon.regions),
            "requires": list(addon.requires),
            "production": dict(endpoints),
            "test": dict(endpoints),
            "version": "3",
        },
    }
