"""`rulec serve` over HTTP: requests/s and p50/p99 latency for single and batch routes, with one
worker and two, on the memory and the Redis store (issue 14 target: >= 5,000 single routes/s
per worker with p99 under 5 ms on the memory store).

Run:  .venv/bin/python -m benchmarks.bench_serve [--seconds 5] [--conns 8] [--batch 32]
Starts its own servers (and a redis-server) on 127.0.0.1 free ports. The shop is
bench_router's (64 groups, 256 agents, all online, high busy threshold); every request routes
fresh buyers. The load generator is one separate process: asyncio (uvloop) with `--conns`
keep-alive connections (and 1, for latency without queueing), each sending its next request
when the last answer arrived (closed loop), request bodies built before the clock starts;
bounded by time and count. Server CPU per request (all workers, from /proc) is the steadier
figure on a shared machine: 1e6 / it is what one fully available core would serve. The baseline
in the same run is Router.route called in-process on the same table (the HTTP layer's cost
is the ratio). Figures: benchmarks/RESULTS-serve.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time

from benchmarks.bench_redis import table as bench_table
from benchmarks.bench_router import chats

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "serve"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "redis"))
from redis_server import RedisServer
from serve_helpers import Server

MAX_REQUESTS = 2_000_000  # the load generator's hard bound, whatever --seconds says


def _request(path: str, doc) -> bytes:
    body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii")
    return head + body


async def _conn(port, reqs, stop_at, warm_until, lat, counts):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    perf = time.perf_counter
    while True:
        now = perf()
        if now >= stop_at or counts[0] >= MAX_REQUESTS:
            break
        writer.write(reqs[i % len(reqs)])
        i += 1
        head = await reader.readuntil(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                n = int(line[15:])
        body = await reader.readexactly(n)
        done = perf()
        if not head.startswith(b"HTTP/1.1 200"):
            counts[1] += 1
            if counts[1] == 1:
                print("error response:", head[:40], body[:200], file=sys.stderr)
        if now >= warm_until:
            lat.append(done - now)
            counts[0] += 1
    writer.close()


def _load(port, reqs, conns, seconds, warm, out):
    """The load generator process: `conns` closed-loop connections for warm + seconds."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main():
        t0 = time.perf_counter()
        lat, counts = [], [0, 0]
        tasks = [
            _conn(port, reqs[k::conns], t0 + warm + seconds, t0 + warm, lat, counts)
            for k in range(conns)
        ]
        await asyncio.gather(*tasks)
        return lat, counts

    lat, counts = asyncio.run(main())
    lat.sort()
    out.put(
        {
            "requests": counts[0],
            "errors": counts[1],
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else None,
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else None,
            "seconds": seconds,
        }
    )


def cpu_seconds(pid) -> float:
    """User + system CPU of a process and its children (the workers), from /proc."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            pids += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def measure(port, reqs, conns, seconds, pid, warm=1.0):
    """Run the load generator; adds rps and the server's CPU µs per request (all workers)."""
    q = mp.Queue()
    p = mp.Process(target=_load, args=(port, reqs, conns, seconds, warm, q))
    p.start()
    time.sleep(warm)
    c0 = cpu_seconds(pid)
    res = q.get(timeout=seconds + warm + 120)
    c1 = cpu_seconds(pid)
    p.join(30)
    res["rps"] = res["requests"] / res["seconds"]
    res["cpu_us"] = (c1 - c0) / max(res["requests"], 1) * 1e6
    return res


def in_process_rate(t, n=20_000):
    """Decisions/s of Router.route called directly (memory store, fresh buyers)."""
    from rulec.routing.router import Router

    r = Router(t, seed=1)
    r.load_state({"agents": {a["id"]: {"status": "online"} for a in t.agents}})
    cs = chats("base", n=n, seed=5)
    t0 = time.perf_counter()
    for c in cs:
        r.route(c)
    return n / (time.perf_counter() - t0)


