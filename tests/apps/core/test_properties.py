"""The properties judge: stored compact, every number within a bigint or a finite double."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core import limits
from apps.core.properties import PropertiesError, check, nesting_depth


def test_nesting_depth_ignores_brackets_inside_strings() -> None:
    assert nesting_depth('{"a": "[[[[{{{{", "b": [1, {"c": []}]}') == 4
    assert nesting_depth('{"a": "\\"[[[["}') == 1
    assert nesting_depth("{}") == 1


def test_flat_and_nested_objects_are_stored_compact_with_their_values() -> None:
    flat = '{"store": "apple", "n": 3, "f": 1.50, "e": 1e2, "tiny": 1e-400, "t": true}'
    nested = '{"store": "apple", "x": [1.5, {"y": null}], "big": 9223372036854775807}'
    assert check(flat.encode(), False) == (
        '{"store":"apple","n":3,"f":1.5,"e":100.0,"tiny":0.0,"t":true}'
    )
    assert check(nested.encode(), False) == (
        '{"store":"apple","x":[1.5,{"y":null}],"big":9223372036854775807}'
    )


def test_whitespace_does_not_count_towards_the_size() -> None:
    spaced = "{" + " " * 9000 + '"a": 1e300}'
    assert check(spaced.encode(), False) == '{"a":1e300}'


@pytest.mark.parametrize(
    ("text", "too_large"),
    [
        ("[1]", False),
        ('{"a": 1e400}', False),
        ('{"a": [1e400]}', False),
        ('{"a": 9223372036854775808}', False),
        ('{"a": {"b": -9223372036854775809}}', False),
        ('{"a": ' + "9" * 5000 + "}", False),
        ('{"a": ' + "[" * 40 + "]" * 40 + "}", True),
        ("{" + ",".join(f'"k{i}":0' for i in range(65)) + "}", True),
        ('{"a": "' + "x" * 9000 + '"}', True),
    ],
)
def test_refusals_say_whether_a_size_limit_was_passed(text: str, too_large: bool) -> None:
    with pytest.raises(PropertiesError) as info:
        check(text.encode(), False)
    assert info.value.too_large is too_large


finite = st.floats(allow_nan=False, allow_infinity=False)
values = st.recursive(
    st.none() | st.booleans() | finite | st.text(max_size=10)
    | st.integers(limits.MIN_PROPERTY_INT, limits.MAX_PROPERTY_INT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                               max_size=3),
    max_leaves=10,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=8))
def test_every_object_within_the_bounds_is_accepted_with_its_values(
    obj: dict[str, object],
) -> None:
    text = json.dumps(obj)
    if nesting_depth(text) > limits.MAX_PROPERTIES_DEPTH or "\\u0000" in text:
        return
    assert json.loads(check(text.encode(), "\\u0000" in text)) == obj
