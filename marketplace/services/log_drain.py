"""Lines for the app's log stream, posted to the platform's log input (Logplex's HTTP input).

Format: each line is an RFC 5424 syslog message,
``<190>1 <time> <drain token> app <add-on slug> - - <message>`` (priority 190 = local7.info;
the platform shows it as ``app[<add-on slug>]: <message>``), and a request body is those
messages octet-counted (``<length in bytes> <message>`` back to back) with
``Content-Type: application/logplex-1`` and ``Logplex-Msg-Count: <n>``. The log input URL
carries its credentials (``https://token:t.…@…/logs``): it is a secret, never logged.

Sending never delays the caller: :meth:`LogDrainSender.submit` puts the line in a bounded
in-process queue (dropping the oldest line when full) and one background thread per process
posts batches with a short timeout. A line that cannot be delivered is counted and dropped:
the customer's logs are best effort, the broker's API calls are not.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from urllib.parse import urlsplit

import requests

from marketplace.metrics.instruments import ADDON_LOG_LINES

log = logging.getLogger(__name__)

PRIORITY = 190  # facility local7 (23) * 8 + severity informational (6)
BATCH_MAX_LINES = 100
USER_AGENT = "marketplace-broker (add-on log input)"
_NIL = "-"


@dataclass(frozen=True)
class LogLine:
    """One line for one app's log stream.

    ``url`` is the log input URL (with credentials), ``token`` the drain token (the syslog
    hostname; None gives ``-``), ``source`` the add-on's slug (the syslog procid), ``at``
    the event's time (timezone-aware) and ``message`` the text (one line, no secrets).
    """

    url: str
    token: str | None
    source: str
    message: str
    at: datetime


def syslog_message(line: LogLine) -> bytes:
    """The RFC 5424 message for ``line`` (UTF-8; newlines become spaces)."""
    text = " ".join(line.message.splitlines())
    host = _field(line.token, 255)
    stamp = line.at.isoformat(timespec="microseconds")
    return f"<{PRIORITY}>1 {stamp} {host} app {_field(line.source, 128)} - - {text}".encode()


def frame(lines: Sequence[LogLine]) -> bytes:
    """An ``application/logplex-1`` body: each message prefixed by its length in bytes."""
    parts = []
    for line in lines:
        message = syslog_message(line)
        parts.append(f"{len(message)} ".encode() + message)
    return b"".join(parts)


def redacted(url: str) -> str:
    """``url`` without its credentials, path or query: safe to log. Never raises: a URL
    that does not parse (``https://host:99999``, ``http://[``) reads ``<unparsable URL>``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    return f"{parts.scheme}://{parts.hostname or '?'}" + (f":{port}" if port else "")


def post_batch(url: str, lines: Sequence[LogLine], timeout: float) -> None:
    """POST ``lines`` to the log input at ``url`` (credentials from the URL).

    :raises requests.RequestException: unreachable, too slow, or refused (4xx/5xx).
    """
    response = requests.post(
        url,
        data=frame(lines),
        headers={
            "Content-Type": "application/logplex-1",
            "Logplex-Msg-Count": str(len(lines)),
            "Logplex-Frame-Id": uuid.uuid4().hex,
            "User-Agent": USER_AGENT,
        },
        timeout=timeout,
    )
    response.raise_for_status()


Poster = Callable[[str, Sequence[LogLine], float], None]


class LogDrainSender:
    """A bounded queue of lines and the thread that posts them, one per process.

    :param capacity: lines held at most; past it the oldest is dropped (and counted).
    :param timeout: seconds one post may take (connect and read).
    """

    def __init__(
        self, capacity: int = 1000, timeout: float = 2.0, post: Poster = post_batch
    ) -> None:
        self._capacity = max(int(capacity), 1)
        self._timeout = timeout
        self._post = post
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lines: deque[LogLine] = deque()
        self._changed = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, line: LogLine) -> None:
        """Queue ``line`` for sending; never blocks, never raises."""
        if os.getpid() != self._pid:  # forked: the parent's thread and lines are not ours
            self._reset()
        dropped = 0
        with self._changed:
            if self._closed:
                return
            self._lines.append(line)
            while len(self._lines) > self._capacity:
                self._lines.popleft()
                dropped += 1
            self._start()
            self._changed.notify_all()
        ADDON_LOG_LINES.labels("queued").inc()
        if dropped:
            ADDON_LOG_LINES.labels("dropped").inc(dropped)

    def flush(self, timeout: float) -> bool:
        """Wait until every queued line was posted (or given up); False after ``timeout``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._lines and not self._busy, timeout=timeout
            )

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread after at most ``timeout`` seconds of sending what is queued."""
        self.flush(timeout)
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def pending(self) -> int:
        """Lines waiting to be sent."""
        with self._changed:
            return len(self._lines)

    def _start(self) -> None:
        if self._thread is None:  # first line of this process: flush what is left at exit
            atexit.register(self.close)
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="addon-log-sender", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._changed:
                self._busy = False
                self._changed.notify_all()
                self._changed.wait_for(lambda: self._lines or self._closed)
                if self._closed and not self._lines:
                    return
                batch = [self._lines.popleft() for _ in range(min(len(self._lines), 1000))]
                self._busy = True
            try:
                self._send(batch)
            except Exception:  # the thread must outlive any batch; its lines are lost
                ADDON_LOG_LINES.labels("failed").inc(len(batch))
                log.error("add-on log lines not sent: the sender failed", exc_info=False)

    def _send(self, lines: Iterable[LogLine]) -> None:
        """Post ``lines``, one request per log input and at most :data:`BATCH_MAX_LINES`
        lines per request; count what went and what did not."""
        ordered = sorted(lines, key=lambda line: line.url)
        for url, same_url in groupby(ordered, key=lambda line: line.url):
            group = list(same_url)
            for start in range(0, len(group), BATCH_MAX_LINES):
                chunk = group[start : start + BATCH_MAX_LINES]
                try:
                    self._post(url, chunk, self._timeout)
                except Exception as error:  # the sender thread must never die
                    ADDON_LOG_LINES.labels("failed").inc(len(chunk))
                    log.warning(
                        "%d add-on log lines not delivered to %s: %s",
                        len(chunk),
                        redacted(url),
                        type(error).__name__,
                    )
                else:
                    ADDON_LOG_LINES.labels("sent").inc(len(chunk))


def _field(value: str | None, longest: int) -> str:
    """A syslog header field: printable ASCII without spaces, at most ``longest`` long."""
    if not value:
        return _NIL
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)
    return cleaned[:longest] or _NIL
