"""A small LSP client for the tests: starts the real `rulec lsp` process and speaks JSON-RPC over
its stdin/stdout, with bounded waits."""

from __future__ import annotations

import json
import os
import pathlib
import queue
import subprocess
import sys
import threading

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 30.0


class LspClient:
    def __init__(self, *args: str):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rulec", "lsp", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        self._next = 0
        self._responses: dict = {}
        self._notes: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.notifications: list = []

    # -- wire ----------------------------------------------------------------------------
    def _send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            message = json.loads(out.read(length))
            if "id" in message and "method" in message:  # a request from the server
                self._send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            elif "id" in message:
                with self._cond:
                    self._responses[message["id"]] = message
                    self._cond.notify_all()
            else:
                self._notes.put(message)

    # -- calls ---------------------------------------------------------------------------
    def request(self, method: str, params, timeout: float = TIMEOUT):
        """The full response message (with "result" or "error")."""
        self._next += 1
        rid = self._next
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self._cond:
            if not self._cond.wait_for(lambda: rid in self._responses, timeout):
                raise TimeoutError(f"no answer to {method} in {timeout}s")
            return self._responses.pop(rid)

    def call(self, method: str, params, timeout: float = TIMEOUT):
        """The result of a request that must succeed."""
        response = self.request(method, params, timeout)
        assert "error" not in response, response["error"]
        return response["result"]

    def notify(self, method: str, params) -> None:
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_note(self, method: str, test=lambda params: True, timeout: float = TIMEOUT):
        """The params of the next notification `method` that passes `test`."""
        import time

        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} notification in {timeout}s")
            try:
                note = self._notes.get(timeout=left)
            except queue.Empty:
                continue
            self.notifications.append(note)
            if note.get("method") == method and test(note.get("params")):
                return note["params"]

    # -- the protocol's steps ------------------------------------------------------------
    def initialize(self, root: pathlib.Path, encodings=None) -> dict:
        caps = {"general": {"positionEncodings": encodings}} if encodings else {}
        result = self.call(
            "initialize",
            {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": caps},
        )
        self.notify("initialized", {})
        return result

    def open(self, uri: str, text: str, language: str = "rules", version: int = 1) -> dict:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": language,
                    "version": version,
                    "text": text,
                }
            },
        )
        return self.diagnostics(uri, version)

    def diagnostics(self, uri: str, version: int | None = None) -> dict:
        def test(p):
            return p["uri"] == uri and (version is None or p.get("version") == version)

        return self.wait_note("textDocument/publishDiagnostics", test)

    def close(self) -> int:
        """shutdown, exit; the process's exit status."""
        try:
            if self.proc.poll() is None:
                self.call("shutdown", None)
                self.notify("exit", None)
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                stream.close()


def position(text: str, needle: str, offset: int = 0, nth: int = 0) -> dict:
    """The LSP position (UTF-16 units) of the `nth` `needle` in `text`, plus `offset` chars."""
    at = -1
    for _ in range(nth + 1):
        at = text.index(needle, at + 1)
    at += offset
    line = text.count("\n", 0, at)
    start = text.rfind("\n", 0, at) + 1
    return {"line": line, "character": len(text[start:at].encode("utf-16-le")) // 2}
