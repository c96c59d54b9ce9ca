"""The service declarations: what one service may say about another."""

import pytest

from apps.core import buckets, services


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


def test_s3_is_needed_exactly_when_a_bucket_access_is_declared() -> None:
    with pytest.raises(ValueError, match="'reader': needs s3 exactly when it declares s3_access"):
        services.Service(
            name="reader", app="x:y", port=9001, public=False, needs=frozenset({"s3"}),
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"s3_access: \{.*'write'\}\); say which"):
        services.Service(
            name="writer", app="x:y", port=9001, public=False, needs=frozenset({"postgres"}),
            s3_access={buckets.ARCHIVE: "write"},
        )  # fmt: skip


def test_an_access_to_an_undeclared_bucket_or_of_an_unknown_kind_is_refused() -> None:
    stray = buckets.Bucket("scratch", "not declared")
    with pytest.raises(ValueError, match=r"names bucket 'scratch', which .* known: archive"):
        services.Service(
            name="reader", app="x:y", port=9001, public=False, needs=frozenset({"s3"}),
            s3_access={stray: "read"},
        )  # fmt: skip
    with pytest.raises(ValueError, match=r"s3_access\['archive'\] is 'admin'; expected one of"):
        services.Service(
            name="reader", app="x:y", port=9001, public=False, needs=frozenset({"s3"}),
            s3_access={buckets.ARCHIVE: "admin"},  # type: ignore[dict-item]
        )  # fmt: skip


def test_who_reads_and_who_writes_the_archive() -> None:
    """Analytics only reads archived days; retention and the user service's eraser rewrite."""
    access = {s.name: dict(s.s3_access) for s in services.ALL if s.s3_access}
    assert access == {
        "analytics": {buckets.ARCHIVE: "read"},
        "users": {buckets.ARCHIVE: "write"},
        "retention": {buckets.ARCHIVE: "write"},
    }
    assert all(("s3" in s.needs) == bool(s.s3_access) for s in services.ALL)


def test_a_bucket_key_prefix_is_a_folder() -> None:
    assert buckets.ARCHIVE.key_prefix == "events/"
    with pytest.raises(ValueError, match="key_prefix 'events' must end with '/'"):
        buckets.Bucket("archive", "x", key_prefix="events")
