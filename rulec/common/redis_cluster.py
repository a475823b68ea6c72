"""A Redis Cluster connection for one shop: every key of a shop has the shop's hash tag, so
one slot, so one master serves all of a store's or ledger's calls; this talks to that master.

`redis+cluster://[user:pass@]host:port[,host:port…][/0][?options]` (`rediss+cluster://` for
TLS) names the cluster by any of its nodes. redis-py's cluster client (RedisCluster) reads
the slot map from them; calls then go, pre-packed as with one server, on a socket to the
slot's master (rulec/common/redis_conn.py's Conn), so a routing decision stays one round trip.

Redirects are followed here, not by redis-py, because only the caller knows whether a call
may be sent twice:
- MOVED (the slot moved for good): the new master is taken and the call sent there.
- ASK (the slot is being migrated and a key is already on the importing node): ASKING and
  the call on that node, once; the master stays the same until MOVED.
- TRYAGAIN (a multi-key call during a migration, keys split between the nodes) and
  CLUSTERDOWN (no master for the slot during a failover): wait and send again, up to
  `cluster_wait` seconds (S973 after that).
None of these ran the call, so sending it again is always safe. NOSCRIPT (the script is not
on the new node) is answered by EVAL with the source (Conn.script).

A connection lost mid-call is different: the call may have run. The slot map is read again
and the master found (a replica promoted after a failover) within `cluster_wait`; a call
marked `retry=True` (reads, idempotent scripts) is sent again, any other raises Lost as on
one server, and the next call goes to the new master.
"""

from __future__ import annotations

import time
from collections import Counter
from urllib.parse import unquote, urlsplit

from rulec.common.redis_conn import Conn, Lost, NoScript, Redirect, pack, parse_url
from rulec.errors import StoreError

ASKING = pack("ASKING")
MAX_HOPS = 32  # MOVED/ASK in a row for one call: more is a redirect loop (S973)


def key_slot(key: str) -> int:
    """The cluster slot of `key` (CRC16 of its hash tag), as the server computes it."""
    from redis.crc import key_slot as slot

    return slot(key.encode())


