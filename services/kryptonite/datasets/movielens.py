"""Parse every MovieLens layout into one set of typed pandas frames.

Structural damage (wrong field count, undecodable bytes) raises ``DatasetFormatError``
naming the file and line. Bad values (non-numeric ids, out-of-range ratings, ratings of
unknown movies, duplicates) are skipped and counted in a ``ParseReport``, or raise when
``strict`` is set. Nothing is half-loaded: parsing finishes before any write.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kryptonite.datasets.registry import DatasetSpec

NO_GENRES = "(no genres listed)"
_YEAR = re.compile(r"\((\d{4})[^)]*\)\s*$")
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
ML100K_GENRES = (
    "unknown|Action|Adventure|Animation|Children|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western"
).split("|")


class DatasetFormatError(ValueError):
    """A file cannot be parsed; the message names the file and line."""


@dataclass
class ParseReport:
    """Rows skipped while parsing, by reason, with a few examples ``file:line``."""

    skipped: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    strict: bool = False

    def skip(self, reason: str, path: Path, lines: np.ndarray) -> None:
        """Record skipped rows (1-based line numbers) of ``path`` for ``reason``."""
        if len(lines) == 0:
            return
        where = [f"{path.name}:{int(n)}" for n in lines[:3]]
        if self.strict:
            raise DatasetFormatError(f"{where[0]}: {reason} ({len(lines)} such rows)")
        self.skipped[reason] += len(lines)
        self.examples.setdefault(reason, []).extend(where[: 3 - len(self.examples.get(reason, []))])

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())

    def summary(self) -> str:
        if not self.skipped:
            return "no rows skipped"
        parts = [
            f"{n} {reason} (e.g. {', '.join(self.examples.get(reason, []))})"
            for reason, n in self.skipped.most_common()
        ]
        return "skipped " + "; ".join(parts)


@dataclass
class MovieLensFrames:
    """One data set, typed. Optional frames are empty when the release lacks them."""

    movies: pd.DataFrame  # movie_id, title, year (Int64), genres (list[str])
    ratings: pd.DataFrame  # user_id, movie_id, rating (float32), timestamp (int64)
    tags: pd.DataFrame  # user_id, movie_id, tag, timestamp
    links: pd.DataFrame  # movie_id, imdb_id (string), tmdb_id (Int64)
    genome_tags: pd.DataFrame  # tag_id, tag
    genome_scores: pd.DataFrame  # movie_id, tag_id, relevance (float32)
    youtube: pd.DataFrame  # movie_id, youtube_id, title
    overviews: pd.DataFrame  # movie_id, overview
    report: ParseReport

    @property
    def user_ids(self) -> np.ndarray:
        return np.union1d(self.ratings["user_id"].unique(), self.tags["user_id"].unique())


# ---------------------------------------------------------------- low-level readers


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        return codecs.decode(data, encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DatasetFormatError(
            f"{path}:{line}: not valid {encoding} (byte {data[exc.start]:#04x})"
        ) from None


def _read_table(
    path: Path,
    names: list[str],
    *,
    sep: str = ",",
    header: bool = True,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a delimited file as strings, with a ``line`` column (1-based file line)."""
    text = _decode(path, encoding)
    if len(sep) > 1:  # '::' files: swap the separator for one byte that never occurs
        text = text.replace(sep, "\x1f")
        sep = "\x1f"
    quoting = csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0 if header else None,
            names=names,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=quoting,
            engine="c",
            on_bad_lines="error",
        )
    except pd.errors.ParserError as exc:
        raise DatasetFormatError(f"{path}: {exc}".strip()) from None
    if header:
        first = text.split("\n", 1)[0].strip().lstrip("\ufeff").split(sep)
        if [c.strip() for c in first] != _header_names(path, names, first):
            raise DatasetFormatError(f"{path}:1: unexpected header {first!r}")
    frame["line"] = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    return frame


def _header_names(path: Path, names: list[str], first: list[str]) -> list[str]:
    """Header check: same field count; names are the file's own (camelCase) spelling."""
    if len(first) != len(names):
        raise DatasetFormatError(
            f"{path}:1: expected {len(names)} columns, header has {len(first)}"
        )
    return [c.strip() for c in first]


