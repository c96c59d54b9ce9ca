"""The one mapping of the users API's refusals to HTTP statuses and JSON bodies.

Every error body is `{"error": reason}` plus `"field"` when one input is at
fault, and `"required_role"` on a 403; never a secret, never a trace.
"""

from typing import Final

from starlette.responses import Response

from apps.core.errors import InputError
from apps.edge.responses import input_error_response, json_response
from apps.users import errors

STATUS: Final[dict[type[errors.UsersError], int]] = {
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Throttled: 429,
    errors.Unavailable: 503,
}


def refusal(exc: errors.UsersError | InputError) -> Response:
    if isinstance(exc, InputError):
        return input_error_response(exc)
    status = next(s for kind, s in STATUS.items() if isinstance(exc, kind))
    body: dict[str, object] = {"error": exc.reason}
    if exc.field is not None:
        body["field"] = exc.field
    headers: dict[str, str] | None = None
    if isinstance(exc, errors.Forbidden):
        body["required_role"] = exc.needed
    elif isinstance(exc, errors.Unauthenticated):
        headers = {"WWW-Authenticate": 'Bearer realm="gamemetrics"'}
    elif isinstance(exc, errors.Throttled):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif isinstance(exc, errors.Unavailable):
        headers = {"Retry-After": "1"}
    return json_response(status, body, headers)
