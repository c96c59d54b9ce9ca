"""JSON responses and the one mapping of the core's input errors to HTTP statuses.

Every error body says what was wrong and where: `{"error": reason, "field": where}`,
never a trace. A service maps its own refusals first and hands the rest here.
"""

from typing import Final

import msgspec
from starlette.responses import Response

from apps.core.errors import BatchError, InputError, TooLarge, UnsupportedMedia
from apps.edge.errors import BodyTimeout, ClientGone

_encode = msgspec.json.encode
STATUS: Final[dict[type[InputError], int]] = {
    BatchError: 400,
    TooLarge: 413,
    UnsupportedMedia: 415,
    BodyTimeout: 408,
    ClientGone: 400,
}
_CLOSE: Final = {"Connection": "close"}
"""After a 408 the rest of the body may still come: the connection is not reused."""


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status, headers=headers, media_type="application/json")


def error_body(error: str, field: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"error": error}
    if field is not None:
        body["field"] = field
    return body


def status_of(exc: InputError) -> int:
    return next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)


def input_error_response(exc: InputError) -> Response:
    headers = _CLOSE if isinstance(exc, BodyTimeout) else None
    return json_response(status_of(exc), error_body(exc.reason, exc.field), headers)
