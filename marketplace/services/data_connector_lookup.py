"""Finding data connectors the way Heroku's data connectors API and CLI name them.

Heroku's CLI passes a connector's *name* where its API takes an id
(``data:connectors:info NAME`` calls ``GET /data/cdc/v0/connectors/NAME``), lists an app's
connectors (``GET /apps/<app>``) and an add-on's, from either end (``GET /addons/<addon>``).
These queries find the rows; authorization stays with the callers.
"""

from __future__ import annotations

import uuid as uuid_module

from sqlalchemy import Select, or_, select

from marketplace.errors import NotFound, Unprocessable
from marketplace.extensions import db
from marketplace.models import ConnectorStatus, DataConnector, Resource, ResourceState


def is_uuid(key: str) -> bool:
    """Whether ``key`` is written as a uuid (a connector id) rather than a name."""
    try:
        uuid_module.UUID(key)
    except ValueError:
        return False
    return True


def find_connector_id(key: str, postgres_uuid: str | None = None, *, by_name: bool = True) -> str:
    """The id of the connector ``key`` names: its id, or (``by_name``) the name of a live
    connector (of the Postgres resource ``postgres_uuid`` when given).

    :raises NotFound: no such connector (there).
    :raises Unprocessable: several live connectors have that name (name it by its uuid).
    """
    if is_uuid(key) and db.session.get(DataConnector, key) is not None:
        return key
    if not by_name:
        raise NotFound("No data connector with this id.")
    # Not an id: a name (a name may look like a uuid: a-z, 0-9, _ and -).
    query = select(DataConnector.id).where(
        DataConnector.name == key, DataConnector.status != ConnectorStatus.DEPROVISIONED
    )
    if postgres_uuid is not None:
        query = query.join(Resource, Resource.id == DataConnector.postgres_resource_id).where(
            Resource.uuid == postgres_uuid
        )
    return _the_one(
        query,
        NotFound("No data connector with this id or name."),
        Unprocessable(f"Several data connectors are called {key}; name it by its uuid."),
    )


def live_of_resource(resource: Resource) -> list[DataConnector]:
    """Live connectors reading from or writing into ``resource``, oldest first."""
    return list(
        db.session.scalars(
            select(DataConnector)
            .where(
                or_(
                    DataConnector.postgres_resource_id == resource.id,
                    DataConnector.kafka_resource_id == resource.id,
                ),
                DataConnector.status != ConnectorStatus.DEPROVISIONED,
            )
            .order_by(DataConnector.created_at)
        )
    )


def in_app(resource: Resource, app: str) -> bool:
    """Whether ``resource`` belongs to the app with id or name ``app``."""
    return bool(app) and app in (resource.app_id, resource.app_name)


def resource_uuid(key: str) -> str:
    """The uuid of the provisioned resource whose uuid or name (Heroku's add-on name) is
    ``key``, for the operator's CLI.

    :raises NotFound: none has it.
    :raises Unprocessable: several resources have that name.
    """
    if is_uuid(key):
        return key
    return _the_one(
        select(Resource.uuid).where(
            Resource.name == key, Resource.state == ResourceState.PROVISIONED
        ),
        NotFound(f"No resource called {key[:80]}."),
        Unprocessable(f"Several resources are called {key[:80]}; use a uuid."),
    )


def resources_of_app(app: str) -> list[str]:
    """The uuids of the provisioned resources of the app with id or name ``app``."""
    return list(
        db.session.scalars(
            select(Resource.uuid)
            .where(
                or_(Resource.app_id == app, Resource.app_name == app),
                Resource.state == ResourceState.PROVISIONED,
            )
            .order_by(Resource.created_at)
        )
    )


def _the_one(query: Select[str], missing: NotFound, several: Unprocessable) -> str:
    """The one value ``query`` selects; ``missing`` or ``several`` raised otherwise."""
    found = list(db.session.scalars(query.limit(2)))
    if not found:
        raise missing
    if len(found) > 1:
        raise several
    return found[0]