def _numeric(
    frame: pd.DataFrame, column: str, path: Path, report: ParseReport, *, integer: bool
) -> pd.DataFrame:
    """Convert ``column``; rows that fail are skipped as 'malformed <column>'."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna().to_numpy()
    if integer:
        filled = values.fillna(0).to_numpy()
        bad = bad | (filled != np.round(filled))
    report.skip(f"malformed {column}", path, frame["line"].to_numpy()[bad])
    frame = frame.loc[~bad].copy()
    frame[column] = values[~bad].astype("int64" if integer else "float64")
    return frame


def _ints(frame: pd.DataFrame, columns: list[str], path: Path, report: ParseReport) -> pd.DataFrame:
    for column in columns:
        frame = _numeric(frame, column, path, report, integer=True)
    return frame


def _drop_duplicates(
    frame: pd.DataFrame, keys: list[str], path: Path, report: ParseReport, order: str | None = None
) -> pd.DataFrame:
    """Keep one row per key (the latest by ``order`` when given), counting the rest."""
    if order is not None:
        frame = frame.sort_values([*keys, order, "line"], kind="stable")
    dup = frame.duplicated(keys, keep="last").to_numpy()
    report.skip(f"duplicate {'/'.join(keys)}", path, np.sort(frame["line"].to_numpy()[dup]))
    return frame.loc[~dup]


def _split_title(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    titles = titles.str.strip()
    year = titles.str.extract(_YEAR, expand=False)
    return titles, pd.to_numeric(year, errors="coerce").astype("Int64")


def _genre_lists(genres: pd.Series) -> pd.Series:
    return genres.map(lambda g: [x for x in g.strip().split("|") if x and x != NO_GENRES])


# ---------------------------------------------------------------- per-file parsers


def parse_movies(path: Path, report: ParseReport, *, sep: str = ",", encoding: str = "utf-8"):
    raw = _read_table(
        path, ["movie_id", "title", "genres"], sep=sep, header=sep == ",", encoding=encoding
    )
    raw = _ints(raw, ["movie_id"], path, report)
    raw = _drop_duplicates(raw, ["movie_id"], path, report)
    title, year = _split_title(raw["title"])
    return pd.DataFrame(
        {
            "movie_id": raw["movie_id"].to_numpy(),
            "title": title.to_numpy(),
            "year": pd.array(year, dtype="Int64"),
            "genres": _genre_lists(raw["genres"]).to_numpy(),
        }
    ).sort_values("movie_id", ignore_index=True)


def parse_ratings(
    path: Path,
    report: ParseReport,
    *,
    sep: str = ",",
    header: bool = True,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    raw = _read_table(
        path,
        ["user_id", "movie_id", "rating", "timestamp"],
        sep=sep,
        header=header,
        encoding=encoding,
    )
    raw = _ints(raw, ["user_id", "movie_id", "timestamp"], path, report)
    raw = _numeric(raw, "rating", path, report, integer=False)
    rating = raw["rating"].to_numpy()
    bad = (rating < 0.5) | (rating > 5.0) | (rating * 2 != np.round(rating * 2))
    bad |= (raw["user_id"].to_numpy() <= 0) | (raw["movie_id"].to_numpy() <= 0)
    report.skip("rating out of range (0.5-5.0 in halves)", path, raw["line"].to_numpy()[bad])
    raw = raw.loc[~bad]
    raw = _drop_duplicates(raw, ["user_id", "movie_id"], path, report, order="timestamp")
    out = raw[["user_id", "movie_id", "rating", "timestamp", "line"]].copy()
    out["rating"] = out["rating"].astype("float32")
    return out


def parse_tags(path: Path, report: ParseReport, *, sep: str = ",", encoding: str = "utf-8"):
    raw = _read_table(
        path,
        ["user_id", "movie_id", "tag", "timestamp"],
        sep=sep,
        header=sep == ",",
        encoding=encoding,
    )
    raw = _ints(raw, ["user_id", "movie_id", "timestamp"], path, report)
    raw["tag"] = raw["tag"].str.strip()
    empty = (raw["tag"] == "").to_numpy()
    report.skip("empty tag", path, raw["line"].to_numpy()[empty])
    raw = raw.loc[~empty]
    raw = _drop_duplicates(raw, ["user_id", "movie_id", "tag"], path, report, order="timestamp")
    return raw[["user_id", "movie_id", "tag", "timestamp", "line"]].copy()


def parse_links(path: Path, report: ParseReport) -> pd.DataFrame:
    raw = _read_table(path, ["movie_id", "imdb_id", "tmdb_id"])
    raw = _ints(raw, ["movie_id"], path, report)
    raw = _drop_duplicates(raw, ["movie_id"], path, report)
    tmdb = pd.to_numeric(raw["tmdb_id"].str.strip(), errors="coerce").astype("Int64")
    imdb = raw["imdb_id"].str.strip().replace("", None)
    return pd.DataFrame(
        {"movie_id": raw["movie_id"].to_numpy(), "imdb_id": imdb.to_numpy(), "tmdb_id": tmdb}
    ).reset_index(drop=True)


def parse_genome_tags(path: Path, report: ParseReport) -> pd.DataFrame:
    raw = _ints(_read_table(path, ["tag_id", "tag"]), ["tag_id"], path, report)
    raw = _drop_duplicates(raw, ["tag_id"], path, report)
    return raw[["tag_id", "tag"]].reset_index(drop=True)


def parse_genome_scores(path: Path, report: ParseReport) -> pd.DataFrame:
    raw = _read_table(path, ["movie_id", "tag_id", "relevance"])
    raw = _ints(raw, ["movie_id", "tag_id"], path, report)
    raw = _numeric(raw, "relevance", path, report, integer=False)
    bad = ((raw["relevance"] < 0) | (raw["relevance"] > 1)).to_numpy()
    report.skip("relevance out of range (0-1)", path, raw["line"].to_numpy()[bad])
    raw = _drop_duplicates(raw.loc[~bad], ["movie_id", "tag_id"], path, report)
    out = raw[["movie_id", "tag_id", "relevance", "line"]].copy()
    out["relevance"] = out["relevance"].astype("float32")
    return out


def parse_youtube(path: Path, report: ParseReport) -> pd.DataFrame:
    raw = _read_table(path, ["youtube_id", "movie_id", "title"])
    raw = _ints(raw, ["movie_id"], path, report)
    raw = _drop_duplicates(raw, ["movie_id"], path, report)
    return raw[["movie_id", "youtube_id", "title", "line"]].reset_index(drop=True)


def clean_overview(text: str) -> str:
    """Strip stray wrapping quotes and decode literal ``\\uXXXX`` escapes."""
    text = text.strip()
    while len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return _UNICODE_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def parse_overviews(path: Path, report: ParseReport) -> pd.DataFrame:
    """The overview CSV: ``title``, ``year``, ``overview``. Its own ``movieID`` is not
    MovieLens', and its ``tmdbID`` column is shifted against its rows (row "Ladybird
    Ladybird" carries Star Wars' TMDB id 11), so :func:`match_overviews` joins on title."""
    raw = _read_table(path, ["source_id", "title", "release_year", "overview", "tmdb_id"])
    raw["overview"] = raw["overview"].map(clean_overview)
    empty = (raw["overview"] == "").to_numpy()
    report.skip("empty overview", path, raw["line"].to_numpy()[empty])
    raw = raw[~empty]
    year = pd.to_numeric(raw["release_year"].str[:4], errors="coerce").astype("Int64")
    return pd.DataFrame(
        {"title": raw["title"].to_numpy(), "year": year, "overview": raw["overview"].to_numpy()}
    )


