"""Keep the OpenAPI document true: schemathesis against ``/api/openapi.json`` (issue 11).

On each store, every operation runs through schemathesis' phases (the document's examples,
coverage cases, fuzzing with positive and negative data, stateful sequences) with a real
add-on's Basic credentials, and every response must be no server error and match the document
(status, body schema). A bounded run: at most :data:`MAX_EXAMPLES` generated cases per
operation and phase (under half a minute per store here). Whatever it provisioned is removed
(the suite's leak check would fail otherwise).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import PartnerClient, live_server

pytestmark = pytest.mark.backend

MAX_EXAMPLES = 100
CHECKS = "not_a_server_error,response_schema_conformance"
PHASES = "examples,coverage,fuzzing,stateful"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def test_every_operation_keeps_its_documented_contract(any_store_app, tmp_path):
    """The CLI rather than the pytest plugin: schemathesis 4's plugin does not run under
    pytest 9.2 (it sets ``request.node._nodeid``), and the CLI runs every phase, stateful
    included. ``cwd`` is a temporary folder and the example database is off: nothing is left
    in the work tree."""
    fuzzed_app = any_store_app  # served on a loopback port by a thread of this process
    partner = PartnerClient(fuzzed_app.test_client(), fuzzed_app, "postgres")
    password = partner.manifest["api"]["password"]
    with live_server(fuzzed_app) as base:
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                f"{base}/api/openapi.json",
                f"--auth=postgres:{password}",
                f"--checks={CHECKS}",
                f"--phases={PHASES}",
                "--mode=all",
                f"--max-examples={MAX_EXAMPLES}",
                "--seed=11",
                "--generation-database=none",
                "--workers=1",
                "--request-timeout=60",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
            check=False,
        )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout or "passed" in run.stdout.lower(), run.stdout[-3000:]
