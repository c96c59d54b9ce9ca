"""The event schema's structs: what must stay in step between them."""

import msgspec

from apps.core.events import IncomingBatch, IncomingEvent, UncheckedBatch, UncheckedEvent

PATTERN_CHECKED = {"type", "country", "currency"}


def test_unchecked_event_is_the_incoming_event_less_its_patterns() -> None:
    incoming = msgspec.structs.fields(IncomingEvent)
    unchecked = msgspec.structs.fields(UncheckedEvent)
    assert [(f.name, f.default, f.required) for f in unchecked] == [
        (f.name, f.default, f.required) for f in incoming
    ]
    differ = {f.name for f, g in zip(incoming, unchecked, strict=True) if f.type != g.type}
    assert differ == PATTERN_CHECKED
    for f, g in zip(incoming, unchecked, strict=True):
        if f.name in PATTERN_CHECKED:
            assert "pattern=" in repr(f.type)
            assert "pattern=" not in repr(g.type)
    assert IncomingEvent.__struct_config__.forbid_unknown_fields
    assert UncheckedEvent.__struct_config__.forbid_unknown_fields


def test_unchecked_batch_is_the_incoming_batch_with_events_decoded() -> None:
    incoming = msgspec.structs.fields(IncomingBatch)
    unchecked = msgspec.structs.fields(UncheckedBatch)
    assert [(f.name, f.default, f.required) for f in unchecked] == [
        (f.name, f.default, f.required) for f in incoming
    ]
    assert [f.type for f in unchecked][1:] == [f.type for f in incoming][1:]
    assert UncheckedBatch.__struct_config__.forbid_unknown_fields
