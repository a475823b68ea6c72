"""`rulec compile SRC -o TABLE`: compile rules to a table file (same source, same bytes)."""

from __future__ import annotations

import os
import tempfile

from rulec.cli.common import ArgParser, read_key, render, summary


def run(args, out, err) -> int:
    ap = ArgParser("compile", out, err, description="Compile rules to a table file.")
    ap.add_argument("src", help="rules file (.rules, or .yaml/.yml/.json)")
    ap.add_argument("-o", "--output", required=True, help="table file to write")
    ap.add_argument("--sign-key", help="sign the table with HMAC-SHA256 using this key file")
    ap.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="diagnostics as text on stderr or a JSON list on stdout",
    )
    ns, code = ap.parse(args)
    if ns is None:
        return code
    key = None
    if ns.sign_key:
        key = read_key(ns.sign_key, err, ns.format, out)
        if key is None:
            return 1
    from rulec.compiler.pipeline import compile_path

    result = compile_path(ns.src, sign_key=key)
    render(result.diagnostics, err, ns.format, out)
    if result.errors:
        if ns.format == "text":
            err.write(f"{ns.src}: {summary(result.diagnostics)}; no table written\n")
        return 1
    data, body = result.data, result.body
    assert data is not None and body is not None  # no errors: the table was built
    try:
        _write_atomic(ns.output, data)
    except OSError as exc:
        err.write(f"rulec: cannot write {ns.output}: {exc.strerror or exc}\n")
        return 1
    if ns.format == "text":
        err.write(
            f"{ns.src}: compiled to {ns.output} ({len(data)} bytes, "
            f"{len(body['groups'])} groups, {summary(result.diagnostics)})\n"
        )
    return 0


def _write_atomic(path, data: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a table."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".rulec-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
