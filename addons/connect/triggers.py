"""The functions and triggers Heroku Connect installs, and the session trick behind them.

``public.get_xmlbinary()`` returns the session's ``xmlbinary`` setting. PostgreSQL's default
is ``base64``; the sync engine's own sessions run with ``xmlbinary = 'hex'`` (see
:data:`ENGINE_OPTIONS`), so the triggers tell an app's write (``base64``: capture it, mark the
row ``PENDING``) from the engine's (``hex``: do not capture, mark the row ``SYNCED`` unless the
engine set ``_hc_lastop`` itself). A custom trigger whose writes must be captured can
``SET LOCAL xmlbinary TO 'base64'``. Names, bodies and semantics follow real ``pg_dump``s of
Heroku Connect schemas (reference/connect.md, section 1.2):

- ``<schema>.hc_<table>_logger()``, trigger ``hc_<table>_logtrigger``: AFTER INSERT OR UPDATE
  OR DELETE FOR EACH ROW WHEN ``get_xmlbinary() = 'base64'``: one ``_trigger_log`` row
  (``NEW`` for read-write mappings, ``READONLY`` otherwise; ``IGNORE`` for a delete of a row
  without ``sfid`` or an update that changes nothing); ``values`` is the hstore text of the
  whole row (INSERT) or of the changed columns (UPDATE), ``old`` the old row.
- ``<schema>.hc_<table>_status()``, trigger ``hc_<table>_status_trigger``: BEFORE INSERT OR
  UPDATE FOR EACH ROW: an app's write always makes the row ``PENDING`` (``_hc_err`` NULL),
  whatever ``_hc_lastop`` it sets itself; the engine's makes it ``SYNCED`` unless that UPDATE
  changes ``_hc_lastop`` (``INSERTED``, ``UPDATED``, ``FAILED``).
- ``<schema>.tlog_notify_trigger()``, trigger ``tlog_insert_trigger`` on ``_trigger_log``:
  ``pg_notify('<schema>.hc_trigger_log', 'ping')``.
- ``<schema>.hc_capture_insert_from_row(hstore, varchar, text[])`` and
  ``<schema>.hc_capture_update_from_row(hstore, varchar, text[])``: re-capture a row as a
  ``NEW`` INSERT or UPDATE (to retry a failed write); both return the new log id, or NULL
  when ``source_row`` has no ``id``.
"""

from __future__ import annotations

from psycopg import sql

#: Connection options of the engine's own sessions (``psycopg.connect(..., options=...)``).
ENGINE_OPTIONS = "-c xmlbinary=hex -c application_name=connect-sync"

#: Heroku Connect's own body reads ``pg_settings`` (a view that builds every setting on each
#: call); ``current_setting`` returns the same value without that, which matters because the
#: triggers call it for every row written.
GET_XMLBINARY = sql.SQL(
    """CREATE OR REPLACE FUNCTION public.get_xmlbinary() RETURNS character varying
    LANGUAGE sql STABLE AS $$ SELECT current_setting('xmlbinary')::character varying $$"""
)

_NOTIFY = """CREATE OR REPLACE FUNCTION {s}.tlog_notify_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify({channel}, 'ping');
      RETURN NULL;
    END;
    $$"""

_CAPTURE_INSERT = """CREATE OR REPLACE FUNCTION {s}.hc_capture_insert_from_row(
      source_row hstore, table_name character varying,
      excluded_cols text[] DEFAULT ARRAY[]::text[]) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      trigger_row {s}._trigger_log;
    BEGIN
      IF (source_row -> 'id') IS NULL THEN
        RETURN NULL; -- the row must carry its integer id
      END IF;
      trigger_row = ROW();
      trigger_row.id = nextval({seq});
      trigger_row.action = 'INSERT';
      trigger_row.table_name = table_name;
      trigger_row.txid = txid_current();
      trigger_row.created_at = clock_timestamp();
      trigger_row.updated_at = clock_timestamp();
      trigger_row.state = 'NEW';
      trigger_row.record_id = (source_row -> 'id')::integer;
      trigger_row.values = (source_row - ARRAY['_hc_lastop', '_hc_err'])
        - array_remove(array_remove(excluded_cols, 'id'), 'sfid');
      INSERT INTO {s}._trigger_log VALUES (trigger_row.*);
      RETURN trigger_row.id;
    END;
    $$"""

_CAPTURE_UPDATE = """CREATE OR REPLACE FUNCTION {s}.hc_capture_update_from_row(
      source_row hstore, table_name character varying,
      columns_to_include text[] DEFAULT ARRAY[]::text[]) RETURNS integer
    LANGUAGE plpgsql AS $$
    DECLARE
      trigger_row {s}._trigger_log;
    BEGIN
      IF (source_row -> 'id') IS NULL THEN
        RETURN NULL; -- the row must carry its integer id
      END IF;
      trigger_row = ROW();
      trigger_row.id = nextval({seq});
      trigger_row.action = 'UPDATE';
      trigger_row.table_name = table_name;
      trigger_row.txid = txid_current();
      trigger_row.created_at = clock_timestamp();
      trigger_row.updated_at = clock_timestamp();
      trigger_row.state = 'NEW';
      trigger_row.record_id = (source_row -> 'id')::integer;
      trigger_row.sfid = source_row -> 'sfid';
      IF array_length(columns_to_include, 1) IS NULL THEN
        trigger_row.values = source_row - ARRAY['_hc_lastop', '_hc_err'];
      ELSE
        trigger_row.values = slice(source_row, columns_to_include);
      END IF;
      INSERT INTO {s}._trigger_log VALUES (trigger_row.*);
      RETURN trigger_row.id;
    END;
    $$"""

