"""Parsing every MovieLens layout, and what happens to bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from kryptonite.datasets.movielens import (
    DatasetFormatError,
    ParseReport,
    clean_overview,
    load_dataset,
    parse_ratings,
    title_key,
)
from kryptonite.datasets.registry import UnknownDatasetError, get_spec

MOVIES = "movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n2,Heat (1995),Action\n"


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def small_csv_release(root: Path, ratings: str) -> Path:
    write(root, "movies.csv", MOVIES)
    write(root, "ratings.csv", "userId,movieId,rating,timestamp\n" + ratings)
    return root


def test_csv_release_parses_types_and_years(tmp_path: Path) -> None:
    root = small_csv_release(tmp_path / "r", "1,1,4.0,10\n1,2,3.5,11\n2,1,5.0,12\n")
    frames = load_dataset(get_spec("ml-latest-small"), root)
    assert frames.movies["year"].tolist() == [1995, 1995]
    assert frames.movies["genres"].tolist() == [["Adventure", "Animation"], ["Action"]]
    assert frames.ratings["rating"].tolist() == [4.0, 3.5, 5.0]
    assert frames.report.total_skipped == 0


def test_wrong_field_count_names_file_and_line(tmp_path: Path) -> None:
    root = small_csv_release(tmp_path / "r", "1,1,4.0,10\n1,2,3.5,11,extra\n")
    with pytest.raises(DatasetFormatError, match=r"ratings\.csv.*line 3"):
        load_dataset(get_spec("ml-latest-small"), root)


def test_wrong_encoding_names_file_and_line(tmp_path: Path) -> None:
    root = tmp_path / "r"
    write(root, "movies.csv", MOVIES + "3,Amélie (2001),Romance\n", encoding="iso-8859-1")
    write(root, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,10\n")
    with pytest.raises(DatasetFormatError, match=r"movies\.csv:4: not valid utf-8"):
        load_dataset(get_spec("ml-latest-small"), root)


def test_bad_values_are_skipped_and_counted_with_lines(tmp_path: Path) -> None:
    ratings = (
        "1,1,4.0,10\n"  # line 2 ok
        "1,1,2.0,20\n"  # line 3 duplicate of (1,1): the later one wins
        "1,2,7.0,10\n"  # line 4 out of range
        "1,2,3.3,10\n"  # line 5 not a half step
        "x,2,3.0,10\n"  # line 6 malformed user id
        "2,99,3.0,10\n"  # line 7 unknown movie
    )
    root = small_csv_release(tmp_path / "r", ratings)
    frames = load_dataset(get_spec("ml-latest-small"), root)
    assert frames.ratings[["user_id", "movie_id", "rating"]].values.tolist() == [[1, 1, 2.0]]
    skipped = frames.report.skipped
    assert skipped["duplicate user_id/movie_id"] == 1
    assert skipped["rating out of range (0.5-5.0 in halves)"] == 2
    assert skipped["malformed user_id"] == 1
    assert skipped["unknown movie id"] == 1
    summary = frames.report.summary()
    assert "ratings.csv:4" in summary and "ratings.csv:6" in summary and "ratings.csv:7" in summary


def test_strict_mode_fails_on_first_bad_row(tmp_path: Path) -> None:
    root = small_csv_release(tmp_path / "r", "1,1,4.0,10\n1,2,9.0,10\n")
    with pytest.raises(DatasetFormatError, match=r"ratings\.csv:3: rating out of range"):
        load_dataset(get_spec("ml-latest-small"), root, strict=True)


def test_unexpected_header_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.csv", "user,movie,rating\n1,1,4\n")
    with pytest.raises(DatasetFormatError, match="ratings.csv"):
        parse_ratings(path, ParseReport())


def test_ml1m_double_colon_latin1(tmp_path: Path) -> None:
    root = tmp_path / "ml-1m"
    write(
        root,
        "movies.dat",
        "1::Toy Story (1995)::Animation|Children's\n2::Amélie (2001)::Romance\n",
        encoding="iso-8859-1",
    )
    write(root, "ratings.dat", "1::1::5::978300760\n1::2::3::978302109\n")
    frames = load_dataset(get_spec("ml-1m"), root)
    assert frames.movies["title"].tolist()[1] == "Amélie (2001)"
    assert frames.ratings["rating"].tolist() == [5.0, 3.0]


def test_ml10m_tags(tmp_path: Path) -> None:
    root = tmp_path / "ml-10M100K"
    write(root, "movies.dat", "1::Toy Story (1995)::Animation\n")
    write(root, "ratings.dat", "7::1::4.5::1190000000\n")
    write(root, "tags.dat", "7::1::pixar::1190000001\n")
    frames = load_dataset(get_spec("ml-10m"), root)
    assert frames.tags["tag"].tolist() == ["pixar"]


def test_ml100k_tab_and_item_flags(tmp_path: Path) -> None:
    root = tmp_path / "ml-100k"
    flags = "|".join(["0"] * 19)
    item = f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags}\n".replace("|0|0|0|0", "|0|0|1|1", 1)
    write(root, "u.item", item, encoding="iso-8859-1")
    write(root, "u.data", "196\t1\t3\t881250949\n")
    frames = load_dataset(get_spec("ml-100k"), root)
    assert frames.movies["genres"].tolist() == [["Adventure", "Animation"]]
    assert frames.ratings["user_id"].tolist() == [196]


def test_overview_cleaning() -> None:
    assert clean_overview('""A \\u00e9t\\u00e9 story.""') == "A été story."
    assert clean_overview("  plain  ") == "plain"


def test_unknown_dataset_name() -> None:
    with pytest.raises(UnknownDatasetError, match="ml-latest-small"):
        get_spec("ml-2b")


def test_shared_small_release_with_extras(data_dir: Path) -> None:
    frames = load_dataset(
        get_spec("ml-latest-small"), data_dir / "ml-latest-small", extras_dir=data_dir
    )
    assert len(frames.ratings) == 100_836
    assert frames.ratings["user_id"].nunique() == 610
    assert len(frames.movies) == 9_742
    assert len(frames.tags) == 3_683
    assert len(frames.links) == 9_742
    assert len(frames.genome_tags) == 1_128
    assert frames.genome_scores["movie_id"].nunique() == 158
    assert len(frames.overviews) > 700
    assert not frames.overviews["overview"].str.startswith('"').any()
    # Joined on title + year, not on the CSV's shifted tmdbID column (which would give
    # Star Wars the overview of "Ladybird Ladybird" and Braveheart that of Taxi Driver).
    overview = frames.overviews.set_index("movie_id")["overview"]
    assert "Princess Leia" in overview[260]
    assert "Murron" in overview[110]
    assert "taxi" in overview[111].lower()
    assert "James Cole" in overview[32]  # CSV year 1990 is a placeholder: unique title


@pytest.mark.parametrize(
    ("title", "key"),
    [
        ("Postman, The", "the postman"),
        ("Twelve Monkeys (a.k.a. 12 Monkeys)", "twelve monkeys"),
        ("Cité des enfants perdus, La", "la cite des enfants perdus"),
        ("Star Wars: Episode IV - A New Hope (1977)", "star wars episode iv a new hope"),
    ],
)
def test_title_key(title: str, key: str) -> None:
    assert title_key(title) == key
