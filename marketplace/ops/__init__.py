"""Operational endpoints: liveness and readiness."""

from marketplace.ops.views import bp

__all__ = ["bp"]
