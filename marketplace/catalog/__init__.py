"""The catalog: web pages for people and a JSON API for platforms."""

from marketplace.catalog.api import blp as api_blp
from marketplace.catalog.pages import bp as pages_bp

__all__ = ["api_blp", "pages_bp"]
