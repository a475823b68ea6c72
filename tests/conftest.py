"""Shared test fixtures: paths, running the CLI in-process."""

import io
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


class CliResult:
    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out[-300:]!r}, err={self.err[-500:]!r})"


@pytest.fixture
def cli():
    """Run `rulec ARGS` in-process: returns CliResult(code, out, err)."""
    from rulec.cli.main import main

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        code = main([str(a) for a in args], out, err)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run
