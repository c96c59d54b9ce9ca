"""Request bodies as a game sends them: one player's session, a mix of event types, all valid.

Built once before a run from a seed and a reference time, so every body is
pre-encoded bytes. Event ids repeat when the pool is reused, which the
ingestion API accepts (storage is idempotent on them later); timestamps are
around the reference time, well inside the accepted window for a run of a
few minutes.
"""

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from apps.core.validation import TimePolicy, parse_batch

Event = dict[str, Any]

PLATFORMS: Final = ("ios", "android", "windows", "ps5", "switch", "webgl")
COUNTRIES: Final = ("US", "DE", "BR", "JP", "FR", "GB", "IN", "KR", "MX", "PL")
VERSIONS: Final = ("2.14.1", "2.14.0", "2.13.5")
_encode = msgspec.json.encode


def _session_start(rng: random.Random) -> Event:
    return {
        "properties": {
            "device": rng.choice(("iPhone15,2", "SM-S918B", "Pixel 8", "PC")),
            "os_version": rng.choice(("17.4", "14", "11")),
            "install_source": rng.choice(("organic", "paid_social", "referral")),
        }
    }


def _session_end(rng: random.Random) -> Event:
    return {"duration_seconds": round(rng.uniform(30, 3600), 1)}


def _purchase(rng: random.Random) -> Event:
    item, amount, code = rng.choice(
        (("gem_pack_small", 4.99, "USD"), ("gem_pack_large", 19.99, "EUR"),
         ("season_pass", 9.99, "GBP"), ("starter_bundle", 480.0, "JPY"))
    )  # fmt: skip
    return {
        "amount": amount,
        "currency": code,
        "item_id": item,
        "properties": {
            "store": "app_store",
            "transaction_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        },
    }


def _progression(rng: random.Random) -> Event:
    level: int | str = (
        rng.randint(1, 120)
        if rng.random() < 0.7
        else f"world_{rng.randint(1, 9)}_{rng.randint(1, 12)}"
    )
    return {
        "level": level,
        "status": rng.choice(("start", "complete", "complete", "fail")),
        "properties": {"score": rng.randint(0, 250_000), "attempt": rng.randint(1, 5),
                       "duration_ms": rng.randint(5_000, 600_000)},
    }  # fmt: skip


def _resource(rng: random.Random) -> Event:
    return {
        "properties": {
            "flow": rng.choice(("source", "sink")),
            "currency": rng.choice(("gold", "gems")),
            "amount": rng.randint(1, 5000),
            "item": rng.choice(("sword_upgrade", "revive", "chest")),
        }
    }


def _design(rng: random.Random) -> Event:
    return {"properties": {"event": rng.choice(("tutorial.step", "boss.phase", "quest.accept")),
                           "value": rng.randint(1, 20)}}  # fmt: skip


def _error(rng: random.Random) -> Event:
    return {
        "properties": {
            "severity": rng.choice(("warning", "error")),
            "message": "texture load timed out",
            "code": f"E{rng.randint(1000, 1999)}",
        }
    }


def _ad_impression(rng: random.Random) -> Event:
    return {"properties": {"network": rng.choice(("admob", "unity", "applovin")),
                           "placement": rng.choice(("level_end", "shop", "revive")),
                           "revenue_usd": round(rng.uniform(0.001, 0.05), 4)}}  # fmt: skip


def _ui_click(rng: random.Random) -> Event:
    return {"properties": {"screen": rng.choice(("shop", "inventory", "map", "settings")),
                           "button": rng.choice(("buy", "open", "close", "equip"))}}  # fmt: skip


# (type, weight, typed fields and properties)
MIX: Final[tuple[tuple[str, int, Callable[[random.Random], Event]], ...]] = (
    ("design", 25, _design),
    ("progression", 20, _progression),
    ("ui.click", 15, _ui_click),
    ("resource", 13, _resource),
    ("ad.impression", 10, _ad_impression),
    ("session_start", 4, _session_start),
    ("session_end", 4, _session_end),
    ("error", 5, _error),
    ("purchase", 4, _purchase),
)


def body(rng: random.Random, *, events: int, now: datetime, players: int = 20_000) -> bytes:
    """One request body: `events` events of one player's session, ending near `now`."""
    player = f"player-{rng.randrange(players):06d}"
    session = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
    platform, country, version = rng.choice(PLATFORMS), rng.choice(COUNTRIES), rng.choice(VERSIONS)
    epoch_millis = rng.random() < 0.5
    kinds, weights = zip(*((kind, weight) for kind, weight, _ in MIX), strict=True)
    makers = {kind: make for kind, _, make in MIX}
    out: list[Event] = []
    for j, kind in enumerate(rng.choices(kinds, weights, k=events)):
        at = now - timedelta(seconds=(events - j) * 0.8 + rng.random() * 0.5)
        event: Event = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "type": kind,
            "player_id": player,
            "timestamp": int(at.timestamp() * 1000) if epoch_millis else at.isoformat(),
            "session_id": session,
            "platform": platform,
            "country": country,
            "app_version": version,
        }
        event.update(makers[kind](rng))
        out.append(event)
    return _encode({"events": out, "sent_at": now.isoformat()})


def bodies(count: int, *, events: int, now: datetime | None = None, seed: int = 1) -> list[bytes]:
    """`count` distinct bodies of `events` events each; checked to be fully accepted."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    built = [body(rng, events=events, now=now) for _ in range(count)]
    for data in built:
        result = parse_batch(data, game_id="bench", received_at=now, policy=TimePolicy())
        if result.rejected:
            raise AssertionError(f"a benchmark body was rejected: {result.rejected[0]}")
    return built
