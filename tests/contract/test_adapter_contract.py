"""The contract every installed adapter keeps, run against its real backend."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest

from marketplace.adapters import (
    Actions,
    AddonAdapter,
    Dashboard,
    Metering,
    ProvisionRequest,
    Reconciliation,
    ResourceRef,
    Rotation,
    discover_adapter_factories,
)
from tests.support import build_app, owned_names

pytestmark = pytest.mark.backend

CONFIG_VAR = re.compile(r"^[A-Z][0-9A-Z_]+$")
BUILTIN_SLUGS = {"postgres", "rabbitmq", "kafka"}


def _installed_adapters() -> list[AddonAdapter]:
    app = build_app("sqlite://")
    return [factory(app.config) for _, factory in sorted(discover_adapter_factories().items())]


ADAPTERS = _installed_adapters()


@pytest.fixture(params=ADAPTERS, ids=lambda a: a.spec.slug)
def adapter(request) -> AddonAdapter:
    return request.param


@pytest.fixture
def resource_id(adapter):
    resource_id = str(uuid.uuid4())
    yield resource_id
    adapter.deprovision(ResourceRef(resource_id, adapter.spec.default_plan, "us"))


def test_every_builtin_adapter_is_installed():
    assert {a.spec.slug for a in ADAPTERS} >= BUILTIN_SLUGS


def test_declaration_is_complete(adapter):
    spec = adapter.spec
    assert isinstance(adapter, AddonAdapter)
    assert re.match(r"^[a-z][a-z0-9-]+$", spec.slug)
    assert spec.name and spec.summary and spec.description and spec.category
    assert spec.config_vars and spec.regions
    for name in spec.config_vars:
        assert CONFIG_VAR.match(name) and name.startswith(spec.config_vars_prefix + "_")
    if spec.slug in BUILTIN_SLUGS:  # an outside adapter may offer a single plan
        assert len(spec.plans) >= 3
    assert sum(plan.default for plan in spec.plans) == 1
    assert len({plan.slug for plan in spec.plans}) == len(spec.plans)
    for plan in spec.plans:
        assert plan.price_cents >= 0 and plan.limits
        assert all(isinstance(v, int) for v in plan.limits.values())


def test_capabilities_are_what_each_builtin_adapter_offers(adapter):
    """Every capability an adapter claims is a real one; none carries a raise-only method."""
    offered = {
        cap.__name__
        for cap in (Metering, Dashboard, Actions, Rotation, Reconciliation)
        if isinstance(adapter, cap)
    }
    expected = {
        "postgres": {"Metering", "Dashboard", "Rotation", "Reconciliation"},
        "rabbitmq": {"Metering", "Dashboard", "Rotation", "Reconciliation"},
        "kafka": {"Metering", "Dashboard", "Actions", "Rotation", "Reconciliation"},
        "connect": {"Metering", "Dashboard", "Actions"},
    }.get(adapter.spec.slug)
    if expected is not None:
        assert offered == expected
    for name in ("perform", "usage", "rotate_credentials", "details", "owned"):
        assert not hasattr(adapter, name) or callable(getattr(adapter, name))


def test_every_setting_is_declared_once(adapter):
    names = [setting.env for setting in adapter.spec.settings]
    assert len(names) == len(set(names))
    assert all(re.match(r"^[A-Z][A-Z0-9_]+$", name) for name in names)


def test_backend_is_reachable(adapter):
    status = adapter.check()
    assert status.ok, status.detail


def test_provision_returns_every_declared_var_as_strings(adapter, resource_id):
    result = adapter.provision(ProvisionRequest(resource_id, adapter.spec.default_plan, "us"))

    assert set(result.config) == set(adapter.spec.config_vars)
    for name, value in result.config.items():
        assert isinstance(value, str) and value
        if name.endswith("_URL"):
            parts = urlsplit(value.split(",")[0])
            assert parts.scheme and parts.hostname


def test_provision_again_converges_on_the_same_objects(adapter, resource_id):
    request = ProvisionRequest(resource_id, adapter.spec.default_plan, "us")
    first = adapter.provision(request)
    if not isinstance(adapter, Reconciliation):  # creates nothing on a backend (Connect)
        assert adapter.provision(request).config == first.config
        return
    names = owned_names(adapter)
    adapter.provision(request)
    assert owned_names(adapter) == names


def test_every_plan_change_usage_and_rotation(adapter, resource_id):
    plan = adapter.spec.default_plan
    result = adapter.provision(ProvisionRequest(resource_id, plan, "us"))
    ref = ResourceRef(resource_id, plan, "us", result.config)
    for target in adapter.spec.plans:
        adapter.change_plan(ref, target)
        ref = ResourceRef(resource_id, target, "us", ref.config)
        if isinstance(adapter, Metering):
            usage = adapter.usage(ref)
            assert usage.metrics and all(m.value >= 0 for m in usage.metrics)

    if not isinstance(adapter, Rotation):
        return
    rotated = adapter.rotate_credentials(ref)
    assert rotated.config and set(rotated.config) <= set(adapter.spec.config_vars)
    assert rotated.config != {k: result.config[k] for k in rotated.config}


def test_deprovision_removes_everything_and_is_safe_to_repeat(adapter):
    resource_id = str(uuid.uuid4())
    plan = adapter.spec.default_plan
    if not isinstance(adapter, Reconciliation):  # creates nothing on a backend (Connect)
        adapter.provision(ProvisionRequest(resource_id, plan, "us"))
        adapter.deprovision(ResourceRef(resource_id, plan, "us"))
        adapter.deprovision(ResourceRef(resource_id, plan, "us"))
        return
    before = owned_names(adapter)
    adapter.provision(ProvisionRequest(resource_id, plan, "us"))
    assert owned_names(adapter) > before

    ref = ResourceRef(resource_id, plan, "us")
    adapter.deprovision(ref)
    adapter.deprovision(ref)
    assert owned_names(adapter) == before


def test_deprovision_of_something_never_provisioned_is_fine(adapter):
    adapter.deprovision(ResourceRef(str(uuid.uuid4()), adapter.spec.default_plan, "us"))
