"""What services need of the job queue: a way to run a resource's work now or later."""

from __future__ import annotations

from typing import Protocol


class Scheduler(Protocol):
    """Queues work for the worker (``marketplace.queue.JobQueue`` implements it).

    Delays are in seconds. Jobs carry only a resource uuid: the state they act on lives in
    the store, so a lost job only delays work until the reconciler re-drives it.
    """

    def enqueue_drive(self, uuid: str, delay: float = 0.0) -> None:
        """Drive the resource's pending provisioning or removal steps."""
        ...

    def enqueue_tick(self, uuid: str, delay: float = 0.0) -> None:
        """Run the resource's next background tick (on the tick queue)."""
        ...
