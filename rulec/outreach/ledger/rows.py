"""The packing both ledgers share: a consumer's sends as ";campaign id,channel,at" tokens, read strictly (S941)."""

from __future__ import annotations

from rulec.errors import StoreError, diag
from rulec.outreach.ledger.base import CHANNEL_CODE, CHANNELS, STATUSES, CampaignState

MAX_AT = 253402300799  # 9999-12-31T23:59:59Z: the last second the calendar can show


def token(campaign_id, channel: str, at) -> str:
    return f";{campaign_id},{CHANNEL_CODE[channel]},{int(at)}"


def campaign_token(ids: dict, name: str, channel: str, at) -> str:
    """token() of a send of campaign `name` by the ledger's ids; S962 when it has none."""
    cid = ids.get(name)
    if cid is None:
        raise StoreError.of("S962", f"campaign {name!r} was never opened in this ledger")
    return token(cid, channel, at)


def unpack(text, names: dict) -> list:
    """[(campaign name, channel, at)] of a stored history. KeyError: a campaign id `names`
    does not know; ValueError: anything else that is not exactly the packing."""
    if type(text) is not str or text[:1] != ";":
        raise ValueError(f"history {str(text)[:40]!r} does not start with ';'")
    out, key = [], type(next(iter(names), 0))
    for part in text[1:].split(";"):
        cid, ch, at = part.split(",")  # ValueError on too few / many fields
        if not (cid.isdigit() and ch.isdigit() and at.lstrip("-").isdigit()) or not cid.isascii():
            raise ValueError(f"send {part[:40]!r} is not `id,channel,time`")
        t = int(at)
        if not -MAX_AT <= t <= MAX_AT or int(ch) >= len(CHANNELS):
            raise ValueError(f"send {part[:40]!r} has a channel or time out of range")
        out.append((names[key(cid)], CHANNELS[int(ch)], t))
    return out


def read(text, names: dict, reload, where: str, consumer) -> list:
    """unpack(), calling `reload()` (re-read the campaign ids) once when an id is unknown or
    the text does not read; still unreadable: S941 naming the consumer (never "no history")."""
    try:
        return unpack(text, names)
    except (KeyError, ValueError):
        reload()  # a campaign another planner opened since
    try:
        return unpack(text, names)
    except (KeyError, ValueError) as exc:
        raise damaged(where, consumer, exc) from None


def damaged(where: str, consumer, exc) -> StoreError:
    """S941 naming the unreadable row: it must never pass for "no history" (O14)."""
    why = f"unknown campaign id {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
    return StoreError(
        [
            diag(
                "S941",
                f"ledger {where} is damaged: the history of consumer {str(consumer)[:200]!r} "
                f"cannot be read ({why}); nothing was planned for its batch - restore the "
                "ledger from a backup",
            )
        ]
    )


def campaign_state(where, name, shards, status, reason, finished) -> CampaignState:
    """A CampaignState from stored fields, checked (S941 when a field is unreadable)."""
    ok = (
        type(shards) is int
        and shards >= 1
        and (status is None or status in STATUSES)
        and (reason is None or type(reason) is str)
        and type(finished) is int
    )
    if not ok:
        raise StoreError(
            [
                diag(
                    "S941",
                    f"ledger {where} is damaged: the state of campaign {str(name)[:200]!r} "
                    f"cannot be read (shards {shards!r}, status {status!r})",
                )
            ]
        )
    return CampaignState(shards, status, reason, finished)


def check_shards(where, known: dict, n: int) -> None:
    """O12s: S940 when a campaign was planned with another shard count than `n`."""
    for name, m in known.items():
        if m != n:
            raise StoreError(
                [
                    diag(
                        "S940",
                        f"ledger {where}: campaign {name!r} is planned in {m} shard"
                        f"{'s' * (m != 1)}; this run says {n} (--shard I/{n}). Every shard "
                        f"of a campaign must use the same N: run with --shard I/{m}",
                    )
                ]
            )
