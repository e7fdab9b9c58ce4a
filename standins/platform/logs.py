"""The local platform's log input: Logplex's HTTP input, as add-on providers post to it.

A provision request hands the broker ``log_input_url``
(``http://token:<secret>@<platform>/logs/<app>``) and ``log_drain_token`` (``d.<uuid>``).
The broker posts ``application/logplex-1`` bodies: RFC 5424 syslog messages, each prefixed
by its length in bytes, with ``Logplex-Msg-Count``. This module parses them; the server
checks the credentials and stores the lines for ``platform logs <app>`` and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass


class FrameError(ValueError):
    """The body is not a well-formed octet-counted syslog batch."""


@dataclass(frozen=True)
class SyslogLine:
    """One received line: header fields and the message text."""

    priority: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    message: str


def parse_frames(body: bytes) -> list[bytes]:
    """Split an octet-counted body into its messages.

    :raises FrameError: a length is missing, not a number, or longer than what remains.
    """
    messages: list[bytes] = []
    position = 0
    while position < len(body):
        space = body.find(b" ", position)
        digits = body[position:space] if space > 0 else b""
        if not digits.isdigit():
            raise FrameError(f"expected a length at byte {position}")
        length = int(digits)
        start = space + 1
        if start + length > len(body):
            raise FrameError(f"a message of {length} bytes overruns the body")
        messages.append(body[start : start + length])
        position = start + length
    return messages


def parse_syslog(message: bytes) -> SyslogLine:
    """Parse one RFC 5424 message whose structured data is ``-``.

    :raises FrameError: not ``<pri>1 time host app procid msgid - text``.
    """
    parts = message.decode("utf-8", errors="replace").split(" ", 7)
    if len(parts) < 7 or not parts[0].startswith("<") or not parts[0].endswith(">1"):
        raise FrameError("not an RFC 5424 message")
    text = parts[7] if len(parts) == 8 else ""
    return SyslogLine(
        priority=int(parts[0][1:-2]),
        timestamp=parts[1],
        hostname=parts[2],
        app_name=parts[3],
        procid=parts[4],
        message=text,
    )
