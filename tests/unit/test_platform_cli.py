"""The local platform's CLI given wrong arguments: like the Heroku CLI, one error line and a
non-zero exit, never a traceback or an HTML page. In-memory adapter, real local platform."""

from __future__ import annotations

import json
import uuid

import pytest

from standins.platform.cli import platform as platform_commands
from tests.async_support import async_overrides, local_platform
from tests.memory import MemoryAdapter
from tests.support import build_app, free_port, live_server, manifest

UNKNOWN = str(uuid.uuid4())


@pytest.fixture
def platform(tmp_path):
    with local_platform(tmp_path) as platform:
        yield platform


@pytest.fixture
def cli(sqlite_url, tmp_path, platform, monkeypatch):
    """Run ``platform ...`` against the local platform and a live broker (its own manifest)."""
    port = free_port()
    overrides = async_overrides(
        platform.url, f"sqlite:///{tmp_path / 'q.db'}", PROVISIONING_MODES={}
    )
    overrides["MARKETPLACE_URL"] = f"http://127.0.0.1:{port}"
    app = build_app(sqlite_url, adapters=[MemoryAdapter()], **overrides)
    monkeypatch.setenv("LOCAL_PLATFORM_URL", platform.url)
    with live_server(app, port):
        yield lambda *args: app.test_cli_runner().invoke(platform_commands, list(args))


def _one_error(result) -> str:
    assert result.exit_code not in (0, None), result.output
    assert "Traceback" not in result.output and "<" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("create", "nope:small", "--app", "demo"), "nope"),
        (("create", "nope", "--app", "demo"), "nope"),
        (("create", "memory:nope", "--app", "demo"), "Unknown plan 'nope'"),
        (("create", "memory:small"), "--app"),
        (("plan-change", UNKNOWN, "big"), UNKNOWN),
        (("destroy", UNKNOWN), UNKNOWN),
        (("open", UNKNOWN), UNKNOWN),
    ],
)
def test_wrong_arguments_are_one_error_line(cli, args, said):
    assert said in _one_error(cli(*args))


def test_a_refused_plan_change_is_an_error(cli, platform):
    created = cli("create", "memory:small", "--app", "demo")
    assert created.exit_code == 0, created.output
    addon_uuid = platform.store.addons()[0]["uuid"]
    assert "Unknown plan 'nope'" in _one_error(cli("plan-change", addon_uuid, "nope"))
    assert cli("destroy", addon_uuid).exit_code == 0


def test_an_unreachable_broker_is_one_error_line(cli, platform, tmp_path, sqlite_url):
    app = build_app(
        sqlite_url, adapters=[MemoryAdapter()], QUEUE_URL=f"sqlite:///{tmp_path / 'q.db'}"
    )
    data = manifest(app, "memory")
    data["api"]["test"]["base_url"] = f"http://127.0.0.1:{free_port()}/heroku/resources"
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))

    error = _one_error(cli("create", "memory:small", "--app", "demo", "--manifest", str(path)))
    assert "could not be reached" in error
    assert [a["state"] for a in platform.store.addons()] == ["failed"]  # nothing left pending
