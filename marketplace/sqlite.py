"""SQLite tuning for the embedded store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


def tune_sqlite(engine: Engine) -> None:
    """WAL lets readers run beside the one writer (web and worker share the file).

    ``synchronous=NORMAL`` is the setting SQLite recommends with WAL: a commit survives the
    process crashing; only an OS crash or power loss can lose the last commits (then the
    reconciler finds the backend objects they described as orphans).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