class ClusterConn:
    """The master of one slot of a Redis Cluster; `bind(key)` names the slot, then the Conn
    interface: connect, call, script, replicas (WAIT), close. See the module docstring."""

    follows_failover = True

    def __init__(self, url: str, what: str):
        self.what = what
        plain = url.replace("+cluster://", "://", 1)
        clean, self.opts, shown = parse_url(plain, what)
        self.shown = shown.replace("://", "+cluster://", 1)
        parts = urlsplit(clean)
        self.tls = parts.scheme == "rediss"
        userinfo, _, hosts = parts.netloc.rpartition("@")
        self.seeds = [_host_port(h, self.shown) for h in hosts.split(",")]
        if parts.path not in ("", "/", "/0") or parts.query:
            raise StoreError.of(
                "S970",
                f"{what} URL {self.shown!r}: a Redis Cluster has database 0 only and takes "
                "no redis-py options (only rulec's: on_error, timeout, retry, lock_ttl, "
                "prefix, wait, cluster_wait)",
            )
        self._userinfo = userinfo + "@" if userinfo else ""
        self.username, self.password = (
            None if v is None else unquote(v) for v in (parts.username, parts.password)
        )
        self.key, self.slot = "", -1  # set by bind()
        self.master: Conn | None = None
        self._last: Conn | None = None
        self._nodes: dict[tuple[str, int], Conn] = {}
        self.known = list(self.seeds)  # every node address seen: the seeds may be down
        self.seen: Counter = Counter()  # redirects, NOSCRIPT and lost connections met (stats)
        self._one_slot: set = set()  # key tuples checked to be all in self.slot

    def bind(self, key: str) -> None:
        self.key, self.slot = key, key_slot(key)

    # -- finding the slot's master ------------------------------------------------------------
    def connect(self):
        """Find the master of the slot and connect to it: S910 when no node of the cluster
        answers, S972 when none serves the slot within cluster_wait."""
        self.close()
        self._locate(time.monotonic() + self.opts["cluster_wait"], first=True)

    def reconnect(self):
        """One look at the slot map and one attempt (degraded routing tries again every
        `retry` seconds rather than wait out a failover here)."""
        self.close()
        self._locate(time.monotonic(), first=True)

    def _slot_master(self) -> tuple[str, int]:
        """(host, port) of the slot's master from the slot map (redis-py's cluster client)."""
        try:
            from redis.backoff import NoBackoff
            from redis.cluster import ClusterNode, RedisCluster
            from redis.exceptions import RedisClusterException, RedisError
            from redis.retry import Retry
        except ImportError as exc:
            raise StoreError.of(
                "S906", f"{self.what}: Redis Cluster needs redis-py ({exc})"
            ) from None
        t = self.opts["timeout"]
        try:
            rc = RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in self.known],
                username=self.username,
                password=self.password,
                ssl=self.tls,
                socket_timeout=t,
                socket_connect_timeout=t,
                require_full_coverage=False,
                retry=Retry(NoBackoff(), 0),  # _locate retries, within cluster_wait
            )
        except (RedisClusterException, RedisError, OSError) as exc:
            raise Lost(f"no node of the cluster answered ({exc})") from None
        try:
            for node in rc.get_nodes():
                if (node.host, node.port) not in self.known:
                    self.known.append((node.host, node.port))
            owners = (
                rc.nodes_manager.slots_cache.get(self.slot) if self.slot is not None else None
            ) or []
            if not owners:
                raise Lost(f"no master serves slot {self.slot}")
            return owners[0].host, owners[0].port
        finally:
            rc.close()

    def _locate(self, deadline: float, first: bool = False) -> Conn:
        pause = 0.02
        while True:
            try:
                host, port = self._slot_master()
                node = self._node(host, port)
                node.call(pack("CLUSTER", "KEYSLOT", self.key))  # answers: the node is up
                self.master = node
                return node
            except Lost as exc:
                reason = exc.reason
                if first and reason.startswith("no node of the cluster answered"):
                    raise StoreError.of(
                        "S910", f"{self.what}: cannot reach Redis Cluster {self.shown}: {reason}"
                    ) from None
            except Redirect as r:
                reason = r.text
            if time.monotonic() > deadline:
                if first:
                    raise StoreError.of(
                        "S972",
                        f"{self.what}: Redis Cluster {self.shown} has no reachable master for "
                        f"slot {self.slot} (key {self.key!r}) after "
                        f"cluster_wait={self.opts['cluster_wait']:g}s: {reason}",
                    )
                raise Lost(f"no reachable master for slot {self.slot} ({reason})")
            time.sleep(pause)
            pause = min(pause * 2, 0.25)

    def _node(self, host: str, port: int) -> Conn:
        """A connected Conn to one node (Lost when it cannot be reached)."""
        conn = self._nodes.get((host, port))
        if conn is None:
            scheme = "rediss" if self.tls else "redis"
            conn = Conn(f"{scheme}://{self._userinfo}{host}:{port}/0", self.what)
            conn.opts, conn.shown, conn.cluster_node = self.opts, f"{host}:{port}", True
            self._nodes[(host, port)] = conn
        if conn.sock is None:
            try:
                conn.connect()
            except Exception as exc:  # S910 from Conn.connect: counted as a lost node
                raise Lost(f"node {host}:{port}: {exc}") from None
        return conn

    # -- calls ------------------------------------------------------------------------------
    def call(self, packed: bytes, retry: bool = False):
        def send(node, asking):
            if asking:
                node.call(ASKING)
            return node.call(packed)

        return self._run(send, retry)

    def script(self, script, keys, args, retry: bool = False):
        if keys not in self._one_slot:  # checked once per key tuple (they are constants)
            slots = {key_slot(k) for k in keys}
            if slots != {self.slot}:
                raise StoreError.of(
                    "S976",
                    f"{self.what}: a script would touch slots {sorted(slots)} "
                    f"(keys {list(keys)!r}), not only slot {self.slot}: not sent (a rulec "
                    "defect: a shop's keys share one hash tag)",
                )
            self._one_slot.add(keys)
        packed = script.packed(keys, args)

        def send(node, asking):
            # ASKING holds for one command only: again before the EVAL that loads the script
            # on a node that lacks it (an importing node), or that node answers MOVED back
            if asking:
                node.call(ASKING)
            try:
                return node.call(packed)
            except NoScript:
                self.seen["NOSCRIPT"] += 1
                if asking:
                    node.call(ASKING)
                return node.call(script.eval_packed(keys, args))

        return self._run(send, retry)

    def _run(self, send, retry: bool):
        """Send to the slot's master, following redirects (module docstring)."""
        deadline = time.monotonic() + self.opts["cluster_wait"]
        target, asking, hops, pause = None, False, 0, 0.005  # target None: the master
        while True:
            node = None
            try:
                if target is None:
                    node = self.master or self._locate(deadline)
                else:
                    node = self._node(*target)
                    if not asking:  # MOVED: the slot's master from now on
                        self.master = node
                reply = send(node, asking)
                self._last = node
                return reply
            except Redirect as r:
                self.seen[r.kind] += 1
                hops += 1
                target, asking = None, False
                if r.kind in ("MOVED", "ASK") and hops <= MAX_HOPS:
                    target, asking = (r.host, r.port), r.kind == "ASK"
                    continue
                if time.monotonic() > deadline:
                    raise StoreError.of(
                        "S973",
                        f"{self.what}: Redis Cluster {self.shown} kept answering {r.kind} "
                        f"for slot {self.slot} past cluster_wait="
                        f"{self.opts['cluster_wait']:g}s ({r.text})",
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.1)
                if r.kind == "CLUSTERDOWN":  # a failover: the master may change
                    self.master = None
            except Lost:
                self.seen["lost"] += 1
                if node is not None:
                    node.close()
                if node is None or node is self.master:
                    self.master = None
                if not retry or time.monotonic() > deadline:
                    raise
                target, asking = None, False
                time.sleep(pause)
                pause = min(pause * 2, 0.1)

    def replicas(self, n: int, seconds: float) -> int:
        """WAIT on the node that ran the last call (its writes are the ones to confirm);
        Lost when that node is gone (the caller writes again, to the slot's new master)."""
        node = self._last or self.master
        if node is None:
            raise Lost("not connected")
        try:
            return node.call(pack("WAIT", n, max(int(seconds * 1000), 1)))
        except Lost:
            self.seen["lost"] += 1
            node.close()
            if node is self.master:
                self.master = None
            self._last = None
            raise

    def close(self):
        for conn in self._nodes.values():
            conn.close()
        self.master = self._last = None


def _host_port(text: str, shown: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise StoreError.of(
            "S970",
            f"Redis Cluster URL {shown!r}: {text!r} is not host:port "
            "(name one or more nodes: redis+cluster://h1:7000,h2:7001)",
        )
    return host, int(port)
