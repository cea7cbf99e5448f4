"""Stage one's merge of the sources' ranked lists (pure: no models, no server): each
source's quota first, interleaved by rank / quota, then the surplus; a movie is taken
once; at most ``limit``; score, anchor and reason kind travel with the movie."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from kryptonite.candidates.retrieval import (
    CONTENT,
    ITEM2ITEM,
    MF,
    NOTHING,
    POPULAR,
    Candidate,
    Sourced,
    merge,
)
from kryptonite.rpc.generated.v1 import common_pb2
from kryptonite.serving.hits import Hits

WATCHED = common_pb2.REASON_KIND_BECAUSE_WATCHED
LISTED = common_pb2.REASON_KIND_BECAUSE_LISTED
PERSONAL = common_pb2.REASON_KIND_PERSONALIZED
POPULAR_KIND = common_pb2.REASON_KIND_POPULAR


def sourced(
    ids: Sequence[int],
    kind: int = PERSONAL,
    scores: Sequence[float] | None = None,
    anchors: Sequence[int] | None = None,
) -> Sourced:
    """One source's hits, best first (scores default to 1/rank, anchors to 0)."""
    return (
        Hits(
            np.asarray(ids, np.int64),
            np.asarray(scores if scores is not None else [1 / (r + 1) for r in range(len(ids))]),
            np.asarray(anchors if anchors is not None else [0] * len(ids), np.int64),
        ),
        kind,
    )


def ids(out: list[Candidate]) -> list[int]:
    return [c.movie_id for c in out]


def test_quotas_are_interleaved_by_rank_over_quota() -> None:
    """Four from MF and two from item-to-item: MF's ranks 0, .25, .5, .75 and the
    other's 0, .5 interleave (a tie keeps source order)."""
    lists = {MF: sourced([1, 2, 3, 4, 5]), ITEM2ITEM: sourced([11, 12, 13])}
    out = merge(lists, {MF: 4, ITEM2ITEM: 2}, limit=6)
    assert ids(out) == [1, 11, 2, 3, 12, 4]
    assert [c.source for c in out] == [MF, ITEM2ITEM, MF, MF, ITEM2ITEM, MF]


def test_each_source_gets_its_quota_before_any_surplus() -> None:
    lists = {MF: sourced(range(1, 11)), CONTENT: sourced(range(21, 31))}
    out = merge(lists, {MF: 3, CONTENT: 2}, limit=5)
    assert sorted(ids(out)) == [1, 2, 3, 21, 22]


def test_surplus_fills_what_the_quotas_leave_and_comes_after_them() -> None:
    """Item-to-item has one movie for a quota of three: MF's surplus makes up the limit,
    behind every quota movie."""
    lists = {MF: sourced([1, 2, 3, 4, 5]), ITEM2ITEM: sourced([11])}
    out = merge(lists, {MF: 2, ITEM2ITEM: 3}, limit=5)
    assert ids(out) == [1, 11, 2, 3, 4]
    assert ids(merge(lists, {MF: 2, ITEM2ITEM: 3}, limit=100)) == [1, 11, 2, 3, 4, 5]


def test_a_movie_of_two_sources_is_taken_once_by_the_first_to_reach_it() -> None:
    """MF reaches 7 in its quota; item-to-item skips it and takes its next movie instead,
    with that movie's own score and anchor."""
    lists = {
        MF: sourced([7, 1], scores=[0.9, 0.8]),
        ITEM2ITEM: sourced([7, 8, 9], WATCHED, scores=[0.7, 0.6, 0.5], anchors=[100, 200, 300]),
    }
    out = merge(lists, {MF: 2, ITEM2ITEM: 2}, limit=10)
    assert sorted(ids(out)) == [1, 7, 8, 9]
    assert len(ids(out)) == len(set(ids(out)))
    by_id = {c.movie_id: c for c in out}
    assert (by_id[7].source, by_id[7].score, by_id[7].anchor) == (MF, pytest.approx(0.9), 0)
    assert (by_id[8].source, by_id[8].score, by_id[8].anchor) == (
        ITEM2ITEM,
        pytest.approx(0.6),
        200,
    )
    assert (by_id[9].score, by_id[9].anchor) == (pytest.approx(0.5), 300)


def test_the_winner_of_a_shared_movie_is_whoever_reaches_it_first() -> None:
    """MF's quota of one ends before its second movie; item-to-item, next in the pass,
    reaches that movie first and takes it."""
    lists = {MF: sourced([1, 2]), ITEM2ITEM: sourced([2, 3], WATCHED, anchors=[50, 60])}
    out = merge(lists, {MF: 1, ITEM2ITEM: 2}, limit=10)
    by_id = {c.movie_id: c for c in out}
    assert sorted(by_id) == [1, 2, 3]
    assert (by_id[2].source, by_id[2].kind, by_id[2].anchor) == (ITEM2ITEM, WATCHED, 50)


@pytest.mark.parametrize("limit", [0, 1, 3, 7])
def test_limit_is_honoured(limit: int) -> None:
    lists = {MF: sourced(range(1, 6)), POPULAR: sourced(range(11, 16), POPULAR_KIND)}
    out = merge(lists, {MF: 3, POPULAR: 3}, limit=limit)
    assert len(out) == limit
    assert len(set(ids(out))) == limit


def test_empty_sources() -> None:
    assert merge({}, {}, limit=10) == []
    assert merge({MF: NOTHING, CONTENT: NOTHING}, {MF: 5, CONTENT: 5}, limit=10) == []
    # an empty source leaves its share to the others' surplus
    lists = {MF: NOTHING, CONTENT: sourced([1, 2, 3], LISTED)}
    assert ids(merge(lists, {MF: 5, CONTENT: 1}, limit=10)) == [1, 2, 3]


def test_a_source_with_quota_zero_only_fills_what_is_left() -> None:
    lists = {POPULAR: sourced([1, 2, 3], POPULAR_KIND), MF: sourced([11, 12, 13])}
    full = merge(lists, {POPULAR: 0, MF: 3}, limit=3)
    assert ids(full) == [11, 12, 13]  # listed first, yet nothing before MF's quota
    filled = merge(lists, {POPULAR: 0, MF: 3}, limit=5)
    assert sorted(ids(filled)) == [1, 2, 11, 12, 13]
    assert {c.source for c in filled if c.movie_id < 10} == {POPULAR}


def test_the_surplus_of_a_quota_zero_source_comes_after_every_quota_movie() -> None:
    lists = {MF: sourced([11, 12]), POPULAR: sourced([1, 2, 3], POPULAR_KIND)}
    out = merge(lists, {MF: 2, POPULAR: 0}, limit=4)
    assert sorted(ids(out)) == [1, 2, 11, 12]
    assert ids(out)[:2] == [11, 12]


def test_candidates_carry_source_score_anchor_and_kind() -> None:
    lists = {
        CONTENT: sourced([5, 6], LISTED, scores=[0.75, 0.5], anchors=[42, 43]),
        POPULAR: sourced([9], POPULAR_KIND, scores=[123.0]),
    }
    out = merge(lists, {CONTENT: 2, POPULAR: 1}, limit=3)
    assert out == [
        Candidate(5, 0.75, CONTENT, 42, LISTED),
        Candidate(9, 123.0, POPULAR, 0, POPULAR_KIND),
        Candidate(6, 0.5, CONTENT, 43, LISTED),
    ]
    assert all(type(c.movie_id) is int and type(c.anchor) is int for c in out)
    assert all(type(c.score) is float for c in out)
