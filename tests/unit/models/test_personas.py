"""Persona benchmark: fit rules, popularity percentiles, the table, real models on tiny data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kryptonite.models.content import ContentModel
from kryptonite.models.data import TrainData
from kryptonite.models.evaluation import personas
from kryptonite.models.popularity import Popularity

# In the planted data odd movies are Comedy, even movies Horror|Thriller.
COMEDY = personas.Persona("comedy", "Comedy", (1, 3, 5, 7), (("Comedy",),))
HORROR = personas.Persona("horror", "Horror", (2, 4, 6, 8), (("Horror", "Thriller"),))


def test_queries_give_each_persona_a_list_and_a_ratings_form() -> None:
    qs = personas.queries((COMEDY,))
    assert [(q.form, q.ratings) for q in qs] == [("list", None), ("ratings", (5.0, 4.5, 5.0, 4.5))]
    assert len(personas.queries()) == 2 * len(personas.PERSONAS) >= 16


def test_fit_by_genre_group_and_by_genome_cosine() -> None:
    genome = {10: np.array([1.0, 0.0]), 11: np.array([0.6, 0.8]), 12: np.array([0.0, 1.0])}
    catalog = personas.Catalog(
        genres={10: frozenset({"Comedy"}), 11: frozenset({"Drama"}), 12: frozenset({"Horror"})},
        popularity_pct={10: 100.0, 11: 50.0},
        genome=genome,
    )
    p = personas.Persona("x", "x", (10,), (("Horror", "Thriller"), ("Comedy",)))
    centroid = catalog.centroid(p.movie_ids)
    assert catalog.fit_reason(10, p, centroid) == "genre"  # Comedy group
    assert catalog.fit_reason(12, p, centroid) is None  # Horror without Thriller
    assert catalog.fit_reason(11, p, centroid) is None  # cosine 0.6 < 0.8
    near = personas.Persona("y", "y", (10, 11), (("Western",),))
    assert catalog.fit_reason(11, near, catalog.centroid(near.movie_ids)) == "genome"
    assert catalog.mean_pct([10, 11, 99]) == 50.0  # unknown movie: 0


def test_run_and_markdown_with_real_models(tiny: TrainData) -> None:
    models = {"popularity": Popularity().fit(tiny), "content": ContentModel().fit(tiny)}
    results = personas.run(
        personas.SingleModels(models, n=5), personas.Catalog.from_data(tiny), (COMEDY, HORROR)
    )
    assert len(results) == 2 * 2 * 2
    by = {(r["persona"], r["form"], r["row"]): r for r in results}
    for form in ("list", "ratings"):
        assert by[("comedy", form, "content")]["fit"] == 5  # genre-only content: all fit
        assert by[("horror", form, "content")]["fit"] == 5
        assert not set(by[("comedy", form, "content")]["movie_ids"]) & set(COMEDY.movie_ids)
    pop = [by[("comedy", "list", "popularity")]["fit"], by[("horror", "list", "popularity")]["fit"]]
    assert sum(pop) == 5  # one global list: its movies fit one persona or the other
    table = personas.markdown(results, (COMEDY, HORROR))
    pop_fit = by[("comedy", "list", "popularity")]["fit"]
    assert f"| Comedy | list | {pop_fit}/5 | 5/5 |" in table
    assert "| **min** |" in table and "Horror & Thriller" in table
    assert table.count("\n|") >= 2 * 4 + 4


def test_popularity_percentile_orders_by_rating_count() -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 1, 2, 1],
            "movie_id": [7, 7, 7, 8, 8, 9],
            "rating": 4.0,
            "timestamp": 0,
        }
    )
    movies = pd.DataFrame({"movie_id": [7, 8, 9, 10], "title": "t", "genres": [["Drama"]] * 4})
    cat = personas.Catalog.from_data(TrainData(ratings, movies=movies))
    assert cat.popularity_pct[7] == 100.0 and cat.popularity_pct[10] == 25.0
    assert cat.popularity_pct[7] > cat.popularity_pct[8] > cat.popularity_pct[9]
