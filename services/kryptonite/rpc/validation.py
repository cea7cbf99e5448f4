"""Request checks shared by servicers; failures raise :class:`InvalidArgument`."""

from __future__ import annotations

from collections.abc import Sequence

from kryptonite.rpc.errors import InvalidArgument


def check_limit(limit: int, *, default: int, maximum: int, field: str = "limit") -> int:
    """``0`` → ``default``; negative or above ``maximum`` → INVALID_ARGUMENT."""
    if limit == 0:
        return default
    if limit < 0 or limit > maximum:
        raise InvalidArgument(f"{field} must be between 1 and {maximum}, got {limit}")
    return limit


def check_ids(ids: Sequence[int], *, field: str, maximum: int) -> list[int]:
    """Positive ids, at most ``maximum`` of them (order kept)."""
    if len(ids) > maximum:
        raise InvalidArgument(f"{field}: at most {maximum} ids, got {len(ids)}")
    bad = [i for i in ids if i <= 0]
    if bad:
        raise InvalidArgument(f"{field}: ids must be positive, got {bad[:5]}")
    return list(ids)


def check_id(value: int, *, field: str) -> int:
    if value <= 0:
        raise InvalidArgument(f"{field} must be positive, got {value}")
    return value
