"""The dead-letter producer against a broker that refuses a letter.

Tansu's schema registry makes the broker refuse records of a topic that do
not match its schema (INVALID_RECORD), the way a real broker refuses a record
over its size limit. The refused send must raise DeadLetterFailed, so the
offsets behind it are not committed, and must leave the producer able to send
again: Tansu fences an idempotent producer whose batch it rejected, so every
later send from the same producer would fail too.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.kafka.config import producer_config
from apps.local.process import free_port
from apps.processor.dlq import DeadLetter, DeadLetters
from apps.processor.errors import DeadLetterFailed
from tests.support.brokers import CustomTansu
from tests.support.topic import read_records

TOPIC = "dlq-with-schema"
SCHEMA = {
    "type": "object",
    "properties": {
        "value": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    },
}


@pytest.fixture
def strict_broker(tmp_path: Path) -> Iterator[CustomTansu]:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / f"{TOPIC}.json").write_text(json.dumps(SCHEMA))
    broker = CustomTansu("kafka", tmp_path / "kafka.log", port=free_port(), schema_dir=schemas)
    broker.start()
    admin = AdminClient({"bootstrap.servers": broker.url})
    for future in admin.create_topics([NewTopic(TOPIC, 1, 1)]).values():
        future.result(10)
    yield broker
    broker.stop(5)


def letter(value: bytes, offset: int) -> DeadLetter:
    return DeadLetter("gm.events.v1", 0, offset, b"game/player", value, "test", "undecodable")


def test_a_refused_letter_raises_and_the_next_send_still_lands(
    strict_broker: CustomTansu,
) -> None:
    config = producer_config(strict_broker.url, client_id="processor-dlq", delivery_timeout_ms=3000)
    dead = DeadLetters(config, TOPIC)
    try:
        with pytest.raises(DeadLetterFailed, match=r"did not take 1 of 1 records; .*validate"):
            dead.send([letter(b"\x93not json", 7)], timeout=10)
        dead.send([letter(b'{"n": 1}', 8)], timeout=10)  # raises if the producer was fenced
    finally:
        dead.close()
    [(key, value, headers)] = read_records(strict_broker.url, TOPIC, timeout=10)
    assert (key, value) == (b"game/player", b'{"n": 1}')
    assert headers["gm-source-offset"] == b"8"
