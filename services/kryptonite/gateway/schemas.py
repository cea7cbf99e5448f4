"""Request and response bodies (pydantic)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

#: Largest movie or user id: the id columns are 32-bit signed INTEGERs (a bigger id cannot
#: exist, and must be a 422 rather than reach the database or a protobuf int field).
MAX_ID = 2**31 - 1


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable: not_found, validation_error, …")
    message: str
    field: str | None = Field(default=None, description="422 only: the first invalid field")
    fields: list[str] | None = Field(default=None, description="422 only: every invalid field")


class ErrorOut(BaseModel):
    """The one error body of every failure."""

    error: ErrorDetail


class ReadyOut(BaseModel):
    """/readyz: overall status ("ready": all ok, "degraded", "unavailable") and each
    dependency's state ("ok", "not_serving", "down: …")."""

    status: str
    checks: dict[str, str]


class Strategy(StrEnum):
    blend = "blend"
    content = "content"
    cf = "cf"
    ncf = "ncf"
    item2item = "item2item"
    popular = "popular"


_NOT_AT_OR_SPACE = r"[^@ \t\n\r\f\v]+"
_EMAIL = rf"^{_NOT_AT_OR_SPACE}@{_NOT_AT_OR_SPACE}\.{_NOT_AT_OR_SPACE}$"


class RegisterIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    password: str = Field(min_length=8, max_length=256)
    #: ASCII whitespace spelled out: ``\s`` means more in Python than in the JSON Schema
    #: (ECMA) regex clients validate with (U+0085), so the two would disagree.
    email: str | None = Field(default=None, max_length=255, pattern=_EMAIL)


class PasswordChangeIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class UserOut(BaseModel):
    user_id: int
    username: str
    email: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class MovieCard(BaseModel):
    movie_id: int
    title: str | None = None
    year: int | None = None
    genres: list[str] = []


class MoviePage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[MovieCard]


class Links(BaseModel):
    movielens: str
    imdb: str | None = None
    tmdb: str | None = None
    youtube: str | None = None


class MovieDetail(MovieCard):
    overview: str | None = None
    poster_path: str | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    youtube_id: str | None = None
    rating_mean: float | None = Field(None, description="Mean of every rating (0.5-5)")
    rating_count: int = Field(0, description="Number of ratings")
    tags: list[str] = Field([], description="What people tag it with, most common first")
    links: Links


class ListItem(MovieCard):
    added_at: int


class HiddenItem(MovieCard):
    """A movie the user is not interested in (never recommended to them)."""

    hidden_at: int


class RatingIn(BaseModel):
    rating: float = Field(
        ge=0.5,
        le=5.0,
        description="0.5 to 5.0 in steps of 0.5",
        json_schema_extra={"multipleOf": 0.5},
    )

    @field_validator("rating")
    @classmethod
    def _halves(cls, value: float) -> float:
        if abs(value * 2 - round(value * 2)) > 1e-9:
            raise ValueError("rating must be a multiple of 0.5")
        return value


class RatingOut(BaseModel):
    movie_id: int
    rating: float
    rated_at: int


class EventKind(StrEnum):
    view = "view"
    click = "click"


class EventIn(BaseModel):
    movie_id: int = Field(gt=0, le=MAX_ID)
    event: EventKind


class RecItem(MovieCard):
    score: float
    source: str
    reason: str
    anchor_movie_id: int | None = None


class Hint(BaseModel):
    """Why a row is empty or generic and what to do (codes: ``gateway/hints.py``)."""

    code: str
    message: str
    action: str


class RecList(BaseModel):
    user_id: int
    strategy: Strategy
    model_version: str
    degraded: bool = False
    degraded_reason: str | None = None
    cached: bool = False
    hint: Hint | None = None
    items: list[RecItem]


class SimilarOut(BaseModel):
    movie_id: int
    degraded: bool = False
    items: list[RecItem]


class DailyKind(StrEnum):
    new = "new"
    trending = "trending"


class DailyOut(BaseModel):
    kind: DailyKind
    day: dt.date | None
    items: list[MovieCard]
