"""Every endpoint of a real `rulec serve` process serving two shops, and its errors: JSON
with codes and a 4xx for bad bodies, unknown shops and oversized bodies (never a 500)."""

import json
import os

import pytest
from serve_helpers import AGENTS, SHOP, Server, chat, online, table_bytes

from rulec.routing.decision_log import kept, mask_buyer
from rulec.serve.app import ENDPOINTS

OTHER = "second-shop"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    d = tmp_path_factory.mktemp("tables")
    data, h1 = table_bytes(SHOP)
    (d / "a.rtbl").write_bytes(data)
    data, h2 = table_bytes(OTHER)
    (d / "b.rtbl").write_bytes(data)
    (d / "notes.txt").write_text("not a table: ignored (only *.rtbl are served)")
    salt = d / "salt"
    salt.write_text("pepper")
    log = d / "decisions.jsonl"
    srv = Server(
        str(d),
        "--decision-log",
        str(log),
        "--mask-buyers",
        str(salt),
        "--max-body",
        "65536",
        "--max-batch",
        "50",
    ).start()
    yield srv, {SHOP: h1, OTHER: h2}, log
    srv.stop()


def route(srv, shop, doc):
    return srv.post(f"/v1/shops/{shop}/route", doc)


def test_health_ready_and_tables(served):
    srv, hashes, _ = served
    assert srv.get("/healthz") == (200, {"status": "ok"})
    status, doc = srv.get("/readyz")
    assert status == 200 and doc["shops"] == sorted(hashes)
    status, doc = srv.get("/v1/tables")
    assert status == 200
    rows = {t["shop"]: t for t in doc["tables"]}
    assert {s: r["source_hash"] for s, r in rows.items()} == hashes
    for r in rows.values():
        assert r["signed"] is False and r["signature"] is None and r["reloads"] == 0
        assert r["loaded_at"].endswith("Z") and len(r["file_sha256"]) == 64


def test_events_then_route_and_sticky(served):
    srv, hashes, _ = served
    status, doc = srv.post(f"/v1/shops/{SHOP}/events", {"events": online()})
    assert status == 200 and doc["applied"] == len(AGENTS) and doc["table"] == hashes[SHOP]
    status, doc = route(srv, SHOP, {"chat": chat("u-sticky", 1), "trace": True})
    assert status == 200, doc
    first = doc["decision"]
    assert doc["table"] == hashes[SHOP] and first["target"].startswith("agent:")
    assert first["step"] == "group" and first["trace"] and len(first["id"]) == 32
    # the shop in the body instead of the path; the contact made above is honoured (R2a)
    status, doc = srv.post("/v1/route", {"shop": SHOP, "chat": chat("u-sticky", 5)})
    assert status == 200
    again = doc["decision"]
    assert again["step"] == "sticky" and again["target"] == first["target"]
    assert "trace" not in again  # only on request


def test_batch_route_in_order_on_one_table(served):
    srv, hashes, _ = served
    srv.post(f"/v1/shops/{SHOP}/events", {"event": online()[0]})
    chats = [chat(f"batch-{i}", 10 + i) for i in range(20)] + [chat("batch-0", 40)]
    status, doc = route(srv, SHOP, {"chats": chats})
    assert status == 200 and doc["table"] == hashes[SHOP]
    ds = doc["decisions"]
    assert [d["buyer"] for d in ds] == [c["buyer"] for c in chats]
    assert len({d["id"] for d in ds}) == len(ds)
    assert ds[-1]["step"] == "sticky" and ds[-1]["target"] == ds[0]["target"]


def test_explain_does_not_change_state(served):
    srv, hashes, _ = served
    srv.post(f"/v1/shops/{OTHER}/events", {"events": online()})
    status, doc = srv.post(f"/v1/shops/{OTHER}/explain", {"chat": chat("u-explain", 1)})
    assert status == 200, doc
    assert doc["table"] == hashes[OTHER] and doc["decision"]["trace"]
    assert "why:" in doc["text"] and "u-explain" in doc["text"]
    status, doc = srv.post("/v1/route", {"shop": OTHER, "chat": chat("u-explain", 2)})
    assert doc["decision"]["step"] == "group"  # not sticky: explain assigned nobody


