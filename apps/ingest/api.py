"""POST /v1/events: authenticate, read, validate, refuse erased players, rate-limit, produce,
answer when durable."""

import logging
import time
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from apps.core import limits
from apps.core.errors import GameMetricsError
from apps.core.events import encode_records
from apps.core.validation import TimePolicy, parse_batch
from apps.edge.body import read_body, require_json
from apps.edge.responses import error_body, json_response
from apps.ingest.auth import bearer_token
from apps.ingest.erased import refuse_erased
from apps.ingest.errors import RateLimited
from apps.ingest.responses import batch_response, error_response
from apps.ingest.runtime import Runtime

log = logging.getLogger(__name__)
_ENCODINGS = frozenset({"identity", "gzip"})


async def post_events(request: Request) -> Response:
    rt: Runtime = request.app.state.runtime
    started = time.perf_counter()
    try:
        response = await _ingest(request, rt)
    except GameMetricsError as e:
        response = error_response(e)
    except Exception:
        log.exception("unexpected error in POST /v1/events")
        response = json_response(500, error_body("internal error"))
    rt.metrics.requests.labels(str(response.status_code)).inc()
    rt.metrics.latency.observe(time.perf_counter() - started)
    return response


async def _ingest(request: Request, rt: Runtime) -> Response:
    received_at = datetime.now(UTC)
    headers = request.headers
    grant = await rt.keys.resolve(bearer_token(headers.get("authorization")))
    require_json(headers.get("content-type"))
    body = await read_body(
        request.stream(),
        limit=limits.MAX_BODY_BYTES,
        content_length=headers.get("content-length"),
        content_encoding=headers.get("content-encoding"),
        encodings=_ENCODINGS,
        read_timeout=rt.settings.read_timeout.total_seconds(),
    )
    horizon = (
        timedelta(days=grant.late_horizon_days)
        if grant.late_horizon_days
        else rt.settings.late_horizon
    )
    game_id = str(grant.game_id)
    result = parse_batch(
        body, game_id=game_id, received_at=received_at, policy=TimePolicy(late_horizon=horizon)
    )
    if result.accepted:
        erased = await rt.suppressions.of_game(grant.game_id)
        if erased:
            result = refuse_erased(result, grant.game_id, erased)
    for rejection in result.rejected:
        rt.metrics.rejected.labels(rejection.code).inc()
    if not result.accepted:
        return batch_response(result, 400)

    wait = await rt.limiter.acquire(game_id, grant.rate_limit_eps, len(result.accepted))
    if wait:
        raise RateLimited(wait, grant.rate_limit_eps)

    records = encode_records(game_id, result.accepted)
    await rt.producer.send(
        rt.settings.events_topic, records, within=rt.settings.delivery_timeout.total_seconds()
    )
    rt.metrics.accepted.inc(len(records))
    return batch_response(result, 202)
