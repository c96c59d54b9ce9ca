"""What an erasure receipt says (pure): the job, what each store removed, and where the
player's data can still exist and until when. Signed by `apps.users.signing`."""

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from apps.core import receipts, topics
from apps.core.privacy import digest_text
from apps.store.privacy_jobs import Job

SEGMENT_ROLL: Final = timedelta(days=7)
"""Kafka deletes a log segment once its newest record is older than the retention, and
rolls a segment at the latest after log.roll.hours (default 168 h): a record can outlive
the retention by that much."""


def erasure_receipt(
    job: Job,
    *,
    completed_at: datetime,
    stored_through: Mapping[str, int],
    erased: Mapping[str, Mapping[str, int]],
    events_topic: str,
) -> dict[str, Any]:
    """The receipt of a done erasure (every value a string, integer, boolean or null)."""
    assert job.started_at is not None
    return {
        "format": receipts.FORMAT,
        "job_id": str(job.job_id),
        "game_id": str(job.game_id),
        "player": digest_text(job.player_digest),
        "requested_at": job.created_at.isoformat(),
        "requested_by": job.requested_by,
        "request_id": job.request_id,
        "started_at": job.started_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "suppressed": job.suppress,
        "in_flight": {
            "topic": events_topic,
            "stored_through": {p: int(n) for p, n in sorted(stored_through.items())},
        },
        "erased": {store: {k: int(v) for k, v in sorted(c.items())} for store, c in erased.items()},
        "may_remain": [_kafka(t, completed_at) for t in topics.ALL],
    }


def _kafka(topic: topics.Topic, completed_at: datetime) -> dict[str, Any]:
    days = topic.retention.days
    return {
        "where": f"kafka topic {topic.name}",
        "what": "records of events sent before the erasure (not readable through any API)",
        "until": (completed_at + topic.retention + SEGMENT_ROLL).isoformat(),
        "why": f"the topic's retention ({days} days) plus a log segment's roll (7 days)",
    }
