"""What the commands share: argument parsing with exit 2, diagnostics rendering, input loading."""

from __future__ import annotations

import argparse
import os
import unicodedata

from rulec.errors import Diagnostic, RulecError

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


def load_table_or_rules(path, err, key=None, fmt="text", out=None):
    """A Table from a table file (by magic) or a rules source; None after printing errors.

    Rules with errors are refused (exit 1 for the caller); warnings are not printed here.
    A signed table is verified with the key file named by RULEC_SIGN_KEY_FILE."""
    from rulec.table import format as tables

    try:
        if tables.is_table(path):
            if key is None and os.environ.get("RULEC_SIGN_KEY_FILE"):
                key = read_key(os.environ["RULEC_SIGN_KEY_FILE"], err)
                if key is None:
                    return None
            return tables.load(path, key=key)
        from rulec.compiler.pipeline import compile_path

        result = compile_path(path)
        if result.errors:
            render(result.diagnostics, err, fmt, out)
            return None
        return result.table
    except RulecError as exc:
        render(exc.diagnostics, err, fmt, out)
        return None


def read_key(path, err):
    """The bytes of a signing key file; None after printing an error."""
    try:
        with open(path, "rb") as fh:
            key = fh.read(1 << 20).strip()
    except OSError as exc:
        err.write(f"rulec: cannot read key file {path}: {exc.strerror or exc}\n")
        return None
    if not key:
        err.write(f"rulec: key file {path} is empty\n")
        return None
    return key
