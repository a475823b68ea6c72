"""HTTP plumbing of `rulec serve`: bounded JSON bodies and `{"errors": [...]}` responses
carrying the CLI's diagnostic codes (H1xx for HTTP-level problems, docs/diagnostics.md)."""

from __future__ import annotations

import json

from starlette.responses import Response

from rulec.errors import RulecError, diag, did_you_mean

MAX_BODY = 1 << 20  # bytes of a request body, unless --max-body says otherwise


class HttpError(Exception):
    """An error response: status and diagnostics."""

    def __init__(self, status: int, diagnostics):
        super().__init__(diagnostics[0].message if diagnostics else "")
        self.status = status
        self.diagnostics = list(diagnostics)

    @classmethod
    def of(cls, status: int, code: str, message: str, hints=()):
        return cls(status, [diag(code, message, None, "error", tuple(hints))])

    @classmethod
    def from_rulec(cls, status: int, exc: RulecError, where: str = ""):
        diags = exc.diagnostics or [diag("H199", str(exc))]
        if where:
            diags = [
                diag(d.code, f"{where}: {d.message}", d.span, d.severity, d.hints) for d in diags
            ]
        return cls(status, diags)


def json_response(doc, status: int = 200) -> Response:
    body = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status, media_type="application/json")


def error_response(exc: HttpError) -> Response:
    errors = []
    for d in exc.diagnostics[:50]:
        e = {"code": d.code, "message": d.message}
        if d.hints:
            e["hints"] = list(d.hints)
        errors.append(e)
    return json_response({"errors": errors}, exc.status)


async def read_json(request, limit: int):
    """The request's JSON body: H101 (413) past `limit` bytes, H100 (400) when it is not
    UTF-8 JSON. Read straight from the ASGI messages (cheaper than Request.stream) and
    abandoned as soon as it is too large."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HttpError.of(413, "H101", f"request body is larger than {limit} bytes")
    receive = request.receive
    message = await receive()
    data = message.get("body", b"")
    if message.get("more_body"):
        chunks = [data]
        size = len(data)
        while message.get("more_body"):
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HttpError.of(413, "H101", f"request body is larger than {limit} bytes")
            chunks.append(chunk)
        data = b"".join(chunks)
    elif len(data) > limit:
        raise HttpError.of(413, "H101", f"request body is larger than {limit} bytes")
    if not data.strip():
        raise HttpError.of(400, "H100", "request body is empty (a JSON object is expected)")
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise HttpError.of(400, "H100", f"request body is not UTF-8: {exc.reason}") from None
    except (ValueError, RecursionError) as exc:
        msg = getattr(exc, "msg", None) or str(exc) or "nested too deeply"
        raise HttpError.of(400, "H100", f"request body is not JSON: {msg}") from None


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def check_keys(doc, allowed, what: str) -> None:
    """H104 when `doc` is not an object or has a key outside `allowed`."""
    if not isinstance(doc, dict):
        raise HttpError.of(400, "H104", f"{what} must be a JSON object, got {kind_of(doc)}")
    for k in doc:
        if k not in allowed:
            raise HttpError.of(
                400,
                "H104",
                f"unknown key {k!r} in {what} (allowed: {', '.join(allowed)})",
                did_you_mean(k, allowed),
            )


def redact(url: str) -> str:
    """A store URL without its password (`redis://user:***@host/0`), for answers and logs."""
    import re

    return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", url or "")


def kind_of(v) -> str:
    """`an object`, `a list`, ... for messages."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(v), "null" if v is None else "a number"
    )
