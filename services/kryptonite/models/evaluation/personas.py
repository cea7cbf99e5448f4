"""Taste coherence: does a row of recommendations fit a clear, hand-built taste?

Each persona is a set of real ml-latest-small movies, given in two forms: ``list`` (a
personal list, no ratings, oldest first) and ``ratings`` (the same movies rated 4.5-5).
A recommender under test is any callable ``recommend(query) -> {row_name: [movie_id,
...]}`` (top 10 per row), so the served blend and each of its rows plug in the same way
as single models (:class:`SingleModels`).

A recommended movie **fits** when it has all the genres of one of the persona's genre
groups, or, where the genome covers it and the persona, when the cosine of its tag-genome
vector to the centroid of the persona's genome vectors is at least ``GENOME_THRESHOLD``.
Each result says which rule matched. Popularity is the percentile (0-100, 100 = most
rated) of a movie's rating count among all movies; it is reported for the recommendations
and for the persona's own movies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kryptonite.models.base import Recommender
from kryptonite.models.data import TrainData

N = 10
GENOME_THRESHOLD = 0.8  # ~ the 98th percentile of movie-movie genome cosines
FORMS = ("list", "ratings")


@dataclass(frozen=True)
class Persona:
    key: str
    title: str
    movie_ids: tuple[int, ...]
    #: Fit = a movie has every genre of at least one group.
    genre_groups: tuple[tuple[str, ...], ...]
    note: str = ""


#: Movie ids picked by title from ml-latest-small's movies.csv.
PERSONAS: tuple[Persona, ...] = (
    Persona(
        "pixar",
        "Pixar / animation",
        # Toy Story, Toy Story 2, A Bug's Life, Monsters Inc., Finding Nemo, The Incredibles,
        # Ratatouille, WALL-E, Up, Toy Story 3
        (1, 3114, 2355, 4886, 6377, 8961, 50872, 60069, 68954, 78499),
        (("Animation",),),
    ),
    Persona(
        "scifi_70s_80s",
        "70s-80s science fiction",
        # Star Wars IV, V, Alien, Close Encounters, Blade Runner, E.T., The Thing, Tron,
        # The Terminator, Aliens
        (260, 1196, 1214, 3471, 541, 1097, 2288, 2105, 1240, 1200),
        (("Sci-Fi",),),
        "genre only: the era is not part of the fit",
    ),
    Persona(
        "horror",
        "Horror",
        # Night of the Living Dead, Rosemary's Baby, The Exorcist, Texas Chainsaw Massacre,
        # Halloween, The Shining, The Evil Dead, A Nightmare on Elm Street, Scream, The Ring
        (968, 2160, 1997, 2459, 1982, 1258, 4105, 1347, 1407, 5679),
        (("Horror",),),
    ),
    Persona(
        "romcom",
        "Romantic comedy",
        # Annie Hall, When Harry Met Sally, Pretty Woman, Sleepless in Seattle, Four Weddings,
        # My Best Friend's Wedding, You've Got Mail, Notting Hill, Bridget Jones, Love Actually
        (1230, 1307, 597, 539, 357, 1569, 2424, 2671, 4246, 6942),
        (("Comedy", "Romance"),),
    ),
    Persona(
        "noir",
        "Film noir",
        # The Maltese Falcon, Laura, Double Indemnity, The Big Sleep, Notorious, The Third Man,
        # Sunset Blvd., Touch of Evil, Chinatown, L.A. Confidential
        (913, 942, 3435, 1284, 930, 1212, 922, 1248, 1252, 1617),
        (("Film-Noir",),),
    ),
    Persona(
        "documentary",
        "Documentary",
        # Roger & Me, Hoop Dreams, Bowling for Columbine, Spellbound, Super Size Me,
        # Fahrenheit 9/11, March of the Penguins, Man on Wire, Exit Through the Gift Shop,
        # Inside Job
        (2064, 246, 5669, 6331, 8464, 8622, 34072, 60766, 77455, 80906),
        (("Documentary",),),
    ),
    Persona(
        "anime",
        "Anime",
        # Nausicaa, Castle in the Sky, Akira, My Neighbor Totoro, Grave of the Fireflies,
        # Kiki's Delivery Service, Ghost in the Shell, Princess Mononoke, Spirited Away,
        # Howl's Moving Castle
        (7099, 6350, 1274, 5971, 5690, 26662, 741, 3000, 5618, 31658),
        (("Animation",),),
        "genre Animation: MovieLens genres cannot tell anime from other animation",
    ),
    Persona(
        "western",
        "Westerns",
        # High Noon, The Searchers, The Magnificent Seven, A Fistful of Dollars, The Good the
        # Bad and the Ugly, Once Upon a Time in the West, Butch Cassidy, The Wild Bunch,
        # Unforgiven, Tombstone
        (1283, 3365, 4327, 2951, 1201, 1209, 1304, 599, 1266, 553),
        (("Western",),),
    ),
)


@dataclass(frozen=True)
class Query:
    """What a recommender under test receives: one persona in one form."""

    persona: Persona
    form: str  # "list" | "ratings"
    movie_ids: tuple[int, ...]  # oldest first
    ratings: tuple[float, ...] | None  # None for the list form


def queries(personas: tuple[Persona, ...] = PERSONAS) -> list[Query]:
    """Each persona twice: as a list, and as ratings 5.0/4.5 (alternating) of its movies."""
    out = []
    for p in personas:
        out.append(Query(p, "list", p.movie_ids, None))
        stars = tuple(5.0 if i % 2 == 0 else 4.5 for i in range(len(p.movie_ids)))
        out.append(Query(p, "ratings", p.movie_ids, stars))
    return out


@dataclass
class Catalog:
    """Genres, genome vectors and popularity percentiles of every movie."""

    genres: dict[int, frozenset[str]]
    popularity_pct: dict[int, float]
    genome: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: TrainData) -> Catalog:
        movies = data.movies
        genres = {
            int(m): frozenset(g) for m, g in zip(movies["movie_id"], movies["genres"], strict=True)
        }
        counts = data.ratings.groupby("movie_id").size()
        ids = pd.Index(sorted(set(genres) | set(counts.index.astype(int))))
        pct = counts.reindex(ids, fill_value=0).rank(pct=True, method="average") * 100.0
        genome: dict[int, np.ndarray] = {}
        if len(data.genome_scores):
            wide = data.genome_scores.pivot_table(
                index="movie_id", columns="tag_id", values="relevance"
            ).fillna(0.0)
            mat = wide.to_numpy(np.float64, copy=True)
            mat /= np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
            genome = {int(m): row for m, row in zip(wide.index, mat, strict=True)}
        return cls(genres, {int(k): float(v) for k, v in pct.items()}, genome)

    def centroid(self, movie_ids: tuple[int, ...]) -> np.ndarray | None:
        vecs = [self.genome[m] for m in movie_ids if m in self.genome]
        if not vecs:
            return None
        c = np.mean(vecs, axis=0)
        return c / max(np.linalg.norm(c), 1e-12)

    def fit_reason(
        self, movie_id: int, persona: Persona, centroid: np.ndarray | None
    ) -> str | None:
        """ "genre", "genome" or None (does not fit)."""
        genres = self.genres.get(movie_id, frozenset())
        if any(set(group) <= genres for group in persona.genre_groups):
            return "genre"
        if centroid is not None and movie_id in self.genome:
            if float(self.genome[movie_id] @ centroid) >= GENOME_THRESHOLD:
                return "genome"
        return None

    def mean_pct(self, movie_ids: list[int] | tuple[int, ...]) -> float | None:
        vals = [self.popularity_pct.get(m, 0.0) for m in movie_ids]
        return float(np.mean(vals)) if vals else None


Recommend = Callable[[Query], Mapping[str, list[int]]]


def run(
    recommend: Recommend, catalog: Catalog, personas: tuple[Persona, ...] = PERSONAS
) -> list[dict]:
    """One result per (persona, form, row): fit count, rule counts, popularity."""
    results = []
    for q in queries(personas):
        centroid = catalog.centroid(q.persona.movie_ids)
        own = catalog.mean_pct(q.movie_ids)
        for row, ids in recommend(q).items():
            top = [int(m) for m in list(ids)[:N]]
            reasons = [catalog.fit_reason(m, q.persona, centroid) for m in top]
            results.append(
                {
                    "persona": q.persona.key,
                    "form": q.form,
                    "row": row,
                    "n": len(top),
                    "fit": sum(r is not None for r in reasons),
                    "fit_genre": reasons.count("genre"),
                    "fit_genome": reasons.count("genome"),
                    "genome_available": centroid is not None,
                    "popularity_pct": catalog.mean_pct(top),
                    "own_popularity_pct": own,
                    "movie_ids": top,
                }
            )
    return results


def markdown(results: list[dict], personas: tuple[Persona, ...] = PERSONAS) -> str:
    """Fit table (x/10 per row) and popularity table (mean percentile), plus the rules."""
    rows = list(dict.fromkeys(r["row"] for r in results))
    by = {(r["persona"], r["form"], r["row"]): r for r in results}
    keys = list(dict.fromkeys((r["persona"], r["form"]) for r in results))
    titles = {p.key: p.title for p in personas}
    head = "| persona | form | " + " | ".join(rows) + " |"
    sep = "|---" * (len(rows) + 2) + "|"
    lines = [f"Recommendations (top {N}) that fit the persona", "", head, sep]
    for p, f in keys:
        cells = [
            f"{by[(p, f, r)]['fit']}/{by[(p, f, r)]['n']}" if (p, f, r) in by else "–" for r in rows
        ]
        lines.append(f"| {titles.get(p, p)} | {f} | " + " | ".join(cells) + " |")
    mins = [min((by[k]["fit"] for k in by if k[2] == r), default=0) for r in rows]
    means = [np.mean([by[k]["fit"] for k in by if k[2] == r]) for r in rows]
    lines.append("| **mean** | | " + " | ".join(f"{m:.1f}" for m in means) + " |")
    lines.append("| **min** | | " + " | ".join(str(m) for m in mins) + " |")
    lines += [
        "",
        "Mean popularity percentile (100 = most rated) of the recommendations vs the "
        "persona's own movies",
        "",
        "| persona | form | own | " + " | ".join(rows) + " |",
        "|---" * (len(rows) + 3) + "|",
    ]
    for p, f in keys:
        own = next(by[(p, f, r)]["own_popularity_pct"] for r in rows if (p, f, r) in by)
        cells = [_pct(by[(p, f, r)]["popularity_pct"]) if (p, f, r) in by else "–" for r in rows]
        lines.append(f"| {titles.get(p, p)} | {f} | {_pct(own)} | " + " | ".join(cells) + " |")
    genome_hits = sum(r["fit_genome"] for r in results)
    covered = sorted({r["persona"] for r in results if r["genome_available"]})
    lines += [
        "",
        "Fit rule: the movie has all genres of the persona's group ("
        + "; ".join(
            f"{p.key}: {' & '.join(p.genre_groups[0])}" + (f" — {p.note}" if p.note else "")
            for p in personas
        )
        + f"), or tag-genome cosine to the persona's centroid >= {GENOME_THRESHOLD}. "
        f"Genome matches counted: {genome_hits} (personas with genome vectors: "
        f"{', '.join(covered) or 'none'}; the staged genome covers movie ids <= 186 only).",
    ]
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


class SingleModels:
    """In-process rows from fitted ``Recommender`` models: ``{name: model}``.

    The list form is the models' own (recency-ordered) history; the ratings form passes
    the ratings as history weights (``Recommender.recommend(weights=...)``).
    """

    def __init__(self, models: Mapping[str, Recommender], n: int = N) -> None:
        self.models, self.n = dict(models), n

    def __call__(self, query: Query) -> dict[str, list[int]]:
        weights = list(query.ratings) if query.ratings is not None else None
        ids = list(query.movie_ids)
        return {
            name: [m for m, _ in model.recommend(None, ids, self.n, weights=weights)]
            for name, model in self.models.items()
        }


def single_model_factories(seed: int = 42) -> dict[str, Callable[[], Recommender]]:
    """The production settings of the single models the persona table shows today."""
    from kryptonite.pipeline.train import production_models

    prod = production_models(seed)
    return {k: prod[k] for k in ("popularity", "content", "item2item", "mf_implicit", "item_ridge")}


def benchmark(data: TrainData, recommend: Recommend | None = None, seed: int = 42) -> str:
    """Fit the single models on ``data`` (unless ``recommend`` is given); the Markdown."""
    if recommend is None:
        recommend = SingleModels(
            {k: f().fit(data) for k, f in single_model_factories(seed).items()}
        )
    return markdown(run(recommend, Catalog.from_data(data)))
