"""Which queue types a tenant may keep, and the removal of the others.

The plan's caps are an operator policy (``max-length``, ``max-length-bytes``, ``message-ttl``),
which RabbitMQ 3.10 applies to classic and quorum queues. Stream queues
(``x-queue-type=stream``) ignore it: a stream keeps everything until its 500 MB segments roll
over, and neither the operator policy nor anything a broker can set per vhost bounds that. So
streams are refused on these shared plans: the adapter's background tick removes any queue of
a type the plan cannot hold, within :data:`ENFORCE_INTERVAL_SECONDS`, and the dashboard says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from addons.rabbitmq.management import ManagementClient, ManagementError

log = logging.getLogger(__name__)

#: Queue types the plan's operator policy holds.
HELD_TYPES = frozenset({"classic", "quorum"})
ENFORCE_INTERVAL_SECONDS = 5.0
REMEMBERED = 20


@dataclass(frozen=True)
class RefusedQueue:
    """A queue the broker removed because the plan cannot hold its type."""

    name: str
    type: str


def remove_unheld_queues(api: ManagementClient, vhost: str) -> list[RefusedQueue]:
    """Delete every queue of ``vhost`` whose type the plan cannot hold; return those removed.

    A queue the management API refuses to delete is logged and skipped, so it cannot shield
    the others (a vhost made before tenants were refused the names "." and ".." may hold one).

    :raises BackendUnavailable: RabbitMQ is down.
    """
    removed = []
    for queue in api.list_queues(vhost):
        if str(queue.get("type") or "classic") in HELD_TYPES:
            continue
        refused = RefusedQueue(str(queue.get("name")), str(queue.get("type")))
        try:
            api.delete_queue(vhost, refused.name)
        except ManagementError as error:
            # The status only: the queue's name is the tenant's text.
            log.warning(
                "cannot remove a %s queue of %s: HTTP %s", refused.type, vhost, error.status
            )
            continue
        removed.append(refused)
    return removed
