"""Whatever validation accepts is stored and summed: generated events, the bounds included,
through the real API, broker, processor and PostgreSQL, with no dead letter ever."""

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core import currency, limits
from apps.core.countries import ASSIGNED
from apps.core.topics import EVENTS_DLQ
from tests.conftest import GameKey
from tests.support.factory import iso, now
from tests.support.processor import ThreadedProcessor, settle
from tests.support.recompute import rollup_differences_within, stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import read_records

# Text a client may send as an identifier or label: anything but control characters (and
# the surrogates no JSON text can carry alone).
_LABEL_CHARS = st.characters(blacklist_categories=["Cc", "Cs"])
_SEGMENTS = ("ios", "android", "web")  # few segments: rollup rows gather many events


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_LABEL_CHARS, min_size=1, max_size=max_size)


_property_numbers = st.one_of(
    st.integers(limits.MIN_PROPERTY_INT, limits.MAX_PROPERTY_INT),
    st.sampled_from([limits.MIN_PROPERTY_INT, limits.MAX_PROPERTY_INT, 2**63 - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0]),
)
_property_text = st.text(
    st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=16
)
_property_values = st.recursive(
    st.none() | st.booleans() | _property_numbers | _property_text,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=6).filter(lambda k: "\x00" not in k), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
_properties = st.dictionaries(
    st.text(max_size=10).filter(lambda k: "\x00" not in k), _property_values, max_size=6
)


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": limits.MAX_PROPERTY_INT}
    for _ in range(levels - 1):
        value = {"n": value}
    return value


