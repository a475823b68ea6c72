"""`rulec fmt SRC [--check] [--to rules|yaml] [-o OUT]`: print rules in canonical form."""

from __future__ import annotations

import os
import pathlib

from rulec.cli.common import ArgParser, render
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
    if to == "yaml":
        result, out_name = printer_yaml.print_yaml(shop, comments), "canonical.yaml"
    else:
        result, out_name = print_rules(shop, comments), "canonical.rules"
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
        shop, filter=lambda a, v: a.name not in ("span", "level_span", "mode_span", "text", "file")
    )


def run(args, out, err) -> int:
    ap = ArgParser(
        "fmt",
        out,
        err,
        description="Print rules in canonical form (comments are kept within one surface).",
    )
    ap.add_argument("src", help="rules file (.rules, or .yaml/.yml/.json)")
    ap.add_argument(
        "--check",
        action="store_true",
        help="print nothing; exit 1 when SRC is not in canonical form",
    )
    ap.add_argument(
        "--to", choices=("rules", "yaml"), help="output surface (default: the source's own)"
    )
    ap.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    ap.add_argument(
        "--format", choices=("text", "json"), default="text", help="how to print diagnostics"
    )
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from rulec.compiler.pipeline import decode_source, is_yaml_name

    own = "yaml" if is_yaml_name(ns.src) else "rules"
    if ns.check and ns.to not in (None, own):
        err.write(
            f"rulec fmt: error: --check compares {ns.src} with its own canonical form; "
            f"drop --to {ns.to}\n"
        )
        return 2
    try:
        data = pathlib.Path(ns.src).read_bytes()
    except OSError as exc:
        err.write(f"rulec fmt: error: cannot read {ns.src}: {exc.strerror or exc}\n")
        return 1
    try:
        text = decode_source(data, ns.src)
        result = canonical(text, ns.src, ns.to)
    except RulecError as exc:
        render(exc.diagnostics, err, ns.format, out)
        return 1
    except FormatChanged:
        err.write(
            f"rulec fmt: internal error: the canonical form of {ns.src} would not read back "
            "as the same rules, so nothing was written (please report this)\n"
        )
        return 1
    except RecursionError:
        err.write(f"rulec fmt: error: {ns.src} is nested too deeply\n")
        return 1
    if ns.check:
        if result != text:
            err.write(f"{ns.src}: not in canonical form (run `rulec fmt {ns.src} -o {ns.src}`)\n")
            return 1
        return 0
    if ns.output:
        tmp = f"{ns.output}.tmp{os.getpid()}"
        try:
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(result)
            os.replace(tmp, ns.output)
        except OSError as exc:
            err.write(f"rulec fmt: error: cannot write {ns.output}: {exc.strerror or exc}\n")
            try:
                os.unlink(tmp)
            except OSError:
                pass
            return 1
        return 0
    out.write(result)
    return 0
