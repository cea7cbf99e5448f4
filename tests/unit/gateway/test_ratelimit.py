"""The sign-in limiter with in-process counters and an injected clock (no Redis, no
server): the (username, IP), IP and username counters lock on their own limits, a right
password takes its attempt back, windows are fixed from their first attempt."""

from __future__ import annotations

import pytest

from kryptonite.config import Settings
from kryptonite.gateway.ratelimit import LoginLimiter, MemoryCounters, client_network, wait_words

WINDOW = 120
IP, OTHER_IP = "192.0.2.10", "198.51.100.20"


class Clock:
    """A settable monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(clock: Clock, pair: int = 3, per_ip: int = 100, per_user: int = 100) -> LoginLimiter:
    settings = Settings(
        redis_url=None,
        cache_prefix="test",
        login_window_s=WINDOW,
        login_max_failures=pair,
        login_max_failures_per_ip=per_ip,
        login_max_failures_per_user=per_user,
    )
    return LoginLimiter(settings, fallback=MemoryCounters(clock=clock))


async def fail(limits: LoginLimiter, times: int, name: str = "alice", ip: str = IP) -> None:
    """``times`` wrong passwords, each let through to the check."""
    for _ in range(times):
        assert await limits.attempt(name, ip) is None


# ---------------------------------------------------------------- LoginLimiter
async def test_in_process_without_redis(clock: Clock) -> None:
    assert limiter(clock).backend == "memory"


async def test_the_limit_of_failures_locks_the_pair_for_the_window(clock: Clock) -> None:
    limits = limiter(clock, pair=3)
    await fail(limits, 3)
    assert await limits.attempt("alice", IP) == WINDOW
    clock.now += 30
    assert await limits.attempt("alice", IP) == WINDOW - 30  # still refused, still counted


async def test_the_lock_is_per_username_and_address(clock: Clock) -> None:
    limits = limiter(clock, pair=3)
    await fail(limits, 3)
    assert await limits.attempt("alice", IP) is not None
    assert await limits.attempt("alice", OTHER_IP) is None
    assert await limits.attempt("bob", IP) is None


async def test_usernames_count_in_canonical_form(clock: Clock) -> None:
    limits = limiter(clock, pair=3)
    for name in ("Alice", " alice ", "ALICE"):
        assert await limits.attempt(name, IP) is None
    assert await limits.attempt("alice", IP) == WINDOW


async def test_a_right_password_clears_the_pair(clock: Clock) -> None:
    limits = limiter(clock, pair=3)
    for _ in range(5):  # many sign-ins, none counted against the user
        await fail(limits, 1)
        await limits.succeeded("alice", IP)
    await fail(limits, 2)
    assert await limits.attempt("alice", IP) is None  # the right password this time
    await limits.succeeded("alice", IP)
    await fail(limits, 3)  # the failures before the success are forgotten
    assert await limits.attempt("alice", IP) == WINDOW


async def test_the_window_is_fixed_from_its_first_attempt(clock: Clock) -> None:
    limits = limiter(clock, pair=3)
    await fail(limits, 1)
    clock.now += 50
    await fail(limits, 1)
    clock.now += 50
    await fail(limits, 1)
    clock.now += 19
    assert await limits.attempt("alice", IP) == 1  # 119 s into the window
    clock.now += 1
    assert await limits.attempt("alice", IP) is None  # a new window, its first attempt
    await fail(limits, 2)
    assert await limits.attempt("alice", IP) == WINDOW


async def test_the_per_ip_limit_stops_sweeping_usernames(clock: Clock) -> None:
    limits = limiter(clock, pair=10, per_ip=5)
    for n in range(5):
        await fail(limits, 1, name=f"user{n}")
    assert await limits.attempt("someone-new", IP) == WINDOW
    assert await limits.attempt("someone-new", OTHER_IP) is None


async def test_the_per_ip_limit_counts_an_ipv6_64_as_one_client(clock: Clock) -> None:
    limits = limiter(clock, pair=10, per_ip=2)
    await fail(limits, 1, name="a", ip="2001:db8::1")
    await fail(limits, 1, name="b", ip="2001:db8::ffff:1")
    assert await limits.attempt("c", "2001:db8::2") == WINDOW
    assert await limits.attempt("c", "2001:db8:0:1::1") is None  # the next /64


async def test_the_per_user_limit_caps_distributed_guessing(clock: Clock) -> None:
    limits = limiter(clock, pair=10, per_user=4)
    for n in range(4):
        await fail(limits, 1, ip=f"192.0.2.{n + 1}")
    assert await limits.attempt("alice", "203.0.113.9") == WINDOW
    assert await limits.attempt("bob", "203.0.113.9") is None


async def test_a_success_takes_one_off_the_ip_and_user_counters(clock: Clock) -> None:
    limits = limiter(clock, pair=10, per_ip=3, per_user=100)
    await fail(limits, 1, name="bob")
    await fail(limits, 1, name="carol")
    for _ in range(4):  # alice signs in again and again: each attempt is taken back
        await fail(limits, 1, name="alice")
        await limits.succeeded("alice", IP)
    await fail(limits, 1, name="dave")  # the third failure from the address
    assert await limits.attempt("erin", IP) == WINDOW


async def test_zero_switches_a_counter_off(clock: Clock) -> None:
    off = limiter(clock, pair=0, per_ip=0, per_user=0)
    await fail(off, 50)
    user_only = limiter(clock, pair=0, per_ip=0, per_user=3)
    await fail(user_only, 3)
    assert await user_only.attempt("alice", OTHER_IP) == WINDOW


async def test_a_success_after_the_window_does_not_go_below_zero(clock: Clock) -> None:
    limits = limiter(clock, pair=10, per_ip=2)
    await fail(limits, 1)
    clock.now += WINDOW  # the IP counter expires
    await limits.succeeded("alice", IP)  # takes back nothing: no stale credit
    await fail(limits, 2, name="bob")
    assert await limits.attempt("carol", IP) == WINDOW


# ---------------------------------------------------------------- MemoryCounters
async def test_counters_count_per_key_and_say_the_seconds_left(clock: Clock) -> None:
    counters = MemoryCounters(clock=clock)
    assert await counters.hit(["a", "b"], 10) == [(1, 10), (1, 10)]
    clock.now += 2.5
    assert await counters.hit(["a"], 10) == [(2, 8)]  # rounded up
    clock.now += 7.25
    assert await counters.hit(["a"], 10) == [(3, 1)]  # never 0 while counting
    clock.now += 0.25
    assert await counters.hit(["a", "b"], 10) == [(1, 10), (1, 10)]


async def test_take_back_and_reset(clock: Clock) -> None:
    counters = MemoryCounters(clock=clock)
    await counters.hit(["a", "a", "b"], 10)
    await counters.take_back(["a", "missing"])
    assert await counters.hit(["a"], 10) == [(2, 10)]
    await counters.take_back(["b", "b"])  # not below zero
    assert await counters.hit(["b"], 10) == [(1, 10)]
    await counters.reset("a")
    assert await counters.hit(["a"], 10) == [(1, 10)]


async def test_a_full_store_drops_expired_keys_then_the_oldest(clock: Clock) -> None:
    counters = MemoryCounters(max_keys=2, clock=clock)
    await counters.hit(["old"], 5)
    await counters.hit(["kept", "kept"], 100)
    clock.now += 10  # "old" expired
    await counters.hit(["new"], 100)
    assert await counters.hit(["kept"], 100) == [(3, 90)]
    await counters.hit(["newer"], 100)  # nothing expired: the oldest ("kept") goes
    assert await counters.hit(["new"], 100) == [(2, 100)]
    assert await counters.hit(["kept"], 100) == [(1, 100)]


# ---------------------------------------------------------------- helpers
def test_client_network() -> None:
    assert client_network("198.51.100.7") == "198.51.100.7"
    assert client_network("2001:db8::1") == client_network("2001:db8::ffff") == "2001:db8::/64"
    assert client_network(None) == client_network("") == "unknown"
    assert client_network("x" * 100) == "x" * 64  # not an address: bounded as is


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (1, "1 second"),
        (40, "40 seconds"),
        (60, "60 seconds"),
        (61, "2 minutes"),
        (300, "5 minutes"),
    ],
)
def test_wait_words(seconds: int, words: str) -> None:
    assert wait_words(seconds) == words
