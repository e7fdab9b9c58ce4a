"""Fixtures' building blocks for the asynchronous flow: a local platform, workers, a broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from huey.storage import PostgresStorage
from sqlalchemy import update

from marketplace.context import broker
from marketplace.extensions import db
from marketplace.models import Resource
from marketplace.services.events import EXTENSION_KEY
from standins.platform import create_platform_app
from standins.platform.store import PlatformStore
from tests.support import ENCRYPTION_KEY, admin_url, live_server, manifest, name_prefix

CLIENT_SECRET = "local-client-secret"
ROOT = Path(__file__).resolve().parent.parent
REDIS_QUEUE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUEUE_KINDS = ("sqlite", "postgres", "redis")


def queue_name() -> str:
    """The current test's job queue name: a Redis server is shared, so each test's queues
    (and its worker processes') are its own."""
    return f"q{name_prefix()}".rstrip("_")


def flush_redis_queues(url: str = REDIS_QUEUE_URL) -> None:
    """Remove the current test's queues from the Redis server."""
    from huey import RedisHuey

    for name in (queue_name(), f"{queue_name()}-ticks"):
        huey = RedisHuey(name, url=url)
        huey.flush()
        huey.storage.conn.close()


@dataclass
class LocalPlatform:
    """The local platform served on loopback, with its store for assertions and waits."""

    url: str
    store: PlatformStore

    def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    def register(self, app: Flask, broker_url: str, slug: str = "postgres") -> None:
        """Register the broker's manifest, pointing at ``broker_url``."""
        data = manifest(app, slug)
        for env in ("production", "test"):
            data["api"][env] = {
                "base_url": f"{broker_url}/heroku/resources",
                "sso_url": f"{broker_url}/sso/login",
            }
        self.admin("POST", "/_admin/manifests", json=data)

    def create(self, plan: str = "essential-0", slug: str = "postgres") -> dict[str, Any]:
        return self.admin(
            "POST", "/_admin/addons", json={"service": slug, "plan": plan, "app": "demo"}
        )

    def calls(self, path_part: str = "", **detail: Any) -> list[dict[str, Any]]:
        return [
            c
            for c in self.store.calls()
            if path_part in c["path"] and all(c["detail"].get(k) == v for k, v in detail.items())
        ]

    def wait_for_state(self, addon_uuid: str, states: set[str], timeout: float = 60) -> str:
        def reached() -> bool:
            return (self.store.addon(addon_uuid) or {}).get("state") in states

        assert self.store.wait_for(reached, timeout), self.store.addon(addon_uuid)
        return (self.store.addon(addon_uuid) or {})["state"]

    def fault(
        self,
        method: str,
        path_prefix: str,
        status: int = 0,
        times: int = 1,
        delay_seconds: float = 0,
        retry_after: str | None = None,
    ) -> None:
        self.admin(
            "POST",
            "/_admin/faults",
            json={
                "method": method,
                "path_prefix": path_prefix,
                "status": status,
                "times": times,
                "delay_seconds": delay_seconds,
                "retry_after": retry_after,
            },
        )


@contextmanager
def local_platform(tmp_path: Path, **options: Any) -> Iterator[LocalPlatform]:
    app = create_platform_app(
        str(tmp_path / "platform.db"), default_client_secret=CLIENT_SECRET, **options
    )
    with live_server(app) as url:
        app.extensions["platform_broker_calls"].public_url = url  # callback and log input URLs
        yield LocalPlatform(url, app.extensions["platform_store"])


def async_overrides(platform_url: str, queue_url: str, **extra: Any) -> dict[str, Any]:
    """Broker settings for the asynchronous flow against the local platform."""
    return {
        "PLATFORM_API_URL": platform_url,
        "PLATFORM_ID_URL": platform_url,
        "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "PROVISIONING_MODES": {"postgres": "async"},
        "MARKETPLACE_ADDONS": ["postgres"],
        "QUEUE_URL": queue_url,
        "QUEUE_NAME": queue_name(),
        "RETRY_BASE_SECONDS": 0.05,
        "RETRY_MAX_SECONDS": 0.2,
        **extra,
    }


@contextmanager
def in_process_worker(app: Flask, threads: int = 2) -> Iterator[None]:
    """Run the app's Huey consumers (jobs and ticks) in this process (signal handlers restored
    after)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    queue = broker_of(app).queue
    for huey in (queue.huey, queue.tick_huey):
        if isinstance(huey.storage, PostgresStorage):
            # Poll: a blocking dequeue opens a LISTEN connection per consumer thread, which
            # Huey leaves to the garbage collector once the thread is gone.
            huey.storage.blocking = False
    consumers = [
        huey.create_consumer(
            workers=threads,
            worker_type="thread",
            periodic=False,
            initial_delay=0.01,
            max_delay=0.05,
        )
        for huey in (queue.huey, queue.tick_huey)
    ]
    for consumer in consumers:
        consumer.start()
    try:
        yield
    finally:
        for consumer in consumers:
            consumer.stop(graceful=True)
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def broker_of(app: Flask) -> Any:
    with app.app_context():
        return broker()


def worker_process(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``flask --app app worker`` in a child process, configured through ``env``."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "2"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_env(store_url: str, queue_url: str, platform_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": store_url,
        "QUEUE_URL": queue_url,
        "QUEUE_NAME": queue_name(),
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEYS": ENCRYPTION_KEY,
        "PLATFORM_API_URL": platform_url,
        "PLATFORM_ID_URL": platform_url,
        "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "POSTGRES_ADMIN_URL": admin_url(),
        "MARKETPLACE_ADDONS": "postgres",
        "RETRY_BASE_SECONDS": "0.05",
        "RETRY_MAX_SECONDS": "0.2",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def stream_logs(app: Flask, resource_uuid: str, platform: LocalPlatform, app_name: str) -> None:
    """Give an existing resource a log input on the local platform's app ``app_name``, as if
    its provision request had carried ``log_input_url`` and ``log_drain_token``."""
    log_input = platform.store.create_log_input(resource_uuid, app_name)
    host = platform.url.removeprefix("http://")
    url = f"http://token:{log_input['token']}@{host}/logs/{app_name}"
    with app.app_context():
        db.session.execute(
            update(Resource)
            .where(Resource.uuid == resource_uuid)
            .values(
                log_input_url_encrypted=broker_of(app).vault.encrypt(url),
                log_drain_token=log_input["drain_token"],
            )
        )
        db.session.commit()


def log_messages(app: Flask, platform: LocalPlatform, app_name: str) -> list[str]:
    """The lines the app's log stream received, once the broker's sender has sent its queue."""
    assert app.extensions[EXTENSION_KEY].sender.flush(10)
    return [line["message"] for line in platform.store.log_lines(app_name)]
