"""gunicorn settings for the web process (Procfile, Procfile.dev and the slow-client test).

The serving model (see ``marketplace/serving.py`` and the README's "Deploying"): gunicorn's
asyncio worker (``asgi``) reads every request on an event loop, and the broker's
:class:`~marketplace.serving.BufferingBridge` runs the Flask app on a bounded thread pool
only once a request is complete. A slow client costs a socket and a coroutine, never a
thread, so slow connections cannot starve ``/healthz`` or a provision.

Environment: ``PORT`` (5000), ``WEB_CONCURRENCY`` (worker processes, 2), ``WEB_THREADS``
(app threads per worker, 4), ``WEB_BIND`` (the address, default ``0.0.0.0:$PORT``). Keep
this file free of imports from the app: gunicorn reads it in the master process.
"""

import os

wsgi_app = "app:web"
bind = os.environ.get("WEB_BIND") or f"0.0.0.0:{os.environ.get('PORT', '5000')}"
worker_class = "asgi"
# uvloop (a dependency) when importable, else asyncio's own loop.
asgi_loop = "auto"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Concurrent connections per worker (slow ones included); each costs a socket, not a thread.
worker_connections = 1000
# A worker that does not answer its heartbeat for this long is restarted.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections are closed after this many seconds.
keepalive = 5
# Request line and headers: bounded before the app sees anything (431/400 from gunicorn).
limit_request_line = 4094
limit_request_fields = 60
limit_request_field_size = 8190
# The body limit (1 MiB, chunked or not) is the app's MAX_CONTENT_LENGTH, applied by the bridge
# while it reads; gunicorn has no body limit of its own.
asgi_lifespan = "on"
# Access lines come from the app (JSON, with the request id, never a query string).
accesslog = None
loglevel = "info"

# --- operations: JSON logs and the metrics' process hooks (marketplace/gunicorn_hooks.py) ---
# gunicorn's error lines (and access lines, if ever enabled) in the app's JSON format, with the
# request id. The class and the hooks import the broker's modules lazily, never its app.
logger_class = "marketplace.gunicorn_hooks.JsonLogger"


def on_starting(server: object) -> None:
    """Master start: empty PROMETHEUS_MULTIPROC_DIR of an earlier run's metrics files."""
    from marketplace.gunicorn_hooks import on_starting as prepare_metrics

    prepare_metrics(server)


def child_exit(server: object, worker: object) -> None:
    """A worker exited: drop its live gauges from the metrics sums."""
    from marketplace.gunicorn_hooks import child_exit as forget_worker

    forget_worker(server, worker)
