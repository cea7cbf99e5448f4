""" "Similar movies" on real ml-latest-small: what movies are, not the words of their titles."""

from __future__ import annotations

from pathlib import Path

import pytest

from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.models.content import ContentModel
from kryptonite.pipeline.train import train_data
from kryptonite.serving.similarity import similar_movies

FINDING_NEMO, UP, TOY_STORY_3 = 6377, 68954, 78499


@pytest.fixture(scope="module")
def trained(data_dir: Path):
    frames = load_dataset(
        get_spec("ml-latest-small"), data_dir / "ml-latest-small", extras_dir=data_dir
    )
    data = train_data(
        ratings=frames.ratings,
        movies=frames.movies,
        tags=frames.tags,
        genome_tags=frames.genome_tags,
        genome_scores=frames.genome_scores,
        overviews=frames.overviews,
    )
    return ContentModel().fit(data), frames.movies.set_index("movie_id")


@pytest.mark.parametrize("movie_id", [FINDING_NEMO, UP, TOY_STORY_3])
def test_top5_of_pixar_films_are_animated(trained, movie_id: int) -> None:
    model, movies = trained
    hits = similar_movies(model, movie_id, 5)
    assert hits is not None and len(hits.ids) == 5
    top = [movies.loc[int(m)] for m in hits.ids]
    assert all("Animation" in m.genres for m in top), [m.title for m in top]


@pytest.mark.parametrize(
    ("movie_id", "twins"),
    [
        (FINDING_NEMO, ("Finding Forrester", "Finding Neverland")),
        (UP, ("Fired Up", "Knocked Up")),
        (TOY_STORY_3, ("Toy, The",)),
    ],
)
def test_title_words_do_not_make_movies_similar(trained, movie_id: int, twins) -> None:
    model, movies = trained
    top = [movies.loc[m].title for m, _ in model.similar_items([movie_id], 20)]
    assert not [t for t in top if t.startswith(twins)], top
