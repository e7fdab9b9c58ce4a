"""The catalog served like a static document: ETag, 304, and re-rendering when it changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from marketplace.catalog.cache import Document, DocumentCache
from tests.memory import MEMORY_SPEC, MemoryAdapter
from tests.support import build_app

CATALOG_PATHS = (
    "/api/addon-services",
    "/api/addon-services/memory",
    "/api/addon-services/memory/plans",
    "/api/addon-services/memory/plans/memory:big",
    "/",
    "/addons?q=memory&region=us",
    "/addons/memory",
)


@pytest.fixture
def memory_app(sqlite_url):
    return build_app(sqlite_url, adapters=[MemoryAdapter()])


@pytest.mark.parametrize("path", CATALOG_PATHS)
def test_every_catalog_document_has_a_stable_strong_etag_and_answers_304(memory_app, path):
    client = memory_app.test_client()
    first, second = client.get(path), client.get(path)  # the second may come from the fast path

    assert first.status_code == second.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert second.headers["ETag"] == etag and second.data == first.data
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    assert second.headers["X-Request-Id"]

    for given in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get(path, headers={"If-None-Match": given})
        assert again.status_code == 304, given
        assert again.data == b"" and again.headers["ETag"] == etag
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_head_answers_the_headers_without_the_body(memory_app):
    client = memory_app.test_client()
    body = client.get("/api/addon-services").data
    head = client.head("/api/addon-services")
    assert head.status_code == 200 and head.data == b""
    assert int(head.headers["Content-Length"]) == len(body)


def test_the_same_catalog_has_the_same_etag_in_every_process(sqlite_url):
    one = build_app(sqlite_url, adapters=[MemoryAdapter()]).test_client()
    two = build_app(sqlite_url, adapters=[MemoryAdapter()]).test_client()
    for path in CATALOG_PATHS[:4]:
        assert one.get(path).headers["ETag"] == two.get(path).headers["ETag"], path


def test_a_catalog_change_in_another_app_changes_etag_and_body(sqlite_url):
    serving = build_app(sqlite_url, adapters=[MemoryAdapter()], CATALOG_CHECK_SECONDS=0)
    client = serving.test_client()
    before = {path: client.get(path) for path in CATALOG_PATHS}

    changed = replace(
        MEMORY_SPEC,
        summary="A changed summary.",
        plans=tuple(replace(p, price_cents=p.price_cents + 100) for p in MEMORY_SPEC.plans),
    )
    build_app(sqlite_url, adapters=[MemoryAdapter(spec=changed)])  # syncs the same store

    for path, old in before.items():
        new = client.get(path, headers={"If-None-Match": old.headers["ETag"]})
        assert new.status_code == 200, path
        assert new.headers["ETag"] != old.headers["ETag"] and new.data != old.data, path
    assert client.get("/api/addon-services/memory").get_json()["summary"] == "A changed summary."
    prices = [p["price"]["cents"] for p in client.get("/api/addon-services/memory/plans").json]
    assert prices == sorted(plan.price_cents + 100 for plan in MEMORY_SPEC.plans)


def test_a_new_adapter_in_another_app_appears_in_the_catalog(sqlite_url):
    client = build_app(
        sqlite_url, adapters=[MemoryAdapter()], CATALOG_CHECK_SECONDS=0
    ).test_client()
    before = client.get("/api/addon-services")
    other = replace(
        MEMORY_SPEC,
        slug="other",
        name="Other",
        config_vars_prefix="OTHER",
        config_vars=("OTHER_URL",),
    )
    build_app(sqlite_url, adapters=[MemoryAdapter(), MemoryAdapter(spec=other)])

    after = client.get("/api/addon-services")
    assert after.headers["ETag"] != before.headers["ETag"]
    assert [s["name"] for s in after.get_json()] == ["memory", "other"]


def test_syncing_an_unchanged_catalog_keeps_the_etag(sqlite_url):
    app = build_app(sqlite_url, adapters=[MemoryAdapter()], CATALOG_CHECK_SECONDS=0)
    client = app.test_client()
    before = client.get("/api/addon-services").headers["ETag"]
    build_app(sqlite_url, adapters=[MemoryAdapter()])
    assert client.get("/api/addon-services").headers["ETag"] == before


def test_errors_are_not_cached(memory_app):
    client = memory_app.test_client()
    for _ in range(2):
        missing = client.get("/api/addon-services/nope")
        assert missing.status_code == 404 and "ETag" not in missing.headers


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_version_is_read_at_most_once_per_interval_and_a_change_drops_documents():
    reads: list[str] = []
    version = ["v1"]

    def read_version() -> str:
        reads.append(version[0])
        return version[0]

    clock = FakeClock()
    cache = DocumentCache(read_version, check_seconds=5.0, clock=clock)
    renders: list[int] = []

    def render() -> Document:
        renders.append(1)
        return Document(f"body {len(renders)}".encode(), "application/json", "public")

    key = ("", "/api/addon-services", "")
    first = cache.document(key, render)
    assert cache.fresh(key) == first
    clock.now = 4.9
    assert cache.document(key, render) == first and cache.fresh(key) == first
    assert len(reads) == 1 and len(renders) == 1

    clock.now = 5.0  # due: the fast path steps aside, the version is read again
    assert cache.fresh(key) is None
    assert cache.document(key, render) == first and len(reads) == 2 and len(renders) == 1

    version[0] = "v2"
    clock.now = 10.0
    second = cache.document(key, render)
    assert second.body == b"body 2" and second.etag != first.etag


def test_the_cache_is_bounded():
    cache = DocumentCache(lambda: "v", check_seconds=60.0, max_documents=3, clock=FakeClock())
    for n in range(5):
        cache.document(("", "/addons", f"q={n}"), lambda: Document(b"x", "text/html", "public"))
    assert len(cache) == 3
    assert cache.fresh(("", "/addons", "q=0")) is None
    assert cache.fresh(("", "/addons", "q=4")) is not None
