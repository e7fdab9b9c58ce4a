"""The broker for ``bench/odata_query.py``: the Postgres adapter and the tests' XoTest
data-service adapter (the ExternalObjects mixin Connect uses), configured from the environment
the benchmark sets (``DATABASE_URL``, ``POSTGRES_ADMIN_URL``, ...); ``web`` is it behind the
buffering bridge, as the Procfile's web process serves it."""

from __future__ import annotations

import os

from addons.postgres import PostgresAdapter
from marketplace import create_app
from marketplace.serving import BufferingBridge
from tests.odata_support import XoTestAdapter

app = create_app(
    adapters=[
        PostgresAdapter(
            os.environ["POSTGRES_ADMIN_URL"], name_prefix=os.environ["BACKEND_NAME_PREFIX"]
        ),
        XoTestAdapter(),
    ]
)
web = BufferingBridge(
    app, max_body=int(app.config["MAX_CONTENT_LENGTH"]), threads=int(app.config["WEB_THREADS"])
)
