"""librdkafka configuration dictionaries, built without I/O (as arroyo's build_kafka_configuration).

One place for the settings whose values carry the delivery guarantees:
`acks=all` and idempotence on every producer, explicit commits on consumers.
Each takes the deployment's TLS settings (`apps/core/settings/kafka_tls.py`; None locally).
"""

from typing import Any

from apps.core.settings.kafka_tls import KafkaTls


def _security(tls: KafkaTls | None) -> dict[str, str]:
    return tls.librdkafka() if tls is not None else {}


def producer_config(
    bootstrap: str,
    *,
    client_id: str,
    delivery_timeout_ms: int = 5000,
    linger_ms: float = 10,
    tls: KafkaTls | None = None,
) -> dict[str, Any]:
    """A durable producer: a delivery report means every in-sync replica has the record.

    `linger_ms` trades a few milliseconds of latency for fewer, larger batches: less work
    per record for every broker, and on the local one (Tansu) each batch a consumer fetches
    costs a walk over every batch the partition holds. At 25,000 records/s it took
    0.29-1.02 cores with 10 ms against 0.78-1.16 with 2 ms, on 6 partitions
    (`python -m apps.bench.experiments.local_broker`; docs/benchmarks.md, "The local broker").
    """
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": "lz4",
        "linger.ms": linger_ms,
        "batch.num.messages": 10000,
        "batch.size": 1_000_000,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 256 * 1024,
        "message.timeout.ms": delivery_timeout_ms,
        "socket.keepalive.enable": True,
        "reconnect.backoff.max.ms": 1000,
        "log.connection.close": False,
        **_security(tls),
    }


def consumer_config(
    bootstrap: str, *, group_id: str, client_id: str, tls: KafkaTls | None = None
) -> dict[str, Any]:
    """Offsets are committed by the caller, after its work is durable; fast group joins."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": 30000,
        # Tansu holds a fetch for up to half of this even when records are there (the
        # default 500 ms added up to 250 ms to every record), and each fetch it answers
        # walks every batch the partition holds: 250 ms is ~50 ms of delivery (p50) for
        # fewer walks than 100 ms cost at the head of the log (docs/benchmarks.md, "The
        # local broker"). Kafka answers at once, so there it only bounds an idle fetch.
        "fetch.wait.max.ms": 250,
        "partition.assignment.strategy": "cooperative-sticky",
        "socket.keepalive.enable": True,
        **_security(tls),
    }


def admin_config(bootstrap: str, tls: KafkaTls | None = None) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap, "socket.timeout.ms": 5000, **_security(tls)}
