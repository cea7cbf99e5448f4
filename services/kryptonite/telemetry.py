"""Per-call context: request id and deadline, carried in contextvars across awaits.

The server interceptor sets both for every call; clients read them so a downstream call
carries the same ``x-request-id`` and never outlives the caller's deadline.
"""

from __future__ import annotations

import re
import time
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "x-request-id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("kryptonite_request_id", default=None)
#: Absolute ``time.monotonic()`` deadline of the call being served, if it has one.
deadline_var: ContextVar[float | None] = ContextVar("kryptonite_deadline", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def clean_request_id(value: str | bytes | None) -> str:
    """The caller's id if it is sane (printable, ≤128 chars), otherwise a fresh one."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value if value and _VALID_ID.match(value) else new_request_id()


def current_request_id() -> str:
    """The request id of the current call, or a fresh one outside any call."""
    return request_id_var.get() or new_request_id()


def remaining_s() -> float | None:
    """Seconds left before the current call's deadline; None when there is none."""
    deadline = deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


def downstream_timeout(default_s: float, time_remaining: float | None = None) -> float:
    """Timeout for a downstream call: ``default_s`` capped by the caller's deadline.

    ``time_remaining`` is ``context.time_remaining()`` of a servicer; when omitted the
    deadline recorded by the interceptor is used. Never below 1 ms (gRPC then reports
    DEADLINE_EXCEEDED itself instead of a timeout of zero meaning "none").
    """
    left = remaining_s() if time_remaining is None else time_remaining
    if left is None:
        return default_s
    return max(min(default_s, left), 0.001)
