"""The service declarations: what one service may say about another."""

import pytest

from apps.core import services


def test_a_service_awaiting_one_that_consumes_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="'watcher' awaits 'ingest', which consumes nothing"):
        services.Service(
            name="watcher", app="x:y", port=9001, public=False, needs=frozenset({"kafka"}),
            awaits=(services.INGEST,),
        )  # fmt: skip


def test_every_awaited_service_is_a_declared_consumer_and_its_awaiter_reads_kafka() -> None:
    """Users' privacy jobs wait for the processor: the one await declared today."""
    assert services.USERS.awaits == (services.PROCESSOR,)
    for service in services.ALL:
        for awaited in service.awaits:
            assert awaited in services.ALL, (service.name, awaited.name)
            assert awaited.consumes, (service.name, awaited.name)
            assert "kafka" in service.needs, service.name
