"""Start and stop a private redis-server on a free 127.0.0.1 port, in a temporary directory
(used by tests/redis and benchmarks/bench_redis.py; never touches a system Redis).

A port found free may be taken by another process before redis-server binds it (several test
runs share this machine), so `start` retries on another port when the bind fails, and only
counts the server as up once the process answering on the port is the one it started."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

MISSING = "redis-server is not installed (apt-get install redis-server, or `make redis`)"


def need_redis():
    """Skip the calling test, saying why, when there is no redis-server binary (imported from
    here rather than from conftest: another directory's conftest may hold that name)."""
    if shutil.which("redis-server") is None:
        import pytest

        pytest.skip(MISSING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> socket.socket:
    """A socket bound to a loopback port and not listening: connecting to its port is refused
    for as long as the socket is open, and no other process can start a server there."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


BIND_RETRIES = 20


class RedisServer:
    """`RedisServer(aof=False, save="").start()`; `.url(db)`, `.kill()` (SIGKILL), `.start()` again on
    the same port and directory (AOF replayed), `.stop()`."""

    PROBE = b"EXISTS rulec:probe"  # answered with an integer once the data is loaded
    PROBE_OK = b":"  # how the answer to PROBE starts

    def __init__(self, aof: bool = False, binary: str | None = None, save: str = ""):
        self.binary = binary or shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="rulec-redis-")
        self.port = free_port()
        self.aof = aof
        self.save = save  # RDB snapshot rule ("" = none): "3600 1" counts as persistence
        self.proc = None
        self.started = False

    def url(self, db: int = 0, query: str = "") -> str:
        return f"redis://127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def unix_url(self, db: int = 0) -> str:
        """The same server through its unix socket (in the temporary directory)."""
        return f"unix://{os.path.join(self.dir, 'redis.sock')}?db={db}"

    def start(self, timeout: float = 10.0) -> RedisServer:
        """Start the server; the first start moves to another port when this one was taken
        (a restart keeps its port: clients hold its URL)."""
        for _ in range(1 if self.started else BIND_RETRIES):
            if self._launch(timeout):
                self.started = True
                return self
            self.port = free_port()
        raise RuntimeError(f"redis-server could not bind a port: {self.log()[-2000:]}")

    def _launch(self, timeout: float) -> bool:
        """True once our redis-server answers; False when it could not bind its port."""
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.dir,
            "--save",
            self.save,
            "--daemonize",
            "no",
            "--logfile",
            os.path.join(self.dir, "redis.log"),
            "--protected-mode",
            "yes",
            "--unixsocket",
            os.path.join(self.dir, "redis.sock"),
            "--unixsocketperm",
            "700",
        ]
        args += self.extra_args()
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        log_size = len(self.log())
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                if "in use" in self.log()[log_size:]:  # "Address already in use"
                    return False
                raise RuntimeError(f"redis-server exited: {self.log()[-2000:]}")
            if self._answers():
                return True
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer in time")

    def _answers(self) -> bool:
        """Our process (by pid) answers on the port, with its data loaded (no -LOADING)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(self.PROBE + b"\r\nINFO server\r\n")
                reply = b""
                while b"process_id:" not in reply or not reply.endswith(b"\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            return False
        mine = f"process_id:{self.proc.pid}\r\n".encode() in reply
        return mine and reply.startswith(self.PROBE_OK)

    def extra_args(self) -> list:
        """More redis-server arguments (a cluster node's)."""
        return []

    def log(self) -> str:
        try:
            with open(os.path.join(self.dir, "redis.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown save; what survives is what the AOF holds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
