"""A lean Redis connection for the router store and the planner ledger: one socket, bounded
timeouts, pre-packed commands, Lua scripts by SHA (reloaded after a server restart).

URL: `redis://[user:pass@]host:port/db`, `rediss://…` or `unix:///path.sock?db=N`, with rulec's
options in the query: `on_error=degrade|fail` (router store), `timeout=SECONDS` (socket and
connect timeout, default 1), `retry=SECONDS` (degraded mode: how often to try Redis again,
default 1), `lock_ttl=SECONDS` (ledger batch locks, default 10), `prefix=NAME` (key prefix,
default `rulec`), `wait=N[/SECONDS]` (ledger: WAIT for N replicas after each commit, default
off; SECONDS default 1), `cluster_wait=SECONDS` (Redis Cluster: how long a slot migration or a
failover may keep a call waiting, default 10). Other query options go to redis-py as they are.

`redis+cluster://host:port[,host:port…]` (or `rediss+cluster://`) names a Redis Cluster by any
of its nodes: `open_conn` then gives a ClusterConn (rulec/common/redis_cluster.py).
"""

from __future__ import annotations

import hashlib
import socket
import struct
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from rulec.errors import StoreError

OPTIONS = {
    "on_error": ("degrade", "fail"),
    "timeout": float,
    "retry": float,
    "lock_ttl": float,
    "prefix": str,
    "wait": "replicas",
    "cluster_wait": float,
}
DEFAULTS: dict[str, Any] = {  # wait: None or (replicas, seconds)
    "on_error": "fail",
    "timeout": 1.0,
    "retry": 1.0,
    "lock_ttl": 10.0,
    "prefix": "rulec",
    "wait": None,
    "cluster_wait": 10.0,
}
CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")
# error replies of a cluster node: the command was not run (redirect, slot busy, no quorum)
CLUSTER_REPLIES = ("MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN")


