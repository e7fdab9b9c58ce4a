"""The Add-on Partner API v3 the platform calls."""

from marketplace.partner_api.routes import blp

__all__ = ["blp"]
