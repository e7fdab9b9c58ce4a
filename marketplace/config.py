"""Configuration: the only module that reads the process environment.

The core's settings are declared in :data:`CORE_SETTINGS`, each adapter's in its
``AddonSpec.settings``; one path (:func:`read_settings`) reads them all. Every declared
setting is part of the public interface and listed in the README's table (a test checks it).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from environs import Env

from marketplace.adapters import Setting, discover_adapter_factories

log = logging.getLogger(__name__)

DEV_SECRETS_FILE = "dev-secrets.json"

#: Every setting the core reads. Adapters declare their own (``AddonSpec.settings``); both
#: are read by :func:`read_settings` and listed in the README's configuration table. A
#: default of None is computed (from the instance folder or the port).
CORE_SETTINGS: tuple[Setting, ...] = (
    Setting("MARKETPLACE_ENV", "development", "`production` requires the secrets below."),
    Setting("PORT", 5000, "Port the web process listens on.", kind="int"),
    Setting("MARKETPLACE_URL", None, "Public base URL (manifests, redirects, Secure cookies)."),
    Setting("DATABASE_URL", None, "The broker's own store (SQLite or PostgreSQL).", secret=True),
    Setting("SECRET_KEY", "", "Signs sessions.", secret=True),
    Setting("ENCRYPTION_KEYS", [], "Fernet keys, newest first.", kind="list", secret=True),
    Setting("MARKETPLACE_ADDONS", [], "Adapter entry points to serve.", kind="list"),
    Setting("BACKEND_NAME_PREFIX", "mkt_", "Prefix of every backend object."),
    Setting("QUEUE_URL", None, "Job queue storage.", secret=True),
    Setting("QUEUE_NAME", "marketplace", "Name of the job queues in their storage."),
    Setting("WORKER_THREADS", 2, "Provisioning job threads per worker.", kind="int"),
    Setting("TICK_WORKER_THREADS", 2, "Background tick threads per worker.", kind="int"),
    Setting(
        "WORKER_SHUTDOWN_SECONDS",
        25.0,
        "On SIGTERM, how long a worker lets running jobs finish before it exits.",
        kind="float",
    ),
    Setting("PLATFORM_API_URL", "https://api.heroku.com", "Platform API for Partners."),
    Setting("PLATFORM_ID_URL", "https://id.heroku.com", "OAuth token endpoint host."),
    Setting("PLATFORM_DASHBOARD_URL", "https://dashboard.heroku.com", "Back links."),
    Setting("OAUTH_CLIENT_SECRET", "", "The add-ons' OAuth client secret.", secret=True),
    Setting("OAUTH_CLIENT_SECRETS", {}, "Per add-on secrets.", kind="dict", secret=True),
    Setting("PROVISIONING_MODES", {}, "sync/async overrides per add-on or plan.", kind="dict"),
    Setting("ASYNC_DEADLINE_SECONDS", 12 * 3600.0, "Async provision deadline.", kind="float"),
    Setting("JOB_LEASE_SECONDS", 300.0, "A worker's lease on a resource.", kind="float"),
    Setting("RETRY_BASE_SECONDS", 5.0, "First retry delay.", kind="float"),
    Setting("RETRY_MAX_SECONDS", 600.0, "Longest retry delay.", kind="float"),
    Setting("RECONCILE_INTERVAL_MINUTES", 1, "How often the reconciler runs.", kind="int"),
    Setting(
        "RECONCILE_STUCK_AFTER_SECONDS", 600.0, "When a sync provision is stuck.", kind="float"
    ),
    Setting("RECONCILE_REMOVE_ORPHANS", False, "Remove orphans, not only report.", kind="bool"),
    Setting(
        "CDC_MAX_PAUSED_LAG_BYTES",
        512 * 1024**2,
        "A paused data connector whose slot lag passes this is flagged for removal.",
        kind="int",
    ),
    Setting("LOG_LEVEL", "INFO", "Log level."),
    Setting("METRICS_TOKEN", "", "Bearer token for GET /metrics.", secret=True),
    Setting("PROMETHEUS_MULTIPROC_DIR", "", "Metrics files of all processes on a host."),
    Setting("OPERATOR_TOKEN", "", "Bearer token for the operator's API.", secret=True),
    Setting("LOG_DRAIN_QUEUE_SIZE", 1000, "Add-on log lines held per process.", kind="int"),
    Setting("LOG_DRAIN_TIMEOUT_SECONDS", 2.0, "Timeout of one post to a log input.", kind="float"),
    Setting("USAGE_SAMPLE_INTERVAL_MINUTES", 60, "How often usage is sampled.", kind="int"),
    Setting("SESSION_LIFETIME_MINUTES", 90, "Dashboard session lifetime.", kind="int"),
    Setting("ODATA_PAGE_SIZE", 2000, "External Objects: rows per OData page.", kind="int"),
    Setting(
        "ODATA_RATE_LIMIT_PER_HOUR", 20000, "External Objects: requests per service.", kind="int"
    ),
    Setting("CATALOG_CHECK_SECONDS", 5.0, "Catalog version check interval.", kind="float"),
    Setting("WEB_THREADS", 4, "App threads per web worker process.", kind="int"),
)


def metrics_multiproc_dir() -> str:
    """``PROMETHEUS_MULTIPROC_DIR`` as the process started with it ("" when unset): the
    Prometheus client reads it once, when it is imported, to choose its mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class ConfigError(RuntimeError):
    """The configuration cannot run the broker (for example a production secret is missing)."""


