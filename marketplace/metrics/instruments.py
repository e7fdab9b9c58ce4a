"""The broker's Prometheus instruments: counters and histograms its code updates.

Every instrument is labelled, so none writes a value until it is first used; in
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) each process writes its own file and
``GET /metrics`` sums them (see :mod:`marketplace.metrics.exposition`). Gauges that describe
shared state (queue depth, resources by state, backend health) are not instruments: they
are read at scrape time (:mod:`marketplace.metrics.collectors`).

Names follow Prometheus' conventions: a ``marketplace_`` prefix, base units in the name
(``_seconds``), ``_total`` on counters (the client adds it to the counters' names).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

#: Seconds: from a few milliseconds (a cached answer) to a minute (a slow backend).
OPERATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "marketplace_http_requests",
    "HTTP requests answered, by route (the URL rule, not the raw path), method and status.",
    ("route", "method", "status"),
)
HTTP_DURATION = Histogram(
    "marketplace_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ("route", "method"),
)

PARTNER_OPERATIONS = Counter(
    "marketplace_partner_api_operations",
    "Partner API operations (provision, plan_change, deprovision) by add-on and outcome.",
    ("addon", "operation", "outcome"),
)
PARTNER_DURATION = Histogram(
    "marketplace_partner_api_operation_duration_seconds",
    "Duration of a Partner API operation in the broker, backend calls included.",
    ("addon", "operation"),
    buckets=OPERATION_BUCKETS,
)
PARTNER_BACKEND_DURATION = Histogram(
    "marketplace_partner_api_backend_duration_seconds",
    "The part of a Partner API operation spent in the add-on's backend (adapter calls).",
    ("addon", "operation"),
    buckets=OPERATION_BUCKETS,
)
ADAPTER_CALLS = Counter(
    "marketplace_adapter_calls",
    "Calls into an adapter (provision, change_plan, deprovision, rotate_credentials, usage) "
    "by outcome (ok, or the error's class).",
    ("addon", "call", "outcome"),
)

ASYNC_STEPS = Counter(
    "marketplace_async_steps",
    "Asynchronous provisioning and removal steps by add-on, step and outcome "
    "(done, retry, failed).",
    ("addon", "step", "outcome"),
)
ASYNC_RETRIES = Counter(
    "marketplace_async_retries",
    "Asynchronous steps scheduled for a retry after a transient failure.",
    ("addon", "step"),
)
ASYNC_DRIVES = Counter(
    "marketplace_async_drives",
    "Worker jobs that drove a resource's asynchronous work, by what they ended with.",
    ("outcome",),
)

RECONCILER_RUNS = Counter(
    "marketplace_reconciler_runs",
    "Reconciler runs by outcome (ok, or error when the run itself raised).",
    ("outcome",),
)
RECONCILER_DURATION = Histogram(
    "marketplace_reconciler_run_duration_seconds",
    "Duration of one reconciler run, by outcome.",
    ("outcome",),
    buckets=OPERATION_BUCKETS,
)
RECONCILER_ORPHANS_FOUND = Counter(
    "marketplace_reconciler_orphans_found",
    "Orphaned backend objects the reconciler found (counted on every run that sees them).",
    ("addon",),
)
RECONCILER_ORPHANS_REMOVED = Counter(
    "marketplace_reconciler_orphans_removed",
    "Orphaned backend objects the reconciler removed.",
    ("addon",),
)
RECONCILER_REDRIVEN = Counter(
    "marketplace_reconciler_redriven",
    "Work the reconciler queued again (kind: drive, tick) or cleaned up (abandoned).",
    ("kind",),
)

SSO_LOGINS = Counter(
    "marketplace_sso_logins",
    "Single sign-on attempts by outcome: ok, or why it was refused (bad_timestamp, "
    "unknown_resource, bad_token, replayed).",
    ("outcome",),
)

ADDON_LOG_LINES = Counter(
    "marketplace_addon_log_lines",
    "Lines for the apps' log streams by outcome: queued, sent, dropped (the in-process "
    "queue was full), failed (the log input refused or could not be reached), withheld "
    "(the line contained a config value).",
    ("outcome",),
)

USAGE_SAMPLES = Counter(
    "marketplace_usage_samples",
    "Metered usage samples recorded, by add-on and outcome (ok, unavailable, failed).",
    ("addon", "outcome"),
)
