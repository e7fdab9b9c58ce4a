"""Single sign-on from the platform into a resource's dashboard."""

from marketplace.sso.views import bp

__all__ = ["bp"]