def asgi_cpu(path, online, n=10_000):
    """CPU µs per single route of the app called in-process (no sockets, no uvicorn): the
    part of a request that is rulec's and Starlette's."""
    from rulec.serve.app import Config, create_app

    app = create_app(Config(path=path))
    bodies = [json.dumps({"chat": c}).encode() for c in chats("asgi-", n=n, seed=6)]

    async def call(path, body):
        scope = {
            "type": "http", "method": "POST", "path": path, "raw_path": path.encode(),
            "root_path": "", "query_string": b"", "http_version": "1.1", "scheme": "http",
            "headers": [(b"content-length", str(len(body)).encode())], "app": app,
            "server": ("127.0.0.1", 1), "client": ("127.0.0.1", 2),
        }  # fmt: skip
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message):
            pass

        await app(scope, receive, send)

    async def run():
        async with app.router.lifespan_context(app):
            await call("/v1/events", json.dumps({"events": online}).encode())
            for b in bodies[: n // 5]:  # warm the matcher's cache
                await call("/v1/route", b)
            t0 = time.process_time()
            for b in bodies[n // 5 :]:
                await call("/v1/route", b)
            return (time.process_time() - t0) / (n - n // 5) * 1e6

    return asyncio.run(run())


def run_config(ns, path, tmp, url, workers, logged, online, base, tag):
    """Start one server, measure single and batch routes; the rows printed and returned."""
    extra = ["--decision-log", os.path.join(tmp, "log.jsonl")] if logged else []
    srv = Server(path, "--store", url, "--workers", str(workers), *extra).start()
    rows = []
    try:
        for _ in range(8 * workers):  # each worker must know the agents (memory: its own)
            srv.post("/v1/events", {"events": online})
        single = [_request("/v1/route", {"chat": c}) for c in chats(f"s{tag}-", 20_000, 3)]
        cs = chats(f"b{tag}-", n=20_000, seed=4)
        batch = [
            _request("/v1/route", {"chats": cs[i : i + ns.batch]})
            for i in range(0, len(cs), ns.batch)
        ]
        runs = (("single", single, 1, ns.conns), ("single", single, 1, 1))
        for kind, reqs, per, conns in (*runs, ("batch", batch, ns.batch, ns.conns)):
            r = measure(srv.port, reqs, conns, ns.seconds, srv.proc.pid)
            r.update(workers=workers, kind=kind, per=per, log=logged, conns=conns)
            rows.append(r)
            print(
                f"{tag:10} workers={workers} conns={conns} {kind:6} ({per:>2} chats/request): "
                f"{r['rps']:>8,.0f} req/s {r['rps'] * per:>9,.0f} decisions/s  "
                f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  "
                f"server CPU {r['cpu_us']:.0f} µs/request  errors {r['errors']}  "
                f"ratio to in-process {r['rps'] * per / base:.3f}",
                flush=True,
            )
    finally:
        srv.stop()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--stores", default="memory,redis")
    ap.add_argument("--workers", default="1,2")
    ns = ap.parse_args(argv)
    t = bench_table()
    base = in_process_rate(t)
    print(f"baseline: Router.route in-process, memory store: {base:,.0f} decisions/s")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    tmp = tempfile.mkdtemp(prefix="rulec-bench-serve-")
    path = os.path.join(tmp, "bench.rtbl")
    with open(path, "wb") as fh:
        fh.write(t.to_bytes(bytes.fromhex(t.header["source_hash"])))
    online = [
        {"type": "agent", "time": "2026-11-23T08:00:00+08:00", "agent": a["id"], "status": "online"}
        for a in t.agents
    ]
    print(f"app in-process (no sockets): {asgi_cpu(path, online):.0f} µs CPU per single route")
    stores = ns.stores.split(",")
    configs = [(s, w, False) for s in stores for w in map(int, ns.workers.split(","))]
    if "memory" in stores:
        configs.append(("memory", 1, True))  # the cost of the decision log (traces included)
    redis = None
    rows = []
    try:
        for store, workers, logged in configs:
            url = "memory:"
            if store == "redis":
                redis = redis or RedisServer().start()
                url = redis.url(0)
            tag = store + ("+log" if logged else "")
            rows += run_config(ns, path, tmp, url, workers, logged, online, base, tag)
    finally:
        if redis is not None:
            redis.cleanup()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return rows


if __name__ == "__main__":
    main()