_LOGGER = """CREATE OR REPLACE FUNCTION {s}.{logger}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
      trigger_row {s}._trigger_log;
      excluded_cols text[] = ARRAY['_hc_lastop', '_hc_err']::text[];
    BEGIN
      trigger_row = ROW();
      trigger_row.id = nextval({seq});
      trigger_row.action = TG_OP::text;
      trigger_row.table_name = TG_TABLE_NAME::text;
      trigger_row.txid = txid_current();
      trigger_row.created_at = clock_timestamp();
      trigger_row.updated_at = clock_timestamp();
      trigger_row.state = {state};
      IF (TG_OP = 'DELETE') THEN
        trigger_row.record_id = OLD.id;
        trigger_row.old = hstore(OLD.*) - excluded_cols;
        IF (OLD.sfid IS NOT NULL) THEN
          trigger_row.sfid = OLD.sfid;
        ELSE
          trigger_row.state = 'IGNORE';
        END IF;
      ELSEIF (TG_OP = 'INSERT') THEN
        trigger_row.record_id = NEW.id;
        trigger_row.values = hstore(NEW.*) - excluded_cols;
      ELSEIF (TG_OP = 'UPDATE') THEN
        trigger_row.record_id = NEW.id;
        trigger_row.old = hstore(OLD.*) - excluded_cols;
        trigger_row.values = (hstore(NEW.*) - hstore(trigger_row.old)) - excluded_cols;
        IF (OLD.sfid IS NOT NULL) THEN
          trigger_row.sfid = OLD.sfid;
        END IF;
        IF (trigger_row.values = '') THEN
          trigger_row.state = 'IGNORE';
        END IF;
      END IF;
      INSERT INTO {s}._trigger_log VALUES (trigger_row.*);
      RETURN NULL;
    END;
    $$"""

_STATUS = """CREATE OR REPLACE FUNCTION {s}.{status}() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF (public.get_xmlbinary()::text = 'base64') THEN -- user op
        NEW._hc_lastop = 'PENDING';
        NEW._hc_err = NULL;
        RETURN NEW;
      ELSE -- connect op
        IF (TG_OP = 'UPDATE' AND NEW._hc_lastop IS NOT NULL
            AND NEW._hc_lastop IS DISTINCT FROM OLD._hc_lastop) THEN
          RETURN NEW;
        END IF;
        NEW._hc_lastop = 'SYNCED';
        NEW._hc_err = NULL;
        RETURN NEW;
      END IF;
    END;
    $$"""


def _format(template: str, schema: str, **names: str) -> sql.Composed:
    return sql.SQL(template).format(
        s=sql.Identifier(schema),
        seq=sql.Literal(f'"{schema}"._trigger_log_id_seq'),
        channel=sql.Literal(f"{schema}.hc_trigger_log"),
        **{key: sql.Identifier(value) for key, value in names.items()},
    )


def schema_functions(schema: str) -> list[sql.Composed]:
    """The statements that install the schema-wide functions and the notify trigger."""
    s = sql.Identifier(schema)
    return [
        _format(_NOTIFY, schema),
        _format(_CAPTURE_INSERT, schema),
        _format(_CAPTURE_UPDATE, schema),
        sql.SQL("DROP TRIGGER IF EXISTS tlog_insert_trigger ON {}._trigger_log").format(s),
        sql.SQL(
            "CREATE TRIGGER tlog_insert_trigger AFTER INSERT ON {s}._trigger_log "
            "FOR EACH ROW EXECUTE PROCEDURE {s}.tlog_notify_trigger()"
        ).format(s=s),
    ]


def table_triggers(schema: str, table: str, *, read_write: bool) -> list[sql.Composed]:
    """The statements that (re)install a mapped table's two functions and triggers."""
    s, t = sql.Identifier(schema), sql.Identifier(table)
    logger, status = f"hc_{table}_logger", f"hc_{table}_status"
    state = sql.Literal("NEW" if read_write else "READONLY")
    log_trigger, status_trigger = f"hc_{table}_logtrigger", f"hc_{table}_status_trigger"
    return [
        sql.SQL(_LOGGER).format(
            s=s,
            logger=sql.Identifier(logger),
            seq=sql.Literal(f'"{schema}"._trigger_log_id_seq'),
            state=state,
        ),
        _format(_STATUS, schema, status=status),
        sql.SQL("DROP TRIGGER IF EXISTS {} ON {}.{}").format(sql.Identifier(log_trigger), s, t),
        sql.SQL(
            "CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {}.{} FOR EACH ROW "
            "WHEN ((public.get_xmlbinary())::text = 'base64'::text) EXECUTE PROCEDURE {}.{}()"
        ).format(sql.Identifier(log_trigger), s, t, s, sql.Identifier(logger)),
        sql.SQL("DROP TRIGGER IF EXISTS {} ON {}.{}").format(sql.Identifier(status_trigger), s, t),
        sql.SQL(
            "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {}.{} FOR EACH ROW "
            "EXECUTE PROCEDURE {}.{}()"
        ).format(sql.Identifier(status_trigger), s, t, s, sql.Identifier(status)),
    ]
