"""Every declared setting (the core's and each installed adapter's) is in the README's table."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path

from marketplace.adapters import ENTRY_POINT_GROUP, AdapterPlugin, Setting
from marketplace.config import CORE_SETTINGS, installed_settings
from tests.memory import MEMORY_SPEC, MemoryAdapter

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _documented() -> set[str]:
    table = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", table, flags=re.MULTILINE)) | set(
        re.findall(r"/ `([A-Z][A-Z0-9_]+)`", table)
    )


#: An adapter published in the test's own pyproject.toml and installed nowhere.
UNDOCUMENTED = AdapterPlugin(
    spec=replace(MEMORY_SPEC, settings=(Setting("MEMORY_ADMIN_URL", "", "Not in the README."),)),
    create=lambda _settings: MemoryAdapter(),
)


def published_settings(pyproject: Path = ROOT / "pyproject.toml") -> tuple[Setting, ...]:
    """The settings of every adapter ``pyproject.toml`` publishes, installed yet or not: an
    (editable) install's entry points are the ones written when it was installed, so an
    adapter added since is not among :func:`installed_settings` until the next install."""
    published = tomllib.loads(pyproject.read_text())["project"]["entry-points"]
    settings: list[Setting] = []
    for name, value in published.get(ENTRY_POINT_GROUP, {}).items():
        plugin = EntryPoint(name, value, ENTRY_POINT_GROUP).load()
        assert isinstance(plugin, AdapterPlugin), f"entry point {name!r}: not an AdapterPlugin"
        settings.extend(plugin.spec.settings)
    return tuple(settings)


def test_every_declared_setting_is_in_the_readme_table():
    declared = {s.env for s in (*CORE_SETTINGS, *installed_settings(), *published_settings())}
    missing = declared - _documented()
    assert not missing, f"add these to the README's configuration table: {sorted(missing)}"


def test_an_adapter_published_but_not_yet_installed_is_checked_too(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project.entry-points."marketplace.adapters"]\n'
        'memory = "tests.unit.test_settings_documented:UNDOCUMENTED"\n'
    )
    declared = {s.env for s in published_settings(pyproject)}
    assert declared == {"MEMORY_ADMIN_URL"} and not declared <= _documented()


def test_adapters_declare_their_settings():
    adapter_settings = {s.env for s in installed_settings()}
    assert {"POSTGRES_ADMIN_URL", "RABBITMQ_MANAGEMENT_URL", "KAFKA_BOOTSTRAP_SERVERS"} <= (
        adapter_settings
    )
