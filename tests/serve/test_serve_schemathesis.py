"""schemathesis (pinned in requirements-dev.txt) against the OpenAPI document a real server
publishes: generated valid and invalid requests for every operation; no server error."""

import os
import subprocess
import sys

from serve_helpers import SHOP, Server, table_bytes


def test_schemathesis_finds_no_server_error(tmp_path):
    d = tmp_path / "tables"
    d.mkdir()
    (d / "a.rtbl").write_bytes(table_bytes(SHOP)[0])
    (d / "b.rtbl").write_bytes(table_bytes("other")[0])
    st = os.path.join(os.path.dirname(sys.executable), "st")
    with Server(str(d), "--decision-log", str(tmp_path / "log.jsonl")) as srv:
        proc = subprocess.run(
            [
                st,
                "run",
                f"{srv.url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "12",
                "--seed",
                "7",
                "--generation-database",
                "none",
                "--phases",
                "examples,coverage,fuzzing",
                "--workers",
                "1",
                "--no-color",
                "--request-timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=500,
            cwd=tmp_path,
        )
        errors = srv.stderr()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "generated" in proc.stdout and " 0 passed" not in proc.stdout
    assert "internal error" not in errors and "Traceback" not in errors
