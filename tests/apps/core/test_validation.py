"""The event validator: every rule of the contract, and no input that makes it raise."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core import limits, validation
from apps.core.errors import BatchError, TooLarge
from apps.core.events import decode_stored, encode_records, encode_stored
from apps.core.validation import BatchResult, TimePolicy, parse_batch
from tests.support.factory import DROP, batch, event, iso

RECEIVED = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)


DEFAULT_POLICY = TimePolicy()


def judge(body: dict[str, Any] | bytes, policy: TimePolicy = DEFAULT_POLICY) -> BatchResult:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_batch(raw, game_id="g-1", received_at=RECEIVED, policy=policy)


def at(delta: timedelta = timedelta(0), **fields: Any) -> dict[str, Any]:
    return event(**{"timestamp": iso(RECEIVED + delta), **fields})


@pytest.mark.parametrize(
    "etype", ["session_start", "session_end", "purchase", "progression", "resource", "design",
              "error", "ui.click", "tutorial.step_2", "a"],
)  # fmt: skip
def test_valid_event_of_each_type_is_accepted(etype: str) -> None:
    result = judge(batch(at(etype=etype)))
    assert result.rejected == []
    assert [e.type for e in result.accepted] == [etype]


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"event_id": DROP}, "event_id", "required"),
        ({"event_id": "not-a-uuid"}, "event_id", "UUID"),
        ({"type": DROP}, "type", "required"),
        ({"type": "Level Up"}, "type", "custom type matching"),
        ({"type": "x" * 65}, "type", "custom type matching"),
        ({"player_id": DROP}, "player_id", "required"),
        ({"player_id": ""}, "player_id", "1..128"),
        ({"player_id": "p" * 129}, "player_id", "1..128"),
        ({"player_id": 42}, "player_id", "1..128"),
        ({"timestamp": DROP}, "timestamp", "required"),
        ({"timestamp": "2026-11-24T10:00:00"}, "timestamp", "UTC offset"),
        ({"timestamp": "yesterday"}, "timestamp", "RFC 3339"),
        ({"timestamp": 1.5}, "timestamp", "epoch milliseconds"),
        ({"timestamp": -1}, "timestamp", "epoch milliseconds"),
        ({"country": "Germany"}, "country", "alpha-2"),
        ({"platform": "x" * 65}, "platform", "1..64"),
        ({"properties": [1, 2]}, "properties", "JSON object"),
        ({"properties": "text"}, "properties", "JSON object"),
        ({"properties": {f"k{i}": i for i in range(65)}}, "properties", "65 keys"),
        ({"properties": {"blob": "x" * 9000}}, "properties", "bytes as compact JSON"),
        ({"level_name": "x"}, "level_name", "put custom data in properties"),
        ({"amount": 3}, "amount", "applies only to purchase"),
        ({"duration_seconds": 3}, "duration_seconds", "applies only to session_end"),
    ],
)
def test_invalid_field_is_rejected_with_field_and_reason(
    fields: dict[str, Any], field: str, fragment: str
) -> None:
    result = judge(batch(at(), at(**fields), at()))
    assert len(result.accepted) == 2
    assert len(result.rejected) == 1
    rejection = result.rejected[0]
    assert (rejection.index, rejection.field) == (1, field)
    assert fragment in rejection.error


@pytest.mark.parametrize(
    ("etype", "missing"),
    [
        ("session_start", "session_id"),
        ("session_end", "session_id"),
        ("session_end", "duration_seconds"),
        ("purchase", "amount"),
        ("purchase", "currency"),
        ("progression", "level"),
        ("progression", "status"),
    ],
)
def test_type_specific_required_fields(etype: str, missing: str) -> None:
    result = judge(batch(at(etype=etype, **{missing: DROP})))
    assert [(r.field, r.error) for r in result.rejected] == [
        (missing, f"is required for {etype} events")
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -1.5}, "amount"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": "eur"}, "currency"),
        ({"item_id": ""}, "item_id"),
    ],
)
def test_purchase_rules(fields: dict[str, Any], field: str) -> None:
    result = judge(batch(at(etype="purchase", **fields)))
    assert [r.field for r in result.rejected] == [field]


def test_progression_status_and_session_duration_rules() -> None:
    result = judge(
        batch(
            at(etype="progression", status="won"),
            at(etype="session_end", duration_seconds=-1),
            at(etype="progression", level=7),
        )
    )
    assert [(r.index, r.field) for r in result.rejected] == [(0, "status"), (1, "duration_seconds")]
    assert result.accepted[0].level == "7"


def test_epoch_millis_and_offsets_become_utc() -> None:
    millis = int(RECEIVED.timestamp() * 1000) - 1500
    result = judge(batch(at(timestamp=millis), at(timestamp="2026-11-24T12:00:00+02:00")))
    assert [e.event_time for e in result.accepted] == [
        RECEIVED - timedelta(milliseconds=1500),
        RECEIVED,
    ]
    assert all(e.event_time.tzinfo == UTC for e in result.accepted)


def test_skew_correction_shifts_by_receive_minus_sent_at() -> None:
    client_clock = RECEIVED - timedelta(hours=3)  # the device's clock is 3 h behind
    body = batch(
        event(timestamp=iso(client_clock - timedelta(seconds=20))),
        sent_at=iso(client_clock),
    )
    [stored] = judge(body).accepted
    assert stored.event_time == RECEIVED - timedelta(seconds=20)
    assert stored.client_time == client_clock - timedelta(seconds=20)
    assert stored.received_at == RECEIVED


def test_future_and_too_old_after_correction() -> None:
    ahead = RECEIVED + timedelta(hours=2)
    # Without sent_at a fast clock looks like the future; with it, the event is fine.
    assert judge(batch(event(timestamp=iso(ahead)))).rejected[0].code == "timestamp_in_future"
    assert judge(batch(event(timestamp=iso(ahead)), sent_at=iso(ahead))).rejected == []
    edge = batch(at(timedelta(minutes=9, seconds=59)), at(timedelta(minutes=10, seconds=1)))
    assert [r.index for r in judge(edge).rejected] == [1]
    old = batch(at(-timedelta(days=29, hours=23)), at(-timedelta(days=30, seconds=1)))
    rejected = judge(old).rejected
    assert [(r.index, r.code) for r in rejected] == [(1, "timestamp_too_old")]
    assert "30 days" in rejected[0].error
    lenient = judge(old, TimePolicy(late_horizon=timedelta(days=90)))
    assert lenient.rejected == []


def test_country_is_normalised_and_properties_kept_verbatim() -> None:
    [stored] = judge(batch(at(country="de", properties={"a": [1, {"b": None}]}))).accepted
    assert stored.country == "DE"
    assert json.loads(stored.properties) == {"a": [1, {"b": None}]}


def test_stored_record_round_trips() -> None:
    [stored] = judge(batch(at(etype="purchase", platform="ios", properties={"sku": "x"}))).accepted
    assert decode_stored(encode_stored(stored)) == stored
    assert stored.partition_key == b"g-1/player-1"
    assert encode_records("g-1", [stored]) == [(b"g-1/player-1", encode_stored(stored))]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[]", "body"),
        (b'{"events": "x"}', "events"),
        (b"{}", "events"),
        (b'{"events": []}', "events"),
        (b'{"events": [], "extra": 1}', "extra"),
        (b'{"events": [{}], "sent_at": "noon"}', "sent_at"),
    ],
)
def test_unusable_batches_raise_batch_error(body: bytes, field: str) -> None:
    with pytest.raises(BatchError) as info:
        judge(body)
    assert info.value.field == field


def test_too_many_events() -> None:
    one = at()
    judge(batch(*[one] * limits.MAX_EVENTS_PER_BATCH))
    with pytest.raises(TooLarge):
        judge(batch(*[one] * (limits.MAX_EVENTS_PER_BATCH + 1)))


def test_duplicate_event_ids_in_one_batch_are_all_accepted() -> None:
    one = at()
    assert len(judge(batch(one, one)).accepted) == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    json_values,
    st.uuids().map(str),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.integers(min_value=-(2**63), max_value=2**64),
    st.sampled_from(["purchase", "session_end", "progression", "EUR", "start", "ui.x"]),
)
event_dicts = st.dictionaries(
    st.sampled_from(
        ["event_id", "type", "player_id", "timestamp", "session_id", "platform", "country",
         "app_version", "properties", "duration_seconds", "amount", "currency", "item_id",
         "level", "status", "other"]
    ),
    field_values,
)  # fmt: skip


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    events=st.lists(event_dicts | json_values, max_size=8),
    sent_at=st.none() | field_values,
    extra=st.none() | st.binary(max_size=40),
)
def test_no_input_raises_anything_but_a_validation_error(
    events: list[Any], sent_at: Any, extra: bytes | None
) -> None:
    body: dict[str, Any] = {"events": events}
    if sent_at is not None:
        body["sent_at"] = sent_at
    raw = json.dumps(body).encode() if extra is None else extra
    try:
        result = judge(raw)
    except (BatchError, TooLarge):
        return
    assert len(result.accepted) + len(result.rejected) == len(events)
    for stored in result.accepted:
        assert decode_stored(encode_stored(stored)).event_id == stored.event_id


def test_nul_characters_are_refused_where_postgres_cannot_store_them() -> None:
    result = judge(
        batch(
            at(player_id="a\x00b"),
            at(properties={"note": "x\x00y"}),
            at(properties={"path": "C:\\u0000"}),  # a backslash, then the text u0000: fine
        )
    )
    assert [(r.index, r.field) for r in result.rejected] == [(0, "player_id"), (1, "properties")]
    assert "control characters (U+0000" in result.rejected[0].error
    assert "NUL" in result.rejected[1].error


def test_invalid_utf8_is_a_rejection_not_an_error() -> None:
    good = json.dumps(at()).encode()
    bad_text = json.dumps(at(player_id="PLAYER")).encode().replace(b"PLAYER", b"p\xff")
    bad_properties = json.dumps(at(properties={"k": "VALUE"})).encode().replace(b"VALUE", b"\xfe")
    body = b'{"events": [%s, %s, %s]}' % (bad_text, good, bad_properties)
    result = judge(body)
    assert len(result.accepted) == 1
    assert [(r.index, r.field, r.error) for r in result.rejected] == [
        (0, "event", "must be valid UTF-8"),
        (2, "properties", "must be valid UTF-8"),
    ]


# Values around the three patterns that validation checks by lookup (`UncheckedEvent`).
TYPES = ["design", "purchase", "session_end", "progression", "ui.click", "a", "A", "1a",
         "Level Up", "x" * 64, "x" * 65, "ok\n", "é", ""]  # fmt: skip
pattern_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(TYPES),
        "country": st.sampled_from(["de", "DE", "dE", "Germany", "D", "DE\n", "D1", "éé", ""]),
        "currency": st.sampled_from(["EUR", "USD", "JPY", "eur", "XXX", "EURO", "EU", "EUR\n"]),
        "amount": st.sampled_from([4.99, 0, -1]),
        "level": st.sampled_from([3, "w1", -1, ""]),
        "status": st.sampled_from(["start", "done"]),
        "session_id": st.sampled_from(["s", ""]),
        "duration_seconds": st.sampled_from([1.5, -1]),
        "item_id": st.just("gem"),
        "platform": st.sampled_from(["ios", ""]),
        "player_id": st.sampled_from(["p", "", 1]),
        "extra": st.just(1),
    },
)


def _verdicts(result: BatchResult) -> list[object]:
    return [*result.accepted, *result.rejected]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(fields=st.lists(pattern_fields, min_size=1, max_size=6))
def test_the_fast_path_decides_as_the_event_schema_alone(fields: list[dict[str, Any]]) -> None:
    """Whatever the batch, the verdicts equal those of decoding each event with
    `IncomingEvent` (the schema, patterns included) and nothing else."""
    body = json.dumps({"events": [at(**f) for f in fields]}).encode()
    fast = judge(body)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(validation, "_unchecked_batch_decoder", _Refuses())
        m.setattr(validation, "_unchecked_decoder", validation._event_decoder)
        reference = judge(body)
    assert _verdicts(fast) == _verdicts(reference)


class _Refuses:
    def decode(self, _body: bytes) -> object:
        raise msgspec.ValidationError("forced onto the event-by-event path")


# Hostile-client review (issue 15): everything validation accepts is storable and summable;
# everything else is a rejection naming the field, never an exception.


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"etype": "purchase", "amount": 1e308}, "amount", "at most 1e+12"),
        ({"etype": "purchase", "amount": limits.MAX_AMOUNT * 1.0000001}, "amount", "at most"),
        ({"etype": "session_end", "duration_seconds": 1e308}, "duration_seconds", "30 days"),
        (
            {"etype": "session_end", "duration_seconds": limits.MAX_DURATION_SECONDS + 0.001},
            "duration_seconds",
            "from 0 to 2592000",
        ),
        ({"etype": "progression", "level": limits.MAX_LEVEL + 1}, "level", "0..2147483647"),
        ({"etype": "progression", "level": 10**40}, "level", "0..2147483647"),
        ({"country": "XX"}, "country", "XX is not an assigned ISO 3166-1"),
        ({"country": "uk"}, "country", "uk is not an assigned"),
        ({"country": "EU"}, "country", "not an assigned"),
        ({"player_id": "p\x01"}, "player_id", "control characters"),
        ({"player_id": "p\x7f"}, "player_id", "control characters"),
        ({"player_id": "p\x85"}, "player_id", "control characters"),
        ({"player_id": "line\nbreak"}, "player_id", "control characters"),
        ({"session_id": "s\x1b[31m"}, "session_id", "control characters"),
        ({"platform": "ios\t"}, "platform", "control characters"),
        ({"app_version": "1.0\x00"}, "app_version", "control characters"),
        ({"etype": "purchase", "item_id": "\x9fgem"}, "item_id", "control characters"),
        ({"etype": "progression", "level": "w1\r"}, "level", "control characters"),
    ],
)
def test_values_beyond_what_storage_and_sums_hold_are_rejected(
    fields: dict[str, Any], field: str, fragment: str
) -> None:
    result = judge(batch(at(), at(**fields)))
    assert len(result.accepted) == 1
    [rejection] = result.rejected
    assert (rejection.index, rejection.field, rejection.code) == (1, field, "invalid_field")
    assert fragment in rejection.error


def test_values_at_the_bounds_are_accepted() -> None:
    result = judge(
        batch(
            at(etype="purchase", amount=limits.MAX_AMOUNT),
            at(etype="purchase", amount=5e-324),
            at(etype="session_end", duration_seconds=limits.MAX_DURATION_SECONDS),
            at(etype="session_end", duration_seconds=0),
            at(etype="progression", level=limits.MAX_LEVEL),
            at(country="gb", player_id="é-ü-☃-𝄞 p", session_id="ä\xa0b"),
            at(properties={"i": 2**63 - 1, "j": -(2**63), "f": 1.7976931348623157e308}),
        )
    )
    assert result.rejected == []
    assert result.accepted[0].amount == limits.MAX_AMOUNT
    assert result.accepted[4].level == str(limits.MAX_LEVEL)
    assert result.accepted[5].country == "GB"


def test_every_assigned_country_is_accepted_in_either_case() -> None:
    from apps.core.countries import ASSIGNED

    events = [at(country=code) for code in sorted(ASSIGNED)]
    events += [at(country=code.lower()) for code in sorted(ASSIGNED)]
    result = judge(batch(*events))
    assert result.rejected == []
    assert {e.country for e in result.accepted} == ASSIGNED


@pytest.mark.parametrize(
    "timestamp",
    ["0001-01-01T00:00:00+23:59", "0001-01-01T23:58:59.999+23:59",
     "9999-12-31T23:59:59-23:59", "9999-12-31T00:01:00.5-23:59"],
)  # fmt: skip
def test_a_timestamp_whose_offset_leaves_the_calendar_is_rejected(timestamp: str) -> None:
    result = judge(batch(at(), at(timestamp=timestamp)))
    assert [(r.index, r.field) for r in result.rejected] == [(1, "timestamp")]
    assert "out of range once converted to UTC" in result.rejected[0].error


@pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_a_sent_at_whose_offset_leaves_the_calendar_is_a_batch_error(sent_at: str) -> None:
    with pytest.raises(BatchError) as info:
        judge(batch(at(), sent_at=sent_at))
    assert info.value.field == "sent_at"
    assert "out of range once converted to UTC" in info.value.reason


def test_calendar_edges_with_a_matching_sent_at_are_stored_with_their_client_time() -> None:
    first = "0001-01-01T00:00:00Z"
    last = "9999-12-31T23:59:59.999Z"
    early = judge(batch(event(timestamp=first), sent_at=first)).accepted
    late = judge(batch(event(timestamp=last), sent_at=last)).accepted
    assert [e.event_time for e in early + late] == [RECEIVED, RECEIVED]
    assert early[0].client_time.year == 1
    assert late[0].client_time.year == 9999


@pytest.mark.parametrize("depth", [1_000, 5_000, 100_000])
def test_a_body_nested_beyond_the_decoder_is_a_batch_error(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    bodies = [
        b'{"events": [%s]}' % deep,
        b'{"events": [{"properties": {"a": %s}}]}' % deep,
    ]
    for body in bodies:
        with pytest.raises(BatchError) as info:
            judge(body)
        assert info.value.field == "body"
        assert "nested too deeply" in info.value.reason
    with pytest.raises(BatchError) as info:  # a typed field is refused before its content
        judge(b'{"sent_at": %s, "events": []}' % deep)
    assert info.value.field == "sent_at"


def test_properties_nesting_is_bounded() -> None:
    def nest(levels: int) -> Any:
        value: Any = {}
        for _ in range(levels - 1):
            value = {"n": value}
        return value

    limit = limits.MAX_PROPERTIES_DEPTH
    result = judge(batch(at(properties=nest(limit)), at(properties=nest(limit + 1))))
    assert len(result.accepted) == 1
    [rejection] = result.rejected
    assert (rejection.index, rejection.field, rejection.code) == (
        1, "properties", "properties_too_large",
    )  # fmt: skip
    assert f"nests {limit + 1} levels deep; at most {limit}" in rejection.error


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        (b"1e400", "a number beyond a 64-bit float"),
        (b"-1E+309", "a number beyond a 64-bit float"),
        (b"1e99999999", "a number beyond a 64-bit float"),
        (b"1" + b"0" * 5000, "beyond a 64-bit float or integer"),
        (b"1" + b"0" * 20, "integers must fit 64 bits"),
        (b"9223372036854775808", "integers must fit 64 bits"),
        (b"-9223372036854775809", "integers must fit 64 bits"),
    ],
)
def test_property_numbers_beyond_a_double_or_64_bit_integer_are_rejected(
    number: bytes, fragment: str
) -> None:
    flat = b'{"n": %s}' % number
    nested = b'{"pad": "%s", "deep": [{"n": %s}]}' % (b"x" * 400, number)
    for properties in (flat, nested):
        raw = json.dumps(at()).encode()
        body = b'{"events": [%s, %s]}' % (raw, raw[:-1] + b', "properties": %s}' % properties)
        result = judge(body)
        assert len(result.accepted) == 1
        [rejection] = result.rejected
        assert (rejection.index, rejection.field) == (1, "properties")
        assert fragment in rejection.error


def test_property_numbers_are_stored_as_64_bit_integers_or_doubles() -> None:
    text = (
        '{"a":1e300,"b":-2.5E-300,"c":9223372036854775807,"d":0.0e5,"e":"1e999",'
        '"tiny":1e-400,"long":0.' + "0" * 5000 + '1,"f":1.50}'
    )
    raw = json.dumps(at()).encode()
    body = b'{"events": [%s]}' % (raw[:-1] + b', "properties": %s}' % text.encode())
    [stored] = judge(body).accepted
    assert stored.properties == (
        '{"a":1e300,"b":-2.5e-300,"c":9223372036854775807,"d":0.0,"e":"1e999",'
        '"tiny":0.0,"long":0.0,"f":1.5}'
    )
