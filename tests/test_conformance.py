"""The shared acceptance suites, run through the real command line (routing, CEL, outreach)."""

import pathlib
import shlex
import subprocess
import sys

import pytest

CONF = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "conformance"
RULEC = f"{shlex.quote(sys.executable)} -m rulec"

pytestmark = pytest.mark.skipif(
    not CONF.is_dir(), reason=f"{CONF} is not checked out beside the repo"
)


@pytest.mark.parametrize(
    "runner,args",
    [
        ("run", []),
        ("run", [str(CONF / "cel")]),
        ("plan-run", []),
    ],
    ids=["routing", "cel", "outreach"],
)
def test_shared_conformance(runner, args):
    p = subprocess.run(
        [sys.executable, str(CONF / runner), "--rulec", RULEC, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    assert p.returncode == 0 and last.endswith(" 0 failed"), p.stdout[-3000:] + p.stderr[-2000:]
