"""Starting the broker (and other WSGI apps) under gunicorn for the benchmarks, and wrk."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import requests
from cryptography.fernet import Fernet
from psycopg import sql

from tests.support import admin_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def broker_env(scratch: Path, store_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """Environment for the broker on ``store_url`` (its job queue in ``scratch``), naming
    backend objects with ``prefix``."""
    return {
        **os.environ,
        "DATABASE_URL": store_url,
        "QUEUE_URL": f"sqlite:///{scratch}/queue.db",
        "SECRET_KEY": "bench-secret-key",
        "ENCRYPTION_KEYS": f'["{Fernet.generate_key().decode()}"]',
        "BACKEND_NAME_PREFIX": prefix,
        "MARKETPLACE_URL": "http://127.0.0.1",
        **extra,
    }


def release(env: Mapping[str, str]) -> None:
    """``flask release``: migrations and the catalog sync, as the Procfile's release does."""
    subprocess.run(
        [str(BIN / "flask"), "--app", "app", "release"],
        cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"}, check=True, stdout=subprocess.DEVNULL,
    )


@contextmanager
def gunicorn(
    target: str,
    env: Mapping[str, str],
    log: Path,
    workers: int = 2,
    ready_path: str = "/",
    threads: int = 1,
) -> Iterator[str]:
    """Run ``gunicorn target`` with ``workers`` sync workers (gthread with ``threads`` > 1) on
    loopback; yield its base URL. For a WSGI app beside another (the catalog benchmark)."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "sync" if threads == 1 else "gthread", "--threads", str(threads),
        "--access-logfile", "/dev/null", target,
    ]
    with _serving(command, env, log, f"http://127.0.0.1:{port}", ready_path) as base:
        yield base


@contextmanager
def web_process(
    target: str, env: Mapping[str, str], log: Path, ready_path: str = "/healthz"
) -> Iterator[str]:
    """Run the broker as the Procfile's web process does (``gunicorn -c gunicorn.conf.py``:
    the asyncio worker and the buffering bridge, ``WEB_CONCURRENCY`` x ``WEB_THREADS``,
    default 2 x 4) with ``target`` the bridged app (``app:web``); yield its base URL."""
    port = free_port()
    served_env = {
        **env,
        "WEB_BIND": f"127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(log.parent / "metrics"),
    }
    (log.parent / "metrics").mkdir(exist_ok=True)
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", target]
    with _serving(command, served_env, log, f"http://127.0.0.1:{port}", ready_path) as base:
        yield base


@contextmanager
def _serving(
    command: list[str], env: Mapping[str, str], log: Path, base: str, ready_path: str
) -> Iterator[str]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=out, stderr=out)
    try:
        _wait_ready(base + ready_path, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within 60 s")


def ensure_wrk() -> str:
    """The path of ``wrk``, installed with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is missing; installing it with apt-get", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("could not install wrk (apt-get install wrk)")
    return found


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: requests per second and the answers that were not 2xx/3xx or failed."""

    requests_per_second: float
    errors: int


def wrk(
    url: str, seconds: int, connections: int, headers: Mapping[str, str] | None = None
) -> WrkResult:
    """Load ``url`` with wrk (2 threads) for ``seconds``."""
    command = [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], check=True, capture_output=True, text=True
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rate is None:
        raise SystemExit(f"wrk printed no rate:\n{output}")
    errors = sum(
        int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    ) + sum(
        int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return WrkResult(float(rate.group(1)), errors)


@contextmanager
def postgres_store() -> Iterator[str]:
    """A throwaway PostgreSQL database for the broker's store (as tests/conftest.py makes)."""
    name = f"broker_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base = psycopg.conninfo.conninfo_to_dict(admin_url())
    try:
        yield (
            f"postgresql://{base['user']}:{base['password']}@{base.get('host', '127.0.0.1')}:"
            f"{base.get('port', 5432)}/{name}"
        )
    finally:
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
