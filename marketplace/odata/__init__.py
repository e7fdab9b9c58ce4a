"""External Objects: an OData 4.0 service over a data-service resource's tables.

* :mod:`.views`: the service at ``/odata/v4/<service id>/`` (HTTP Basic, rate limited);
* :mod:`.admin_api`: turning it on and off, credentials and shared tables under
  ``/connect/api/v3/connections/<uuid>/odata`` (session or API token);
* :mod:`.dashboard`: the same on the resource's dashboard;
* :mod:`.management`, :mod:`.access`, :mod:`.credentials`: the service layer;
* :mod:`.protocol`, :mod:`.filters`, :mod:`.values`, :mod:`.csdl`, :mod:`.responses`: the
  OData 4.0 wire format.
"""

from __future__ import annotations

from flask import Flask


def init_odata(app: Flask) -> None:
    """Register the blueprints (the service and the API authenticate every call themselves,
    so CSRF applies to the dashboard's forms only) and the dashboard panel."""
    from marketplace.extensions import csrf
    from marketplace.odata import admin_api, dashboard, views

    csrf.exempt(views.bp)
    csrf.exempt(admin_api.bp)  # require_access_to checks X-CSRFToken on session writes
    app.register_blueprint(views.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(dashboard.bp)
    dashboard.init_app(app)