_ARTICLE_LAST = re.compile(r"^(.*), (the|a|an|les|la|le|l'|il|el|die|der|das)$")


def title_key(title: str) -> str:
    """A title reduced for matching: ASCII, lower case, no year or parenthesised aka,
    a trailing article moved to the front ("Postman, The" → "the postman")."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"\s*\(.*?\)", "", text).strip()
    if moved := _ARTICLE_LAST.match(text):
        text = f"{moved.group(2)} {moved.group(1)}"
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def match_overviews(movies: pd.DataFrame, overviews: pd.DataFrame) -> pd.DataFrame:
    """``movie_id``, ``overview`` for movies whose title matches an overview row and whose
    years agree within one, or whose title is unique on both sides (the CSV has
    placeholder years such as 1990 for "Twelve Monkeys")."""
    left = pd.DataFrame(
        {
            "movie_id": movies["movie_id"].to_numpy(),
            "key": movies["title"].map(title_key).to_numpy(),
            "year_ml": movies["year"].to_numpy(),
        }
    )
    right = overviews.assign(key=overviews["title"].map(title_key)).rename(
        columns={"year": "year_ov"}
    )
    pairs = left.merge(right[["key", "year_ov", "overview"]], on="key")
    pairs = pairs[pairs["key"] != ""]
    close = (pairs["year_ml"] - pairs["year_ov"]).abs() <= 1
    unique = (pairs.groupby("key")["movie_id"].transform("size") == 1) & (
        right["key"].value_counts().reindex(pairs["key"]).to_numpy() == 1
    )
    chosen = pairs[close.fillna(False).to_numpy() | unique.to_numpy()]
    return chosen[["movie_id", "overview"]].drop_duplicates("movie_id").reset_index(drop=True)


def parse_ml100k_items(path: Path, report: ParseReport) -> pd.DataFrame:
    names = ["movie_id", "title", "release", "video", "imdb_url", *ML100K_GENRES]
    raw = _read_table(path, names, sep="|", header=False, encoding="iso-8859-1")
    raw = _ints(raw, ["movie_id"], path, report)
    flags = raw[ML100K_GENRES].to_numpy() == "1"
    genres = [
        [g for g, on in zip(ML100K_GENRES, row, strict=True) if on and g != "unknown"]
        for row in flags
    ]
    title, year = _split_title(raw["title"])
    release_year = pd.to_numeric(raw["release"].str[-4:], errors="coerce").astype("Int64")
    return pd.DataFrame(
        {
            "movie_id": raw["movie_id"].to_numpy(),
            "title": title.to_numpy(),
            "year": pd.array(year.fillna(release_year), dtype="Int64"),
            "genres": genres,
        }
    )


# ---------------------------------------------------------------- whole data sets


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: [] for c in columns})


def load_dataset(
    spec: DatasetSpec,
    root: Path,
    *,
    extras_dir: Path | None = None,
    strict: bool = False,
) -> MovieLensFrames:
    """Parse the release in ``root`` (the unpacked folder).

    ``extras_dir`` is searched for data the release lacks: ``genome/``,
    ``ml-youtube/ml-youtube.csv`` and ``overviews/content_based_data.csv``.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    report = ParseReport(strict=strict)
    tags = _empty(["user_id", "movie_id", "tag", "timestamp", "line"])
    links = _empty(["movie_id", "imdb_id", "tmdb_id"])
    if spec.layout == "csv":
        movies = parse_movies(root / "movies.csv", report)
        ratings = parse_ratings(root / "ratings.csv", report)
        if (root / "tags.csv").exists():
            tags = parse_tags(root / "tags.csv", report)
        if (root / "links.csv").exists():
            links = parse_links(root / "links.csv", report)
    elif spec.layout == "dat":
        enc = spec.encoding
        movies = parse_movies(root / "movies.dat", report, sep="::", encoding=enc)
        ratings = parse_ratings(root / "ratings.dat", report, sep="::", header=False, encoding=enc)
        if (root / "tags.dat").exists():
            tags = parse_tags(root / "tags.dat", report, sep="::", encoding=enc)
    else:
        movies = parse_ml100k_items(root / "u.item", report)
        ratings = parse_ratings(root / "u.data", report, sep="\t", header=False)

    genome_dir = root if (root / "genome-scores.csv").exists() else None
    if genome_dir is None and extras_dir and (extras_dir / "genome" / "genome-scores.csv").exists():
        genome_dir = extras_dir / "genome"
    genome_tags = _empty(["tag_id", "tag"])
    genome_scores = _empty(["movie_id", "tag_id", "relevance", "line"])
    if genome_dir is not None:
        genome_tags = parse_genome_tags(genome_dir / "genome-tags.csv", report)
        genome_scores = parse_genome_scores(genome_dir / "genome-scores.csv", report)

    youtube = _empty(["movie_id", "youtube_id", "title", "line"])
    overviews = _empty(["movie_id", "overview"])
    if extras_dir is not None:
        yt_path = extras_dir / "ml-youtube" / "ml-youtube.csv"
        if yt_path.exists():
            youtube = parse_youtube(yt_path, report)
        ov_path = extras_dir / "overviews" / "content_based_data.csv"
        if ov_path.exists():
            overviews = match_overviews(movies, parse_overviews(ov_path, report))

    known = movies["movie_id"].to_numpy()
    ratings = _known_movies(ratings, known, root / _file(spec, "ratings"), report)
    tags = _known_movies(tags, known, root / _file(spec, "tags"), report)
    links = links[links["movie_id"].isin(known)]
    genome_scores = genome_scores[
        genome_scores["movie_id"].isin(known) & genome_scores["tag_id"].isin(genome_tags["tag_id"])
    ]
    youtube = youtube[youtube["movie_id"].isin(known)]  # the trailer list spans all of ml-20m

    return MovieLensFrames(
        movies=movies,
        ratings=ratings.drop(columns="line").reset_index(drop=True),
        tags=tags.drop(columns="line").reset_index(drop=True),
        links=links.reset_index(drop=True),
        genome_tags=genome_tags.reset_index(drop=True),
        genome_scores=genome_scores.drop(columns="line").reset_index(drop=True),
        youtube=youtube.drop(columns="line").reset_index(drop=True),
        overviews=overviews.reset_index(drop=True),
        report=report,
    )


def _file(spec: DatasetSpec, kind: str) -> str:
    if spec.layout == "100k":
        return "u.data"
    return f"{kind}.{'csv' if spec.layout == 'csv' else 'dat'}"


def _known_movies(
    frame: pd.DataFrame, known: np.ndarray, path: Path, report: ParseReport
) -> pd.DataFrame:
    unknown = ~frame["movie_id"].isin(known).to_numpy()
    report.skip("unknown movie id", path, frame["line"].to_numpy()[unknown])
    return frame.loc[~unknown]
