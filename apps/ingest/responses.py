"""The ingestion API's refusals as HTTP responses (the core's input errors go to the edge)."""

from starlette.responses import Response

from apps.core.errors import BatchError, GameMetricsError, InputError
from apps.core.validation import BatchResult
from apps.edge.responses import error_body, input_error_response, json_response
from apps.ingest.errors import DependencyDown, RateLimited, Unauthorized
from apps.kafka.producer import BrokerUnavailable


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
        case InputError():
            return input_error_response(exc)
        case Unauthorized():
            return json_response(
                401,
                error_body(exc.reason, "Authorization"),
                {"WWW-Authenticate": 'Bearer realm="gamemetrics"'},
            )
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
                error_body("the event broker could not take the events; nothing was accepted"),
                {"Retry-After": "1"},
            )
        case DependencyDown():
            return json_response(503, error_body(f"{exc.what} unavailable"), {"Retry-After": "1"})
    return json_response(500, error_body("internal error"))