class Lost(Exception):
    """The connection failed (refused, reset or timed out); `.reason` says how."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def parse_url(url: str, what: str):
    """(redis-py URL without rulec's options, {option: value}, URL safe to print)."""
    parts = urlsplit(url)
    opts, rest = dict(DEFAULTS), []
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        if k not in OPTIONS:
            rest.append((k, v))
            continue
        kind = OPTIONS[k]
        if kind == "replicas":
            opts[k] = _replicas(v, what)
        elif isinstance(kind, tuple):
            if v not in kind:
                raise StoreError.of("S900", f"{what} option {k}={v!r}: use {' or '.join(kind)}")
            opts[k] = v
        elif kind is float:
            try:
                seconds = float(v)
            except ValueError:
                seconds = -1.0
            if not 0 < seconds <= 3600:
                raise StoreError.of(
                    "S900", f"{what} option {k}={v!r}: use a number of seconds (0, 3600]"
                )
            opts[k] = seconds
        else:
            if not v or any(c in v for c in "{}: "):
                raise StoreError.of("S900", f"{what} option {k}={v!r}: use a plain name")
            opts[k] = v
    clean = url.partition("?")[0] + ("?" + urlencode(rest) if rest else "")
    shown = clean
    if parts.password:
        shown = clean.replace(":" + parts.password + "@", ":***@", 1)
    return clean, opts, shown


def _replicas(v: str, what: str) -> tuple[int, float]:
    """`wait=N` or `wait=N/SECONDS` -> (N, seconds): WAIT for N replicas, at most SECONDS."""
    n, _, t = v.partition("/")
    try:
        out = (int(n), float(t) if t else 1.0)
    except ValueError:
        out = (0, 0.0)
    if not (1 <= out[0] <= 16 and 0 < out[1] <= 3600):
        raise StoreError.of(
            "S900",
            f"{what} option wait={v!r}: use wait=N or wait=N/SECONDS "
            "(N replicas 1..16, SECONDS in (0, 3600])",
        )
    return out


def open_conn(url: str, what: str):
    """A Conn for a single Redis URL, a ClusterConn for `redis+cluster://`."""
    if url.startswith(CLUSTER_SCHEMES):
        from rulec.common.redis_cluster import ClusterConn

        return ClusterConn(url, what)
    return Conn(url, what)


def pack(*args) -> bytes:
    """One command in RESP (arguments: str, bytes, int or float)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = (a if isinstance(a, str) else repr(a)).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Script:
    """A Lua script called by SHA; `packed(keys, args)` gives the EVALSHA bytes."""

    def __init__(self, source: str):
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._heads: dict = {}

    def packed(self, keys, args) -> bytes:
        head = self._heads.get((keys, len(args)))
        if head is None:  # EVALSHA, sha, numkeys and the keys: packed once
            head = pack("EVALSHA", self.sha, len(keys), *keys)
            head = b"*%d" % (3 + len(keys) + len(args)) + head[head.index(b"\r\n") :]
            self._heads[(keys, len(args))] = head
        out = [head]
        for a in args:
            if not isinstance(a, bytes):
                a = (a if isinstance(a, str) else repr(a)).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def eval_packed(self, keys, args) -> bytes:
        """EVAL with the source: for a server that does not have the script (NOSCRIPT); it
        keeps the script, so the next EVALSHA finds it."""
        return pack("EVAL", self.source, len(keys), *keys, *args)


class Conn:
    """One socket with a hiredis reply reader; `call(packed)` sends a command and returns its
    reply (str, int, list), raising Lost on connection trouble (refused, reset, timed out)
    and StoreError S912 on an error reply. redis-py parses the URL (host, port, db, user,
    password, unix path, rediss for TLS)."""

    follows_failover = False  # one server: a lost connection is S911 (ClusterConn: relocated)

    def __init__(self, url: str, what: str):
        try:
            import hiredis
            from redis.connection import SSLConnection, UnixDomainSocketConnection
            from redis.connection import parse_url as redis_parse_url
        except ImportError as exc:
            raise StoreError.of(
                "S906", f"{what}: Redis support needs the redis and hiredis packages ({exc})"
            ) from None

        self._hiredis = hiredis
        clean, self.opts, self.shown = parse_url(url, what)
        self.what = what
        try:
            kw = redis_parse_url(clean)
        except (ValueError, TypeError) as exc:
            raise StoreError.of("S900", f"{what} URL {self.shown!r}: {exc}") from None
        cls = kw.pop("connection_class", None)
        self.tls = cls is SSLConnection
        self.path = kw.pop("path", None) if cls is UnixDomainSocketConnection else None
        self.host, self.port = kw.pop("host", "localhost"), int(kw.pop("port", 6379) or 6379)
        self.db = int(kw.pop("db", 0) or 0)
        self.username, self.password = kw.pop("username", None), kw.pop("password", None)
        if kw:
            raise StoreError.of(
                "S900", f"{what} URL {self.shown!r}: unsupported option(s) {', '.join(sorted(kw))}"
            )
        self.sock = None
        self._reader = None
        # a cluster node (ClusterConn's): MOVED/ASK/TRYAGAIN/CLUSTERDOWN raise Redirect
        self.cluster_node = False

    def connect(self):
        """(Re)connect, authenticate, select the db and PING; StoreError S910 (with the
        reason) when Redis cannot be reached or refuses the session."""
        self.close()
        t = self.opts["timeout"]
        try:
            if self.path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(t)
                sock.connect(self.path)
            else:
                sock = socket.create_connection((self.host, self.port), timeout=t)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.tls:
                    import ssl

                    sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            sock.settimeout(t)
        except OSError as exc:
            raise StoreError.of(
                "S910", f"{self.what}: cannot reach Redis at {self.shown}: {exc.strerror or exc}"
            ) from None
        self.sock, self._reader = sock, self._hiredis.Reader(encoding="utf-8")
        try:
            # kernel-side timeouts on a blocking socket: Python then skips the poll() it
            # makes before every send and recv on a socket with a timeout
            tv = struct.pack("ll", int(t), int((t % 1) * 1e6))
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        except (OSError, struct.error):
            sock.settimeout(t)
        try:
            if self.password is not None:
                auth = (self.username, self.password) if self.username else (self.password,)
                self.call(pack("AUTH", *auth))
            if self.db:
                self.call(pack("SELECT", self.db))
            if self.call(pack("PING")) != "PONG":
                raise Lost("no PONG")
            self._loaded()
        except Lost as exc:
            self.close()
            raise StoreError.of(
                "S910", f"{self.what}: cannot reach Redis at {self.shown}: {exc.reason}"
            ) from None
        except StoreError as exc:
            self.close()
            raise StoreError.of(
                "S910",
                f"{self.what}: Redis at {self.shown} refused the session: "
                f"{exc.diagnostics[0].message}",
            ) from None

    def _loaded(self, wait: float = 10.0):
        """A server replaying its AOF answers PING but refuses data commands (-LOADING):
        wait for it, up to `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self.call(pack("EXISTS", "rulec:probe"))
            except Redirect:  # a cluster node, loaded: the probe key is another node's
                return 0
            except StoreError as exc:
                if "LOADING" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.05)

    def call(self, packed: bytes, retry: bool = False):
        """`retry` (may a cluster resend it after a failover) means nothing to one server."""
        sock, reader = self.sock, self._reader
        try:
            if sock is None:
                raise OSError("not connected")
            sock.sendall(packed)
            reply = reader.gets()
            while reply is False:
                data = sock.recv(1 << 16)
                if not data:
                    raise OSError("connection closed by the server")
                reader.feed(data)
                reply = reader.gets()
        except OSError as exc:  # includes timeouts
            self.close()
            raise Lost(
                "timed out"
                if isinstance(exc, (TimeoutError, BlockingIOError))
                else (exc.strerror or str(exc) or type(exc).__name__)
            ) from None
        if isinstance(reply, self._hiredis.ReplyError):
            text = str(reply)
            if text.startswith("NOSCRIPT"):
                raise NoScript
            if text.startswith(CLUSTER_REPLIES):
                if self.cluster_node:
                    raise Redirect(text)
                raise StoreError.of(
                    "S971",
                    f"{self.what}: Redis at {self.shown} is a Redis Cluster node ({text}); "
                    "name the cluster with redis+cluster://host:port",
                )
            raise StoreError.of(
                "S912", f"{self.what}: Redis at {self.shown} answered an error: {reply}"
            )
        return reply

    def script(self, script: Script, keys, args, retry=False):
        """EVALSHA; EVAL (which loads the script) when the server does not have it (NOSCRIPT)."""
        try:
            return self.call(script.packed(keys, args))
        except NoScript:
            return self.call(script.eval_packed(keys, args))

    def replicas(self, n: int, seconds: float) -> int:
        """WAIT: how many replicas have every write this connection made, waiting at most
        `seconds` for `n` of them."""
        return self.call(pack("WAIT", n, max(int(seconds * 1000), 1)))

    def bind(self, key: str) -> None:
        """The key whose slot this connection serves: nothing to do on one server."""

    def reconnect(self):
        """One attempt to connect again (degraded routing tries every `retry` seconds)."""
        self.connect()

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class NoScript(Exception):
    """The server does not have a script (it restarted): load it and call again."""


class Redirect(Exception):
    """A cluster node did not run the command: MOVED/ASK (`.kind`, `.host`, `.port`: the
    node to ask) or TRYAGAIN/CLUSTERDOWN (`.kind`: wait and send it again)."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text
        self.kind = text.split(" ", 1)[0]
        self.host, self.port = "", 0
        if self.kind in ("MOVED", "ASK"):
            addr = text.split(" ")[2] if text.count(" ") >= 2 else ""
            host, _, port = addr.rpartition(":")
            self.host, self.port = host, int(port) if port.isdigit() else 0