def test_two_shops_keep_their_own_state(served):
    srv, _, _ = served
    srv.post(f"/v1/shops/{SHOP}/events", {"events": online()})
    srv.post(f"/v1/shops/{OTHER}/events", {"events": online()})
    route(srv, SHOP, {"chat": chat("u-two", 1)})
    status, doc = route(srv, OTHER, {"chat": chat("u-two", 2)})
    assert doc["decision"]["step"] == "group"  # the contact is the other shop's


BAD = [
    (b"{not json", 400, "H100"),
    (b"", 400, "H100"),
    (b"\xff\xfe", 400, "H100"),
    (b"[1, 2]", 400, "H104"),
    (b'{"chat": {"buyer": "u", "time": "2023-12-11T09:00:00+08:00"}, "trcae": true}', 400, "H104"),
    (b'{"chats": {"buyer": "u"}}', 400, "H104"),
    (b'{"chat": {}, "chats": []}', 400, "H104"),
    (b"{}", 400, "H104"),
    (b'{"chat": {"time": "2023-12-11T09:00:00+08:00"}}', 400, "E806"),
    (b'{"chat": {"buyer": "u", "time": "yesterday"}}', 400, "E804"),
    (
        b'{"chat": {"buyer": "u", "time": "2023-12-11T09:00:00+08:00", "order": "lost"}}',
        400,
        "E806",
    ),
    (b'{"chat": {"buyer": "u", "time": "2023-12-11T09:00:00+08:00", "colour": 1}}', 400, "E809"),
    (
        b'{"chat": {"type": "agent", "buyer": "u", "time": "2023-12-11T09:00:00+08:00"}}',
        400,
        "E809",
    ),
    (b'{"chat": 7}', 400, "E801"),
    (b'{"chat": {"buyer": "u", "time": "2023-12-11T09:00:00+08:00"}, "trace": "yes"}', 400, "H104"),
    (b'{"shop": "' + OTHER.encode() + b'", "chat": {}}', 400, "H108"),
    (b'{"shop": 5, "chat": {}}', 400, "H104"),
    (b'{"chat": {"buyer": "u", "time": "2023-12-11T09:00:00+08:00"}, "x": NaN}', 400, "H100"),
    (b"[" * 100_000 + b"]" * 100_000, 413, "H101"),
]


@pytest.mark.parametrize("body,status,code", BAD)
def test_bad_route_bodies_are_4xx_with_codes(served, body, status, code):
    srv, _, _ = served
    got, doc = srv.post(f"/v1/shops/{SHOP}/route", body)
    assert (got, doc["errors"][0]["code"]) == (status, code), doc
    assert all(set(e) <= {"code", "message", "hints"} for e in doc["errors"])
    assert "Traceback" not in json.dumps(doc)


def test_unknown_key_has_a_hint(served):
    srv, _, _ = served
    _, doc = route(srv, SHOP, {"chat": chat("u"), "trcae": True})
    assert doc["errors"][0]["hints"] == ["did you mean `trace`?"]


def test_shop_choice_errors(served):
    srv, _, _ = served
    status, doc = route(srv, "no-such-shop", {"chat": chat("u")})
    assert status == 404 and doc["errors"][0]["code"] == "H102"
    status, doc = srv.post("/v1/route", {"shop": SHOP + "x", "chat": chat("u")})
    assert status == 404 and doc["errors"][0]["code"] == "H102"
    assert doc["errors"][0]["hints"] == [f"did you mean `{SHOP}`?"]
    status, doc = srv.post("/v1/route", {"chat": chat("u")})  # two shops served: name one
    assert status == 400 and doc["errors"][0]["code"] == "H103"


