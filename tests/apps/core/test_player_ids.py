"""apps/core/player_ids.py: the ids ingestion stores, and why another cannot be one."""

import pytest

from apps.core import limits
from apps.core.player_ids import player_id_problem


@pytest.mark.parametrize("value", ["a", "p" * limits.MAX_ID_CHARS, "fé 6", "名前", "x y\u00a0z"])
def test_an_id_ingestion_accepts_has_no_problem(value: str) -> None:
    assert player_id_problem(value) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "1..128 characters"),
        ("p" * (limits.MAX_ID_CHARS + 1), "1..128 characters"),
        ("a\x00", "control characters"),
        ("\tb", "control characters"),
        ("a\x7f", "control characters"),
        ("a\x9f", "control characters"),
        ("\ud800", "unpaired surrogate"),
    ],
)
def test_an_id_ingestion_refuses_says_why(value: str, says: str) -> None:
    problem = player_id_problem(value)
    assert problem is not None
    assert says in problem