@st.composite
def _timestamp(draw: st.DrawFn, clock: datetime) -> str | int:
    """A time up to 29 days before `clock`, as epoch ms or RFC 3339 with any offset."""
    t = clock - timedelta(milliseconds=draw(st.integers(0, 29 * 86_400_000)))
    if clock.year == now().year and draw(st.booleans()):
        return int(t.timestamp() * 1000)
    offset = timedelta(minutes=draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    return t.astimezone(timezone(offset)).isoformat()


@st.composite
def _event(draw: st.DrawFn, clock: datetime) -> dict[str, Any]:
    etype = draw(
        st.sampled_from(["session_start", "session_end", "purchase", "progression", "design"])
        | st.from_regex(limits.TYPE_PATTERN, fullmatch=True)
    )
    ev: dict[str, Any] = {
        "event_id": str(draw(st.uuids())),
        "type": etype,
        "player_id": draw(st.sampled_from(["ana", "bo"]) | _text(limits.MAX_ID_CHARS)),
        "timestamp": draw(_timestamp(clock)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "platform": st.sampled_from(_SEGMENTS) | _text(limits.MAX_SHORT_TEXT_CHARS),
        "country": st.sampled_from(sorted(ASSIGNED)).map(lambda c: c.lower() if c < "M" else c),
        "app_version": _text(limits.MAX_SHORT_TEXT_CHARS),
        "properties": _properties,
        "session_id": _text(limits.MAX_ID_CHARS),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            ev[name] = draw(values)
    if etype in ("session_start", "session_end"):
        ev["session_id"] = draw(_text(limits.MAX_ID_CHARS))
    if etype == "session_end":
        ev["duration_seconds"] = draw(
            st.floats(0, limits.MAX_DURATION_SECONDS)
            | st.sampled_from([0, limits.MAX_DURATION_SECONDS])
        )
    if etype == "purchase":
        ev["amount"] = draw(
            st.floats(0, limits.MAX_AMOUNT, exclude_min=True)
            | st.sampled_from([limits.MAX_AMOUNT, 5e-324, 1])
        )
        ev["currency"] = draw(st.sampled_from(sorted(currency.USD_PER_UNIT)))
        if draw(st.booleans()):
            ev["item_id"] = draw(_text(limits.MAX_ID_CHARS))
    if etype == "progression":
        ev["level"] = draw(
            st.integers(0, limits.MAX_LEVEL)
            | st.just(limits.MAX_LEVEL)
            | _text(limits.MAX_SHORT_TEXT_CHARS)
        )
        ev["status"] = draw(st.sampled_from(["start", "complete", "fail"]))
    return ev


# Client clocks: right, or at the ends of the calendar (sent_at corrects them).
_CLOCKS = ("now", "0001-02-01T00:00:00+00:00", "9999-12-31T00:00:00+00:00")


@st.composite
def _batch(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(_CLOCKS))
    clock = now() if name == "now" else datetime.fromisoformat(name)
    body: dict[str, Any] = {"events": draw(st.lists(_event(clock), min_size=1, max_size=8))}
    if name != "now" or draw(st.booleans()):
        body["sent_at"] = iso(clock.astimezone(UTC))
    return body


def _post(client: httpx.Client, game: GameKey, body: dict[str, Any]) -> list[str]:
    r = client.post(
        "/v1/events",
        content=json.dumps(body, allow_nan=False).encode(),
        headers={**game.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": len(body["events"]), "rejected": []}
    return [e["event_id"] for e in body["events"]]


def _at_the_bounds() -> list[dict[str, Any]]:
    """Batches whose every number sits on a bound, summed in the same rollup rows."""
    t = iso(now())
    # A segment of their own (the generated events never have this app_version).
    seg = {"player_id": "max", "platform": "ios", "country": "DE", "app_version": "bounds",
           "timestamp": t}  # fmt: skip
    purchases = [
        {"event_id": str(uuid.uuid4()), "type": "purchase", "amount": limits.MAX_AMOUNT,
         "currency": "VND", **seg}
        for _ in range(50)
    ]  # fmt: skip
    sessions = [
        {"event_id": str(uuid.uuid4()), "type": "session_end", "session_id": "s",
         "duration_seconds": limits.MAX_DURATION_SECONDS, **seg}
        for _ in range(50)
    ]  # fmt: skip
    extremes: list[dict[str, Any]] = [
        {"event_id": str(uuid.uuid4()), "type": "progression", "level": limits.MAX_LEVEL,
         "status": "complete", "properties": _nested(limits.MAX_PROPERTIES_DEPTH), **seg},
        {"event_id": str(uuid.uuid4()), "type": "design", "properties": {
            "max": 1.7976931348623157e308, "tiny": 5e-324, "u64": limits.MAX_PROPERTY_INT,
            "i64": limits.MIN_PROPERTY_INT, "text": "line\nbreak\ttab\x01"}, **seg},
    ]  # fmt: skip
    first, last = "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z"
    return [
        {"events": purchases},
        {"events": sessions},
        {"events": extremes},
        {"events": [{**extremes[1], "event_id": str(uuid.uuid4()), "timestamp": first}],
         "sent_at": first},
        {"events": [{**extremes[1], "event_id": str(uuid.uuid4()), "timestamp": last}],
         "sent_at": last},
    ]  # fmt: skip


def test_every_accepted_event_is_stored_and_summed(
    client: httpx.Client, game: GameKey, endpoints: Endpoints, processor: ThreadedProcessor
) -> None:
    accepted: list[str] = []
    for body in _at_the_bounds():
        accepted += _post(client, game, body)
    at_the_bounds = len(accepted)

    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(_batch())
    def send(body: dict[str, Any]) -> None:
        accepted.extend(_post(client, game, body))

    send()
    # Every generated batch holds at least one event: all 15 were sent and accepted (how
    # many events they hold varies with Hypothesis's generation, even derandomized).
    assert len(accepted) >= at_the_bounds + 15
    settle(processor)

    assert sorted(stored_ids(endpoints.postgres_dsn, game.game_id)) == sorted(set(accepted))
    letters = [
        k for k, _, _ in read_records(endpoints.kafka_bootstrap, EVENTS_DLQ.name)
        if k is not None and k.startswith(str(game.game_id).encode())
    ]  # fmt: skip
    assert letters == []
    assert rollup_differences_within(endpoints.postgres_dsn, game.game_id) == {}
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        [(revenue, purchases)] = conn.execute(
            "SELECT amount, purchases FROM daily_revenue WHERE game_id = %s"
            " AND currency = 'VND' AND app_version = 'bounds'",
            (game.game_id,),
        ).fetchall()
        seconds = conn.execute(
            "SELECT session_seconds FROM segment_days WHERE game_id = %s"
            " AND app_version = 'bounds'",
            (game.game_id,),
        ).fetchall()
    assert (revenue, purchases) == (50 * limits.MAX_AMOUNT, 50)
    assert seconds == [(50 * limits.MAX_DURATION_SECONDS,)]
