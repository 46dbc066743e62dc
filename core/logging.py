"""Log lines: a request ID on each (a middleware sets it, a filter adds it), one line per record.

Values from outside (alert IDs, rule names, exception messages) reach log messages; the
formatter escapes line breaks and control characters, so no value can forge a line.
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

request_id: ContextVar[str] = ContextVar("request_id", default="-")

# Accept a caller's ID (a proxy's, or Azure's) only if it is short and plain.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an ID (X-Request-ID if sane, else a new one) and echo it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class RequestIdFilter(logging.Filter):
    """Put the current request's ID on the record as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


# Everything that can end a line or drive a terminal: C0 (but tab), DEL, C1 (NEL is
# U+0085), and the Unicode line and paragraph separators.
_CONTROL_ESCAPES = {
    **{c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x09},
    0x0A: "\\n",
    0x0D: "\\r",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


class SingleLineFormatter(logging.Formatter):
    """Format a record as exactly one line: line breaks and control characters escaped.

    Applied to the whole output (message, arguments, traceback, stack), so a newline in
    an alert ID shows as `\\n` instead of starting a line that looks like another record.
    """

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).translate(_CONTROL_ESCAPES)
