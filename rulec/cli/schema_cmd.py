"""`rulec schema [-o OUT]`: print the JSON Schema of the YAML/JSON rules form."""

from __future__ import annotations

import json

from rulec.cli.common import ArgParser


def run(args, out, err) -> int:
    ap = ArgParser(
        "schema",
        out,
        err,
        description="Print the JSON Schema of the YAML/JSON rules form (for yaml-language-server).",
    )
    ap.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of stdout")
    ns, code = ap.parse(args)
    if ns is None:
        return code
    from rulec.compiler.yaml_schema import schema

    text = json.dumps(schema(), ensure_ascii=False, indent=2) + "\n"
    if ns.output is None:
        out.write(text)
        return 0
    try:
        with open(ns.output, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
    except OSError as exc:
        err.write(f"rulec schema: error: cannot write {ns.output}: {exc.strerror or exc}\n")
        return 1
    return 0
