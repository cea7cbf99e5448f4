"""The real candidates, ranking and content services (small models trained on
ml-latest-small) under hostile requests.

* Hypothesis-built messages with extreme, negative, duplicate and unknown values in every
  field: each call ends OK, INVALID_ARGUMENT or NOT_FOUND (never INTERNAL or UNKNOWN), and
  an OK answer respects the request (limit, positive ids, finite scores).
* Bytes that are not a protobuf message: INVALID_ARGUMENT, not a crash.
* A message over ``rpc_max_message_bytes``: RESOURCE_EXHAUSTED before any servicer code
  runs; one just under the limit but with too many ids: INVALID_ARGUMENT.

After each test every server still reports SERVING and answers a valid call.

The servers run on the session event loop; the fuzzing calls go through blocking channels
from a worker thread so the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from tests.integration.reliability.conftest import FUZZ_EXAMPLES
from tests.integration.services.conftest import Running

from kryptonite.config import Settings
from kryptonite.rpc.generated.v1 import candidates_pb2, common_pb2, content_pb2, ranking_pb2

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

OK, INVALID, NOT_FOUND = (
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
)
MAX_BYTES = Settings().rpc_max_message_bytes
#: The channel itself may send anything; only the servers' limits apply.
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", 8 * MAX_BYTES),
    ("grpc.max_receive_message_length", 8 * MAX_BYTES),
]


@dataclass(frozen=True)
class Method:
    service: str  # attribute of Running
    path: str
    request: Any
    response: Any
    valid: Any  # a request that must succeed


def _path(pb2: Any, service: str, method: str) -> str:
    return f"/{pb2.DESCRIPTOR.services_by_name[service].full_name}/{method}"


METHODS = {
    "GetCandidates": Method(
        "candidates",
        _path(candidates_pb2, "CandidatesService", "GetCandidates"),
        candidates_pb2.GetCandidatesRequest,
        candidates_pb2.GetCandidatesResponse,
        candidates_pb2.GetCandidatesRequest(user_id=1, recent_movie_ids=[1, 260], limit=10),
    ),
    "Rank": Method(
        "ranking",
        _path(ranking_pb2, "RankingService", "Rank"),
        ranking_pb2.RankRequest,
        ranking_pb2.RankResponse,
        ranking_pb2.RankRequest(
            user_id=1,
            candidates=[ranking_pb2.RankCandidate(movie_id=m, retrieval_score=1.0) for m in (1, 2)],
        ),
    ),
    "SimilarMovies": Method(
        "content",
        _path(content_pb2, "ContentService", "SimilarMovies"),
        content_pb2.SimilarMoviesRequest,
        content_pb2.SimilarMoviesResponse,
        content_pb2.SimilarMoviesRequest(movie_id=1, limit=5),
    ),
    "RecommendForMovies": Method(
        "content",
        _path(content_pb2, "ContentService", "RecommendForMovies"),
        content_pb2.RecommendForMoviesRequest,
        content_pb2.RecommendForMoviesResponse,
        content_pb2.RecommendForMoviesRequest(movie_ids=[1, 260], limit=5),
    ),
}


# ---------------------------------------------------------------- strategies
INT64 = st.integers(-(2**63), 2**63 - 1)
INT32 = st.integers(-(2**31), 2**31 - 1)
#: Each field is either plausible (so calls get past validation and reach the models) or
#: anything its type holds (negative, zero, int64 extremes, unknown movies).
GOOD_IDS = st.one_of(st.integers(1, 200_000), st.sampled_from([1, 2, 260, 318, 2571]))
IDS = st.one_of(GOOD_IDS, st.integers(-3, 3), INT64)
ID_LISTS = st.one_of(st.lists(GOOD_IDS, max_size=40), st.lists(IDS, max_size=40))
LIMITS = st.one_of(st.integers(0, 100), st.integers(-3, 2_100), INT32)
FLOATS = st.one_of(st.floats(-10, 10, width=32), st.floats(width=32))  # + NaN, infinities
ENUMS = st.one_of(
    st.integers(0, 4), st.integers(-2, 6), INT32
)  # proto3 enums are open: unknown values arrive

REQUESTS: dict[str, st.SearchStrategy[Any]] = {
    "GetCandidates": st.builds(
        candidates_pb2.GetCandidatesRequest,
        user_id=IDS,
        recent_movie_ids=ID_LISTS,
        list_movie_ids=ID_LISTS,
        limit=LIMITS,
        sources=st.lists(
            st.builds(candidates_pb2.SourceQuota, source=ENUMS, limit=LIMITS), max_size=6
        ),
        exclude_movie_ids=ID_LISTS,
    ),
    "Rank": st.builds(
        ranking_pb2.RankRequest,
        user_id=IDS,
        candidates=st.one_of(
            *(
                st.lists(
                    st.builds(
                        ranking_pb2.RankCandidate,
                        movie_id=ids,
                        retrieval_score=FLOATS,
                        source=ENUMS,
                    ),
                    max_size=60,
                )
                for ids in (GOOD_IDS, IDS)
            )
        ),
        limit=LIMITS,
        recent_movie_ids=ID_LISTS,
        list_movie_ids=ID_LISTS,
    ).flatmap(
        lambda r: st.one_of(st.none(), st.floats(0, 1), FLOATS).map(lambda d: _with_diversity(r, d))
    ),
    "SimilarMovies": st.builds(content_pb2.SimilarMoviesRequest, movie_id=IDS, limit=LIMITS),
    "RecommendForMovies": st.builds(
        content_pb2.RecommendForMoviesRequest,
        movie_ids=ID_LISTS,
        limit=LIMITS,
        exclude_movie_ids=ID_LISTS,
    ),
}


def _with_diversity(request: ranking_pb2.RankRequest, diversity: float | None) -> Any:
    if diversity is not None:
        request.diversity = diversity
    return request


def _limit(request: Any) -> int | None:
    """The most items an OK answer may hold (None: the service's default applies)."""
    return request.limit if request.limit > 0 else None


def _items(name: str, reply: Any) -> list[common_pb2.ScoredMovie]:
    return list(
        {
            "GetCandidates": lambda r: r.candidates,
            "Rank": lambda r: r.items,
        }.get(name, lambda r: r.movies)(reply)
    )


def check_ok(name: str, request: Any, reply: Any) -> None:
    """An OK answer is well-formed and honours the request."""
    items = _items(name, reply)
    limit = _limit(request)
    assert limit is None or len(items) <= limit, (len(items), limit)
    assert all(i.movie_id > 0 for i in items)
    assert all(math.isfinite(i.score) for i in items), [i.score for i in items]
    assert reply.model_version
    if name == "Rank":
        asked = {c.movie_id for c in request.candidates}
        assert {i.movie_id for i in items} <= asked
    if name in ("GetCandidates", "RecommendForMovies"):
        excluded = set(request.exclude_movie_ids)
        assert not {i.movie_id for i in items} & excluded


# ---------------------------------------------------------------- plumbing
@pytest.fixture(scope="session")
def channels(services: Running) -> Iterator[dict[str, grpc.Channel]]:
    """Blocking channels to the three servers (used from worker threads)."""
    out = {
        name: grpc.insecure_channel(
            f"127.0.0.1:{getattr(services, name).server.port}", options=CHANNEL_OPTIONS
        )
        for name in ("candidates", "ranking", "content")
    }
    yield out
    for channel in out.values():
        channel.close()


def raw(channel: grpc.Channel, method: str) -> Callable[..., bytes]:
    """A unary call that sends and returns bytes as they are."""
    return channel.unary_unary(method)


def call(channels: dict[str, grpc.Channel], name: str, payload: bytes) -> tuple[Any, bytes]:
    """(status code, reply bytes or b"") of one raw call."""
    method = METHODS[name]
    try:
        return OK, raw(channels[method.service], method.path)(payload, timeout=30)
    except grpc.RpcError as exc:
        return exc.code(), exc.details().encode()


def assert_alive(channels: dict[str, grpc.Channel]) -> None:
    """Every server reports SERVING and answers a valid call of each method."""
    for name, channel in channels.items():
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=10
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING, name
    for name, method in METHODS.items():
        code, body = call(channels, name, method.valid.SerializeToString())
        assert code is OK, (name, code, body)
        check_ok(name, method.valid, method.response.FromString(body))


FUZZ_SETTINGS = settings(
    max_examples=FUZZ_EXAMPLES * 4,  # cheap calls: a few more than the HTTP fuzzer
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


# ---------------------------------------------------------------- tests
@pytest.mark.parametrize("name", list(METHODS))
async def test_fuzzed_messages(channels: dict[str, grpc.Channel], name: str) -> None:
    codes: dict[grpc.StatusCode, int] = {}

    @FUZZ_SETTINGS
    @given(request=REQUESTS[name])
    def run(request: Any) -> None:
        code, body = call(channels, name, request.SerializeToString())
        codes[code] = codes.get(code, 0) + 1
        assert code in (OK, INVALID, NOT_FOUND), (code, body, request)
        if code is OK:
            check_ok(name, request, METHODS[name].response.FromString(body))
        else:
            assert body and b"Traceback" not in body

    await asyncio.to_thread(run)
    print(name, {c.name: n for c, n in codes.items()})
    assert codes.get(INVALID, 0) > 0  # the strategies do reach the validation
    await asyncio.to_thread(assert_alive, channels)


@pytest.mark.parametrize("name", list(METHODS))
async def test_bytes_that_are_not_a_message(channels: dict[str, grpc.Channel], name: str) -> None:
    """Truncated, corrupted or random bytes: INVALID_ARGUMENT when they do not parse."""
    request_type = METHODS[name].request

    def parses(payload: bytes) -> bool:
        try:
            request_type.FromString(payload)
        except Exception:
            return False
        return True

    @FUZZ_SETTINGS
    @given(
        payload=st.one_of(
            st.binary(max_size=300),
            st.just(METHODS[name].valid.SerializeToString()[:-1]),  # truncated
            st.just(b"\xff" * 16),  # a varint that never ends
            st.just(b"\x0a\xff\xff\xff\xff\x0f"),  # a length far beyond the message
        )
    )
    def run(payload: bytes) -> None:
        code, body = call(channels, name, payload)
        if parses(payload):
            assert code in (OK, INVALID, NOT_FOUND), (code, body, payload)
        else:
            assert code is INVALID, (code, body, payload)

    # Answered by the interceptor, so logged and counted like any other call.
    service, _, rpc = METHODS[name].path.lstrip("/").rpartition("/")
    labels = {"service": service, "method": rpc, "code": "INVALID_ARGUMENT"}
    before = REGISTRY.get_sample_value("kryptonite_rpc_server_handled_total", labels) or 0.0
    code, _ = await asyncio.to_thread(call, channels, name, b"\xff" * 16)
    assert code is INVALID
    assert REGISTRY.get_sample_value("kryptonite_rpc_server_handled_total", labels) == before + 1

    await asyncio.to_thread(run)
    await asyncio.to_thread(assert_alive, channels)


def _oversized(name: str, count: int) -> Any:
    """A request of ``name`` whose id list has ``count`` 9-byte varints."""
    big = [2**62 + i for i in range(count)]
    return {
        "GetCandidates": lambda: candidates_pb2.GetCandidatesRequest(recent_movie_ids=big),
        "Rank": lambda: ranking_pb2.RankRequest(recent_movie_ids=big),
        "RecommendForMovies": lambda: content_pb2.RecommendForMoviesRequest(movie_ids=big),
    }[name]()


@pytest.mark.parametrize("name", list(METHODS))
async def test_oversized_message_is_refused(channels: dict[str, grpc.Channel], name: str) -> None:
    """Over the limit: RESOURCE_EXHAUSTED (the servicer never sees it). Under the limit but
    with more ids than a request may hold: INVALID_ARGUMENT."""
    if name == "SimilarMovies":
        # No repeated field: pad with an unknown field the parser would have to skip.
        over = METHODS[name].valid.SerializeToString() + _unknown_field(MAX_BYTES + 1024)
        under = None
    else:
        over = _oversized(name, MAX_BYTES // 9 + 1024).SerializeToString()
        under = _oversized(name, 6000).SerializeToString()
    assert len(over) > MAX_BYTES
    code, body = await asyncio.to_thread(call, channels, name, over)
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED, (code, body)
    if under is not None:
        assert len(under) < MAX_BYTES
        code, body = await asyncio.to_thread(call, channels, name, under)
        assert code is INVALID, (code, body)
        assert b"at most" in body
    await asyncio.to_thread(assert_alive, channels)


def _unknown_field(size: int) -> bytes:
    """Field 15, wire type 2 (length-delimited), ``size`` bytes of payload."""
    length, out = size, bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            break
    return bytes([15 << 3 | 2]) + bytes(out) + b"\0" * size
