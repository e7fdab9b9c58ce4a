"""The catalog: JSON API for platforms (web pages come with the catalog pages issue)."""

from marketplace.catalog.api import blp as api_blp

__all__ = ["api_blp"]
