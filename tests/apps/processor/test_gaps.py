"""Offset gaps: a fetch that skips records is read again from the first one skipped."""

import uuid

import psycopg
from confluent_kafka import Consumer, TopicPartition

from apps.processor.consumer import Processor
from apps.processor.gaps import Gap, OffsetGaps
from apps.store import games
from tests.support.factory import stored_event
from tests.support.poll import poll_until
from tests.support.processor import processor_settings, processor_thread
from tests.support.recompute import rollup_differences, stored_ids
from tests.support.servers import Endpoints
from tests.support.topic import topic_with


def test_consecutive_offsets_and_a_partitions_first_record_are_taken() -> None:
    gaps = OffsetGaps()
    assert [gaps.check(0, o) for o in (7, 8, 9)] == [None, None, None]
    gaps.start(1, 40)
    assert gaps.check(1, 40) is None
    assert gaps.check(1, 38) is None  # delivered again: harmless, taken
    assert gaps.check(1, 39) is None


def test_a_gap_is_refetched_until_its_records_come() -> None:
    gaps = OffsetGaps(retries=3)
    gaps.start(0, 10)
    assert gaps.check(0, 15) == Gap(0, expected=10, got=15, refetch=True)
    assert gaps.check(0, 15) == Gap(0, expected=10, got=15, refetch=True)
    assert gaps.check(0, 10) is None  # the refetch brought the skipped batch
    assert gaps.check(0, 11) is None
    assert gaps.check(0, 13) == Gap(0, expected=12, got=13, refetch=True)


def test_a_gap_still_there_after_the_retries_is_accepted_once() -> None:
    gaps = OffsetGaps(retries=2)
    gaps.start(3, 100)
    assert [gaps.check(3, 104).refetch for _ in range(2)] == [True, True]  # type: ignore[union-attr]
    assert gaps.check(3, 104) == Gap(3, expected=100, got=104, refetch=False)
    assert gaps.check(3, 105) is None
    assert gaps.check(3, 107) == Gap(3, expected=106, got=107, refetch=True)  # a new gap


def test_partitions_are_independent_and_forgotten_on_revoke() -> None:
    gaps = OffsetGaps()
    gaps.start(0, 5)
    gaps.start(1, 50)
    assert gaps.check(1, 50) is None
    assert gaps.check(0, 9) == Gap(0, expected=5, got=9, refetch=True)
    gaps.forget([0])
    assert gaps.check(0, 9) is None  # a new owner starts where the broker says
    assert gaps.check(1, 52) == Gap(1, expected=51, got=52, refetch=True)


class _SkippingBroker(Processor):
    """Told that its partition starts at 0 while the group's committed offset is 60: its
    first fetch answers from offset 60, as Tansu does when a fetch at the head lists a
    later producer's batch before the batch asked for is stored."""

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        super()._on_assign(consumer, partitions)
        for tp in partitions:
            self._refetch.gaps.start(tp.partition, 0)


def test_the_processor_reads_again_what_a_fetch_skipped(endpoints: Endpoints) -> None:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        game_id = games.create_game(conn, "gaps").game_id
    records = [stored_event(game_id, player_id=f"gap-p{i % 7}") for i in range(100)]
    topic = topic_with(endpoints.kafka_bootstrap, "gaps", 1, records)
    group = f"gaps-{uuid.uuid4()}"
    committer = Consumer({"bootstrap.servers": endpoints.kafka_bootstrap, "group.id": group})
    committer.commit(offsets=[TopicPartition(topic, 0, 60)], asynchronous=False)
    committer.close()

    settings = processor_settings(
        endpoints.postgres_dsn, endpoints.kafka_bootstrap, events_topic=topic, group_id=group
    )
    with processor_thread(settings, _SkippingBroker) as running:
        poll_until(
            lambda: (
                running.processor.caught_up
                and len(stored_ids(endpoints.postgres_dsn, game_id)) >= len(records)
            ),
            timeout=60,
            what="the 60 skipped records read again and every record stored",
        )
        gaps = running.metrics.offset_gaps
        refetched = gaps.labels("refetched")._value.get()
        accepted = gaps.labels("accepted")._value.get()
    assert sorted(stored_ids(endpoints.postgres_dsn, game_id)) == sorted(
        str(ev.event_id) for ev in records
    )
    assert (refetched, accepted) == (1, 0)
    assert rollup_differences(endpoints.postgres_dsn, game_id) == {}
