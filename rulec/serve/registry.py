"""The tables `rulec serve` serves: one per shop from a file or a directory of `*.rtbl`,
verified on load, hot-reloaded (file poll or SIGHUP) and swapped atomically per shop."""

from __future__ import annotations

import hashlib
import os
import threading
import time

import attrs

from rulec.errors import RulecError, TableError, diag
from rulec.routing.router import Router
from rulec.routing.stores import open_store
from rulec.table.format import MAX_BODY, Table

SUFFIX = ".rtbl"


@attrs.frozen
class Loaded:
    """One table as served: the router built on it and where it came from. Immutable: a
    reload makes a new one and swaps the shop's reference under the shop's lock."""

    table: Table
    router: Router
    path: str
    source_hash: str
    file_sha256: str
    signature: str | None
    loaded_at: float
    agents: dict  # agent id -> index (event validation)

    def describe(self) -> dict:
        h = self.table.header
        return {
            "shop": self.table.shop,
            "path": self.path,
            "source_hash": self.source_hash,
            "file_sha256": self.file_sha256,
            "signed": self.signature is not None,
            "signature": self.signature,
            "compiler_version": h.get("compiler_version"),
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.loaded_at)),
            "agents": len(self.table.agents),
            "groups": len(self.table.groups),
        }


class Shop:
    """A shop's live table. `lock` serialises every use of `current.router` (a Router is not
    thread-safe) and the swap; the store outlives tables, so state carries over reloads."""

    def __init__(self, name: str, store, current: Loaded, stamp):
        self.name = name
        self.store = store
        self.current = current
        self.lock = threading.Lock()
        self.stamp = stamp  # (dev, inode, size, mtime_ns) of the file last tried
        self.reloads = 0
        self.refusal: dict | None = None  # the last refused reload, for GET /v1/tables
        self.inline = store.url == "memory:"  # in-process state: cheap enough for the loop


