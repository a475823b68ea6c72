"""Machine formats of diagnostics: JSON, SARIF 2.1.0 and GitHub workflow annotation lines."""

from __future__ import annotations

import json
import urllib.parse

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/rulec/rulec/blob/main/docs/diagnostics.md"


def as_json(diagnostics) -> str:
    return json.dumps([d.as_json() for d in diagnostics], ensure_ascii=False, indent=1) + "\n"


def _message(d) -> str:
    return d.message + "".join(f"\n= help: {h}" for h in d.hints)


def sarif_doc(diagnostics) -> dict:
    """One SARIF run of rulec: a reporting descriptor per code, a result per diagnostic."""
    from rulec import __version__

    codes = sorted({d.code for d in diagnostics})
    results = []
    for d in diagnostics:
        r = {
            "ruleId": d.code,
            "ruleIndex": codes.index(d.code),
            "level": "error" if d.is_error else "warning",
            "message": {"text": _message(d)},
        }
        s = d.span
        if s is not None:
            region = {"startLine": max(1, s.line), "startColumn": max(1, s.col)}
            if s.end_line and s.end_col and (s.end_line, s.end_col) >= (s.line, s.col):
                region.update(endLine=s.end_line, endColumn=max(1, s.end_col))
            uri = urllib.parse.quote(str(s.file).replace("\\", "/"), safe="/:@-._~")
            r["locations"] = [
                {"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}
            ]
        results.append(r)
    driver = {
        "name": "rulec",
        "version": __version__,
        "informationUri": INFO_URI,
        "rules": [
            {"id": c, "helpUri": f"{INFO_URI}#{c[0].lower()}", "shortDescription": {"text": c}}
            for c in codes
        ],
    }
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


def sarif(diagnostics) -> str:
    return json.dumps(sarif_doc(diagnostics), ensure_ascii=False, indent=1) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_prop(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(diagnostics) -> str:
    """GitHub Actions workflow commands: `::error file=F,line=L,col=C,title=CODE::message`."""
    lines = []
    for d in diagnostics:
        props = []
        s = d.span
        if s is not None:
            props += [f"file={_escape_prop(str(s.file))}", f"line={s.line}", f"col={s.col}"]
            if s.end_line:
                props.append(f"endLine={s.end_line}")
            if s.end_col and s.end_line == s.line:
                props.append(f"endColumn={s.end_col}")
        props.append(f"title={_escape_prop(d.code)}")
        kind = "error" if d.is_error else "warning"
        lines.append(f"::{kind} {','.join(props)}::{_escape_data(f'{d.code} ' + _message(d))}\n")
    return "".join(lines)


FORMATTERS = {"json": as_json, "sarif": sarif, "github": github}
