"""Readiness: is the store reachable, and is each adapter's backend?"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from marketplace.adapters import AdapterRegistry
from marketplace.extensions import db


@dataclass(frozen=True)
class Check:
    """One dependency's status."""

    name: str
    ok: bool
    detail: str


def readiness(registry: AdapterRegistry) -> list[Check]:
    """Check the store and every registered adapter's backend."""
    checks = [_store()]
    for adapter in registry:
        status = adapter.check()
        checks.append(Check(adapter.spec.slug, status.ok, status.detail))
    return checks


def _store() -> Check:
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except SQLAlchemyError:
        db.session.rollback()
        return Check("store", False, "the broker's database is not reachable")
    return Check("store", True, db.engine.dialect.name)
