"""The broker for ``bench/odata_query.py`` under gunicorn: the Postgres adapter and the tests'
XoTest data-service adapter (the ExternalObjects mixin Connect uses), configured from the
environment the benchmark sets (``DATABASE_URL``, ``POSTGRES_ADMIN_URL``, ...)."""

from __future__ import annotations

import os

from addons.postgres import PostgresAdapter
from marketplace import create_app
from tests.odata_support import XoTestAdapter

app = create_app(
    adapters=[
        PostgresAdapter(
            os.environ["POSTGRES_ADMIN_URL"], name_prefix=os.environ["BACKEND_NAME_PREFIX"]
        ),
        XoTestAdapter(),
    ]
)
