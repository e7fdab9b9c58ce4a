"""Per-resource dashboards (reached through SSO) and the resources' JSON endpoints."""

from marketplace.dashboard.api import bp as api_bp
from marketplace.dashboard.views import bp

__all__ = ["api_bp", "bp"]
