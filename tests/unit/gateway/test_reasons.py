"""The reason a recommendation shows, from the services' reason kind and anchor to the
card's text (pure gateway helpers, no server): "Because you added / watched <title>"
only when true of the user, the services' own text otherwise, a generic line last."""

from __future__ import annotations

import pytest

from kryptonite.gateway.recommend import Item, UserContext, _from_scored, reason_text
from kryptonite.rpc.generated.v1 import common_pb2

WATCHED = common_pb2.REASON_KIND_BECAUSE_WATCHED
LISTED = common_pb2.REASON_KIND_BECAUSE_LISTED
POPULAR = common_pb2.REASON_KIND_POPULAR
PERSONAL = common_pb2.REASON_KIND_PERSONALIZED
SIMILAR = common_pb2.REASON_KIND_SIMILAR
UNSPECIFIED = common_pb2.REASON_KIND_UNSPECIFIED
KINDS = [common_pb2.ReasonKind.Value(name) for name in common_pb2.ReasonKind.keys()]
SOURCES = ["mf", "item2item", "item_ridge", "content", "popular"]
ALIEN = 1214


def item(kind: int, source: str = "mf", anchor: int = ALIEN, text: str = "") -> Item:
    return Item(movie_id=1, score=0.5, source=source, kind=kind, anchor=anchor, text=text)


def scored(
    kind: int, anchor: int, text: str = "", source: int = common_pb2.CANDIDATE_SOURCE_MF
) -> common_pb2.ScoredMovie:
    reason = common_pb2.Reason(kind=kind, anchor_movie_id=anchor, text=text)
    return common_pb2.ScoredMovie(movie_id=7, score=0.25, source=source, reason=reason)


# ---------------------------------------------------------------- reason_text
@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (LISTED, "Because you added Alien (1979)"),
        (WATCHED, "Because you watched Alien (1979)"),
        (SIMILAR, "Similar to Alien (1979)"),
        (POPULAR, "Popular right now"),
        (PERSONAL, "Picked for your taste"),
        (UNSPECIFIED, "Picked for your taste"),
    ],
)
def test_each_kind_with_an_anchor_title(kind: int, text: str) -> None:
    assert reason_text(item(kind), "Alien (1979)") == text


@pytest.mark.parametrize("kind", [LISTED, WATCHED, SIMILAR])
@pytest.mark.parametrize("title", [None, ""])
def test_an_anchor_without_a_title_is_never_named(kind: int, title: str | None) -> None:
    assert reason_text(item(kind), title) == "Picked for your taste"
    assert reason_text(item(kind, "popular"), title) == "Popular right now"
    services = "Because you added a similar movie to your list"
    assert reason_text(item(kind, text=services), title) == services


def test_the_services_text_is_used_unless_an_anchor_is_named() -> None:
    assert reason_text(item(PERSONAL, text="Neural picks"), "Alien") == "Neural picks"
    assert reason_text(item(POPULAR, text="Trending"), None) == "Trending"
    assert reason_text(item(WATCHED, text="Because you watched a similar movie"), "Alien") == (
        "Because you watched Alien"
    )


def test_popular_by_kind_or_by_source() -> None:
    assert reason_text(item(POPULAR, "mf", anchor=0), None) == "Popular right now"
    assert reason_text(item(UNSPECIFIED, "popular", anchor=0), None) == "Popular right now"
    assert reason_text(item(PERSONAL, "mf", anchor=0), None) == "Picked for your taste"


@pytest.mark.parametrize("source", SOURCES)
def test_because_you_added_only_for_the_listed_kind(source: str) -> None:
    assert len(KINDS) > 2
    for kind in KINDS:
        text = reason_text(item(kind, source), "Alien")
        assert text.startswith("Because you added") == (kind == LISTED), (kind, text)
        assert ("Alien" in text) == (kind in (LISTED, WATCHED, SIMILAR)), (kind, text)


# ---------------------------------------------------------------- _from_scored
def test_without_the_users_context_reasons_are_kept() -> None:
    """Similar movies: no user, so nothing to correct."""
    [got] = _from_scored([scored(LISTED, ALIEN, "server text")], "content")
    assert (got.movie_id, got.score, got.kind, got.anchor, got.text) == (
        7,
        0.25,
        LISTED,
        ALIEN,
        "server text",
    )
    assert got.source == "mf"


def test_source_names_and_the_default() -> None:
    sources = {
        common_pb2.CANDIDATE_SOURCE_MF: "mf",
        common_pb2.CANDIDATE_SOURCE_ITEM2ITEM: "item2item",
        common_pb2.CANDIDATE_SOURCE_CONTENT: "content",
        common_pb2.CANDIDATE_SOURCE_POPULAR: "popular",
        common_pb2.CANDIDATE_SOURCE_ITEM_RIDGE: "item_ridge",
        common_pb2.CANDIDATE_SOURCE_UNSPECIFIED: "content",  # the caller's default
    }
    movies = [scored(PERSONAL, 0, source=s) for s in sources]
    assert [i.source for i in _from_scored(movies, "content")] == list(sources.values())


def test_added_only_for_a_movie_on_the_list_watched_otherwise() -> None:
    ctx = UserContext(user_id=5, recent=[ALIEN, 2], listed=[3])
    movies = [
        scored(LISTED, ALIEN, "Because you added a similar movie to your list"),
        scored(WATCHED, 3, "Because you watched a similar movie"),
        scored(LISTED, 3, "Because you added a similar movie to your list"),
        scored(WATCHED, 2, "Because you watched a similar movie"),
    ]
    items = _from_scored(movies, "mf", ctx)
    assert [(i.kind, i.anchor) for i in items] == [
        (WATCHED, ALIEN),
        (LISTED, 3),
        (LISTED, 3),
        (WATCHED, 2),
    ]
    # a corrected reason drops the services' (now wrong) text; a kept one keeps it
    assert [i.text for i in items] == [
        "",
        "",
        "Because you added a similar movie to your list",
        "Because you watched a similar movie",
    ]
    titles = {ALIEN: "Alien", 2: "Heat", 3: "Up"}
    assert [reason_text(i, titles[i.anchor]) for i in items] == [
        "Because you watched Alien",
        "Because you added Up",
        "Because you added Up",
        "Because you watched Heat",
    ]
    # with no title at hand, a corrected reason does not fall back to the wrong text
    assert reason_text(items[0], None) == "Picked for your taste"


def test_a_low_rated_anchor_is_dropped() -> None:
    ctx = UserContext(user_id=5, recent=[ALIEN], listed=[ALIEN], low_rated={ALIEN})
    for kind in (LISTED, WATCHED, SIMILAR):
        [got] = _from_scored(
            [scored(kind, ALIEN, "Because you watched a similar movie")], "mf", ctx
        )
        assert (got.kind, got.anchor, got.text) == (PERSONAL, 0, "")
        assert reason_text(got, None) == "Picked for your taste"


def test_reasons_without_an_anchor_are_kept_with_the_users_context() -> None:
    ctx = UserContext(user_id=5, recent=[ALIEN], listed=[3], low_rated={4})
    movies = [
        scored(POPULAR, 0, "Popular right now", common_pb2.CANDIDATE_SOURCE_POPULAR),
        scored(PERSONAL, 0, "Picked for your taste"),
    ]
    items = _from_scored(movies, "mf", ctx)
    assert [(i.kind, i.anchor, i.text) for i in items] == [
        (POPULAR, 0, "Popular right now"),
        (PERSONAL, 0, "Picked for your taste"),
    ]
