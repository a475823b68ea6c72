"""The compiled table: binary format (docs/table-format.md), safe loading, and the Table object."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import struct
import zlib
from typing import TYPE_CHECKING, Any

from rulec.errors import TableError, diag
from rulec.table import schema

if TYPE_CHECKING:
    from rulec.matching._matcher import CMatcher
    from rulec.matching.pure import PyMatcher

MAGIC = b"RULECTBL"
FORMAT_VERSION = 2  # 2: the checksum covers the header too (version 1 left it unchecked)
FLAG_SIGNED = 1
KNOWN_FLAGS = FLAG_SIGNED
# Limits on what a table may expand to, checked before the work is done (a few hundred KB of
# zlib can say 256 MB of `[],[],...`, which json.loads would turn into gigabytes): the
# decompressed JSON text, and the number of JSON values and keys in it. The compiler refuses
# to write a table beyond them (B715), so every table it writes loads.
MAX_BODY = 32 * 1024 * 1024
MAX_VALUES = 2_000_000
MAX_FILE = MAX_BODY + (1 << 16)  # zlib never grows a body by more than a few bytes per 16 KB
# an escaped UTF-16 surrogate: the canonical encoder never writes one (a lone one is not text)
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")
_FIXED = struct.Struct(">8sHHB")


def _fail(code: str, message: str, path: str | None = None) -> TableError:
    where = f"{path}: " if path else ""
    return TableError([diag(code, where + message)])


def json_values_bound(text: bytes) -> int:
    """An upper bound on the values and keys of a JSON text, without parsing it: each but the
    root opens a container or follows a `,` or `:` (the count includes any inside strings)."""
    return 1 + sum(text.count(c) for c in (b"[", b"{", b",", b":"))


def limits_problem(text: bytes) -> str | None:
    """Why a body's JSON text is beyond what a table may hold, or None."""
    if len(text) > MAX_BODY:
        return f"its body is larger than {MAX_BODY // 2**20} MiB"
    n = json_values_bound(text)
    if n > MAX_VALUES:
        return f"its body holds more than {MAX_VALUES:,} values ({n:,})"
    return None


def encode_body(body: dict[str, Any]) -> bytes:
    """Canonical JSON, zlib level 6: the same body always gives the same bytes. Raises
    TableError (B715) for a body beyond the table limits or one that is not valid text."""
    text = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail("B715", "the table cannot be written: it holds a lone surrogate") from None
    problem = limits_problem(data) or schema.size_problem(body)
    if problem:
        raise _fail("B715", f"the table cannot be written: {problem}")
    return zlib.compress(data, 6)


def pack(
    body: dict[str, Any],
    source_hash: bytes,
    compiler_version: str,
    sign_key: bytes | None = None,
) -> bytes:
    """Serialise a (validated) body into table bytes."""
    return pack_payload(encode_body(body), source_hash, compiler_version, sign_key)


def pack_payload(
    payload: bytes, source_hash: bytes, compiler_version: str, sign_key: bytes | None = None
) -> bytes:
    """Table bytes around an already compressed body (pack; tests craft payloads with it)."""
    ver = compiler_version.encode("ascii")
    flags = FLAG_SIGNED if sign_key else 0
    head = _FIXED.pack(MAGIC, FORMAT_VERSION, flags, len(ver)) + ver + source_hash
    head += struct.pack(">I", len(payload))
    data = head + _checksum(head, payload) + payload
    if sign_key:
        data += hmac.new(sign_key, data, hashlib.sha256).digest()
    return data


def _checksum(head: bytes, payload: bytes) -> bytes:
    """SHA-256 over every header byte before the checksum field, then the body: a flipped bit
    anywhere in the file (header included) is caught, signed or not."""
    h = hashlib.sha256(head)
    h.update(payload)
    return h.digest()


def read_header(data: bytes, path: str | None = None) -> dict[str, Any]:
    """Parse and check the header; returns its fields and where the body lies."""
    if len(data) < _FIXED.size:
        if not data.startswith(MAGIC[: len(data)]) or not data:
            raise _fail("B702", "not a rulec table (no RULECTBL magic)", path)
        raise _fail("B701", f"table is truncated ({len(data)} bytes, header needs more)", path)
    magic, version, flags, vlen = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise _fail("B702", "not a rulec table (no RULECTBL magic)", path)
    if version != FORMAT_VERSION:
        raise _fail(
            "B703",
            f"table format version {version} is not supported "
            f"(this runtime reads version {FORMAT_VERSION}; compile the rules again)",
            path,
        )
    if flags & ~KNOWN_FLAGS:
        raise _fail("B704", f"table header is corrupt (unknown flags {flags:#x})", path)
    pos = _FIXED.size
    need = pos + vlen + 32 + 4 + 32
    if len(data) < need:
        raise _fail("B701", f"table is truncated ({len(data)} bytes, header needs {need})", path)
    try:
        compiler_version = data[pos : pos + vlen].decode("ascii")
    except UnicodeDecodeError:
        raise _fail("B704", "table header is corrupt (compiler version)", path) from None
    pos += vlen
    source_hash = data[pos : pos + 32]
    pos += 32
    (length,) = struct.unpack_from(">I", data, pos)
    pos += 4
    header_end = pos
    checksum = data[pos : pos + 32]
    pos += 32
    signed = bool(flags & FLAG_SIGNED)
    end = pos + length + (32 if signed else 0)
    if len(data) < end:
        raise _fail("B701", f"table is truncated ({len(data)} bytes, expected {end})", path)
    if len(data) > end:
        raise _fail("B704", f"table is corrupt ({len(data) - end} unexpected trailing bytes)", path)
    return {
        "format_version": version,
        "flags": flags,
        "signed": signed,
        "compiler_version": compiler_version,
        "source_hash": source_hash.hex(),
        "header_length": header_end,
        "body_offset": pos,
        "body_length": length,
        "checksum": checksum,
        "size": len(data),
    }


