"""What the commands share: argument parsing with exit 2, diagnostics rendering, input loading."""

from __future__ import annotations

import argparse
import os
import unicodedata

import attrs

from rulec.errors import Diagnostic, RulecError, diag

MAX_DIAGNOSTICS = 50


class UsageError(Exception):
    """Bad command-line usage: exit status 2."""


class ArgParser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so `run` stays testable."""

    def __init__(self, prog, out, err, **kw):
        super().__init__(prog=f"rulec {prog}", **kw)
        self._out, self._err = out, err

    def error(self, message):
        raise UsageError(f"{self.format_usage()}{self.prog}: error: {message}")

    def exit(self, status=0, message=None):
        if message:
            self._err.write(message)
        raise SystemExit(status)

    def print_help(self, file=None):
        self._out.write(self.format_help())

    def parse(self, args):
        """Parse `args`; returns (namespace, exit_code_or_None)."""
        try:
            return self.parse_args(args), None
        except UsageError as exc:
            self._err.write(str(exc) + "\n")
            return None, 2
        except SystemExit as exc:  # --help
            return None, int(exc.code or 0)


def _source_line(span):
    try:
        with open(span.file, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if i == span.line:
                    return line.rstrip("\n")
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


FORMATS = ("text", "json", "sarif", "github")
_ANSI = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "cyan": "36"}


def painter(stream):
    """`paint(text, colour)`: ANSI colour on a terminal; plain text when `stream` is not a
    terminal or NO_COLOR is set (https://no-color.org), or FORCE_COLOR asks for colour."""
    isatty = getattr(stream, "isatty", None)
    on = bool(isatty and isatty())
    if os.environ.get("FORCE_COLOR"):
        on = True
    if "NO_COLOR" in os.environ:
        on = False
    if not on:
        return lambda text, colour=None: text
    return lambda text, colour=None: (
        f"\x1b[{_ANSI[colour]}m{text}\x1b[0m" if colour in _ANSI else text
    )


def render(diagnostics, err, fmt="text", out=None, sources=None) -> None:
    """Print diagnostics: text to `err` (file:line:col, source line, caret, coloured on a
    terminal), or to `out`: JSON, SARIF 2.1.0 (one run of rulec) or GitHub workflow
    annotations (`::error file=F,line=L,col=C,title=CODE::message`).

    `sources` maps a file name to its text, for sources that are not files on disk."""
    diagnostics = list(diagnostics)
    shown = diagnostics[:MAX_DIAGNOSTICS] if fmt in ("text", "json") else diagnostics
    if fmt != "text":
        from rulec.cli.formats import FORMATTERS

        (out or err).write(FORMATTERS[fmt](shown))
        return
    paint = painter(err)
    for d in shown:
        err.write(format_diagnostic(d, sources, paint))
    if len(diagnostics) > len(shown):
        err.write(f"... and {len(diagnostics) - len(shown)} more diagnostics\n")


def _width(ch: str) -> int:
    """Terminal columns of a character: 2 for wide East Asian characters (小美), else 1."""
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def format_diagnostic(d: Diagnostic, sources=None, paint=None) -> str:
    s = d.span
    sev = paint(d.severity, "red" if d.is_error else "yellow") if paint else d.severity
    head = f"{sev}[{d.code}]: {d.message}"
    if s is None:
        text = f"rulec: {head}\n"
    else:
        text = f"{s.file}:{s.line}:{s.col}: {head}\n"
        line = None
        if sources and s.file in sources:
            lines = sources[s.file].splitlines()
            line = lines[s.line - 1] if 0 < s.line <= len(lines) else None
        elif s.line:
            line = _source_line(s)
        if line is not None and len(line) <= 400:
            end = (
                s.end_col if s.end_line == s.line and s.end_col and s.end_col > s.col else s.col + 1
            )
            pad = "".join(
                "\t" if ch == "\t" else " " * _width(ch) for ch in line[: max(s.col - 1, 0)]
            )
            marked = line[s.col - 1 : end - 1] or " "
            text += f"  {line}\n  {pad}{'^' * max(1, sum(map(_width, marked)))}\n"
    for h in d.hints:
        text += f"  = help: {h}\n"
    return text


def summary(diagnostics) -> str:
    n_err = sum(1 for d in diagnostics if d.is_error)
    n_warn = len(diagnostics) - n_err
    return f"{n_err} error{'s' * (n_err != 1)}, {n_warn} warning{'s' * (n_warn != 1)}"


SIGN_KEY_ENV = "RULEC_SIGN_KEY_FILE"
REQUIRE_SIGNED_ENV = "RULEC_REQUIRE_SIGNED"


def add_table_options(parser) -> None:
    """The options of every command that reads a table (docs/table-format.md, "Signing")."""
    parser.add_argument(
        "--sign-key",
        metavar="FILE",
        help=f"verify a signed table with this key file (default: ${SIGN_KEY_ENV})",
    )
    parser.add_argument(
        "--require-signed",
        action="store_true",
        help=f"refuse unsigned tables and rules sources (also {REQUIRE_SIGNED_ENV}=1)",
    )


def table_trust(options, err, fmt="text", out=None):
    """(key, require_signed) from the options, else the environment; None after printing a
    diagnostic (unreadable key file, bad variable). The option wins over the variable."""
    key_file = getattr(options, "sign_key", None) or os.environ.get(SIGN_KEY_ENV) or None
    flag = os.environ.get(REQUIRE_SIGNED_ENV, "").strip().lower()
    if flag not in ("", "0", "1", "true", "false", "yes", "no"):
        render(
            [diag("B712", f"{REQUIRE_SIGNED_ENV}={flag!r}: write 1 (require) or 0")],
            err,
            fmt,
            out,
        )
        return None
    require = bool(getattr(options, "require_signed", False)) or flag in ("1", "true", "yes")
    key = None
    if key_file:
        key = read_key(key_file, err, fmt, out)
        if key is None:
            return None
    return key, require


def load_table(path, err, options=None, fmt="text", out=None):
    """A Table from a table file, verified as the options and environment ask (signing);
    None after printing errors."""
    from rulec.table import format as tables

    trust = table_trust(options, err, fmt, out)
    if trust is None:
        return None
    key, require = trust
    try:
        return tables.load(path, key=key, require_signature=require)
    except RulecError as exc:
        hint = f"give the key file with --sign-key FILE or {SIGN_KEY_ENV}"
        diags = [
            attrs.evolve(d, hints=d.hints + (hint,)) if d.code == "B705" and key is None else d
            for d in exc.diagnostics
        ]
        render(diags, err, fmt, out)
        return None


def load_table_or_rules(path, err, options=None, fmt="text", out=None):
    """A Table from a table file (by magic) or a rules source; None after printing errors.

    Rules with errors are refused (exit 1 for the caller); warnings are not printed here.
    `options` (the command's namespace, see add_table_options) and the environment say how a
    table is verified; when signed tables are required, a rules source is refused (B711)."""
    from rulec.table import format as tables

    if tables.is_table(path):
        return load_table(path, err, options, fmt, out)
    trust = table_trust(options, err, fmt, out)
    if trust is None:
        return None
    if trust[1]:
        msg = f"{path}: a signed table is required, and this is not a table (compile and sign it)"
        render([diag("B711", msg)], err, fmt, out)
        return None
    try:
        from rulec.compiler.pipeline import compile_path

        result = compile_path(path)
        if result.errors:
            render(result.diagnostics, err, fmt, out)
            return None
        return result.table
    except RulecError as exc:
        render(exc.diagnostics, err, fmt, out)
        return None


def read_key(path, err, fmt="text", out=None):
    """The bytes of a signing key file; None after printing a diagnostic (B710)."""
    problem = None
    try:
        with open(path, "rb") as fh:
            key = fh.read(1 << 20).strip()
    except OSError as exc:
        problem = f"cannot read key file {path}: {exc.strerror or exc}"
    else:
        if not key:
            problem = f"key file {path} is empty"
    if problem:
        render([diag("B710", problem)], err, fmt, out)
        return None
    return key
