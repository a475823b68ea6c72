"""Shared test fixtures and settings: paths, the CLI in-process, Hypothesis profiles."""

import io
import os
import pathlib

import pytest
from hypothesis import Phase, settings

# CI runs every property test on the same examples (a red CI run is reproducible and never
# depends on luck); developers keep the random search, which finds new cases over time.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
# `make mutate` (scripts/mutate.sh): a mutant only needs one failing example, so no shrinking
# (a failing property test otherwise shrinks for minutes per mutant) and no example database.
settings.register_profile(
    "mutation",
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))

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