def unpack(
    data: bytes, path: str | None = None, key: bytes | None = None, require_signature: bool = False
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check and decode table bytes; returns (header, body). Raises TableError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _fail("B702", "table data must be bytes", path)
    data = bytes(data)
    head = read_header(data, path)
    start, length = head["body_offset"], head["body_length"]
    payload = data[start : start + length]
    if not hmac.compare_digest(_checksum(data[: head["header_length"]], payload), head["checksum"]):
        raise _fail("B704", "table is corrupt (checksum mismatch)", path)
    if head["signed"]:
        if key is None:
            raise _fail("B705", "table is signed: a key is needed to verify it", path)
        sig = data[start + length :]
        if not hmac.compare_digest(
            hmac.new(key, data[: start + length], hashlib.sha256).digest(), sig
        ):
            raise _fail("B705", "table signature does not match this key", path)
    elif key is not None or require_signature:
        raise _fail("B705", "table is not signed, but a signed table is required", path)
    try:
        text = _inflate(payload, path)
        if _SURROGATE_ESCAPE.search(text):
            raise _fail("B706", "table body holds an escaped UTF-16 surrogate", path)
        body = json.loads(text.decode("utf-8"), parse_constant=_no_constants)
    except TableError:
        raise
    except (zlib.error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _fail("B706", f"table body does not decode: {exc}", path) from None
    problem = schema.check_body(body) or schema.size_problem(body)
    if problem:
        raise _fail("B706", f"table body is malformed: {problem}", path)
    return head, body


def _inflate(payload: bytes, path: str | None) -> bytes:
    """Decompress the body a chunk at a time, stopping as soon as the limits are passed (so a
    zlib bomb costs a chunk, not the whole expansion)."""
    d = zlib.decompressobj()
    parts, size, values, rest = [], 0, 1, payload
    while True:
        chunk = d.decompress(rest, 1 << 20)
        rest = d.unconsumed_tail
        size += len(chunk)
        values += json_values_bound(chunk) - 1
        if size > MAX_BODY or values > MAX_VALUES:
            problem = (
                f"more than {MAX_BODY // 2**20} MiB"
                if size > MAX_BODY
                else f"more than {MAX_VALUES:,} values"
            )
            raise _fail("B706", f"table body is too large: it expands to {problem}", path)
        parts.append(chunk)
        if d.eof or (not chunk and not rest):
            break
    if not d.eof or d.unused_data:
        raise _fail("B706", "table body is incomplete or has bytes after its end", path)
    return b"".join(parts)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


class Table:
    """A loaded table: the body's data plus the lazily built matcher (R5)."""

    def __init__(self, body: dict[str, Any], header: dict[str, Any] | None = None) -> None:
        self.body = body
        self.header = header or {}
        self.shop = body["shop"]
        self.timezone = body["timezone"]
        self.routing = body["routing"]
        self.outreach = body["outreach"]
        self.agents = body["agents"]
        self.groups = body["groups"]
        self.group_names = [g["name"] for g in self.groups]
        self._matcher: PyMatcher | CMatcher | None = None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Table:
        """Build from a body dict (checked against the schema; used by tests and the compiler)."""
        problem = schema.check_body(body)
        if problem:
            raise TableError([diag("B706", f"table body is malformed: {problem}")])
        return cls(body)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        path: str | None = None,
        key: bytes | None = None,
        require_signature: bool = False,
    ) -> Table:
        head, body = unpack(data, path, key, require_signature)
        return cls(body, head)

    def to_bytes(self, source_hash: bytes = b"\0" * 32, sign_key: bytes | None = None) -> bytes:
        from rulec import __version__

        return pack(self.body, source_hash, __version__, sign_key)

    # R5 matching -----------------------------------------------------------------------
    @property
    def matcher(self) -> PyMatcher | CMatcher:
        if self._matcher is None:
            from rulec.matching.matcher import build_matcher

            self._matcher = build_matcher(self.body)
        return self._matcher

    def match(self, chat: dict[str, Any]) -> list[str]:
        """Candidate group names after R5 for one chat dict."""
        return self.matcher.match(chat)

    def match_many(self, chats: list[dict[str, Any]]) -> list[list[str]]:
        """`match` for a sequence of chats, in one call."""
        return self.matcher.match_many(chats)


def load(path: object, key: bytes | None = None, require_signature: bool = False) -> Table:
    """Read a table file; raises TableError on anything but a sound table."""
    path = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE + 1)
    except OSError as exc:
        raise _fail("B700", f"cannot read table: {exc.strerror or exc}", path) from None
    if len(data) > MAX_FILE:
        raise _fail("B706", f"table file is larger than {MAX_FILE:,} bytes", path)
    return Table.from_bytes(data, path, key, require_signature)


def is_table(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the table magic (whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False
