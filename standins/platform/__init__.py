"""A local stand-in for the platform side: OAuth, Platform API for Partners, SSO, a CLI.

It plays Heroku for developers (``flask --app app platform serve``) and for the test suite.
It keeps its own small SQLite store and checks every call as strictly as the real platform.
"""

from standins.platform.server import create_platform_app

__all__ = ["create_platform_app"]
