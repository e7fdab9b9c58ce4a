"""Connect's blueprints: the Heroku Connect API v3 under ``/connect/api/v3`` and the OAuth
login (``/connect/oauth/start/<uuid>``, ``/connect/oauth/callback``)."""

from marketplace.connect_api.oauth import bp as oauth_bp
from marketplace.connect_api.routes import bp as api_bp

__all__ = ["api_bp", "oauth_bp"]
