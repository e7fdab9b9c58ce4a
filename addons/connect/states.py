"""Heroku Connect's connection and mapping states, with the dashboard's labels.

Source: Heroku Dev Center "Mapping States Reference" and django-heroku-connect's
``ConnectionStates`` (see /work/shared/reference/connect.md section 1.7).
"""

from __future__ import annotations

# --- connection states ---------------------------------------------------------------------
NEW = "NEW"  # no database or no org authorization yet
IDLE = "IDLE"
POLLING_DB_CHANGES = "POLLING_DB_CHANGES"
IMPORT_CONFIGURATION = "IMPORT_CONFIGURATION"
BUSY = "BUSY"
NEED_AUTHENTICATION = "NEED_AUTHENTICATION"
PAUSED = "PAUSED"
#: Not one of Heroku's connection states: the linked database was removed (Heroku shows the
#: mapping state of the same name); the connection stops until another database is linked.
DB_UNAVAILABLE = "DB_UNAVAILABLE"

CONNECTION_STATES = (
    NEW,
    IDLE,
    POLLING_DB_CHANGES,
    IMPORT_CONFIGURATION,
    BUSY,
    NEED_AUTHENTICATION,
    PAUSED,
    DB_UNAVAILABLE,
)
HEALTHY = frozenset({IDLE, POLLING_DB_CHANGES, IMPORT_CONFIGURATION, BUSY})

# --- mapping states ------------------------------------------------------------------------
INITIAL = "INITIAL"
RELOAD_TABLE = "RELOAD_TABLE"
WAIT_BULK_LOAD = "WAIT_BULK_LOAD"
DATA_SYNCED = "DATA_SYNCED"
POLLING_SF_CHANGES = "POLLING_SF_CHANGES"
SYSTEM_ERROR = "SYSTEM_ERROR"
BAD_CONFIG = "BAD_CONFIG"
UNAUTHORIZED = "UNAUTHORIZED"
ROW_LIMIT = "ROW_LIMIT_EXCEEDED"  # ours: the plan's max_rows stopped the mapping

MAPPING_LABELS = {
    INITIAL: "Creating",
    RELOAD_TABLE: "Reloading",
    WAIT_BULK_LOAD: "Waiting for bulk job",
    DATA_SYNCED: "OK",
    POLLING_SF_CHANGES: "Polling SF",
    SYSTEM_ERROR: "Error",
    BAD_CONFIG: "Bad configuration",
    UNAUTHORIZED: "Unauthorized",
    DB_UNAVAILABLE: "Database unavailable",
    ROW_LIMIT: "Plan row limit reached",
}
ERROR_STATES = frozenset({SYSTEM_ERROR, BAD_CONFIG, UNAUTHORIZED, DB_UNAVAILABLE, ROW_LIMIT})

# --- trigger log states (django-heroku-connect TRIGGER_LOG_STATE) --------------------------
LOG_NEW = "NEW"
LOG_PENDING = "PENDING"
LOG_SUCCESS = "SUCCESS"
LOG_FAILED = "FAILED"
LOG_IGNORE = "IGNORE"
LOG_IGNORED = "IGNORED"
LOG_READONLY = "READONLY"


def mapping_label(state: str) -> str:
    """The dashboard's label for a mapping state (the state itself when unknown)."""
    return MAPPING_LABELS.get(state, state)
