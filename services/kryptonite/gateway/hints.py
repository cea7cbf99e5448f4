"""Why a row of recommendations is empty or generic, and what the user can do; and the
closed set of ``degraded_reason`` codes (both documented in docs/api.md).

The gateway attaches :func:`row_hint` to every list it computes; pages map ``hint.code``
to their own words, API clients may show ``message`` and ``action`` as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

import grpc

from kryptonite.gateway.schemas import Hint, Strategy


class HintCode(StrEnum):
    #: The user has no ratings, list or events yet and the row needs some: it is empty.
    no_history = "no_history"
    #: No history yet: the row shows popular movies instead of personal ones.
    cold_start = "cold_start"
    #: The user has history but the model found nothing new for it.
    no_matches = "no_matches"
    #: A service the row needs is down and no fallback had anything to show.
    unavailable = "unavailable"


_HINTS: dict[HintCode, tuple[str, str]] = {
    HintCode.no_history: (
        "We don't know your taste yet, so this row is empty.",
        "Rate a few movies or add them to your list.",
    ),
    HintCode.cold_start: (
        "We don't know your taste yet, so these are popular movies.",
        "Rate a few movies or add them to your list to make this row yours.",
    ),
    HintCode.no_matches: (
        "Nothing new to suggest from what you have rated and listed.",
        "Rate or list a few more movies, or try another row.",
    ),
    HintCode.unavailable: (
        "This row is unavailable for a moment.",
        "Try again shortly.",
    ),
}


def hint(code: HintCode) -> Hint:
    message, action = _HINTS[code]
    return Hint(code=code.value, message=message, action=action)


def row_hint(
    strategy: Strategy, *, has_history: bool, items: Sequence[object], degraded: bool
) -> Hint | None:
    """The hint of one computed row (None when the row speaks for itself)."""
    if strategy is Strategy.popular:
        return hint(HintCode.unavailable) if not items and degraded else None
    if not items:
        if degraded:
            return hint(HintCode.unavailable)
        return hint(HintCode.no_matches if has_history else HintCode.no_history)
    return None if has_history else hint(HintCode.cold_start)


#: Services whose failure a ``degraded_reason`` names, and the failures it tells apart.
DEGRADED_SERVICES = ("candidates", "ranking", "content")
DEGRADED_FAILURES = ("unavailable", "deadline_exceeded")
DATABASE_UNAVAILABLE = "database_unavailable"


def downstream_cause(service: str, code: grpc.StatusCode) -> str:
    """``<service>_deadline_exceeded`` for a call that ran out of time, else
    ``<service>_unavailable`` (any other failure: the service could not answer)."""
    failure = "deadline_exceeded" if code == grpc.StatusCode.DEADLINE_EXCEEDED else "unavailable"
    return f"{service}_{failure}"


def degraded_reasons() -> list[str]:
    """Every code a ``degraded_reason`` may contain (comma-joined when several)."""
    return [f"{s}_{f}" for s in DEGRADED_SERVICES for f in DEGRADED_FAILURES] + [
        DATABASE_UNAVAILABLE
    ]
