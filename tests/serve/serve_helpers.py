"""A real `rulec serve` process for tests and benchmarks: started on 127.0.0.1 with --port 0
(the port is bound before it is written to --port-file), spoken to over HTTP, stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import rulec

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "rules", "shop-double12.rules")
SHOP = "山野茶铺"
AGENTS = ["小美", "婷婷", "小雅", "阿杰", "小林", "大伟", "老王", "小周"]
T0 = "2023-12-11T09:00:00+08:00"


def rules_text(shop: str = SHOP, variant: int = 0) -> str:
    """The example shop's rules, for `shop`; `variant` changes the source (so its hash) and
    not the decisions."""
    with open(RULES, encoding="utf-8") as fh:
        text = fh.read()
    text = text.replace(f"shop {SHOP}", f"shop {shop}", 1)
    return text + f"\n# variant {variant}\n"


def table_bytes(shop: str = SHOP, variant: int = 0, key: bytes | None = None):
    """(table bytes, source hash hex)."""
    res = rulec.compile_source(rules_text(shop, variant), file="shop.rules", sign_key=key)
    assert res.ok, [d.message for d in res.errors]
    return res.data, res.table.header["source_hash"]


def write_atomic(path: str, data: bytes) -> None:
    """Replace a table the way deploy tools should: a temporary file, then rename."""
    tmp = os.path.join(os.path.dirname(path), f".tmp-{os.getpid()}-{time.monotonic_ns()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def chat(buyer: str, minute: int = 1, **extra) -> dict:
    c = {"buyer": buyer, "time": f"2023-12-11T{9 + minute // 60:02d}:{minute % 60:02d}:00+08:00"}
    c.update(extra)
    return c


def online(agents=AGENTS) -> list:
    return [{"type": "agent", "time": T0, "agent": a, "status": "online"} for a in agents]


class Server:
    """`Server(table_or_dir, *args).start()`; `.post(path, doc)` -> (status, json);
    `.get(path)`; `.stop()` (SIGTERM) returns the exit code; `.stderr()`."""

    def __init__(self, target: str, *args: str, env=None):
        self.dir = tempfile.mkdtemp(prefix="rulec-serve-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.err_path = os.path.join(self.dir, "stderr")
        self.out_path = os.path.join(self.dir, "stdout")
        self.args = [
            sys.executable,
            "-m",
            "rulec",
            "serve",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            self.port_file,
            *args,
        ]
        self.env = {**os.environ, **(env or {})}
        self.proc = None
        self.port = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        with open(self.err_path, "wb") as err, open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rulec serve exited {self.proc.returncode}: {self.stderr()}")
            if self.port is None and os.path.exists(self.port_file):
                with open(self.port_file) as fh:
                    self.port = int(fh.read())
            if self.port is not None:
                try:
                    if self.get("/readyz")[0] == 200:
                        return self
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"rulec serve did not get ready: {self.stderr()}")

    def request(self, method: str, path: str, data: bytes | None = None, headers=None):
        req = urllib.request.Request(
            self.url + urllib.parse.quote(path, safe="/?=&"),
            data=data,
            method=method,
            headers=headers or {},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers

    def post(self, path: str, doc):
        data = doc if isinstance(doc, bytes) else json.dumps(doc, ensure_ascii=False).encode()
        status, body, _ = self.request("POST", path, data, {"Content-Type": "application/json"})
        return status, json.loads(body)

    def get(self, path: str):
        status, body, headers = self.request("GET", path)
        if headers.get("content-type", "").startswith("application/json"):
            return status, json.loads(body)
        return status, body.decode("utf-8")

    def stderr(self) -> str:
        with open(self.err_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def stdout(self) -> str:
        with open(self.out_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