def installed_settings() -> tuple[Setting, ...]:
    """The settings every installed adapter declares."""
    return tuple(
        setting
        for plugin in discover_adapter_factories().values()
        for setting in plugin.spec.settings
    )


def read_settings(env: Env, settings: Iterable[Setting]) -> dict[str, Any]:
    """Read each declared setting from the environment, parsed by its ``kind``."""
    readers: dict[str, Callable[[str, Any], Any]] = {
        "str": env.str,
        "int": env.int,
        "float": env.float,
        "bool": env.bool,
        "list": env.list,
        "dict": env.dict,
    }
    return {s.env: readers[s.kind](s.env, s.default) for s in settings}


def load_config(
    instance_path: str,
    overrides: Mapping[str, Any] | None = None,
    adapter_settings: Iterable[Setting] | None = None,
) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply ``overrides`` (used by tests).

    :param adapter_settings: the adapters' declared settings; default: every installed
        adapter's.
    :raises ConfigError: production without ``SECRET_KEY`` or ``ENCRYPTION_KEYS``.
    """
    env = Env()
    overrides = dict(overrides or {})
    adapters = installed_settings() if adapter_settings is None else tuple(adapter_settings)
    declared = (*CORE_SETTINGS, *adapters)
    config = read_settings(env, declared)
    instance = Path(instance_path)
    port = config["PORT"]
    config["MARKETPLACE_URL"] = config["MARKETPLACE_URL"] or f"http://localhost:{port}"
    config["QUEUE_URL"] = config["QUEUE_URL"] or f"sqlite:///{instance / 'queue.db'}"
    database_url = config.pop("DATABASE_URL") or f"sqlite:///{instance / 'marketplace.db'}"
    config["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(database_url)
    config["LOG_LEVEL"] = str(config["LOG_LEVEL"]).upper()
    if "DATABASE_URL" in overrides:
        overrides["SQLALCHEMY_DATABASE_URI"] = _normalise_database_url(
            overrides.pop("DATABASE_URL")
        )
    config.update(overrides)
    config["MARKETPLACE_URL"] = str(config["MARKETPLACE_URL"]).rstrip("/")
    _apply_secrets(config, instance_path)
    config.update(_fixed_settings(config))
    return config


def _fixed_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    secure = str(config["MARKETPLACE_URL"]).startswith("https://")
    return {
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(config["SQLALCHEMY_DATABASE_URI"]),
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=int(config["SESSION_LIFETIME_MINUTES"])),
        "WTF_CSRF_TIME_LIMIT": None,
        "API_TITLE": "Marketplace broker",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
    }


def _normalise_database_url(url: str) -> str:
    """Accept Heroku-style ``postgres://`` URLs and pin SQLAlchemy to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str) -> dict[str, Any]:
    """``hide_parameters``: a failed statement's error (and so any log of it) never shows
    its parameters, which are request values."""
    if url.startswith("sqlite"):
        # Writers queue behind one another on SQLite; a long busy timeout turns contention
        # into waiting instead of "database is locked".
        return {"connect_args": {"timeout": 30}, "hide_parameters": True}
    return {"pool_pre_ping": True, "hide_parameters": True}


def _apply_secrets(config: dict[str, Any], instance_path: str) -> None:
    if config["SECRET_KEY"] and config["ENCRYPTION_KEYS"]:
        return
    if config["MARKETPLACE_ENV"] == "production":
        raise ConfigError(
            "SECRET_KEY and ENCRYPTION_KEYS must be set when MARKETPLACE_ENV=production"
        )
    generated = _development_secrets(Path(instance_path))
    for key in ("SECRET_KEY", "ENCRYPTION_KEYS", "OAUTH_CLIENT_SECRET"):
        config[key] = config[key] or generated.get(key) or ""


def _development_secrets(instance_path: Path) -> dict[str, Any]:
    """Load or create the development secrets kept under ``instance/``."""
    path = instance_path / DEV_SECRETS_FILE
    if path.exists():
        stored: dict[str, Any] = json.loads(path.read_text())
        return stored
    log.warning(
        "SECRET_KEY/ENCRYPTION_KEYS not set: generated development secrets in %s "
        "(set both in production)",
        path,
    )
    instance_path.mkdir(parents=True, exist_ok=True)
    secrets = {
        "SECRET_KEY": Fernet.generate_key().decode(),
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        # Shared with the local platform (`flask platform serve`), which reads this file too.
        "OAUTH_CLIENT_SECRET": Fernet.generate_key().decode(),
    }
    # Write aside, then link into place: the link is atomic and fails if another process
    # (web and worker start together) won the race, in which case its secrets are used.
    scratch = instance_path / f".{DEV_SECRETS_FILE}.{os.getpid()}"
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(secrets, handle)
    try:
        os.link(scratch, path)
    except FileExistsError:
        stored = json.loads(path.read_text())
        return stored
    finally:
        scratch.unlink()
    return secrets
