"""`rulec lsp [--debounce-ms N]`: the language server for .rules and YAML rules, over stdio."""

from __future__ import annotations

from rulec.cli.common import ArgParser


def run(args, out, err) -> int:
    ap = ArgParser(
        "lsp",
        out,
        err,
        description="Run the rules language server over stdin/stdout (docs/editors.md).",
    )
    ap.add_argument(
        "--stdio", action="store_true", help="talk over stdio (the default and only way)"
    )
    ap.add_argument(
        "--debounce-ms",
        type=int,
        default=None,
        metavar="N",
        help="wait this long after the last change before checking (default 75)",
    )
    ns, code = ap.parse(args)
    if ns is None:
        return code
    if ns.debounce_ms is not None and not 0 <= ns.debounce_ms <= 10_000:
        err.write("rulec lsp: error: --debounce-ms must be 0..10000\n")
        return 2
    try:
        from rulec.lsp.server import DEBOUNCE_MS, build
    except ImportError as exc:
        err.write(
            f"rulec lsp: error: the language server needs pygls ({exc.name} is missing): "
            "pip install 'rulec[lsp]'\n"
        )
        return 1
    build(DEBOUNCE_MS if ns.debounce_ms is None else ns.debounce_ms).start_io()
    return 0
