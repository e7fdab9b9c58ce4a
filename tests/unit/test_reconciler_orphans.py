"""Orphans are objects no live resource owns: never the objects of a provision in progress."""

from __future__ import annotations

from marketplace.adapters import BackendObject
from marketplace.context import broker, lifecycle
from marketplace.services.reconciler import Reconciler
from tests.memory import MemoryAdapter, MemoryBackend
from tests.support import PartnerClient, build_app


class ProvisionDuringListing(MemoryAdapter):
    """Lists its objects while a platform's provision of a new resource completes: its row
    and its object both appear between the reconciler's reads of the store and the backend."""

    partner: PartnerClient | None = None
    provisioned: str | None = None

    def owned(self) -> list[BackendObject]:
        if self.partner is not None and self.provisioned is None:
            response = self.partner.provision(plan="small")
            assert response.status_code == 200, response.get_json()
            self.provisioned = response.get_json()["id"]
        return super().owned()


def test_a_provision_finishing_during_the_run_is_not_taken_for_an_orphan(sqlite_url, tmp_path):
    adapter = ProvisionDuringListing(MemoryBackend())
    app = build_app(sqlite_url, adapters=[adapter], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}")
    partner = PartnerClient(app.test_client(), app, adapter.spec.slug)
    kept = partner.provision(plan="small").get_json()["id"]
    adapter.backend.objects["stray"] = {"plan": "small", "items": 0, "password": 1}
    adapter.partner = partner
    with app.app_context():
        report = Reconciler(
            lifecycle(), broker().queue, stuck_after_seconds=600, remove_orphans=True
        ).run()

    assert adapter.provisioned is not None
    assert report.orphans == {adapter.spec.slug: ["object:stray"]}
    assert report.removed == ["object:stray"]
    assert set(adapter.backend.objects) == {kept, adapter.provisioned}
