"""Configuration: the only module that reads the process environment.

Every variable here is part of the public interface and listed in the README's table.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from environs import Env

log = logging.getLogger(__name__)

DEFAULT_POSTGRES_ADMIN_URL = (
    "postgresql://marketplace_admin:marketplace-admin-dev@127.0.0.1:5432/postgres"
)
DEFAULT_RABBITMQ_MANAGEMENT_URL = "http://marketplace_admin:marketplace-admin-dev@127.0.0.1:15672"
DEFAULT_RABBITMQ_AMQP_URL = "amqp://127.0.0.1:5672"
DEV_SECRETS_FILE = "dev-secrets.json"


class ConfigError(RuntimeError):
    """The configuration cannot run the broker (for example a production secret is missing)."""


def load_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the Flask config from the environment, then apply ``overrides`` (used by tests).

    :raises ConfigError: production without ``SECRET_KEY`` or ``ENCRYPTION_KEYS``.
    """
    env = Env()
    overrides = dict(overrides or {})
    port = env.int("PORT", 5000)
    environment = overrides.get("MARKETPLACE_ENV") or env.str("MARKETPLACE_ENV", "development")
    config: dict[str, Any] = {
        "MARKETPLACE_ENV": environment,
        "PORT": port,
        "MARKETPLACE_URL": env.str("MARKETPLACE_URL", f"http://localhost:{port}"),
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(
            env.str("DATABASE_URL", f"sqlite:///{Path(instance_path) / 'marketplace.db'}")
        ),
        "SECRET_KEY": env.str("SECRET_KEY", ""),
        "ENCRYPTION_KEYS": env.list("ENCRYPTION_KEYS", []),
        "POSTGRES_ADMIN_URL": env.str("POSTGRES_ADMIN_URL", DEFAULT_POSTGRES_ADMIN_URL),
        "POSTGRES_PUBLIC_HOST": env.str("POSTGRES_PUBLIC_HOST", ""),
        "RABBITMQ_MANAGEMENT_URL": env.str(
            "RABBITMQ_MANAGEMENT_URL", DEFAULT_RABBITMQ_MANAGEMENT_URL
        ),
        "RABBITMQ_AMQP_URL": env.str("RABBITMQ_AMQP_URL", DEFAULT_RABBITMQ_AMQP_URL),
        "KAFKA_BOOTSTRAP_SERVERS": env.str("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        "KAFKA_ADMIN_USERNAME": env.str("KAFKA_ADMIN_USERNAME", "marketplace_admin"),
        "KAFKA_ADMIN_PASSWORD": env.str("KAFKA_ADMIN_PASSWORD", "marketplace-admin-dev"),
        "KAFKA_PUBLIC_BOOTSTRAP_SERVERS": env.str("KAFKA_PUBLIC_BOOTSTRAP_SERVERS", ""),
        "MARKETPLACE_ADDONS": env.list("MARKETPLACE_ADDONS", []),
        "BACKEND_NAME_PREFIX": env.str("BACKEND_NAME_PREFIX", "mkt_"),
        "QUEUE_URL": env.str("QUEUE_URL", f"sqlite:///{Path(instance_path) / 'queue.db'}"),
        "WORKER_THREADS": env.int("WORKER_THREADS", 2),
        "PLATFORM_API_URL": env.str("PLATFORM_API_URL", "https://api.heroku.com"),
        "PLATFORM_ID_URL": env.str("PLATFORM_ID_URL", "https://id.heroku.com"),
        "PLATFORM_DASHBOARD_URL": env.str("PLATFORM_DASHBOARD_URL", "https://dashboard.heroku.com"),
        "OAUTH_CLIENT_SECRET": env.str("OAUTH_CLIENT_SECRET", ""),
        "OAUTH_CLIENT_SECRETS": env.dict("OAUTH_CLIENT_SECRETS", {}),
        "PROVISIONING_MODES": env.dict("PROVISIONING_MODES", {}),
        "ASYNC_DEADLINE_SECONDS": env.float("ASYNC_DEADLINE_SECONDS", 12 * 3600),
        "JOB_LEASE_SECONDS": env.float("JOB_LEASE_SECONDS", 300),
        "RETRY_BASE_SECONDS": env.float("RETRY_BASE_SECONDS", 5),
        "RETRY_MAX_SECONDS": env.float("RETRY_MAX_SECONDS", 600),
        "RECONCILE_INTERVAL_MINUTES": env.int("RECONCILE_INTERVAL_MINUTES", 1),
        "RECONCILE_STUCK_AFTER_SECONDS": env.float("RECONCILE_STUCK_AFTER_SECONDS", 600),
        "RECONCILE_REMOVE_ORPHANS": env.bool("RECONCILE_REMOVE_ORPHANS", False),
        "LOCAL_PLATFORM_URL": env.str("LOCAL_PLATFORM_URL", "http://127.0.0.1:5100"),
        "LOCAL_PLATFORM_DB": env.str(
            "LOCAL_PLATFORM_DB", str(Path(instance_path) / "local-platform.db")
        ),
        "LOG_LEVEL": env.str("LOG_LEVEL", "INFO").upper(),
        "SESSION_LIFETIME_MINUTES": env.int("SESSION_LIFETIME_MINUTES", 90),
    }
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
    if url.startswith("sqlite"):
        # Writers queue behind one another on SQLite; a long busy timeout turns contention
        # into waiting instead of "database is locked".
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True}


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
        return json.loads(path.read_text())
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
        return json.loads(path.read_text())
    finally:
        scratch.unlink()
    return secrets
