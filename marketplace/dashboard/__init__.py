"""Per-resource dashboards, reached through SSO."""

from marketplace.dashboard.views import bp

__all__ = ["bp"]
