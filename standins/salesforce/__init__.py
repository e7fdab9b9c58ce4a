"""A stand-in for a Salesforce org: the REST API, OAuth and Bulk API 2.0 subset a sync engine uses.

Start one in a thread with :func:`serve` (tests), or ``python -m standins.salesforce serve``.
Modules: ``server`` (serve/StandIn), ``app`` (WSGI app), ``oauth_views``/``auth`` (OAuth 2.0),
``rest_views`` (sObject REST, describe, query), ``composite_views`` (sObject Collections),
``bulk_views`` (Bulk 2.0 query), ``admin``/``admin_views`` (test hooks under ``/_standin/``),
``soql``/``soql_compile``/``queries`` (SOQL), ``dml``/``records`` (writes), ``store``
(SQLite), ``schema``/``describe`` (objects), ``ids``, ``sftime``, ``tls``, ``seed``.
"""

from standins.salesforce.admin import Admin
from standins.salesforce.app import create_app
from standins.salesforce.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from standins.salesforce.seed import generate, seed_demo
from standins.salesforce.server import StandIn, build, serve

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "Admin",
    "StandIn",
    "build",
    "create_app",
    "generate",
    "seed_demo",
    "serve",
]
