"""`rulec compile SRC -o TABLE`: compile rules to a table file (same source, same bytes)."""

from __future__ import annotations

import os
import stat
import tempfile

from rulec.cli.common import ArgParser, read_key, render, summary
from rulec.errors import diag


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
    problem = _target_problem(ns.output, ns.src)
    if problem:
        render([diag("B713", f"{ns.output}: {problem}; no table written")], err, ns.format, out)
        return 1
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
        msg = f"{ns.output}: cannot write the table: {exc.strerror or exc}"
        render([diag("B714", msg)], err, ns.format, out)
        return 1
    if ns.format == "text":
        err.write(
            f"{ns.src}: compiled to {ns.output} ({len(data)} bytes, "
            f"{len(body['groups'])} groups, {summary(result.diagnostics)})\n"
        )
    return 0


def _target_problem(path, src) -> str | None:
    """Why `path` must not be replaced by a table, or None. Only a regular file (or nothing)
    is replaced: a symlink, FIFO, device or folder there is someone else's, and the source
    must survive a typo in -o."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot check the target: {exc.strerror or exc}"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link (give the real path)"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    try:
        if os.path.samefile(path, src):
            return "is the source file itself"
    except OSError:
        pass
    return None


def _write_atomic(path, data: bytes) -> None:
    """Write via a temporary file in the target folder and rename, so a reader never sees half
    a table; the file gets the mode a new file would get (0666 less the umask)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".rulec-", dir=folder)
    try:
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
