"""Creating the declared topics (idempotent): what `gamemetrics dev` and the fixtures run."""

import logging

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from apps.core.topics import ALL, Stack, Topic
from apps.kafka.config import admin_config

log = logging.getLogger(__name__)


def ensure_topics(
    bootstrap: str, stack: Stack, topics: tuple[Topic, ...] = ALL, timeout: float = 15.0
) -> None:
    """Create missing topics with their declared partitions; existing ones are left alone."""
    admin = AdminClient(admin_config(bootstrap))
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(t.name, num_partitions=t.partitions_for(stack), config=t.config())
        for t in topics
        if t.name not in existing
    ]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            log.info("created topic %s", name)
        except KafkaException as e:
            if e.args and e.args[0].name() == "TOPIC_ALREADY_EXISTS":
                continue
            raise
