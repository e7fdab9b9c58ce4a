"""The marketplace broker: a Flask app built by :func:`create_app`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from marketplace.adapters import AdapterRegistry, AddonAdapter, discover_adapter_factories
from marketplace.config import installed_settings, load_config
from marketplace.context import Broker, init_broker
from marketplace.services.async_settings import AsyncSettings
from marketplace.services.crypto import Vault

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def create_app(
    config: Mapping[str, Any] | None = None, adapters: Iterable[AddonAdapter] | None = None
) -> Flask:
    """Build the app: config → extensions → registry → blueprints → errors → cli.

    :param config: overrides on top of the environment (tests pass their settings here).
    :param adapters: the adapters to serve; default: every installed ``marketplace.adapters``
        entry point (narrowed by ``MARKETPLACE_ADDONS``).
    """
    app = Flask(__name__, instance_relative_config=True)
    adapters = list(adapters) if adapters is not None else None
    declared = (*installed_settings(), *(s for a in adapters or () for s in a.spec.settings))
    app.config.from_mapping(load_config(app.instance_path, config, declared))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)  # default SQLite files live here

    from marketplace.logging import configure_logging, init_request_logging
    from marketplace.security_headers import init_security_headers
    from marketplace.untrusted import init_input_checks

    configure_logging(app.config["LOG_LEVEL"])
    init_input_checks(app)
    init_security_headers(app)
    init_request_logging(app)
    _init_extensions(app)
    registry = AdapterRegistry(adapters if adapters is not None else _installed_adapters(app))
    from marketplace.queue import JobQueue
    from marketplace.services.jobs import HANDLERS

    broker_state = Broker(
        registry=registry,
        vault=Vault(app.config["ENCRYPTION_KEYS"]),
        queue=JobQueue(app.config["QUEUE_URL"], app, app.config, HANDLERS),
        async_settings=AsyncSettings.from_config(app.config),
    )
    init_broker(app, broker_state)
    _register_blueprints(app, registry)
    from marketplace.metrics import init_metrics
    from marketplace.services.events import init_events
    from marketplace.services.log_drain import LogDrainSender

    init_metrics(app, registry)
    init_events(
        app,
        broker_state.vault,
        LogDrainSender(
            capacity=app.config["LOG_DRAIN_QUEUE_SIZE"],
            timeout=app.config["LOG_DRAIN_TIMEOUT_SECONDS"],
        ),
    )

    from marketplace.catalog.cache import init_documents
    from marketplace.services.catalog import catalog_version

    init_documents(app, catalog_version)

    from marketplace.cli import register_commands
    from marketplace.errors import register_error_handlers
    from marketplace.presentation import register_filters

    register_error_handlers(app)
    register_commands(app)
    register_filters(app)
    return app


def _init_extensions(app: Flask) -> None:
    from marketplace import models  # noqa: F401  (tables must be known to migrations)
    from marketplace.extensions import csrf, db, migrate

    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from marketplace.sqlite import tune_sqlite

        with app.app_context():
            tune_sqlite(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)


def _installed_adapters(app: Flask) -> list[AddonAdapter]:
    enabled = app.config["MARKETPLACE_ADDONS"] or None
    plugins = discover_adapter_factories(enabled)
    return [plugin(app.config) for _, plugin in sorted(plugins.items())]


def _register_blueprints(app: Flask, registry: AdapterRegistry) -> None:
    from marketplace.catalog import api_blp, pages_bp
    from marketplace.connect_api import api_bp as connect_api_bp
    from marketplace.connect_api import oauth_bp as connect_oauth_bp
    from marketplace.dashboard import api_bp as resource_api_bp
    from marketplace.dashboard import bp as dashboard_bp
    from marketplace.extensions import api, csrf
    from marketplace.openapi import AddonExamples
    from marketplace.ops import bp as ops_bp
    from marketplace.ops import usage_bp
    from marketplace.partner_api import blp as partner_blp
    from marketplace.sso import bp as sso_bp

    examples = AddonExamples(adapter.spec for adapter in registry)
    api.init_app(app, spec_kwargs={"extra_plugins": [examples]})
    api.spec.components.security_scheme("basicAuth", {"type": "http", "scheme": "basic"})
    for blueprint in (partner_blp, api_blp):
        csrf.exempt(blueprint)  # machine APIs authenticate every call; no cookies involved
        api.register_blueprint(blueprint)
    app.register_blueprint(ops_bp)
    app.register_blueprint(usage_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(sso_bp)
    app.register_blueprint(dashboard_bp)
    csrf.exempt(resource_api_bp)  # checked per request: sessions need X-CSRFToken, tokens not
    app.register_blueprint(resource_api_bp)
    csrf.exempt(connect_api_bp)  # checked per request, like the resource API
    app.register_blueprint(connect_api_bp)
    app.register_blueprint(connect_oauth_bp)

    from marketplace.odata import init_odata

    init_odata(app)

    from marketplace.cdc_api import api_bp as cdc_api_bp
    from marketplace.cdc_api import pages_bp as cdc_pages_bp

    csrf.exempt(cdc_api_bp)  # checked per request, as for the resource API
    app.register_blueprint(cdc_api_bp)
    app.register_blueprint(cdc_pages_bp)
