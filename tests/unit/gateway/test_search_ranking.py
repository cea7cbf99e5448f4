"""Title search on ml-latest-small: what people type finds the movie they mean first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kryptonite.datasets.movielens import ParseReport, parse_movies, parse_ratings
from kryptonite.gateway.search import TitleIndex, fold, title_forms

#: (query, expected first result's movieId): exact, article moved, punctuation and accents
#: folded, alternative titles, prefixes, words in any order, typos.
FIRST = [
    ("the incredibles", 8961),  # "Incredibles, The (2004)"
    ("incredibles", 8961),
    ("Incredibels", 8961),  # typo: swapped letters
    ("wall-e", 60069),  # "WALL·E (2008)"
    ("walle", 60069),
    ("WALL·E", 60069),
    ("Up", 68954),  # Pixar's Up (2009), not "Fired Up"
    ("up", 68954),
    ("star wars", 260),  # Episode IV, the most rated, not "Empire of Dreams"
    ("toy story", 1),
    ("toy story 3", 78499),
    ("the matrix", 2571),
    ("matrix", 2571),
    ("godfather", 858),
    ("the godfather part ii", 1221),
    ("se7en", 47),  # "Seven (a.k.a. Se7en) (1995)"
    ("twelve monkeys", 32),
    ("12 monkeys", 32),
    ("amelie", 4973),  # "Amelie (Fabuleux destin d'Amélie Poulain, Le)"
    ("amélie", 4973),
    ("spiderman", 5349),  # "Spider-Man (2002)"
    ("spider man", 5349),
    ("shawshank", 318),
    ("shawshank redemption", 318),
    ("forest gump", 356),  # typo: Forrest
    ("pulp fiction", 296),
    ("pulp fictoin", 296),  # typo
    ("finding nemo", 6377),
    ("lion king", 364),
    ("jurassic park", 480),
    ("the dark knight", 58559),
    ("schindlers list", 527),  # apostrophe dropped
    ("schindler's list", 527),
    ("terminator 2", 589),
    ("back to the future", 1270),
    ("monsters inc", 4886),  # "Monsters, Inc."
    ("ratatouille", 50872),
    ("braveheart", 110),
    ("fight club", 2959),
    ("silence of the lambs", 593),
    ("usual suspects", 50),
    ("a bugs life", 2355),  # "Bug's Life, A"
    ("lord of the rings fellowship", 4993),
    ("harry potter", 4896),  # the first film
    ("titanic", 1721),  # 1997, the most rated of the two
]


@pytest.fixture(scope="module")
def index(data_dir: Path) -> tuple[TitleIndex, dict[int, str]]:
    report = ParseReport(strict=False)
    movies = parse_movies(data_dir / "ml-latest-small" / "movies.csv", report)
    ratings = parse_ratings(data_dir / "ml-latest-small" / "ratings.csv", report)
    stats = ratings.groupby("movie_id")["rating"].agg(["count", "mean"])
    score = (stats["count"] * stats["mean"] / 5.0).to_dict()  # as store.queries.popular
    rows = [
        (int(m), t, None if pd.isna(y) else int(y), g, score.get(m, 0.0))
        for m, t, y, g in movies[["movie_id", "title", "year", "genres"]].itertuples(index=False)
    ]
    return TitleIndex.build(rows), dict(zip(movies["movie_id"], movies["title"], strict=True))


def test_at_least_30_queries() -> None:
    assert len(FIRST) >= 30


@pytest.mark.parametrize(("query", "expected"), FIRST)
def test_first_result(index: tuple[TitleIndex, dict[int, str]], query: str, expected: int) -> None:
    titles, names = index
    total, ids = titles.search(query, limit=5)
    assert total >= 1 and ids, f"{query!r} found nothing"
    assert ids[0] == expected, f"{query!r}: {[names[i] for i in ids]}"


def test_up_ranks_exact_then_prefix_then_words(index: tuple[TitleIndex, dict[int, str]]) -> None:
    titles, names = index
    _, ids = titles.search("up", limit=10)
    assert ids[0] == 68954
    # the next ones start with "Up" (prefix) before "Fired Up" / "Knocked Up" (word match)
    assert all(names[i].lower().startswith("up ") for i in ids[1:4]), [names[i] for i in ids]


def test_star_wars_episodes_first(index: tuple[TitleIndex, dict[int, str]]) -> None:
    titles, names = index
    _, ids = titles.search("star wars", limit=6)
    assert all(names[i].startswith("Star Wars") for i in ids), [names[i] for i in ids]


def test_typos_only_in_long_words(index: tuple[TitleIndex, dict[int, str]]) -> None:
    titles, _ = index
    assert titles.search("nemo", limit=50)[1][0] == 6377
    # "upp" is 3 letters: no typo matching, only the substring "upp" ("Supper", "Upper")
    _, ids = titles.search("upp", limit=50)
    assert 68954 not in ids


def test_filters_and_pages(index: tuple[TitleIndex, dict[int, str]]) -> None:
    titles, _ = index
    total, first = titles.search("love", limit=10)
    _, second = titles.search("love", limit=10, offset=10)
    assert total > 20 and not set(first) & set(second)
    assert titles.search("love", limit=10, offset=10_000) == (total, [])
    total_year, ids = titles.search("alien", year=1979, limit=5)
    assert ids == [1214] and total_year == 1
    _, horror = titles.search("alien", genre="horror", limit=20)
    assert 1214 in horror


def test_nothing_and_junk() -> None:
    empty = TitleIndex.build([(1, "Toy Story (1995)", 1995, ["Animation"], 10)])
    assert empty.search("") == (0, [])
    assert empty.search("%_'\"; DROP TABLE movies") == (0, [])
    assert empty.search("zzzzzz") == (0, [])


def test_forms_people_type() -> None:
    assert fold("WALL·E") == "wall e"
    assert fold("Amélie") == "amelie"
    forms = title_forms("Incredibles, The (2004)")
    assert forms[0] == "the incredibles" and "incredibles" in forms
    assert "se7en" in title_forms("Seven (a.k.a. Se7en) (1995)")
    assert "lhomme" in title_forms("Homme, L' (2000)")