def _stamp(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_table(path: str, key: bytes | None, seed, store) -> Loaded:
    """Read, verify (checksum; signature when `key`) and build the router for one file.
    The bytes are read once, so the hashes describe exactly the table loaded."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BODY + 1024)
    except OSError as exc:
        raise TableError.of("B700", f"{path}: cannot read table: {exc.strerror or exc}") from None
    table = Table.from_bytes(data, path, key, require_signature=key is not None)
    table.matcher  # noqa: B018 -- build the matcher now, not on the first request
    router = Router(table, store=store, seed=seed) if store is not None else None
    return _loaded(table, router, path, data)


def _loaded(table, router, path, data) -> Loaded:
    signed = table.header.get("signed")
    return Loaded(
        table=table,
        router=router,
        path=path,
        source_hash=table.header["source_hash"],
        file_sha256=hashlib.sha256(data).hexdigest(),
        signature=data[-32:].hex() if signed else None,
        loaded_at=time.time(),
        agents={a["id"]: i for i, a in enumerate(table.agents)},
    )


class Registry:
    """Shops by name. `check(force)` looks for changed files and reloads them; `watch()`
    runs it every `poll` seconds (and at once on `wake()`, i.e. SIGHUP) in a thread."""

    def __init__(self, path, store_url="memory:", key=None, seed=0, poll=1.0, log=None):
        self.path = os.path.abspath(path)
        self.is_dir = os.path.isdir(self.path)
        self.store_url = store_url
        self.key = key
        self.seed = seed
        self.poll = poll
        self.log = log or (lambda msg: None)
        self.on_reload = None  # callback(shop name, "loaded" | "refused")
        self.shops: dict[str, Shop] = {}
        self.by_path: dict[str, str] = {}  # file -> shop it serves
        self._tried: dict[str, tuple] = {}  # file -> stamp of a refused or ignored version
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._check_lock = threading.Lock()

    # -- start --------------------------------------------------------------------------
    def files(self) -> list[str]:
        if not self.is_dir:
            return [self.path]
        try:
            names = sorted(os.listdir(self.path))
        except OSError as exc:
            raise TableError.of(
                "B700", f"{self.path}: cannot list: {exc.strerror or exc}"
            ) from None
        # dot-files are half-written temporaries (rulec compile -o writes .rulec-* then renames)
        return [
            os.path.join(self.path, n)
            for n in names
            if n.endswith(SUFFIX) and not n.startswith(".")
        ]

    def load_all(self) -> None:
        """Load every table; RulecError (nothing served) when one is bad or none is found."""
        files = self.files()
        if not files:
            raise RulecError.of("H110", f"{self.path}: no table files (*{SUFFIX}) to serve")
        diags = []
        for path in files:
            try:
                self._add(path, _stamp(path))
            except RulecError as exc:
                diags += exc.diagnostics
            except OSError as exc:
                diags.append(diag("B700", f"{path}: {exc.strerror or exc}"))
        if diags:
            self.close()
            raise RulecError(diags)

    def _add(self, path, stamp) -> Shop:
        loaded = read_table(path, self.key, self.seed, None)
        name = loaded.table.shop
        if name in self.shops:
            raise RulecError.of(
                "H111",
                f"{path}: shop {name!r} is already served from {self.shops[name].current.path}",
            )
        store = open_store(self.store_url, name)
        try:
            loaded = attrs.evolve(loaded, router=Router(loaded.table, store=store, seed=self.seed))
        except BaseException:
            store.close()
            raise
        shop = Shop(name, store, loaded, stamp)
        self.shops[name] = shop
        self.by_path[path] = name
        return shop

    # -- reload -------------------------------------------------------------------------
    def check(self, force: bool = False) -> None:
        """Reload every table file whose stamp changed (all of them when `force`), and load
        new files of a directory. Never raises: refusals are logged and counted."""
        with self._check_lock:
            try:
                files = self.files()
            except RulecError as exc:
                self.log(f"reload: {exc.diagnostics[0].message}")
                return
            for path in files:
                try:
                    stamp = _stamp(path)
                except OSError:
                    continue  # removed or being replaced: the loaded table keeps serving
                name = self.by_path.get(path)
                if name is None:
                    if self._tried.get(path) != stamp or force:
                        self._new_file(path, stamp)
                    continue
                shop = self.shops[name]
                if force or (stamp != shop.stamp and self._tried.get(path) != stamp):
                    self.reload(shop, path, stamp)

    def _new_file(self, path, stamp) -> None:
        try:
            shop = self._add(path, stamp)
        except RulecError as exc:
            self._tried[path] = stamp
            self._refused(os.path.basename(path), path, exc)
            return
        self.log(f"loaded {path}: shop {shop.name}, table {shop.current.source_hash[:12]}")
        if self.on_reload:
            self.on_reload(shop.name, "loaded")

    def reload(self, shop: Shop, path: str, stamp) -> bool:
        """Load `path` for `shop` and swap it in; False (old table kept) when it is refused."""
        try:
            fresh = read_table(path, self.key, self.seed, None)
            if fresh.table.shop != shop.name:
                raise RulecError.of(
                    "H112",
                    f"{path}: table is for shop {fresh.table.shop!r}, this file served "
                    f"{shop.name!r}",
                )
            # Verified and matcher built outside the lock; only the router (which binds the
            # shared store to the new agents) is made under it, then the reference swapped.
            with shop.lock:
                router = Router(fresh.table, store=shop.store, seed=self.seed)
                shop.current = attrs.evolve(fresh, router=router)
        except RulecError as exc:
            self._tried[path] = stamp
            self._refused(shop.name, path, exc, shop)
            return False
        shop.stamp = stamp
        shop.reloads += 1
        shop.refusal = None
        self._tried.pop(path, None)
        self.log(f"reloaded {path}: shop {shop.name}, table {shop.current.source_hash[:12]}")
        if self.on_reload:
            self.on_reload(shop.name, "loaded")
        return True

    def _refused(self, name, path, exc, shop=None) -> None:
        d = exc.diagnostics[0] if exc.diagnostics else diag("B700", str(exc))
        msg = d.message if d.message.startswith(path) else f"{path}: {d.message}"
        self.log(f"refused {msg} [{d.code}]; the loaded table keeps serving")
        if shop is not None:
            shop.refusal = {
                "code": d.code,
                "message": msg,
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        if self.on_reload:
            self.on_reload(name, "refused")

    # -- the watcher thread ---------------------------------------------------------------
    def wake(self) -> None:
        """Reload now, whatever the stamps say (SIGHUP)."""
        self._force = True
        self._wake.set()

    def watch(self) -> None:
        self._force = False
        self._thread = threading.Thread(target=self._watch, name="rulec-table-watch", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll if self.poll > 0 else None)
            if self._stop.is_set():
                return
            force, self._force = self._force, False
            self._wake.clear()
            if force or self.poll > 0:
                self.check(force)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        for shop in self.shops.values():
            with shop.lock:
                shop.store.close()
