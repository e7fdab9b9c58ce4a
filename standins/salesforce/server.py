"""Running the stand-in over HTTPS, in a background thread or in the foreground.

In tests::

    with serve(":memory:") as sf:                     # or serve(path, cert_dir=...)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", sf.ca_bundle)
        client = Salesforce(instance_url=sf.url, session_id=sf.new_session())
        sf.admin.add_validation_rule("Account", "Name", "Bad", "Name may not be Bad")
        ...

:func:`serve` returns a :class:`StandIn` with ``url`` (``https://127.0.0.1:<port>``),
``ca_bundle``, ``client_id``/``client_secret`` of the default connected app, ``org``,
``admin`` (:class:`~standins.salesforce.admin.Admin`) and ``stop()``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from standins.salesforce import tls
from standins.salesforce.admin import Admin
from standins.salesforce.app import create_app
from standins.salesforce.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Auth
from standins.salesforce.schema import load_schema
from standins.salesforce.seed import seed_demo
from standins.salesforce.store import Org

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    """No access log lines (tests make thousands of calls)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


@dataclass
class StandIn:
    """A running stand-in org."""

    url: str
    ca_bundle: str
    org: Org
    auth: Auth
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    _server: BaseWSGIServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _cleanup: list[Path] = field(default_factory=list, repr=False)

    @property
    def admin(self) -> Admin:
        """The test/admin hooks of this org."""
        return Admin(self.org, self.auth)

    def new_session(self) -> str:
        """An access token for the default connected app, without the OAuth dance."""
        return self.auth.mint_session(self.client_id)

    def stop(self) -> None:
        """Stop serving, close the store, remove a temporary certificate directory."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.org.close()
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()


def build(store: str | Path | Org = ":memory:", *, schema_path: str | Path | None = None,
          seed: bool = False, api_limit: int | None = None,
          callback_urls: list[str] | None = None) -> tuple[Org, Auth]:
    """An org and its OAuth state, with the default connected app registered."""
    if not isinstance(store, Org) and str(store) != ":memory:":
        Path(store).parent.mkdir(parents=True, exist_ok=True)
    org = store if isinstance(store, Org) else Org(load_schema(schema_path), store)
    auth = Auth(org)
    if auth.app(DEFAULT_CLIENT_ID) is None or callback_urls is not None:
        auth.register_app(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, "Connect (stand-in)",
                          callback_urls)
    if api_limit is not None:
        org.set_meta("api_max", str(api_limit))
    if seed:
        created = seed_demo(org)
        log.info("seeded %d demo records", created)
    return org, auth


def serve(store: str | Path | Org = ":memory:", host: str = "127.0.0.1", port: int = 0,
          cert_dir: str | Path | None = None, *, schema_path: str | Path | None = None,
          seed: bool = False, api_limit: int | None = None,
          callback_urls: list[str] | None = None, reuse_certs: bool = False) -> StandIn:
    """Start the stand-in over HTTPS in a daemon thread and return its handle.

    :param store: an SQLite path, ``":memory:"``, or an existing :class:`Org`.
    :param port: 0 picks a free port (read it from ``handle.url``).
    :param cert_dir: where to write ``cert.pem`` and the server key; a temporary directory,
        removed on ``stop()``, when omitted.
    :param reuse_certs: keep valid certificates already in ``cert_dir`` (see ``tls.ensure``).
    """
    org, auth = build(store, schema_path=schema_path, seed=seed, api_limit=api_limit,
                      callback_urls=callback_urls)
    cleanup = []
    if cert_dir is None:
        cert_dir = Path(tempfile.mkdtemp(prefix="sfdc-standin-"))
        cleanup.append(cert_dir)
    files = tls.ensure(cert_dir) if reuse_certs else tls.generate(cert_dir)
    server = make_server(host, port, create_app(org, auth), threaded=True,
                         ssl_context=files.server_context(), request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="sfdc-standin")
    thread.start()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104
    url = f"https://{shown_host}:{server.port}"
    return StandIn(url, str(files.ca_bundle), org, auth, _server=server, _thread=thread,
                   _cleanup=cleanup)
