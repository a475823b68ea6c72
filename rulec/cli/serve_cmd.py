"""`rulec serve TABLE_OR_DIR [--store URL] [--host H --port P] [--workers N] ...`: the HTTP
service (rulec/serve/, docs/deploy.md)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
from typing import Any

from rulec.cli.common import (
    SIGN_KEY_ENV,
    ArgParser,
    add_table_options,
    read_key,
    render,
    table_trust,
)
from rulec.errors import RulecError, diag


def _rate(text):
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return v


def _parser(out, err):
    p = ArgParser(
        "serve",
        out,
        err,
        description="Serve routing decisions over HTTP for one table or a directory of "
        "tables (*.rtbl, one shop each), reloading changed tables safely.",
    )
    p.add_argument("table", metavar="TABLE_OR_DIR")
    p.add_argument(
        "--store",
        default="memory:",
        metavar="URL",
        help="memory: (default), "
        "sqlite:///path.db, redis://host:port/db or redis+cluster://host:port,... "
        "(shared by workers and processes)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=8181, help="port (0: any free port; see --port-file)"
    )
    p.add_argument("--port-file", metavar="FILE", help="write the bound port here once listening")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    add_table_options(p)  # --sign-key / --require-signed, and their variables, as every command
    p.add_argument("--decision-log", metavar="FILE|-", help="append every decision (JSON Lines)")
    p.add_argument("--mask-buyers", metavar="SALTFILE", help="log salted hashes of buyer ids")
    p.add_argument(
        "--sample",
        type=_rate,
        default=1.0,
        metavar="RATE",
        help="log this fraction of buyers (0 < RATE <= 1; by buyer)",
    )
    p.add_argument("--seed", type=int, default=0, help="PRNG seed of each router (E1)")
    p.add_argument(
        "--poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often to look for changed tables (0: only on SIGHUP)",
    )
    p.add_argument(
        "--max-body",
        type=int,
        default=1 << 20,
        metavar="BYTES",
        help="largest request body (default 1 MiB)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=1000,
        metavar="N",
        help="most chats or events in one request (default 1000)",
    )
    return p


def _usage(p, ns):
    if not 0 <= ns.port <= 65535:
        return f"--port must be in 0..65535, got {ns.port}"
    if ns.workers < 1:
        return f"--workers must be at least 1, got {ns.workers}"
    if ns.max_body < 1024 or ns.max_batch < 1:
        return "--max-body must be at least 1024 and --max-batch at least 1"
    if ns.poll < 0:
        return "--poll must be >= 0"
    if (ns.mask_buyers or ns.sample < 1) and not ns.decision_log:
        return "--mask-buyers and --sample need --decision-log"
    return None


def _bind(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_cleanly(signum, frame):
    raise SystemExit(0)


def _write_port(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def run(args, out, err) -> int:
    p = _parser(out, err)
    ns, code = p.parse(args)
    if ns is None:
        return code
    problem = _usage(p, ns)
    if problem:
        err.write(f"{p.format_usage()}rulec serve: error: {problem}\n")
        return 2
    trust = table_trust(ns, err)
    if trust is None:
        return 1
    key_file = ns.sign_key or os.environ.get(SIGN_KEY_ENV) or None
    if trust[1] and key_file is None:
        render(
            [diag("B710", f"signed tables are required: give --sign-key or {SIGN_KEY_ENV}")],
            err,
        )
        return 1
    from rulec.serve.app import Config

    config = Config(
        path=os.path.abspath(ns.table),
        store=ns.store,
        key_file=os.path.abspath(key_file) if key_file else None,
        seed=ns.seed,
        poll=ns.poll,
        decision_log=ns.decision_log,
        salt_file=os.path.abspath(ns.mask_buyers) if ns.mask_buyers else None,
        sample=ns.sample,
        max_body=ns.max_body,
        max_batch=ns.max_batch,
    )
    try:
        from rulec.serve.app import open_config_log

        dlog = open_config_log(config)  # a bad salt or log file stops the start (H113, H114)
        if dlog is not None:
            dlog.close()
        return _serve(ns, config, err)
    except RulecError as exc:
        render(exc.diagnostics, err)
        return 1


def _serve(ns, config, err) -> int:
    import uvicorn

    from rulec.serve.app import ENV, create_app, log
    from rulec.serve.http import redact
    from rulec.serve.registry import Registry

    # Load (and so verify) every table before listening: a bad start exits 1 with its codes.
    key = read_key(config.key_file, err) if config.key_file else None
    registry = Registry(config.path, config.store, key, config.seed, config.poll, log)
    registry.load_all()
    try:
        sock = _bind(ns.host, ns.port)
    except OSError as exc:
        registry.close()
        err.write(f"rulec: cannot listen on {ns.host}:{ns.port}: {exc.strerror or exc}\n")
        return 1
    port = sock.getsockname()[1]
    shops = ", ".join(sorted(registry.shops))
    log(
        f"listening on http://{ns.host}:{port} ({ns.workers} worker(s), shops: {shops}, "
        f"store {redact(config.store)})"
    )
    if ns.workers > 1 and config.store.startswith("memory"):
        log(
            f"warning: the memory: store is per process: the {ns.workers} workers do not share "
            "agent state or contacts (sticky contacts hold only within a worker); use "
            "--store redis://... to share them"
        )
    options: dict[str, Any] = dict(
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
        lifespan="on",
        server_header=False,
        proxy_headers=False,  # no access log, so the client address is never used
    )
    multiproc_dir = None
    # uvicorn stops gracefully on SIGTERM, then raises it again for the previous handler:
    # make that handler a clean exit (status 0), as for SIGINT.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    try:
        if ns.workers == 1:
            app = create_app(config, registry)
            server = uvicorn.Server(uvicorn.Config(app, **options))
            if ns.port_file:
                _write_port(ns.port_file, port)
            server.run(sockets=[sock])
            return 0 if server.started else 1
        registry.close()  # each worker loads its own copy
        from uvicorn.supervisors import Multiprocess

        multiproc_dir = tempfile.mkdtemp(prefix="rulec-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
        os.environ[ENV] = config.to_env()
        uconfig = uvicorn.Config(
            "rulec.serve.app:app_from_env", factory=True, workers=ns.workers, **options
        )
        if ns.port_file:
            _write_port(ns.port_file, port)
        Multiprocess(uconfig, sockets=[sock]).run()
        return 0
    finally:
        sock.close()
        if multiproc_dir:
            shutil.rmtree(multiproc_dir, ignore_errors=True)
