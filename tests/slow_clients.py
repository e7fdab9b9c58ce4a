"""A real gunicorn for tests, and slow clients to point at it (loopback only, bounded).

Used by ``tests/functional/test_slow_clients.py``; also runnable by hand to compare serving
models: ``.venv/bin/python -m tests.slow_clients --worker-class gthread``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import requests

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    """A port nothing listens on right now, on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def gunicorn(env: Mapping[str, str], *extra_args: str, workers: int = 2) -> Iterator[str]:
    """Run ``gunicorn -c gunicorn.conf.py`` on a free loopback port; yield its base URL.

    The server is stopped (SIGTERM, then SIGKILL after 20 s) when the block ends.
    """
    port = free_port()
    process = subprocess.Popen(
        [str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), *extra_args],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: process.poll() is not None or _answers(f"{base}/healthz"),
            timeout=60,
            what="gunicorn answers /healthz",
        )
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        process.stderr.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class SlowClients:
    """``count`` connections that send a request one byte per ``interval`` seconds.

    Half of them dribble their headers (the request line and a header never finished), the
    other half send complete headers announcing a 1,000-byte body and dribble the body. A
    daemon thread feeds them until :meth:`close` or ``max_seconds``, whichever comes first.
    """

    def __init__(
        self,
        host: str,
        port: int,
        count: int = 50,
        interval: float = 0.5,
        max_seconds: float = 120.0,
    ) -> None:
        self.sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._interval = interval
        self._deadline = time.monotonic() + max_seconds
        for index in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sock.settimeout(None)  # blocking: a MSG_DONTWAIT peek then answers at once
            if index % 2:
                sock.sendall(
                    b"POST /heroku/resources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n["
                )
            else:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            self.sockets.append(sock)
        self._thread = threading.Thread(target=self._feed, daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        while not self._stop.wait(self._interval) and time.monotonic() < self._deadline:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.sendall(b"1")

    def all_waiting(self) -> bool:
        """True while every connection is open and still has no answer."""
        for sock in self.sockets:
            try:
                sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                continue  # open, nothing sent back: still waiting
            except OSError:
                return False  # reset
            return False  # b"": closed; anything else: answered
        return True

    def close(self) -> None:
        """Stop feeding and close every connection."""
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def _measure(argv: list[str]) -> None:  # pragma: no cover - run by hand
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker-class", default=None, help="override, e.g. gthread")
    parser.add_argument("--count", type=int, default=50)
    args = parser.parse_args(argv)
    extra = (
        ["--worker-class", args.worker_class, "--threads", "4", "app:app"]
        if (args.worker_class)
        else []
    )
    store = Path("/tmp") / f"slow-clients-{os.getpid()}.db"
    env = {"DATABASE_URL": f"sqlite:///{store}", "MARKETPLACE_ADDONS": "postgres"}
    release = [sys.executable, "-m", "flask", "--app", "app", "release"]
    subprocess.run(release, env={**os.environ, **env}, check=True, cwd=ROOT)
    with gunicorn(env, *extra) as base:
        port = int(base.rsplit(":", 1)[1])
        clients = SlowClients("127.0.0.1", port, count=args.count, max_seconds=60)
        try:
            started = time.monotonic()
            try:
                status = requests.get(f"{base}/healthz", timeout=30).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            print(
                f"healthz with {args.count} slow clients: {status} in "
                f"{time.monotonic() - started:.3f} s; slow clients waiting: "
                f"{clients.all_waiting()}"
            )
        finally:
            clients.close()
    store.unlink(missing_ok=True)


if __name__ == "__main__":  # pragma: no cover
    _measure(sys.argv[1:])
