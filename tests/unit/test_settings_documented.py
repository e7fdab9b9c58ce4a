"""Every declared setting (the core's and each installed adapter's) is in the README's table."""

from __future__ import annotations

import re
from pathlib import Path

from marketplace.config import CORE_SETTINGS, installed_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", table, flags=re.MULTILINE)) | set(
        re.findall(r"/ `([A-Z][A-Z0-9_]+)`", table)
    )


def test_every_declared_setting_is_in_the_readme_table():
    declared = {s.env for s in (*CORE_SETTINGS, *installed_settings())}
    missing = declared - _documented()
    assert not missing, f"add these to the README's configuration table: {sorted(missing)}"


def test_adapters_declare_their_settings():
    adapter_settings = {s.env for s in installed_settings()}
    assert {"POSTGRES_ADMIN_URL", "RABBITMQ_MANAGEMENT_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= (
        adapter_settings
    )
