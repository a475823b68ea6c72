"""Test suites from sources: each file's tests with its rules compiled exactly as `rulec compile` does."""

from __future__ import annotations

from rulec.compiler.frontend_rules import is_test_file, rules_beside
from rulec.compiler.pipeline import CompileResult, no_rules_beside, rules_broken
from rulec.errors import RulecError, diag
from rulec.testing.discovery import read
from rulec.testing.runner import Suite


def _compile(cache: dict, name: str, data: bytes):
    from rulec.compiler.pipeline import compile_source

    if name not in cache:
        cache[name] = compile_source(data, name)
    return cache[name]


def _test_file(src, cache) -> Suite:
    """A `*_test.*` file: its tests, checked and run against the rules beside it."""
    from rulec.compiler.passes import tests as tests_pass
    from rulec.compiler.pipeline import decode_source, parse_source

    try:
        shop = parse_source(decode_source(src.data, src.name), src.name)
    except RulecError as exc:
        return Suite(src.name, src.name, None, diagnostics=exc.diagnostics)
    rules = None if src.name.startswith("<") else rules_beside(src.name)
    if rules is None:
        return Suite(src.name, src.name, None, shop.tests, [no_rules_beside(src.name)])
    try:
        with open(rules, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        d = diag("P110", f"cannot read {rules}: {exc.strerror or exc}", None)
        return Suite(src.name, rules, None, shop.tests, [d])
    result = _compile(cache, rules, data)
    if not result.ok:
        return Suite(src.name, rules, result, shop.tests, [rules_broken(src.name, rules)])
    return Suite(src.name, rules, result, shop.tests, tests_pass.run(shop, result.shop))


def load(sources) -> tuple:
    """(suites, untested): a suite per source with tests or errors; `untested` names the
    rules files that compiled and hold no test (and have no `*_test` file among the sources)."""
    cache: dict[str, CompileResult] = {}
    suites: list[Suite] = []
    untested: list[str] = []
    for src in sources:
        read(src)
        if src.error is not None:
            d = diag("P110", f"cannot read {src.name}: {src.error}", None)
            suites.append(Suite(src.name, src.name, None, diagnostics=[d]))
        elif is_test_file(src.name):
            suites.append(_test_file(src, cache))
        else:
            result = _compile(cache, src.name, src.data)
            tests = result.shop.tests if result.shop is not None else []
            if result.ok and not tests:
                untested.append(src.name)
                continue
            suites.append(Suite(src.name, src.name, result, tests, result.diagnostics))
    tested = {s.rules for s in suites}
    return suites, [u for u in untested if u not in tested]


def diagnostics_of(src, now=None) -> list:
    """Every diagnostic of one source as `rulec check` reports it (a `*_test.*` file's tests
    are checked against the rules beside it, see pipeline.check_source)."""
    from rulec.compiler.pipeline import check_source

    read(src)
    if src.error is not None:
        return [diag("P110", f"cannot read {src.name}: {src.error}", None)]
    return check_source(src.data, src.name, now=now).diagnostics
