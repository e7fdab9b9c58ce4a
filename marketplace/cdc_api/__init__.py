"""Streaming data connectors: the JSON API (Heroku's ``/data/cdc/v0`` shape), the
dashboard's forms and the ``data-connectors`` CLI commands."""

from marketplace.cdc_api.api import bp as api_bp
from marketplace.cdc_api.cli import data_connectors as cli_group
from marketplace.cdc_api.pages import bp as pages_bp

__all__ = ["api_bp", "cli_group", "pages_bp"]
