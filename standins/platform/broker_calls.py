"""The platform calling a broker's Partner API, as Heroku does when a user runs the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests

from standins.platform.store import PlatformStore

ACCEPT = "application/vnd.heroku-addons+json; version=3"
TIMEOUT_SECONDS = 30


class BrokerUnreachable(Exception):
    """The broker named by the manifest did not answer (refused, timed out, bad URL)."""


class BrokerCalls:
    """Provision, plan change and destroy against the broker named by the add-on's manifest."""

    def __init__(self, store: PlatformStore, public_url: str, grant_ttl: float) -> None:
        self._store = store
        self.public_url = public_url  # where the broker reaches this platform
        self._grant_ttl = grant_ttl

    def provision(self, slug: str, plan: str, app: str, options: dict[str, str]) -> dict[str, Any]:
        manifest = self._manifest(slug)
        addon = self._store.create_addon(slug, plan, app, self._grant_ttl)
        grant = addon["grant"]
        log_input = self._store.create_log_input(addon["uuid"], app)
        requires = manifest["api"].get("requires") or []
        body: dict[str, Any] = {
            "uuid": addon["uuid"],
            "name": addon["name"],
            "plan": plan,
            "region": "amazon-web-services::us-east-1",
            "callback_url": f"{self.public_url}/addons/{addon['uuid']}",
            "options": options,
            "oauth_grant": {
                "code": grant["code"],
                "expires_at": datetime.fromtimestamp(grant["expires_at"], UTC).isoformat(),
                "type": "authorization_code",
            },
            "log_drain_token": log_input["drain_token"],
        }
        if "log_input" in requires:  # Heroku sends a log input only to add-ons that require it
            body["log_input_url"] = self._log_input_url(app, log_input["token"])
        try:
            response = self._send(manifest, "POST", "", json=body)
        except BrokerUnreachable:
            self._store.update_addon(addon["uuid"], state="failed")
            raise
        result = self._json(response)
        if response.status_code in (200, 201):
            self._store.update_addon(
                addon["uuid"],
                state="provisioned",
                provider_id=result.get("id"),
                message=result.get("message"),
                config=result.get("config") or {},
            )
        elif response.status_code == 202:
            self._store.update_addon(
                addon["uuid"], provider_id=result.get("id"), message=result.get("message")
            )
        else:
            self._store.update_addon(addon["uuid"], state="failed", message=result.get("message"))
        return {
            "addon": self._store.addon(addon["uuid"]),
            "status": response.status_code,
            "body": result,
        }

    def change_plan(self, addon_uuid: str, plan: str) -> dict[str, Any]:
        addon = self._addon(addon_uuid)
        response = self._send(
            self._manifest(addon["slug"]), "PUT", f"/{addon_uuid}", json={"plan": plan}
        )
        result = self._json(response)
        if response.status_code == 200:
            config = {**addon["config"], **(result.get("config") or {})}
            self._store.update_addon(addon_uuid, plan=plan, config=config)
        return {
            "addon": self._store.addon(addon_uuid),
            "status": response.status_code,
            "body": result,
        }

    def destroy(self, addon_uuid: str) -> dict[str, Any]:
        addon = self._addon(addon_uuid)
        response = self._send(self._manifest(addon["slug"]), "DELETE", f"/{addon_uuid}")
        if response.status_code in (200, 204, 410):  # 410: the broker has nothing left
            self._store.update_addon(addon_uuid, state="deprovisioned", config={})
        elif response.status_code == 202:
            self._store.update_addon(addon_uuid, state="deprovisioning")
        return {
            "addon": self._store.addon(addon_uuid),
            "status": response.status_code,
            "body": self._json(response),
        }

    def _log_input_url(self, app: str, token: str) -> str:
        """``<scheme>://token:<token>@<platform host>/logs/<app>``, as Logplex hands out."""
        parts = urlsplit(self.public_url)
        netloc = f"token:{token}@{parts.netloc}"
        return urlunsplit((parts.scheme, netloc, f"{parts.path}/logs/{quote(app)}", "", ""))

    def _manifest(self, slug: str) -> dict[str, Any]:
        manifest = self._store.manifest(slug)
        if manifest is None:
            raise LookupError(f"no manifest registered for {slug!r}")
        return manifest

    def _addon(self, addon_uuid: str) -> dict[str, Any]:
        addon = self._store.addon(addon_uuid)
        if addon is None:
            raise LookupError(f"no add-on {addon_uuid}")
        return addon

    def _send(
        self, manifest: dict[str, Any], method: str, path: str, **kwargs: Any
    ) -> requests.Response:
        base = manifest["api"]["test"]["base_url"].rstrip("/")
        try:
            return requests.request(
                method,
                f"{base}{path}",
                auth=(manifest["id"], manifest["api"]["password"]),
                headers={"Accept": ACCEPT},
                timeout=TIMEOUT_SECONDS,
                **kwargs,
            )
        except requests.RequestException as error:
            raise BrokerUnreachable(
                f"The add-on's broker at {base} could not be reached ({type(error).__name__})."
            ) from error

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
