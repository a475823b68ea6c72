"""The ASGI application of `rulec serve` (Starlette): routes, shop choice, router calls under
the shop's lock, decision logging and metrics. docs/deploy.md describes the endpoints."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time

import anyio.to_thread
import attrs
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rulec.common.vocab import MATCHED_STEPS
from rulec.errors import InputError, RulecError, StoreError
from rulec.routing.decision_log import new_id, open_log
from rulec.routing.events import check_event
from rulec.serve import openapi
from rulec.serve.http import (
    MAX_BODY,
    HttpError,
    check_keys,
    error_response,
    json_response,
    kind_of,
    read_json,
    redact,
)
from rulec.serve.metrics import Metrics
from rulec.serve.registry import Registry

ENV = "RULEC_SERVE_CONFIG"  # how the parent hands the configuration to worker processes
INLINE_MAX = 8  # memory store: batches up to this many items run on the event loop itself


@attrs.frozen
class Config:
    """Everything a worker needs to build the app (JSON-able, see ENV)."""

    path: str
    store: str = "memory:"
    key_file: str | None = None
    seed: int = 0
    poll: float = 1.0
    decision_log: str | None = None
    salt_file: str | None = None
    sample: float = 1.0
    max_body: int = MAX_BODY
    max_batch: int = 1000

    def to_env(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_env(cls) -> Config:
        return cls(**json.loads(os.environ[ENV]))


def log(msg: str) -> None:
    sys.stderr.write(f"rulec serve: {msg}\n")
    sys.stderr.flush()


def _hold(lock, shop, fn):
    with lock:
        return fn(shop.current)


class Service:
    """The endpoints over a Registry, a Metrics and an optional DecisionLog."""

    def __init__(self, config: Config, registry: Registry, metrics: Metrics, dlog):
        self.config = config
        self.registry = registry
        self.metrics = metrics
        self.dlog = dlog
        self.ready = True

    # -- plumbing -------------------------------------------------------------------------
    async def locked(self, shop, fn, inline: bool):
        """fn(shop.current) with the shop's lock held. Memory-store work that is small runs
        on the event loop when the lock is free (no thread hop); anything else (a batch,
        a network store, a busy lock) runs in a worker thread, so the loop never waits."""
        lock = shop.lock
        if inline and shop.inline and lock.acquire(blocking=False):
            try:
                return fn(shop.current)
            finally:
                lock.release()
        return await anyio.to_thread.run_sync(_hold, lock, shop, fn)

    def shop_for(self, request, body):
        in_path = request.path_params.get("shop")
        in_body = body.get("shop") if isinstance(body, dict) else None
        if in_body is not None and not isinstance(in_body, str):
            raise HttpError.of(400, "H104", f"`shop` must be a string, got {kind_of(in_body)}")
        if in_path is not None and in_body is not None and in_path != in_body:
            raise HttpError.of(
                400, "H108", f"the path names shop {in_path!r}, the body names {in_body!r}"
            )
        name = in_path if in_path is not None else in_body
        shops = self.registry.shops
        if name is None:
            if len(shops) == 1:
                return next(iter(shops.values()))
            raise HttpError.of(
                400,
                "H103",
                f"{len(shops)} shops are served: name one (`shop` in the body or "
                "/v1/shops/{shop}/...)",
            )
        shop = shops.get(name)
        if shop is None:
            from rulec.errors import did_you_mean

            raise HttpError.of(404, "H102", f"unknown shop {name!r}", did_you_mean(name, shops))
        return shop

    def items(self, body, one: str, many: str, limit: int):
        """[body[one]] or body[many] (a list of at most `limit`): exactly one must be given."""
        if (one in body) == (many in body):
            raise HttpError.of(400, "H104", f"give `{one}` (one) or `{many}` (a list), not both")
        if one in body:
            return [body[one]], True
        items = body[many]
        if not isinstance(items, list):
            raise HttpError.of(400, "H104", f"`{many}` must be a list, got {kind_of(items)}")
        if len(items) > limit:
            raise HttpError.of(
                413, "H105", f"{len(items)} {many} in one request; at most {limit} (--max-batch)"
            )
        return items, False

    def logged(self, shop: str, table: str, decision: dict, chat=None) -> None:
        """Give the decision its id, log it and count it."""
        did = new_id()
        decision["id"] = did
        if self.dlog is not None:
            self.dlog.decision(shop, table, decision, chat, did)
        self.metrics.decision(shop, decision)

    def store_error(self, shop, exc: StoreError):
        for d in exc.diagnostics:
            self.metrics.store_errors.labels(shop.name, d.code).inc()
        return HttpError.from_rulec(503, exc)

    # -- endpoints ------------------------------------------------------------------------
    async def route(self, request):
        body = await read_json(request, self.config.max_body)
        check_keys(body, ("shop", "chat", "chats", "trace"), "the request body")
        shop = self.shop_for(request, body)
        trace = body.get("trace", False)
        if not isinstance(trace, bool):
            raise HttpError.of(400, "H104", f"`trace` must be true or false, got {kind_of(trace)}")
        chats, single = self.items(body, "chat", "chats", self.config.max_batch)
        events = [_chat_event(c, None if single else f"chats[{i}]") for i, c in enumerate(chats)]
        # a logged decision always carries its trace; a buyer --sample leaves out needs none
        dlog = self.dlog
        want = [trace or (dlog is not None and dlog.keeps(ev["buyer"])) for ev in events]

        def run(cur):
            router = cur.router
            many = getattr(router, "route_many", None)  # the batch API, where the router has it
            if many is not None and len(events) > 1:
                return cur.source_hash, many(events, trace=any(want))
            return cur.source_hash, [router.route(ev, w) for ev, w in zip(events, want)]

        try:
            table, decisions = await self.locked(shop, run, len(events) <= INLINE_MAX)
        except StoreError as exc:
            raise self.store_error(shop, exc) from None
        except InputError as exc:
            raise HttpError.from_rulec(400, exc) from None
        out = []
        for ev, d in zip(events, decisions):
            self.logged(shop.name, table, d, ev)
            out.append(
                d if trace or "trace" not in d else {k: v for k, v in d.items() if k != "trace"}
            )
        doc = {"shop": shop.name, "table": table}
        if single:
            doc["decision"] = out[0]
        else:
            doc["decisions"] = out
        return json_response(doc)

    async def explain(self, request):
        body = await read_json(request, self.config.max_body)
        check_keys(body, ("shop", "chat"), "the request body")
        shop = self.shop_for(request, body)
        if "chat" not in body:
            raise HttpError.of(400, "H104", "the request body lacks `chat`")
        ev = _chat_event(body["chat"], None)

        def snapshot(cur):
            return cur, cur.router.store.snapshot(ev["buyer"])

        try:
            cur, (contact, status, pending, conv) = await self.locked(shop, snapshot, True)
            decision = _dry_run(cur, ev, contact, status, pending, conv, self.config.seed)
        except StoreError as exc:
            raise self.store_error(shop, exc) from None
        from rulec.cli.explain_cmd import losers, render_text

        extra = losers(cur.table, ev) if decision["step"] in MATCHED_STEPS else []
        decision["id"] = new_id()
        return json_response(
            {
                "shop": shop.name,
                "table": cur.source_hash,
                "decision": decision,
                "text": render_text(decision, extra),
            }
        )

    async def events(self, request):
        body = await read_json(request, self.config.max_body)
        check_keys(body, ("shop", "event", "events"), "the request body")
        shop = self.shop_for(request, body)
        events, single = self.items(body, "event", "events", self.config.max_batch)
        for i, ev in enumerate(events):
            where = "event" if single else f"events[{i}]"
            if not isinstance(ev, dict):
                raise HttpError.of(
                    400, "E801", f"{where}: must be a JSON object, got {kind_of(ev)}"
                )
            if ev.get("type") == "chat":
                raise HttpError.of(400, "E802", f"{where}: chats go to /v1/route, not /v1/events")
        want = self.dlog is not None

        def run(cur):
            for i, ev in enumerate(events):  # all checked before any is applied
                try:
                    check_event(ev, cur.agents)
                except InputError as exc:
                    raise HttpError.from_rulec(
                        400, exc, "event" if single else f"events[{i}]"
                    ) from None
            return cur.source_hash, [cur.router.feed(ev, want) for ev in events]

        try:
            table, drained = await self.locked(shop, run, len(events) <= INLINE_MAX)
        except StoreError as exc:
            raise self.store_error(shop, exc) from None
        out = []
        for ev, ds in zip(events, drained):
            if self.dlog is not None:
                self.dlog.event(shop.name, table, ev)
            for d in ds:
                self.logged(shop.name, table, d)
                out.append({k: v for k, v in d.items() if k != "trace"})
        return json_response(
            {"shop": shop.name, "table": table, "applied": len(events), "decisions": out}
        )

    async def tables(self, request):
        rows = []
        for shop in self.registry.shops.values():
            row = shop.current.describe()
            row["reloads"] = shop.reloads
            row["last_refusal"] = shop.refusal
            row["store"] = redact(shop.store.url or self.config.store)
            rows.append(row)
        return json_response({"tables": rows})

    async def healthz(self, request):
        return json_response({"status": "ok"})

    async def readyz(self, request):
        if not self.ready or not self.registry.shops:
            raise HttpError.of(503, "H120", "not ready (starting or shutting down)")
        degraded = [s.name for s in self.registry.shops.values() if s.store.degraded]
        return json_response(
            {"status": "ready", "shops": sorted(self.registry.shops), "degraded": degraded}
        )

    async def metrics_text(self, request):
        return Response(self.metrics.render(), 200, media_type=self.metrics.content_type)

    async def openapi_json(self, request):
        return json_response(openapi.document(self.registry.shops))


def _chat_event(chat, where):
    """The chat as a checked chat event (`type` added); E8xx errors name the item."""
    if isinstance(chat, dict) and "type" not in chat:
        chat = {"type": "chat", **chat}
    try:
        check_event(chat, {})
        if chat["type"] != "chat":
            raise HttpError.of(400, "E802", f"{where or 'chat'}: a chat event has type `chat`")
    except InputError as exc:
        raise HttpError.from_rulec(400, exc, where or "chat") from None
    return chat


def _dry_run(cur, ev, contact, status, pending, conv, seed):
    """The decision for `ev` on a private memory copy of the shop's agents and this buyer's
    contact: explain never changes the served state."""
    from rulec.routing.router import Router
    from rulec.routing.stores.base import STATUS_NAMES

    agents = {
        i: {"status": STATUS_NAMES[status[i]], "pending": pending[i], "conversion": conv[i]}
        for i in range(len(cur.agents))
    }
    contacts = {ev["buyer"]: contact} if contact is not None else {}
    router = Router(cur.table, store="memory:", seed=seed)
    router.apply_state({"agents": agents, "contacts": contacts})
    return router.route(ev, trace=True)


ENDPOINTS = (
    ("/v1/route", "route", "POST"),
    ("/v1/shops/{shop}/route", "route", "POST"),
    ("/v1/explain", "explain", "POST"),
    ("/v1/shops/{shop}/explain", "explain", "POST"),
    ("/v1/events", "events", "POST"),
    ("/v1/shops/{shop}/events", "events", "POST"),
    ("/v1/tables", "tables", "GET"),
    ("/healthz", "healthz", "GET"),
    ("/readyz", "readyz", "GET"),
    ("/metrics", "metrics_text", "GET"),
    ("/openapi.json", "openapi_json", "GET"),
)


class _Endpoint:
    """One handler as a plain ASGI app (Starlette's Route then calls it without its
    request/response wrapper: less work per request), with its latency measured and every
    failure turned into a JSON error."""

    def __init__(self, service, name):
        self.handler = getattr(service, name)
        self.metrics = service.metrics
        self.label = name
        self.observe = service.metrics.latency.labels(name).observe

    async def __call__(self, scope, receive, send):
        t0 = time.perf_counter()
        request = Request(scope, receive)
        try:
            response = await self.handler(request)
        except HttpError as exc:
            response = _failed(self.metrics, self.label, exc)
        except RulecError as exc:
            response = _failed(self.metrics, self.label, HttpError.from_rulec(400, exc))
        except Exception as exc:  # a bug: say so in the log, not in the response
            import traceback

            log(f"internal error on {request.url.path}: {exc!r}\n{traceback.format_exc()}")
            err = HttpError.of(500, "H199", "internal error")
            response = _failed(self.metrics, self.label, err)
        self.observe(time.perf_counter() - t0)
        await response(scope, receive, send)


def _failed(metrics, label, exc: HttpError):
    for d in exc.diagnostics[:1]:
        metrics.errors.labels(label, d.code).inc()
    return error_response(exc)


async def _http_error(request, exc):
    if exc.status_code == 405:
        err = HttpError.of(405, "H107", f"{request.method} is not allowed on {request.url.path}")
    elif exc.status_code == 404:
        err = HttpError.of(404, "H106", f"no endpoint {request.url.path} (see /openapi.json)")
    else:
        err = HttpError.of(exc.status_code, "H199", str(exc.detail))
    return error_response(err)


def open_config_log(config: Config, metrics=None):
    """The decision log `config` asks for, or None; RulecError (H113, H114) when unusable."""
    if not config.decision_log:
        return None
    dlog = open_log(config.decision_log, config.salt_file, config.sample, "serve")
    if metrics is not None:
        dlog.on_drop = metrics.log_dropped.inc
    return dlog


def create_app(config: Config, registry: Registry | None = None) -> Starlette:
    """The app over `config`'s tables (loaded now: RulecError when they cannot be)."""
    metrics = Metrics()
    if registry is None:
        key = None
        if config.key_file:
            with open(config.key_file, "rb") as fh:
                key = fh.read(1 << 20).strip()
        registry = Registry(
            config.path, config.store, key=key, seed=config.seed, poll=config.poll, log=log
        )
        registry.load_all()
    registry.log = log

    def reloaded(name, result):
        metrics.reloads.labels(name, result).inc()
        if result == "loaded":
            metrics.loaded_at.labels(name).set(registry.shops[name].current.loaded_at)

    registry.on_reload = reloaded
    for shop in registry.shops.values():
        metrics.loaded_at.labels(shop.name).set(shop.current.loaded_at)
    service = Service(config, registry, metrics, open_config_log(config, metrics))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        registry.watch()
        previous = None
        with contextlib.suppress(ValueError):  # not the main thread (tests): no SIGHUP
            previous = signal.signal(signal.SIGHUP, lambda *_: registry.wake())
        try:
            yield
        finally:
            service.ready = False
            if previous is not None:
                signal.signal(signal.SIGHUP, previous)
            registry.close()
            if service.dlog is not None:
                service.dlog.close()

    routes = [
        Route(path, _Endpoint(service, name), methods=[method]) for path, name, method in ENDPOINTS
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.service = service
    return app


def app_from_env() -> Starlette:
    """uvicorn factory for worker processes (`--workers` > 1): the config comes from ENV."""
    return create_app(Config.from_env())
