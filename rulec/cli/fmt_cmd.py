"""`rulec fmt SRC [--check] [--to rules|yaml] [-o OUT]`: print rules in canonical form."""

from __future__ import annotations

import difflib
import os

from rulec.cli.common import FORMATS, ArgParser, render
from rulec.errors import RulecError


def canonical(text: str, file: str, to: str | None = None) -> str:
    """The canonical text of a rules source (`to`: "rules" or "yaml"; default its own surface).

    Comments are kept when the output is in the source's own surface."""
    from rulec.compiler import printer_yaml
    from rulec.compiler.pipeline import is_yaml_name, parse_source
    from rulec.compiler.printer_rules import attach_comments, print_rules

    source_surface = "yaml" if is_yaml_name(file) else "rules"
    to = to or source_surface
    if source_surface == "rules":
        from rulec.compiler.frontend_rules import parse_rules_with_layout

        shop, statements = parse_rules_with_layout(text, file)
        comments = attach_comments(text, statements) if to == "rules" else None
    else:
        shop = parse_source(text, file)
        comments = None
        if to == "yaml":
            statements, inside = printer_yaml.yaml_statements(text)
            comments = attach_comments(
                text, statements, printer_yaml.scan_yaml_comments(text, inside)
            )
    suffix = "_test" if shop.tests_only else ""  # a test file reads back as a test file
    if to == "yaml":
        result, out_name = printer_yaml.print_yaml(shop, comments), f"canonical{suffix}.yaml"
    else:
        result, out_name = print_rules(shop, comments), f"canonical{suffix}.rules"
    # A safety net for the operator's file: the canonical text must mean the same rules (and
    # read at all: an error there is a printer bug, not the source's, so it names no file).
    try:
        same = _plain(parse_source(result, out_name)) == _plain(shop)
    except RulecError:
        same = False
    if not same:
        from rulec.compiler.pipeline import check_model

        # rules with errors the other surface cannot even write (two agents `a1`: YAML keys
        # are unique) are refused for those errors, at their place in the source
        errors = [d for d in check_model(shop) if d.is_error]
        if errors:
            raise RulecError(errors)
        raise FormatChanged(file)
    return result


class FormatChanged(Exception):
    """The printed form would read back as other rules: a printer bug, never written out."""


def _plain(shop) -> dict:
    import attrs

    return attrs.asdict(
        shop,
        filter=lambda a, v: (
            a.name not in ("span", "level_span", "mode_span", "text", "file", "tests_lines")
        ),
    )


def _one(src, ns, out, err):
    """(text, canonical text) of one source, or None after printing why not."""
    from rulec.compiler.pipeline import decode_source

    if src.error is not None:
        err.write(f"rulec fmt: error: cannot read {src.name}: {src.error}\n")
        return None
    try:
        text = decode_source(src.data, src.name)
        return text, canonical(text, src.name, ns.to)
    except RulecError as exc:
        render(
            exc.diagnostics, err, ns.format, out, {src.name: src.data.decode("utf-8", "replace")}
        )
    except FormatChanged:
        err.write(
            f"rulec fmt: internal error: the canonical form of {src.name} would not read back "
            "as the same rules, so nothing was written (please report this)\n"
        )
    except RecursionError:
        err.write(f"rulec fmt: error: {src.name} is nested too deeply\n")
    return None


def _write(path, text, err) -> bool:
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        err.write(f"rulec fmt: error: cannot write {path}: {exc.strerror or exc}\n")
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def _parser(out, err):
    ap = ArgParser(
        "fmt",
        out,
        err,
        description="Print rules in canonical form (comments are kept within one surface).",
    )
    ap.add_argument(
        "paths", nargs="+", metavar="PATH", help="rules files, folders (recursively) or - (stdin)"
    )
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="print nothing; exit 1 when a file is not canonical"
    )
    mode.add_argument(
        "--diff", action="store_true", help="print a unified diff per file; exit 1 when any"
    )
    mode.add_argument("-w", "--write", action="store_true", help="rewrite the files in place")
    ap.add_argument(
        "--to", choices=("rules", "yaml"), help="output surface (default: the source's own)"
    )
    ap.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    ap.add_argument("--format", choices=FORMATS, default="text", help="how to print diagnostics")
    ap.add_argument("--stdin-name", default="<stdin>.rules", metavar="NAME")
    return ap


def run(args, out, err) -> int:
    ns, code = _parser(out, err).parse(args)
    if ns is None:
        return code
    from rulec.testing.discovery import expand, read

    in_place = ns.check or ns.diff or ns.write
    if ns.to is not None and in_place:
        err.write(
            "rulec fmt: error: --check, --diff and -w compare files with their own canonical "
            f"form; drop --to {ns.to}\n"
        )
        return 2
    if ns.output and (in_place or len(ns.paths) > 1):
        err.write("rulec fmt: error: -o takes one file and no --check, --diff or -w\n")
        return 2
    if ns.write and "-" in ns.paths:
        err.write("rulec fmt: error: -w cannot rewrite stdin\n")
        return 2
    sources, missing = expand(ns.paths, ns.stdin_name)
    if not in_place and len(sources) + len(missing) > 1:
        err.write("rulec fmt: error: give one file, or use --check, --diff or -w for many\n")
        return 2
    for p in missing:
        err.write(f"rulec fmt: error: cannot read {p}: no such file or folder\n")
    status = 1 if missing else 0
    for src in map(read, sources):
        got = _one(src, ns, out, err)
        if got is None:
            status = 1
            continue
        text, result = got
        if ns.check:
            if result != text:
                err.write(f"{src.name}: not in canonical form (run `rulec fmt -w {src.name}`)\n")
                status = 1
        elif ns.diff:
            if result != text:
                out.writelines(
                    difflib.unified_diff(
                        text.splitlines(keepends=True),
                        result.splitlines(keepends=True),
                        f"a/{src.name}",
                        f"b/{src.name}",
                    )
                )
                status = 1
        elif ns.write:
            if result != text and not _write(src.name, result, err):
                status = 1
        elif ns.output:
            if not _write(ns.output, result, err):
                return 1
        else:
            out.write(result)
    return status