def test_oversized_body_and_batch(served):
    srv, _, _ = served
    big = {"chat": chat("u", message="x" * 70_000)}
    status, doc = route(srv, SHOP, big)
    assert status == 413 and doc["errors"][0]["code"] == "H101"
    status, doc = route(srv, SHOP, {"chats": [chat(f"b{i}") for i in range(51)]})
    assert status == 413 and doc["errors"][0]["code"] == "H105"


def test_bad_events(served):
    srv, _, _ = served
    path = f"/v1/shops/{SHOP}/events"
    ev = {
        "type": "agent",
        "time": "2023-12-11T09:00:00+08:00",
        "agent": "nobody",
        "status": "online",
    }
    status, doc = srv.post(path, {"events": [online()[0], ev]})
    assert status == 400 and doc["errors"][0]["code"] == "E803"
    assert doc["errors"][0]["message"].startswith("events[1]: ")
    status, doc = srv.post(path, {"event": {**ev, "agent": AGENTS[0], "status": "away"}})
    assert status == 400 and doc["errors"][0]["code"] == "E807"
    status, doc = srv.post(path, {"event": {"type": "chat", **chat("u")}})
    assert status == 400 and doc["errors"][0]["code"] == "E802"
    status, doc = srv.post(path, {"event": "agent"})
    assert status == 400 and doc["errors"][0]["code"] == "E801"


def test_unknown_paths_and_methods(served):
    srv, _, _ = served
    status, doc = srv.get("/v2/route")
    assert status == 404 and doc["errors"][0]["code"] == "H106"
    status, body, _ = srv.request("GET", "/v1/route")
    assert status == 405 and json.loads(body)["errors"][0]["code"] == "H107"
    status, body, _ = srv.request("DELETE", "/v1/tables")
    assert status == 405


def test_metrics(served):
    srv, _, _ = served
    srv.post(f"/v1/shops/{SHOP}/events", {"events": online()})
    route(srv, SHOP, {"chat": chat("u-metrics", 3)})
    route(srv, SHOP, {"chat": {}})
    status, text = srv.get("/metrics")
    assert status == 200
    lines = text.splitlines()
    assert any(
        ln.startswith("rulec_decisions_total{")
        and f'shop="{SHOP}"' in ln
        and 'target_kind="agent"' in ln
        for ln in lines
    )
    assert any(ln.startswith('rulec_request_seconds_bucket{endpoint="route"') for ln in lines)
    assert any(ln.startswith("rulec_request_errors_total{") and 'code="E806"' in ln for ln in lines)
    assert "rulec_table_loaded_at_seconds" in text and "rulec_reloads_total" in text


def test_openapi_document_matches_the_app(served):
    srv, hashes, _ = served
    status, doc = srv.get("/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    documented = {
        (p, m.upper()) for p, ops in doc["paths"].items() for m in ops if m in ("get", "post")
    }
    assert documented == {(p, m) for p, _, m in ENDPOINTS}
    shop_param = doc["paths"]["/v1/shops/{shop}/route"]["parameters"][0]
    assert shop_param["schema"]["enum"] == sorted(hashes)


def test_decision_log_records(served):
    srv, hashes, log = served
    srv.post(f"/v1/shops/{SHOP}/events", {"events": online()})
    _, doc = route(srv, SHOP, {"chat": chat("u-logged", 7)})
    did = doc["decision"]["id"]
    recs = []
    for _ in range(200):  # the writer is asynchronous: wait for the line (bounded)
        with open(log, encoding="utf-8") as fh:
            recs = [json.loads(ln) for ln in fh]
        if any(r.get("id") == did for r in recs):
            break
        import time

        time.sleep(0.02)
    rec = next(r for r in recs if r.get("id") == did)
    assert rec["v"] == 1 and rec["kind"] == "decision" and rec["source"] == "serve"
    assert rec["shop"] == SHOP and rec["table"] == hashes[SHOP]
    masked = mask_buyer("u-logged", b"pepper")
    assert rec["input"]["buyer"] == masked and rec["decision"]["buyer"] == masked
    assert rec["decision"]["trace"] and rec["decision"]["target"] == doc["decision"]["target"]
    assert not any("u-logged" in json.dumps(r, ensure_ascii=False) for r in recs)
    assert any(r["kind"] == "event" and r["event"]["type"] == "agent" for r in recs)


