"""The front door of the compiler: source -> model -> ordered passes -> table body -> table bytes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import pathlib
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from rulec.common.gc_pause import gc_paused
from rulec.compiler import model as m
from rulec.compiler.passes import lint, lower, outreach, resolve, types
from rulec.compiler.passes import tests as tests_pass
from rulec.errors import Diagnostic, RulecError, Span, diag
from rulec.table.format import Table, pack

MAX_SOURCE = 16 * 1024 * 1024
YAML_SUFFIXES = (".yaml", ".yml", ".json")

Now = dt.datetime | str | None  # `check --now`: a datetime or an ISO string

# The passes, in order. Each takes the model (and the options) and returns diagnostics;
# lowering and emission run only when no pass reported an error.
CHECK_PASSES: tuple[tuple[str, Callable[[m.Shop, Now], list[Diagnostic]]], ...] = (
    ("resolve", lambda shop, now: resolve.run(shop)),
    ("types", lambda shop, now: types.run(shop)),
    ("lint", lambda shop, now: lint.run(shop)),
    ("outreach", lambda shop, now: outreach.check(shop, now)),
    ("tests", lambda shop, now: tests_pass.run(shop)),
)


@attrs.define
class CompileResult:
    diagnostics: list[Diagnostic]
    shop: m.Shop | None = None
    body: dict[str, Any] | None = None
    table: Table | None = None
    data: bytes | None = None  # the table bytes

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def decode_source(data: bytes, file: str) -> str:
    """Source bytes -> text; refuses empty, binary, non-UTF-8 and oversized input."""
    at = Span(file, 1, 1)
    if len(data) > MAX_SOURCE:
        raise RulecError([diag("P104", f"source is larger than {MAX_SOURCE // 2**20} MiB", at)])
    if b"\0" in data:
        raise RulecError([diag("P102", "this is a binary file, not rules", at)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RulecError(
            [diag("P102", f"source is not UTF-8 (byte {exc.start})", Span(file, line, 1))]
        ) from None
    if not text.strip():
        raise RulecError([diag("P101", "the rules file is empty", at)])
    return text


def is_yaml_name(file: str) -> bool:
    return str(file).lower().endswith(YAML_SUFFIXES)


def parse_source(text: str, file: str) -> m.Shop:
    """Pick the frontend by file name: YAML for .yaml/.yml/.json, the .rules language otherwise."""
    if is_yaml_name(file):
        from rulec.compiler.frontend_yaml import parse_yaml

        return parse_yaml(text, file)
    from rulec.compiler.frontend_rules import parse_rules

    return parse_rules(text, file)


def _sort(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(
        diags,
        key=lambda d: (
            d.span.file if d.span else "",
            d.span.line if d.span else 0,
            d.span.col if d.span else 0,
        ),
    )


def check_model(shop: m.Shop, now: Now = None) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for _name, run in CHECK_PASSES:
        diags.extend(run(shop, now))
    return _sort(diags)


def _fast_json(text: str, file: str, now: Now) -> m.Shop | None:
    """Large JSON sources skip YAML: a clean result from the fast path stands; anything with a
    diagnostic is compiled again the ordinary way, which knows positions."""
    if not str(file).lower().endswith(".json"):
        return None
    from rulec.compiler.frontend_json import parse_json_fast

    shop = parse_json_fast(text, file)
    if shop is None:
        return None
    diags = check_model(shop, now)
    return None if diags else shop


def check_source(
    source: str | bytes,
    file: str = "<rules>.yaml",
    now: Now = None,
    parse: Callable[[str, str], m.Shop] | None = None,
) -> CompileResult:
    """Parse and run the check passes, without lowering (what `rulec check` and the language
    server report). `parse(text, file) -> Shop` replaces the frontend (the language server's
    incremental .rules parser); never raises for bad input."""
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    with gc_paused():  # the model of a large shop is millions of objects (issue 15)
        return _check(data, file, now, parse)


def _check(
    data: bytes, file: str, now: Now, parse: Callable[[str, str], m.Shop] | None
) -> CompileResult:
    try:
        text = decode_source(data, file)
        shop = _fast_json(text, file, now)
        if shop is not None:
            return CompileResult([], shop)
        shop = (parse or parse_source)(text, file)
        if shop.tests_only:
            return CompileResult(check_test_file(shop, file, now), shop)
        return CompileResult(check_model(shop, now), shop)
    except RulecError as exc:
        return CompileResult(_sort(exc.diagnostics))
    except RecursionError:
        return CompileResult([diag("P104", "the rules are nested too deeply", Span(file, 1, 1))])


def no_rules_beside(test_file: str) -> Diagnostic:
    return diag(
        "U106",
        "no rules file beside this test file (shop_test.rules tests shop.rules)",
        Span(test_file, 1, 1),
    )


def rules_broken(test_file: str, rules: str) -> Diagnostic:
    return diag(
        "U106",
        f"the rules these tests are for ({rules}) have errors",
        Span(test_file, 1, 1),
        "error",
        (f"run `rulec check {rules}`",),
    )


def check_test_file(shop: m.Shop, file: str, now: Now = None) -> list[Diagnostic]:
    """A `*_test.*` file's diagnostics: its tests checked against the rules beside it."""
    from rulec.compiler.frontend_rules import rules_beside

    rules = None if str(file).startswith("<") else rules_beside(file)
    if rules is None:
        return [no_rules_beside(file)]
    beside = compile_path(rules, now=now)
    if beside.errors:
        return [rules_broken(file, rules)]
    return _sort(tests_pass.run(shop, beside.shop))


