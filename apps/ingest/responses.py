"""The one place where errors become HTTP responses (status, JSON body, headers)."""

import msgspec
from starlette.responses import Response

from apps.core.errors import BatchError, GameMetricsError, TooLarge
from apps.core.validation import BatchResult
from apps.ingest.errors import DependencyDown, RateLimited, Unauthorized, UnsupportedMedia
from apps.kafka.producer import BrokerUnavailable

_encode = msgspec.json.encode


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers=headers, media_type="application/json")


def batch_response(result: BatchResult, status: int) -> Response:
    return json_response(
        status,
        {"accepted": len(result.accepted), "rejected": [r.as_json() for r in result.rejected]},
    )


def error_response(exc: GameMetricsError) -> Response:
    """Map a refusal to its status; bodies are {"error", "field", ...}, never a trace."""
    match exc:
        case BatchError():
            body = {"accepted": 0, "rejected": [], "error": exc.reason, "field": exc.field}
            return json_response(400, body)
        case TooLarge():
            return json_response(413, {"error": exc.reason, "field": exc.field})
        case Unauthorized():
            return json_response(
                401,
                {"error": exc.reason, "field": "Authorization"},
                {"WWW-Authenticate": 'Bearer realm="gamemetrics"'},
            )
        case UnsupportedMedia():
            return json_response(415, {"error": exc.reason, "field": exc.field})
        case RateLimited():
            return json_response(
                429,
                {
                    "error": f"rate limit of {exc.rate_eps} events/s exceeded; retry later",
                    "retry_after_seconds": exc.retry_after_s,
                },
                {"Retry-After": str(exc.retry_after_s)},
            )
        case BrokerUnavailable():
            return json_response(
                503,
                {"error": "the event broker could not take the events; nothing was accepted"},
                {"Retry-After": "1"},
            )
        case DependencyDown():
            return json_response(503, {"error": f"{exc.what} unavailable"}, {"Retry-After": "1"})
    return json_response(500, {"error": "internal error"})
