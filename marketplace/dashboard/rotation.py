"""Credential rotation as the dashboard form and the resource JSON API both offer it."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.cdc_api.service import service as cdc_service
from marketplace.context import broker, lifecycle
from marketplace.services.dashboard import rotate_credentials


@dataclass(frozen=True)
class Rotated:
    """What a rotation did: the config var names changed, whether the platform receives the
    new values, what to tell the customer, and the data connectors that could not take a
    rotated Kafka login yet (each retried by an empty PATCH)."""

    config_vars: list[str]
    pushed: bool
    message: str
    connectors_missed: list[str]


def rotate(uuid: str) -> Rotated:
    """Issue new credentials for ``uuid`` and hand a rotated Kafka login to the data
    connectors writing into it.

    :raises Unprocessable: not provisioned, or nothing to rotate.
    :raises ServiceUnavailable: the backend is down; nothing changed.
    """
    changed, pushed = rotate_credentials(uuid, lifecycle(), broker().queue)
    names = sorted(changed)
    issued = f"New credentials issued ({', '.join(names)})."
    if pushed:
        message = f"{issued} The platform is receiving them; your app restarts with them shortly."
    else:
        message = (
            f"{issued} The old ones no longer work: set the new values on your app "
            "(heroku config:set)."
        )
    missed = cdc_service().hand_over_kafka_credentials(uuid)
    return Rotated(names, pushed, message, missed)
