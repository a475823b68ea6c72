"""Start and stop a private redis-server on a free 127.0.0.1 port, in a temporary directory
(used by tests/redis and benchmarks/bench_redis.py; never touches a system Redis)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """`RedisServer(aof=False, save="").start()`; `.url(db)`, `.kill()` (SIGKILL), `.start()` again on
    the same port and directory (AOF replayed), `.stop()`."""

    def __init__(self, aof: bool = False, binary: str | None = None, save: str = ""):
        self.binary = binary or shutil.which("redis-server")
        if self.binary is None:
            raise FileNotFoundError("redis-server is not installed (apt-get install redis-server)")
        self.dir = tempfile.mkdtemp(prefix="rulec-redis-")
        self.port = free_port()
        self.aof = aof
        self.save = save  # RDB snapshot rule ("" = none): "3600 1" counts as persistence
        self.proc = None

    def url(self, db: int = 0, query: str = "") -> str:
        return f"redis://127.0.0.1:{self.port}/{db}" + (f"?{query}" if query else "")

    def unix_url(self, db: int = 0) -> str:
        """The same server through its unix socket (in the temporary directory)."""
        return f"unix://{os.path.join(self.dir, 'redis.sock')}?db={db}"

    def start(self, timeout: float = 10.0) -> RedisServer:
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
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"EXISTS rulec:probe\r\n")  # answers -LOADING while the AOF loads
                    if s.recv(64).startswith(b":"):
                        return self
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer in time")

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
