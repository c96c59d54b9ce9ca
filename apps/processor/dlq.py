"""Step 2b of the chain: records that can never be stored go to the dead-letter topic.

Each carries its reason and origin in headers. `send` returns only when the
broker acknowledged them, so the offsets behind them may then be committed.
A failed send is retried whole by the caller: a letter whose acknowledgement
was lost may reach the topic twice (at least once, like the events topic).
"""

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from apps.processor.errors import DeadLetterFailed


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    code: str


def dead_letter(msg: Message, reason: str, code: str) -> DeadLetter:
    """The letter for the record `msg`: its key, value and origin, with why and a code."""
    return DeadLetter(
        msg.topic() or "", msg.partition() or 0, msg.offset() or 0, msg.key(), msg.value(),
        reason, code,
    )  # fmt: skip


class DeadLetters:
    def __init__(self, config: dict[str, Any], topic: str) -> None:
        self._config = config
        self._producer = Producer(config)
        self._topic = topic

    def send(self, letters: list[DeadLetter], timeout: float = 30.0) -> None:
        """Blocks until the broker acknowledged every letter (at most `timeout`); raises
        DeadLetterFailed otherwise, so the offsets behind them are not committed, and the
        next call sends every letter again, from a new producer."""
        errors: list[str] = []

        def report(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                errors.append(err.str())

        for letter in letters:
            self._producer.produce(
                self._topic,
                letter.value,
                letter.key,
                headers=[
                    ("gm-dlq-reason", letter.reason.encode()[:4096]),
                    ("gm-dlq-code", letter.code.encode()),
                    ("gm-source-topic", letter.topic.encode()),
                    ("gm-source-partition", str(letter.partition).encode()),
                    ("gm-source-offset", str(letter.offset).encode()),
                ],
                on_delivery=report,
            )
        left = self._producer.flush(timeout)
        if left or errors:
            self._renew()
            reason = f"; {errors[0]}" if errors else ""
            raise DeadLetterFailed(
                f"dead-letter topic {self._topic} did not take {left or len(errors)} "
                f"of {len(letters)} records{reason}"
            )

    def _renew(self) -> None:
        """Drop what the failed producer still holds and start a new one: its idempotence
        state may be one the broker refuses from now on (Tansu fences a producer whose
        batch it rejected), and the caller sends every letter again anyway."""
        self._producer.purge()
        self._producer.flush(0)
        self._producer.close()
        self._producer = Producer(self._config)

    def close(self) -> None:
        self._producer.flush(5)
        self._producer.close()
