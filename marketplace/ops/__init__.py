"""Operational endpoints: liveness, readiness, metrics, and usage for billing."""

from marketplace.ops.usage import bp as usage_bp
from marketplace.ops.views import bp

__all__ = ["bp", "usage_bp"]
