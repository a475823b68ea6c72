"""A private Redis Cluster on 127.0.0.1: three masters with one replica each (six
redis-server processes with `--cluster-enabled yes`), joined by `redis-cli --cluster create`,
in a temporary directory (used by tests/redis/test_redis_cluster*.py and
benchmarks/bench_redis.py; never touches a system Redis).

Each node needs its port and the cluster bus port (port + 10000) free; ports found free may be
taken before a node binds them (several runs share this machine), so a node that cannot bind
is moved to other ports and started again before the cluster is created."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from redis_server import BIND_RETRIES, RedisServer

NODE_TIMEOUT_MS = 1500  # a master unreachable this long is failed over (kept short for tests)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A port whose cluster bus port (+10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 < 65536 and _free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class ClusterNode(RedisServer):
    """One node: a RedisServer with cluster mode on (nodes.conf in its own directory)."""

    PROBE = b"DBSIZE"  # no key: a node serving no slot yet answers it

    def __init__(self, root: str, password: str | None = None):
        super().__init__(save="3600 1")  # RDB configured: ledgers accept it (O14)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = tempfile.mkdtemp(prefix="node-", dir=root)
        self.port = cluster_port()
        self.password = password
        if password:
            self.PROBE, self.PROBE_OK = b"AUTH " + password.encode() + b"\r\nDBSIZE", b"+OK\r\n:"

    def extra_args(self) -> list:
        auth = ["--requirepass", self.password, "--masterauth", self.password]
        return (auth if self.password else []) + [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            os.path.join(self.dir, "nodes.conf"),
            "--cluster-node-timeout",
            str(NODE_TIMEOUT_MS),
            "--cluster-require-full-coverage",
            "no",
        ]

    def start(self, timeout: float = 10.0) -> ClusterNode:
        for _ in range(1 if self.started else BIND_RETRIES):
            if self._launch(timeout):
                self.started = True
                return self
            self.port = cluster_port()
        raise RuntimeError(f"cluster node could not bind a port: {self.log()[-2000:]}")

    def pause(self) -> None:
        """SIGSTOP: the node keeps its sockets but answers nothing (a stalled replica)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def info(self, section: str) -> dict:
        import redis

        return redis.Redis(port=self.port, password=self.password, socket_timeout=2).info(section)


class RedisCluster:
    """`RedisCluster(password=None).start()`: six nodes, three masters with a replica each,
    every slot served (with `password`: requirepass and masterauth on every node). `.url(query)` is a `redis+cluster://` URL naming all nodes; `.master_of(key)`,
    `.replica_of(node)`, `.wait_ok()`; `.cleanup()` stops every node and removes the files."""

    def __init__(self, masters: int = 3, replicas: int = 1, password: str | None = None):
        self.root = tempfile.mkdtemp(prefix="rulec-cluster-")
        self.nodes = [ClusterNode(self.root, password) for _ in range(masters * (1 + replicas))]
        self.replicas = replicas
        self.password = password

    def start(self, timeout: float = 60.0) -> RedisCluster:
        try:
            for node in self.nodes:
                node.start()
            create = subprocess.run(
                [shutil.which("redis-cli") or "redis-cli", "--no-auth-warning"]
                + (["-a", self.password] if self.password else [])
                + ["--cluster", "create"]
                + [f"127.0.0.1:{n.port}" for n in self.nodes]
                + ["--cluster-replicas", str(self.replicas), "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {create.stdout[-2000:]}")
            self.wait_ok(timeout)
        except BaseException:
            self.cleanup()
            raise
        return self

    def url(self, query: str = "") -> str:
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}{hosts}" + (f"?{query}" if query else "")

    def client(self, node):
        import redis

        return redis.Redis(
            port=node.port, password=self.password, decode_responses=True, socket_timeout=5
        )

    def alive(self) -> list:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Until every live node says cluster_state:ok, every slot is served, the nodes agree
        on who serves them, and every master has its replicas streaming."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                last = self._why_not_ok()
            except Exception as exc:  # a node still starting or syncing
                last = repr(exc)
            if not last:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster did not settle in {timeout:g}s: {last}")

    def _why_not_ok(self) -> str:
        views = set()
        for node in self.alive():
            c = self.client(node)
            info = c.execute_command("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or "cluster_slots_assigned:16384" not in info:
                return f"node {node.port}: {info.splitlines()[0]}"
            slots = c.execute_command("CLUSTER", "SLOTS")
            views.add(tuple(sorted((s[0], s[1], s[2][1]) for s in slots)))
            for s in slots:
                if len(s) - 3 < self.replicas:
                    return f"node {node.port}: slots {s[0]}-{s[1]} have no replica yet"
        if len(views) != 1:
            return "the nodes disagree on the slot map"
        for master in self.masters():
            repl = master.info("replication")
            online = [v for k, v in repl.items() if k.startswith("slave") and isinstance(v, dict)]
            if sum(1 for v in online if v.get("state") == "online") < self.replicas:
                return f"master {master.port}: replicas not streaming yet"
        return ""

    def by_port(self, port: int) -> ClusterNode:
        return next(n for n in self.nodes if n.port == port)

    def masters(self) -> list:
        out = []
        for node in self.alive():
            if self.client(node).info("replication").get("role") == "master":
                out.append(node)
        return out

    def master_of(self, key: str) -> ClusterNode:
        return self.master_of_slot(
            self.client(self.alive()[0]).execute_command("CLUSTER", "KEYSLOT", key)
        )

    def master_of_slot(self, slot: int) -> ClusterNode:
        for s in self.client(self.alive()[0]).execute_command("CLUSTER", "SLOTS"):
            if s[0] <= slot <= s[1]:
                return self.by_port(int(s[2][1]))
        raise LookupError(slot)

    def replica_of(self, master: ClusterNode) -> ClusterNode:
        repl = master.info("replication")
        for k, v in repl.items():
            if k.startswith("slave") and isinstance(v, dict):
                return self.by_port(int(v["port"]))
        raise LookupError(f"master {master.port} has no replica")

    # -- moving a slot by hand (what `redis-cli --cluster reshard` does, step by step) --------
    def node_id(self, node: ClusterNode) -> str:
        return self.client(node).execute_command("CLUSTER", "MYID")

    def begin_migration(self, slot: int, src: ClusterNode, dst: ClusterNode) -> None:
        """IMPORTING on the target, MIGRATING on the source: from now on the source answers
        ASK for keys it no longer has, TRYAGAIN when a call's keys are split."""
        self.client(dst).execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(src))
        self.client(src).execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", self.node_id(dst))

    def migrate_keys(self, slot: int, src: ClusterNode, dst: ClusterNode, keys=None) -> int:
        """MIGRATE `keys` (default: every key left in the slot) from src to dst."""
        c = self.client(src)
        if keys is None:
            keys = c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100000)
        if keys:
            auth = ["AUTH", self.password] if self.password else []
            c.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 10000, *auth, "KEYS", *keys)
        return len(keys)

    def end_migration(self, slot: int, dst: ClusterNode) -> None:
        """The slot is the target's: told to the target first, then every other master."""
        owner = self.node_id(dst)
        for node in [dst] + [m for m in self.masters() if m is not dst]:
            self.client(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner)

    def cleanup(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.resume()  # a paused node would not stop on SIGTERM
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)