def compile_source(
    source: str | bytes,
    file: str = "<rules>.yaml",
    now: Now = None,
    sign_key: bytes | None = None,
) -> CompileResult:
    """Compile source text or bytes; never raises for bad input (diagnostics say what is wrong)."""
    data = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    with gc_paused():
        return _compile(data, file, now, sign_key)


def _compile(data: bytes, file: str, now: Now, sign_key: bytes | None) -> CompileResult:
    result = check_source(data, file, now)
    if result.errors:
        return result
    from rulec import __version__

    assert result.shop is not None  # no errors: the source parsed
    digest = hashlib.sha256(rules_bytes(data, result.shop))
    body = lower.run(result.shop)
    # the body comes from lowering: the schema check is for loaded bytes
    table = Table(body, {"source_hash": digest.hexdigest(), "compiler_version": __version__})
    try:
        result.data = pack(body, digest.digest(), __version__, sign_key)
    except RulecError as exc:  # beyond the table limits (B715)
        result.diagnostics += [attrs.evolve(d, span=Span(file, 1, 1)) for d in exc.diagnostics]
        return result
    result.body, result.table = body, table
    return result


def rules_bytes(data: bytes, shop: m.Shop) -> bytes:
    """The source without its tests: what the table's source_hash covers, so that a table is
    the same bytes whether or not tests are written beside its rules. The lines of each test
    go, with the comment and blank lines just before them (`rulec fmt` keeps such comments
    with the test) and at the end of the file."""
    if not shop.tests_lines:
        return data
    lines = data.splitlines(keepends=True)
    drop: set[int] = set()
    for first, last in shop.tests_lines:
        drop.update(range(first, last + 1))
        n = first - 1
        while n >= 1 and (not lines[n - 1].strip() or lines[n - 1].lstrip().startswith(b"#")):
            drop.add(n)
            n -= 1
    kept = [ln for i, ln in enumerate(lines, 1) if i not in drop]
    while kept and not kept[-1].strip():
        kept.pop()
    return b"".join(kept)


def compile_path(
    path: str | os.PathLike[str], now: Now = None, sign_key: bytes | None = None
) -> CompileResult:
    file = str(path)
    try:
        data = pathlib.Path(path).read_bytes()
    except OSError as exc:
        return CompileResult([diag("P110", f"cannot read {file}: {exc.strerror or exc}", None)])
    return compile_source(data, file, now, sign_key)


def compile_file(path: str | os.PathLike[str]) -> Table:
    """Compile a rules file to a Table (embedding API); raises RulecError on errors."""
    result = compile_path(path)
    if result.errors:
        raise RulecError(result.diagnostics)
    assert result.table is not None  # no errors: compile_source built the table
    return result.table
