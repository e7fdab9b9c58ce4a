"""What every provisioning benchmark shares: the broker's HTTP cycle and the report."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.servers import broker_env, web_process
from tests.support import ENCRYPTION_KEY, PartnerClient, build_app, name_prefix


def broker_cycle(session: requests.Session, base: str, partner: PartnerClient, plan: str) -> float:
    """Provision then deprovision one resource through the Partner API; return seconds."""
    session.trust_env = False  # the platform's client: no environment lookups per request
    body = partner.provision_body(plan=plan)
    started = time.perf_counter()
    created = session.post(
        f"{base}/heroku/resources", json=body, headers=partner.headers, timeout=60
    )
    removed = session.delete(
        f"{base}/heroku/resources/{body['uuid']}", headers=partner.headers, timeout=60
    )
    elapsed = time.perf_counter() - started
    if created.status_code != 200 or removed.status_code != 204:
        raise SystemExit(f"broker failed: {created.status_code} {removed.status_code}")
    return elapsed


def p95(values: list[float]) -> float:
    """The 95th percentile."""
    return statistics.quantiles(values, n=20)[-1]


def report(series: dict[str, list[float]], cycles: int) -> None:
    """Print median and p95 of each series."""
    print(f"cycles: {cycles} (provision + deprovision each)")
    for label, values in series.items():
        median_ms, p95_ms = statistics.median(values) * 1000, p95(values) * 1000
        print(f"{label:<12}  median {median_ms:7.1f} ms   p95 {p95_ms:7.1f} ms")


def ratio_line(
    broker: list[float], raw: list[float], label: str, goal: float | None = None
) -> float:
    """Print and return median(broker) / median(raw), with the p95 ratio."""
    ratio = statistics.median(broker) / statistics.median(raw)
    target = f"  goal < {goal}" if goal else ""
    print(f"ratio (median broker / median {label}): {ratio:.3f}{target}")
    print(f"p95 ratio (broker / {label}): {p95(broker) / p95(raw):.3f}")
    return ratio


@dataclass(frozen=True)
class Served:
    """The broker and the floor (``bench/floor_app.py``), both served as the Procfile's web
    process is, in front of the same adapter, with one platform client that works for both."""

    broker: str
    floor: str
    partner: PartnerClient


@contextmanager
def served_broker(scratch: Path, slug: str, **settings: str) -> Iterator[Served]:
    """The broker as the Procfile's web process runs it (:func:`bench.servers.web_process`) on a
    SQLite store in ``scratch``, and the floor beside it; yield both base URLs and a platform
    client for ``slug``."""
    store = f"sqlite:///{scratch}/store.db"
    app = build_app(store, LOG_LEVEL="WARNING")  # migrations, catalog, and the manifest
    partner = PartnerClient(app.test_client(), app, slug)
    env = broker_env(
        scratch,
        store,
        name_prefix(),
        ENCRYPTION_KEYS=f'["{ENCRYPTION_KEY}"]',
        SECRET_KEY=str(app.config["SECRET_KEY"]),
        LOG_LEVEL="WARNING",
        **settings,
    )
    floor_env = {
        **env,
        "FLOOR_ADDON": slug,
        "FLOOR_STORE": str(scratch / "floor" / "store.db"),
        "FLOOR_PASSWORD": partner.manifest["api"]["password"],
    }
    (scratch / "floor").mkdir()
    with (
        web_process("app:web", env, scratch / "web.log") as base,
        web_process("bench.floor_app:web", floor_env, scratch / "floor" / "web.log") as floor,
    ):
        yield Served(base, floor, partner)


def interleaved(
    served: Served, plan: str, cycles: int, raw: dict[str, Callable[[], float]]
) -> dict[str, list[float]]:
    """Run each raw side, the floor and the broker once (warm-up: imports, first
    connections), then ``cycles`` rounds of all of them in turn, so drift hits every side
    alike; return each side's seconds per cycle, by name (the raw sides' names, then
    ``floor`` and ``broker``)."""
    with requests.Session() as floor_session, requests.Session() as broker_session:
        sides = {
            **raw,
            "floor": lambda: broker_cycle(floor_session, served.floor, served.partner, plan),
            "broker": lambda: broker_cycle(broker_session, served.broker, served.partner, plan),
        }
        for side in sides.values():
            side()
        series: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(cycles):
            for name, side in sides.items():
                series[name].append(side())
    return series


def floor_lines(broker: list[float], floor: list[float], raw: list[float], label: str) -> None:
    """Print what the floor costs over ``label`` and what the broker costs over the floor."""
    print(
        f"floor (bare Flask, same serving and adapter) / {label}: "
        f"{statistics.median(floor) / statistics.median(raw):.3f}"
    )
    print(f"broker / floor: {statistics.median(broker) / statistics.median(floor):.3f}")
