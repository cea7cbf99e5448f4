"""Recommendations of the caller (own lists only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from kryptonite.gateway.deps import CurrentUser, get_state_now
from kryptonite.gateway.errors import ApiError
from kryptonite.gateway.recommend import Orchestrator
from kryptonite.gateway.schemas import MAX_ID, RecList, Strategy
from kryptonite.gateway.state import GatewayState

router = APIRouter(tags=["recommendations"])
StrategyQ = Annotated[Strategy, Query(description="blend (two-stage) or one model's list")]
LimitQ = Annotated[int, Query(ge=1, description="Items to return (≤ gateway_max_limit)")]


async def _serve(state: GatewayState, user_id: int, strategy: Strategy, limit: int) -> Response:
    """The body comes ready-made (straight from the cache on a hit): no re-validation."""
    max_limit = state.settings.gateway_max_limit
    if limit > max_limit:  # the same rule and answer as limit < 1 (a setting, not a constant)
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "limit"),
                    "msg": f"Input should be less than or equal to {max_limit}",
                    "input": limit,
                }
            ]
        )
    body = await Orchestrator(state).recommend(user_id, strategy, limit)
    return Response(body, media_type="application/json")


@router.get("/me/recommendations", response_model=RecList)
async def my_recommendations(
    user: CurrentUser,
    request: Request,
    strategy: StrategyQ = Strategy.blend,
    limit: LimitQ = 20,
) -> Response:
    """Cached list if fresh, else two-stage (or single-model) recommendations; degraded
    answers say so in ``degraded`` / ``degraded_reason``."""
    return await _serve(get_state_now(request), user.user_id, strategy, limit)


@router.get("/users/{user_id}/recommendations", response_model=RecList)
async def user_recommendations(
    user_id: Annotated[int, Path(gt=0, le=MAX_ID)],
    user: CurrentUser,
    request: Request,
    strategy: StrategyQ = Strategy.blend,
    limit: LimitQ = 20,
) -> Response:
    """Same as /me/recommendations; 403 for anyone but that user."""
    if user_id != user.user_id:
        raise ApiError(403, "you can only read your own recommendations")
    return await _serve(get_state_now(request), user_id, strategy, limit)
