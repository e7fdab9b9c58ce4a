"""``python -m standins.salesforce serve``: HTTPS from a store file that survives a restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import contextmanager

import requests

from standins.salesforce import generate
from standins.salesforce.server import build


@contextmanager
def cli_server(data, certs):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "standins.salesforce",
            "serve",
            "--port",
            "0",
            "--data",
            str(data),
            "--cert-dir",
            str(certs),
            "--seed",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline().strip()
        assert first.startswith("Salesforce stand-in at https://127.0.0.1:"), (
            first + process.stderr.read()
        )
        yield first.rsplit(" ", 1)[1]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        process.stdout.close()
        process.stderr.close()


def test_cli_serves_a_persistent_org(tmp_path, monkeypatch):
    data, certs = tmp_path / "org.db", tmp_path / "certs"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certs / "cert.pem"))
    with cli_server(data, certs) as url:
        assert requests.get(f"{url}/services/data/", timeout=10).json()[0]["version"] == "20.0"
        seeded = requests.get(f"{url}/_standin/records/Account", timeout=10).json()
        assert seeded["totalSize"] == 3
        stamp = max(r["SystemModstamp"] for r in seeded["records"])

    org, _ = build(data)
    generate(org, "Account", 10)
    org.close()
    assert os.path.exists(data)

    with cli_server(data, certs) as url:
        again = requests.get(f"{url}/_standin/records/Account", timeout=10).json()
        assert again["totalSize"] == 13
        created = requests.post(
            f"{url}/_standin/records/Account", json={"Name": "After"}, timeout=10
        )
        assert created.status_code == 201
        record = requests.get(
            f"{url}/_standin/records/Account/{created.json()['id']}", timeout=10
        ).json()
        assert record["SystemModstamp"] > stamp
