"""The erasers' registry: every store is reached, and a failing store is named."""

import uuid
from collections.abc import Mapping

import pytest

from apps.core.erasers import Erasers, ErasureFailed

GAME = uuid.uuid4()


class Store:
    """A store keeping player ids per game (a stand-in for an archive or a vector index)."""

    def __init__(self, fails: bool = False) -> None:
        self.rows = {(GAME, "ana"), (GAME, "bo")}
        self.fails = fails

    def __call__(self, game_id: uuid.UUID, player_id: str) -> Mapping[str, int]:
        if self.fails:
            raise ConnectionError("bucket unreachable")
        gone = {r for r in self.rows if r == (game_id, player_id)}
        self.rows -= gone
        return {"rows.removed": len(gone)}


def test_every_eraser_runs_and_its_counts_are_kept_by_store() -> None:
    erasers, first, second = Erasers(), Store(), Store()
    erasers.register("postgres", first)
    erasers.register("archive", second)
    assert erasers.names == ("postgres", "archive")
    assert erasers.erase(GAME, "ana") == {
        "postgres": {"rows.removed": 1}, "archive": {"rows.removed": 1},
    }  # fmt: skip
    assert first.rows == second.rows == {(GAME, "bo")}
    assert erasers.erase(GAME, "ana") == {
        "postgres": {"rows.removed": 0}, "archive": {"rows.removed": 0},
    }  # fmt: skip


def test_a_failing_store_fails_the_erasure_by_name_after_the_others_ran() -> None:
    erasers, broken, fine = Erasers(), Store(fails=True), Store()
    erasers.register("archive", broken)
    erasers.register("vectors", fine)
    with pytest.raises(ErasureFailed, match=r"1 store\(s\): archive: ConnectionError") as e:
        erasers.erase(GAME, "ana")
    assert set(e.value.failed) == {"archive"}
    assert e.value.done == {"vectors": {"rows.removed": 1}}
    assert fine.rows == {(GAME, "bo")}


def test_an_erasure_with_no_store_is_refused() -> None:
    with pytest.raises(LookupError, match="no eraser"):
        Erasers().erase(GAME, "ana")


@pytest.mark.parametrize("name", ["", "Postgres", "s3-archive", "x" * 41, "1st"])
def test_a_malformed_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters"):
        Erasers().register(name, Store())


def test_a_name_registers_once() -> None:
    erasers = Erasers()
    erasers.register("postgres", Store())
    with pytest.raises(ValueError, match="'postgres': registered already"):
        erasers.register("postgres", Store())
