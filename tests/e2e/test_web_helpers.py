"""Pure helpers of the web UI (fast; kept beside the browser tests that exercise them)."""

from __future__ import annotations

import pytest

from kryptonite.gateway.web.data import _because_title, degraded_words
from kryptonite.gateway.web.render import display_title, short_title, title_size
from kryptonite.gateway.web.session import safe_next


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Matrix, The (1999)", "The Matrix"),
        ("Star Wars: Episode IV - A New Hope (1977)", "Star Wars: Episode IV - A New Hope"),
        ("Babylon 5", "Babylon 5"),
        (None, ""),
    ],
)
def test_display_title(raw: str | None, shown: str) -> None:
    assert display_title(raw) == shown


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/movie/1", "/movie/1"),
        ("/search?q=a&page=2", "/search?q=a&page=2"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        (None, "/"),
    ],
)
def test_safe_next_keeps_local_paths_only(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_degraded_words_are_for_movie_fans(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", "kryptonite.gateway.web")
    texts = [
        degraded_words("candidates_unavailable,database_unavailable"),
        degraded_words(None),
        degraded_words("content_unavailable", "similar"),
        degraded_words("AioRpcError", "failed"),
    ]
    for text in texts:
        assert not any(w in text.lower() for w in ("service", "database", "candidates", "rpc"))
    assert "candidates_unavailable,database_unavailable" in caplog.text  # the cause: logs


def test_because_title_uses_the_most_common_anchor() -> None:
    items = [
        {"reason": "Because you watched Alien (1979)"},
        {"reason": "Because you watched Alien (1979)"},
        {"reason": "Because you added Heat (1995)"},
    ]
    assert _because_title(items) == "Because you liked Alien (1979)"
    assert _because_title([{"reason": "Popular right now"}]) == "Because you liked…"


def test_title_cards_fit_whole_words() -> None:
    assert short_title("Seven (a.k.a. Se7en)") == "Seven"
    assert short_title("Amelie (Fabuleux destin d'Amélie Poulain, Le)") == "Amelie"
    assert title_size("Up") == "tc-m" and title_size("Ratatouille") == "tc-m"
    assert title_size("Dr. Strangelove or: How I Learned to Stop Worrying") == "tc-s"
    assert title_size("Supercalifragilisticexpialidocious") == "tc-xs"