def test_start_errors(tmp_path, cli):
    bad = tmp_path / "bad.rtbl"
    data, _ = table_bytes(SHOP)
    bad.write_bytes(data[:-3])
    r = cli("serve", bad, "--port", "0")
    assert r.code == 1 and "B70" in r.err
    empty = tmp_path / "empty"
    empty.mkdir()
    r = cli("serve", empty, "--port", "0")
    assert r.code == 1 and "H110" in r.err
    dup = tmp_path / "dup"
    dup.mkdir()
    (dup / "a.rtbl").write_bytes(data)
    (dup / "b.rtbl").write_bytes(table_bytes(SHOP, 1)[0])
    r = cli("serve", dup, "--port", "0")
    assert r.code == 1 and "H111" in r.err
    assert cli("serve", dup, "--workers", "0").code == 2
    assert cli("serve", dup, "--sample", "0.5").code == 2  # needs --decision-log
    assert cli("serve", dup, "--sample", "2", "--decision-log", "-").code == 2
    r = cli("serve", dup / "a.rtbl", "--decision-log", "-", "--mask-buyers", tmp_path / "none")
    assert r.code == 1 and "H113" in r.err
    r = cli("serve", dup / "a.rtbl", "--decision-log", tmp_path / "no" / "log.jsonl")
    assert r.code == 1 and "H114" in r.err
    os.chmod(tmp_path, 0o755)


def test_sampled_decision_log(tmp_path):
    path = tmp_path / "shop.rtbl"
    path.write_bytes(table_bytes(SHOP)[0])
    log = tmp_path / "log.jsonl"
    with Server(str(path), "--decision-log", str(log), "--sample", "0.5") as srv:
        srv.post("/v1/events", {"events": online()})
        ids = {}
        for i in range(60):
            _, doc = srv.post("/v1/route", {"chat": chat(f"s{i}", 2)})
            ids[doc["decision"]["id"]] = f"s{i}"
            assert "trace" not in doc["decision"]
    assert srv.stop() == 0  # SIGTERM: a graceful stop, exit status 0, the log written out
    with open(log, encoding="utf-8") as fh:
        recs = [json.loads(line) for line in fh]
    logged = {r["id"]: r["input"]["buyer"] for r in recs if r["kind"] == "decision"}
    assert logged and set(logged.values()) == {b for b in ids.values() if kept(b, 0.5)}
    assert all(r["decision"]["trace"] for r in recs if r["kind"] == "decision")
    assert len([r for r in recs if r["kind"] == "event"]) == len(online())


def test_store_passwords_are_not_shown():
    from rulec.serve.http import redact

    assert redact("redis://app:s3cret@10.0.0.5:6379/0") == "redis://app:***@10.0.0.5:6379/0"
    assert redact("rediss://:s3cret@h:6380/1?timeout=2") == "rediss://:***@h:6380/1?timeout=2"
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_signing_options_and_variables_as_every_command(tmp_path, cli, monkeypatch):
    """serve takes --sign-key / --require-signed and RULEC_SIGN_KEY_FILE / RULEC_REQUIRE_SIGNED
    the way route, explain, plan and inspect do (docs/table-format.md)."""
    r = cli("serve", tmp_path, "--require-signed")
    assert r.code == 1 and "B710" in r.err and "RULEC_SIGN_KEY_FILE" in r.err
    monkeypatch.setenv("RULEC_REQUIRE_SIGNED", "maybe")
    r = cli("serve", tmp_path)
    assert r.code == 1 and "B712" in r.err
    monkeypatch.setenv("RULEC_REQUIRE_SIGNED", "0")
    monkeypatch.setenv("RULEC_SIGN_KEY_FILE", str(tmp_path / "missing.key"))
    r = cli("serve", tmp_path)
    assert r.code == 1 and "B710" in r.err
