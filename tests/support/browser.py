"""Open a page in Debian's headless Chromium, take a screenshot and collect console errors.

Talks the Chrome DevTools Protocol over `--remote-debugging-pipe` (fds 3 and 4, messages
separated by NUL bytes), so no port is opened and no driver or client library is needed.
Every wait is bounded. Used by every test of an HTML page or report (one harness, one place).
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
from base64 import b64decode

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Skipped with a reason where no browser can be had; in CI a missing browser is a failure.
needs_browser = pytest.mark.skipif(
    CHROMIUM is None and os.environ.get("CI") != "true",
    reason="chromium is not installed (make browser installs it)",
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--remote-debugging-pipe",
]


class PageResult:
    """What a page did: `png` (screenshot bytes), `errors` (console errors, exceptions and
    failed loads, as strings) and `title`."""

    def __init__(self, png: bytes, errors: list[str], title: str):
        self.png, self.errors, self.title = png, errors, title

    def save(self, path) -> pathlib.Path:
        path = pathlib.Path(path)
        path.write_bytes(self.png)
        return path

    def ink(self) -> float:
        """Share of pixels that differ from the page's most common colour (0: blank)."""
        import io

        from PIL import Image

        img = Image.open(io.BytesIO(self.png)).convert("RGB")
        colours = img.getcolors(maxcolors=1 << 24) or []
        total = img.width * img.height
        top = max(colours)[0] if colours else total
        return 1.0 - top / total

    def distinct_colours(self) -> int:
        import io

        from PIL import Image

        img = Image.open(io.BytesIO(self.png)).convert("RGB")
        return len(img.getcolors(maxcolors=1 << 24) or [])


class _Pipe:
    def __init__(self, proc, wfd, rfd):
        self.proc, self.w, self.r = proc, wfd, rfd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_one(self, deadline):
        import select

        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\0")
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=20.0):
        want = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_one(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name, timeout=20.0):
        deadline = time.monotonic() + timeout
        for i, ev in enumerate(self.events):
            if ev.get("method") == name:
                return self.events.pop(i)
        while True:
            msg = self._read_one(deadline)
            if msg.get("method") == name:
                return msg
            self.events.append(msg)


def _errors(events) -> list[str]:
    out = []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(
                "exception: " + str(d.get("exception", {}).get("description") or d.get("text"))
            )
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(
                "console: "
                + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
            )
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"log: {e.get('text')} {e.get('url', '')}".strip())
        elif m == "Network.loadingFailed":
            out.append(f"load failed: {p.get('errorText')}")
    return out


def open_page(
    target: str | os.PathLike, width: int = 1280, height: int = 2000, settle: float = 0.3
) -> PageResult:
    """Load `target` (a file path or an http URL) in headless Chromium and return what it did."""
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    url = str(target)
    if "://" not in url:
        url = pathlib.Path(url).resolve().as_uri()
    profile = tempfile.mkdtemp(prefix="rulec-chromium-")
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    # Chromium reads commands from fd 3 and writes replies to fd 4.
    os.dup2(to_child_r, 103)
    os.dup2(from_child_w, 104)
    env = dict(os.environ, HOME=profile)
    proc = subprocess.Popen(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        pass_fds=(3, 4, 103, 104),  # 3 and 4 are set by preexec_fn, which runs before fds close
        preexec_fn=lambda: (os.dup2(103, 3), os.dup2(104, 4)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    for fd in (103, 104, to_child_r, from_child_w):
        os.close(fd)
    pipe = _Pipe(proc, to_child_w, from_child_r)
    try:
        target_id = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{domain}.enable", session=session)
        pipe.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.call("Page.navigate", {"url": url}, session=session)
        pipe.wait_event("Page.loadEventFired")
        time.sleep(settle)  # let scripts that run after load report their errors
        title = pipe.call(
            "Runtime.evaluate",
            {"expression": "document.title", "returnByValue": True},
            session=session,
        )["result"].get("value", "")
        shot = pipe.call(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True},
            session=session,
        )
        return PageResult(b64decode(shot["data"]), _errors(pipe.events), title)
    finally:
        try:
            pipe.send("Browser.close")
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
            proc.wait(timeout=10)
        os.close(to_child_w)
        os.close(from_child_r)
        shutil.rmtree(profile, ignore_errors=True)
