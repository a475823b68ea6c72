"""Each Cython extension or its pure-Python twin (rulec/common/twin.py), seen from outside:
RULEC_PURE=1 makes both twins live, a missing extension falls back to its twin, and with
RULEC_REQUIRE_EXTENSIONS=1 a missing extension is S990 (a coded error, not a traceback)."""

import os
import shutil
import subprocess
import sys

import pytest

from rulec.matching import matcher as M
from rulec.routing import router as R

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(ROOT, "rules", "shop-double12.rules")
EVENTS = os.path.join(ROOT, "rules", "demo", "events.jsonl")
LIVE = "import rulec, rulec.routing.router as r; print(rulec.implementation, r.implementation)"


def python(code_or_args, env_extra, pythonpath=None, cwd=ROOT):
    """Run python (`-c code` or the given args) with these environment variables."""
    env = {k: val for k, val in os.environ.items() if not k.startswith("RULEC_")}
    env.update(env_extra)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    args = ["-c", code_or_args] if isinstance(code_or_args, str) else code_or_args
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def unbuilt(tmp_path_factory):
    """A copy of the rulec package without its compiled extensions (as after `make clean`),
    first on PYTHONPATH so that it, not the installed one, is imported."""
    top = tmp_path_factory.mktemp("unbuilt")
    shutil.copytree(
        os.path.join(ROOT, "rulec"),
        top / "rulec",
        ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"),
    )
    return str(top)


def test_rulec_pure_makes_both_twins_live():
    """RULEC_PURE=1 (`make test-pure`): the matcher and the decision path both run pure
    Python, whether or not the extensions are built or required."""
    for extra in ({"RULEC_PURE": "1"}, {"RULEC_PURE": "1", "RULEC_REQUIRE_EXTENSIONS": "1"}):
        done = python(LIVE, extra)
        assert (done.returncode, done.stdout, done.stderr) == (0, "python python\n", "")


def test_a_missing_extension_falls_back_to_its_twin(unbuilt):
    """Without RULEC_REQUIRE_EXTENSIONS the twins stand in; asking for Cython by name says it
    is not available."""
    probe = (
        LIVE
        + "\nfrom rulec.matching.matcher import build_matcher"
        + "\nfor ask in (lambda: build_matcher({}, 'cython'), lambda: r.decider('cython')):"
        + "\n    try: ask()\n    except RuntimeError as exc: print(exc)"
    )
    done = python(probe, {}, pythonpath=unbuilt, cwd=unbuilt)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "python python"
    assert lines[1].startswith("the Cython matcher is not available (No module named")
    assert lines[2].startswith("the Cython decision path is not available (No module named")


def test_required_extension_missing_is_s990_on_the_command_line(unbuilt):
    done = python(
        ["-m", "rulec.cli.main", "route", RULES, "--events", EVENTS],
        {"RULEC_REQUIRE_EXTENSIONS": "1"},
        pythonpath=unbuilt,
        cwd=unbuilt,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "error[S990]" in done.stderr
    assert "RULEC_REQUIRE_EXTENSIONS=1 requires it" in done.stderr
    assert done.stdout == ""


def test_required_extension_missing_is_s990_in_the_python_api(unbuilt):
    """Both extensions are checked: the decision path (router) and the matcher."""
    probe = (
        "import sys\nfrom rulec.errors import RulecError\n"
        "try:\n    __import__(sys.argv[1])\n"
        "except RulecError as exc:\n    print(exc.code, exc)"
    )
    for module, expected in (
        ("rulec.routing.decide", ""),  # the pure twin alone needs no extension
        ("rulec.routing.router", "S990 the Cython decision path (rulec.routing._decide) is "),
        ("rulec.matching.matcher", "S990 the Cython matcher (rulec.matching._matcher) is "),
    ):
        done = python(
            ["-c", probe, module], {"RULEC_REQUIRE_EXTENSIONS": "1"}, unbuilt, cwd=unbuilt
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout[: len(expected)] == expected
        assert bool(done.stdout) == bool(expected)


def test_unknown_matcher_implementation():
    with pytest.raises(ValueError, match="unknown matcher implementation 'fortran'"):
        M.build_matcher({}, "fortran")


def test_the_live_sides_agree_with_the_environment():
    """In this process: the twin of each part is the same module the live choice names."""
    pure = os.environ.get("RULEC_PURE") == "1"
    for twin in (M.TWIN, R.TWIN):
        assert twin.module("python") is twin.pure
        if twin.extension is not None:
            assert twin.module("cython") is twin.extension
            assert twin.implementation == ("python" if pure else "cython")
    assert M.implementation == M.TWIN.implementation
    assert R.implementation == R.TWIN.implementation
