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
# decompressed JSON text, and the memory its decoded objects may take, bounded from the text
# alone (decoded_bound). The compiler refuses to write a table beyond them (B715), so every
# table it writes loads. A 100,000-group shop (10,000 crowds, 2 agents a group) is 28 MB of
# text, bounded at 651 MiB, and takes 278 MiB at its peak while decoding.
MAX_BODY = 32 * 1024 * 1024
MAX_DECODED = 768 * 1024 * 1024
MAX_FILE = MAX_BODY + (1 << 16)  # zlib never grows a body by more than a few bytes per 16 KB
# The most a decoded JSON value costs (CPython 3.10-3.13, 64-bit), by the byte that brings it:
# `[` a list and its first item slots, `{` a dict and its first key table, `:` a key (its
# string, the decoder's key memo, the dict's entry and spare room), `,` another item (its
# slot and a number object), `"` half a string's header (56 to 80 bytes).
# tests/table/test_table_limits.py measures real costs against the bound.
COSTS = {b"[": 96, b"{": 200, b":": 120, b",": 40, b'"': 20}
ROOT_COST = 200
# lead bytes of 4-byte UTF-8 characters (beyond U+FFFF: 4 bytes a character once decoded)
_WIDEST = re.compile(rb"[\xf0-\xf4]")
# an escaped UTF-16 surrogate: the canonical encoder never writes one (a lone one is not text)
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")
_FIXED = struct.Struct(">8sHHB")


def _fail(code: str, message: str, path: str | None = None) -> TableError:
    where = f"{path}: " if path else ""
    return TableError([diag(code, where + message)])


class TextCost:
    """The memory a JSON text costs once decoded, bounded from its bytes (fed a chunk at a
    time, without parsing): COSTS for each `[`, `{`, `:`, `,` and `"` (each value but the
    root opens a container or follows a `,` or `:`), and per byte of text 3 bytes (the text,
    its decoder's working copies) and twice the width of a character (the decoded str and
    the strings' characters, 1, 2 or 4 bytes each by the widest character: 2 for any beyond
    ASCII, or any `\\u` escape, which widens its string). Bytes inside strings count as
    syntax too: the bound only errs high."""

    def __init__(self) -> None:
        self.size = 0
        self.objects = ROOT_COST
        self.width = 1
        self.last = b""  # the previous chunk's last byte: a `\\u` may straddle two chunks

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self.objects += sum(chunk.count(c) * cost for c, cost in COSTS.items())
        if self.width < 4 and not chunk.isascii():
            self.width = 4 if _WIDEST.search(chunk) else 2
        elif self.width < 2 and (b"\\u" in chunk or self.last + chunk[:1] == b"\\u"):
            self.width = 2
        self.last = chunk[-1:]

    @property
    def bound(self) -> int:
        return self.objects + (3 + 2 * self.width) * self.size

    def problem(self) -> str | None:
        """Why the text so far is beyond the limits, or None."""
        if self.size > MAX_BODY:
            return f"more than {MAX_BODY // 2**20} MiB of JSON"
        if self.bound > MAX_DECODED:
            return (
                f"JSON whose decoded values may take {self.bound / 2**20:,.0f} MiB "
                f"(at most {MAX_DECODED // 2**20} MiB)"
            )
        return None


def decoded_bound(text: bytes) -> int:
    """The most memory (bytes) decoding a JSON text may take: TextCost."""
    cost = TextCost()
    cost.add(text)
    return cost.bound


def limits_problem(text: bytes) -> str | None:
    """Why a body's JSON text is beyond what a table may hold, or None."""
    cost = TextCost()
    cost.add(text)
    problem = cost.problem()
    return f"its body is {problem}" if problem else None


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
    """Decompress the body, refusing one beyond the limits before keeping any of it: a first
    pass decompresses a megabyte at a time and only measures (so a zlib bomb costs a chunk,
    however far it gets), the second keeps the text."""
    d = zlib.decompressobj()
    cost, rest = TextCost(), payload
    while True:
        chunk = d.decompress(rest, 1 << 20)
        rest = d.unconsumed_tail
        cost.add(chunk)
        problem = cost.problem()
        if problem:
            raise _fail("B706", f"table body is too large: it expands to {problem}", path)
        if d.eof or (not chunk and not rest):
            break
    if not d.eof or d.unused_data:
        raise _fail("B706", "table body is incomplete or has bytes after its end", path)
    return zlib.decompress(payload, bufsize=max(cost.size, 1))


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
