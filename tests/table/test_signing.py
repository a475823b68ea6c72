"""Signing (docs/table-format.md, "Signing"): every command that reads a table takes
--sign-key and RULEC_SIGN_KEY_FILE the same way, and --require-signed /
RULEC_REQUIRE_SIGNED=1 refuses unsigned tables and rules sources."""

import json

import pytest
from table_helpers import SMALL

import rulec
from rulec.errors import TableError

CHAT = '{"type": "chat", "time": "2026-11-23T09:00:00+08:00", "buyer": "u", "product": "a"}\n'


@pytest.fixture
def files(tmp_path, cli):
    src = tmp_path / "s.rules"
    src.write_text(SMALL)
    key = tmp_path / "key"
    key.write_bytes(b"k3y\n")
    signed, plain = tmp_path / "signed.rtbl", tmp_path / "plain.rtbl"
    assert cli("compile", src, "-o", signed, "--sign-key", key).code == 0
    assert cli("compile", src, "-o", plain).code == 0
    events = tmp_path / "e.jsonl"
    events.write_text(CHAT)
    event = tmp_path / "e.json"
    event.write_text(CHAT)
    audience = tmp_path / "aud.jsonl"
    audience.write_text('{"consumer": "c1", "crowds": [], "last_sent": {}}\n')
    f = {"src": src, "key": key, "signed": signed, "plain": plain}
    f["commands"] = {
        "route": lambda t: ("route", t, "--events", events),
        "explain": lambda t: ("explain", t, "--event", event),
        "plan": lambda t: (
            "plan",
            t,
            "--audience",
            audience,
            "--ledger",
            tmp_path / f"l{len(str(t))}.db",
            "--now",
            "2026-11-23T09:00:00+08:00",
        ),
        "inspect": lambda t: ("inspect", t),
    }
    return f


COMMANDS = ("route", "explain", "plan", "inspect")


@pytest.mark.parametrize("command", COMMANDS)
def test_signed_table_needs_the_key_by_option_or_variable(cli, files, monkeypatch, command):
    argv = files["commands"][command](files["signed"])
    r = cli(*argv)
    assert r.code == 1 and "[B705]" in r.err and "--sign-key" in r.err
    assert "Traceback" not in r.err
    assert cli(*argv, "--sign-key", files["key"]).code == 0
    monkeypatch.setenv("RULEC_SIGN_KEY_FILE", str(files["key"]))
    assert cli(*argv).code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_wrong_or_missing_key_file(cli, files, tmp_path, monkeypatch, command):
    argv = files["commands"][command](files["signed"])
    other = tmp_path / "other"
    other.write_bytes(b"other")
    r = cli(*argv, "--sign-key", other)
    assert r.code == 1 and "[B705]" in r.err and "does not match" in r.err
    r = cli(*argv, "--sign-key", tmp_path / "absent")
    assert r.code == 1 and "[B710]" in r.err
    # the option wins over the variable
    monkeypatch.setenv("RULEC_SIGN_KEY_FILE", str(other))
    assert cli(*argv, "--sign-key", files["key"]).code == 0


@pytest.mark.parametrize("command", COMMANDS)
def test_require_signed_refuses_unsigned_tables_and_sources(cli, files, monkeypatch, command):
    make = files["commands"][command]
    r = cli(*make(files["plain"]), "--require-signed")
    assert r.code == 1 and "[B705]" in r.err
    if command != "inspect":
        r = cli(*make(files["src"]), "--require-signed")
        assert r.code == 1 and "[B711]" in r.err
        assert cli(*make(files["src"])).code == 0
    assert cli(*make(files["signed"]), "--require-signed", "--sign-key", files["key"]).code == 0
    monkeypatch.setenv("RULEC_REQUIRE_SIGNED", "1")
    r = cli(*make(files["plain"]))
    assert r.code == 1 and "[B705]" in r.err
    if command != "inspect":
        assert "[B711]" in cli(*make(files["src"])).err
    monkeypatch.setenv("RULEC_REQUIRE_SIGNED", "maybe")
    r = cli(*make(files["signed"]), "--sign-key", files["key"])
    assert r.code == 1 and "[B712]" in r.err


def test_route_output_with_a_signed_table(cli, files):
    r = cli(*files["commands"]["route"](files["signed"]), "--sign-key", files["key"])
    assert r.code == 0 and json.loads(r.out)["target"] == "message_pool"


def test_api_messages_do_not_name_cli_options(files):
    with pytest.raises(TableError) as exc:
        rulec.load(files["signed"])
    assert exc.value.code == "B705" and "--" not in str(exc.value)
    assert rulec.load(files["signed"], key=b"k3y").shop == "s"
    with pytest.raises(TableError) as exc:
        rulec.load(files["plain"], require_signature=True)
    assert exc.value.code == "B705"


def test_compile_with_an_unreadable_key(cli, files, tmp_path):
    r = cli("compile", files["src"], "-o", tmp_path / "x.rtbl", "--sign-key", tmp_path / "none")
    assert r.code == 1 and "[B710]" in r.err
    assert not (tmp_path / "x.rtbl").exists()
