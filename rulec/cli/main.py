"""The `rulec` command: dispatches to one module per command (each `run(args, out, err) -> int`)."""

from __future__ import annotations

import importlib
import sys

from rulec import __version__
from rulec.errors import RulecError

COMMANDS = {
    "compile": "compile SRC -o TABLE: compile rules to a table",
    "check": "check SRC [--now ISO]: diagnostics only",
    "fmt": "fmt SRC [--check] [--to rules|yaml]: canonical layout",
    "inspect": "inspect TABLE_OR_RULES [--view table|graph]: header, decision tree, views",
    "diff": "diff OLD NEW [--events LOG] [--audience A --now T]: what a rule change does",
    "simulate": "simulate RULES --scenario S.yaml [--variant V]: a shop day, metrics, report",
    "replay": "replay RULES --events LOG.jsonl: metrics of a recorded day",
    "metrics": "metrics affiliate LOG.jsonl: affiliate counts (M4)",
    "route": "route RULES_OR_TABLE --events EVENTS.jsonl: one decision per chat",
    "explain": "explain RULES_OR_TABLE --event EVENT.json: why a chat goes where it goes",
    "plan": "plan RULES_OR_TABLE --audience A.jsonl --ledger DB --now ISO: outreach sends",
    "schema": "schema [-o OUT]: the JSON Schema of the YAML/JSON form",
    "lsp": "lsp: the language server over stdio (pip install rulec[lsp])",
    "serve": "serve TABLE_OR_DIR [--store URL] [--port P]: routing over HTTP, hot reload",
    "test": "test [PATH...] [--coverage] [--junit F]: run the tests written beside the rules",
    "eval": "eval RULES (--crowd N | --intent N | --expr E) --attrs JSON: a predicate's value",
}

USAGE = (
    "usage: rulec COMMAND [ARGS]\n\ncommands:\n"
    + "".join(f"  {c:<8} {h}\n" for c, h in COMMANDS.items())
    + "\nrulec COMMAND --help for a command's options\n"
)


def main(argv=None, out=None, err=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help", "help"):
        (out if argv else err).write(USAGE)
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        out.write(f"rulec {__version__}\n")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        from rulec.errors import did_you_mean

        hint = did_you_mean(name, COMMANDS)
        err.write(f"rulec: unknown command {name!r}" + (f" ({hint[0]})" if hint else "") + "\n")
        err.write(USAGE)
        return 2
    try:
        module = importlib.import_module(f"rulec.cli.{name}_cmd")
        return module.run(argv[1:], out, err)
    except RulecError as exc:
        # Commands render their own coded errors; one left over is raised while importing a
        # part (S990: RULEC_REQUIRE_EXTENSIONS=1 and a Cython extension not built).
        from rulec.cli.common import render

        render(exc.diagnostics, err)
        return 1
    except KeyboardInterrupt:
        err.write("rulec: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
