"""Assets an adapter package ships beside its code: ``docs.md`` and ``logo.svg``."""

from __future__ import annotations

import functools
from importlib.resources import files

from markdown_it import MarkdownIt

from marketplace.adapters import AddonAdapter

# Raw HTML in the Markdown is escaped, not rendered: docs are text, never markup to trust.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def docs_html(adapter: AddonAdapter) -> str:
    """The adapter's ``docs.md`` rendered to HTML (empty when it ships none)."""
    return _render(_package_of(adapter))


def logo_svg(adapter: AddonAdapter) -> bytes | None:
    """The adapter's ``logo.svg``, or None."""
    return _read(_package_of(adapter), "logo.svg")


def _package_of(adapter: AddonAdapter) -> str:
    return type(adapter).__module__.rpartition(".")[0] or type(adapter).__module__


@functools.cache
def _render(package: str) -> str:
    text = _read(package, "docs.md")
    return _MARKDOWN.render(text.decode()) if text else ""


@functools.cache
def _read(package: str, name: str) -> bytes | None:
    resource = files(package) / name
    return resource.read_bytes() if resource.is_file() else None
