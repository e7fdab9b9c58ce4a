"""How numbers look on pages: prices, plan limits and usage values."""

from __future__ import annotations

from flask import Flask

_LABELS = {
    "storage_bytes": "Storage",
    "message_ttl_ms": "Message TTL",
    "retention_ms": "Retention",
    "max_queue_bytes": "Queue size",
}
_UNITS = ((1024**4, "TB"), (1024**3, "GB"), (1024**2, "MB"), (1024, "KB"))
_DURATIONS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second"))


def format_price(cents: int) -> str:
    """``500`` → ``$5/month``; ``0`` → ``Free``."""
    if cents == 0:
        return "Free"
    dollars = cents / 100
    return f"${dollars:,.0f}/month" if cents % 100 == 0 else f"${dollars:,.2f}/month"


def limit_label(name: str) -> str:
    """``max_connections`` → ``Connections``."""
    if name in _LABELS:
        return _LABELS[name]
    words = name.removeprefix("max_").removesuffix("_bytes").removesuffix("_ms").split("_")
    return " ".join(words).capitalize()


def format_quantity(name: str, value: float | None) -> str:
    """A limit or a measurement in the unit its name implies (bytes, ms, bytes/s, plain)."""
    if value is None:
        return "unlimited"
    if name.endswith("byte_rate"):
        return f"{_size(value)}/s"
    if name.endswith("_bytes"):
        return _size(value)
    if name.endswith("_ms"):
        return _duration(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _size(value: float) -> str:
    for factor, unit in _UNITS:
        if value >= factor:
            amount = value / factor
            return f"{amount:,.0f} {unit}" if amount.is_integer() else f"{amount:,.1f} {unit}"
    return f"{value:,.0f} bytes"


def _duration(value: float) -> str:
    for factor, unit in _DURATIONS:
        if value >= factor:
            amount = value / factor
            plural = "" if amount == 1 else "s"
            return (
                f"{amount:,.0f} {unit}{plural}" if amount.is_integer() else f"{amount:,.1f} {unit}s"
            )
    return f"{value:,.0f} ms"


def register_filters(app: Flask) -> None:
    """Make the formatters available in templates."""
    app.add_template_filter(format_price, "price")
    app.add_template_filter(limit_label, "limit_label")
    app.add_template_filter(format_quantity, "quantity")
