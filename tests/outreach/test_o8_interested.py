"""O8: only consumers who said they are interested (`interested: true`) get the super
discount. An exclusive consumer whose line does not say is an input error (E886, the
settled reading), never a send; `interested: false` is a skip."""

import json
import pathlib

CASE = json.loads(
    (pathlib.Path(__file__).parent / "cases" / "o8_super_discount.json").read_text("utf-8")
)
RUN = CASE["runs"][0]


def plan(tmp_path, cli, audience):
    rules, aud, acts = tmp_path / "shop.yaml", tmp_path / "aud.jsonl", tmp_path / "acts.jsonl"
    rules.write_text(json.dumps(CASE["rules"], ensure_ascii=False), encoding="utf-8")
    aud.write_text("".join(json.dumps(r) + "\n" for r in audience), encoding="utf-8")
    acts.write_text("".join(json.dumps(a) + "\n" for a in CASE["activities"]), encoding="utf-8")
    ledger = tmp_path / "ledger.db"
    return cli("plan", rules, "--audience", aud, "--activities", acts, "--ledger", ledger,
               "--now", RUN["now"])  # fmt: skip


def test_exclusive_consumer_who_does_not_say_is_an_input_error(tmp_path, cli):
    r = plan(tmp_path, cli, [{"consumer": "s5", "exclusive": True, "purchases": []}])
    assert r.code == 1 and "E886" in r.err and "`interested`" in r.err, r
    assert r.out == "" and "Traceback" not in r.err


def test_only_interested_true_gets_the_super_discount(tmp_path, cli):
    both = [
        {"consumer": "yes", "exclusive": True, "interested": True, "purchases": []},
        {"consumer": "no", "exclusive": True, "interested": False, "purchases": []},
    ]
    r = plan(tmp_path, cli, both)
    assert r.code == 0, r
    sent = [(s["campaign"], s["consumer"]) for s in map(json.loads, r.out.splitlines())]
    assert sent == [("super", "yes")]
