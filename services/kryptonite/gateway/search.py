"""Title search ranked by relevance, over an in-process index of the catalog.

MovieLens stores "Incredibles, The (2004)" and "WALL·E (2008)"; people type
"the incredibles" and "wall-e". Every title is indexed under the forms people type:
the leading article moved back, alternative titles in parentheses ("a.k.a. Se7en"),
accents and punctuation folded, and a spaceless form ("walle", "spiderman").

A query's matches are ranked in tiers, ties by popularity (the gateway's popularity
score: number of ratings x mean rating / 5):

0. the whole title (any form) equals the query;
1. the title starts with the query at a word boundary;
2. every query word is a title word (the last one may be the start of a word);
3. the same with typos: a query word of 5+ letters may be one edit (insertion, deletion,
   substitution or swap of neighbours; rapidfuzz's OSA distance) from a title word;
4. the query appears anywhere in the title (the old "contains" search).

The index is pure (built from rows); :class:`SearchIndex` loads and refreshes it.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy.ext.asyncio import AsyncConnection

from kryptonite.store import queries

if TYPE_CHECKING:
    from kryptonite.gateway.state import GatewayState

_YEAR = re.compile(r"\s*\((?:\d{4}(?:[-–]\d{0,4})?)\)\s*$")
_PAREN = re.compile(r"\(([^()]*)\)")
_ARTICLE = re.compile(
    r"^(?P<rest>.*),\s*(?P<art>The|A|An|Les|La|Le|Il|Lo|I|Gli|Das|Der|Die|Den|Det|El|Los|Las|"
    r"Un|Une|Uno|Una|O|Os|As|L'|L’)$",
    re.IGNORECASE,
)
_NON_WORD = re.compile(r"[^0-9a-z]+")
_ARTICLES = {"the", "a", "an", "les", "la", "le", "il", "das", "der", "die", "el", "los", "l"}
#: Query words this long may be matched with one edit.
TYPO_MIN_LEN = 5
EXACT, PREFIX, WORDS, TYPO, SUBSTRING = range(5)


def fold(text: str) -> str:
    """Lower case, accents removed, every run of punctuation one space: "WALL·E" -> "wall e"."""
    decomposed = unicodedata.normalize("NFKD", text.replace("&", " and "))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _NON_WORD.sub(" ", plain.replace("'", "").replace("’", "")).strip()


def _article_first(title: str) -> str:
    """ "Incredibles, The" -> "The Incredibles"; "Homme, L'" -> "L'Homme"."""
    found = _ARTICLE.match(title.strip())
    if not found:
        return title.strip()
    art = found.group("art")
    sep = "" if art.endswith(("'", "’")) else " "
    return f"{art}{sep}{found.group('rest')}"


def title_forms(title: str) -> list[str]:
    """The folded forms a title is found under (main title first, then alternatives)."""
    bare = _YEAR.sub("", title)
    alternatives = [a.strip() for a in _PAREN.findall(bare)]
    main = _PAREN.sub(" ", bare).strip()
    raw = [main, *(re.sub(r"^(a\.k\.a\.|aka)\s*", "", a, flags=re.I) for a in alternatives)]
    forms: list[str] = []
    for text in raw:
        for variant in (_article_first(text), text):
            folded = fold(variant)
            if not folded:
                continue
            words = folded.split()
            candidates = [folded, "".join(words)]
            if len(words) > 1 and words[0] in _ARTICLES:
                candidates.append(" ".join(words[1:]))
            forms.extend(c for c in candidates if c not in forms)
    return forms


@dataclass
class TitleIndex:
    """Search structures over ``(movie_id, title, year, genres, popularity)`` rows."""

    ids: list[int] = field(default_factory=list)
    years: list[int | None] = field(default_factory=list)
    genres: list[frozenset[str]] = field(default_factory=list)
    popularity: list[float] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    forms: list[list[str]] = field(default_factory=list)
    exact: dict[str, list[int]] = field(default_factory=dict)
    sorted_forms: list[tuple[str, int]] = field(default_factory=list)
    postings: dict[str, set[int]] = field(default_factory=dict)
    vocab: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, rows: Iterable[tuple[int, str, int | None, Iterable[str], int]]) -> TitleIndex:
        index = cls()
        for movie_id, title, year, genres, popularity in rows:
            i = len(index.ids)
            index.ids.append(int(movie_id))
            index.years.append(year)
            index.genres.append(frozenset(g.lower() for g in genres))
            index.popularity.append(float(popularity or 0))
            forms = title_forms(title or "")
            compact = {"".join(f.split()) for f in forms if " " in f}
            # substring matches only within the spaced forms ("or" is not in "nowheretorun")
            index.titles.append(" | ".join(f for f in forms if f not in compact))
            index.forms.append(forms)
            for form in forms:
                index.exact.setdefault(form, []).append(i)
                index.sorted_forms.append((form, i))
                for word in form.split():
                    index.postings.setdefault(word, set()).add(i)
        index.sorted_forms.sort()
        index.vocab = sorted(index.postings)
        return index

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------ matching
    def _starting_with(self, prefix: str) -> Iterable[tuple[str, int]]:
        start = bisect.bisect_left(self.sorted_forms, (prefix, -1))
        for form, i in self.sorted_forms[start:]:
            if not form.startswith(prefix):
                break
            yield form, i

    def _word_prefix(self, prefix: str) -> list[str]:
        start = bisect.bisect_left(self.vocab, prefix)
        out = []
        for word in self.vocab[start:]:
            if not word.startswith(prefix):
                break
            out.append(word)
        return out

    def _with_words(self, words: list[str], typos: bool) -> set[int]:
        """Movies having every word (the last may be a prefix; typos: one edit in 5+)."""
        found: set[int] | None = None
        for pos, word in enumerate(words):
            variants = [word]
            if pos == len(words) - 1:
                variants += self._word_prefix(word)
            if typos and len(word) >= TYPO_MIN_LEN:
                close = process.extract(
                    word, self.vocab, scorer=OSA.distance, score_cutoff=1, limit=None
                )
                variants += [w for w, _, _ in close]
            have: set[int] = set()
            for v in variants:
                have |= self.postings.get(v, set())
            found = have if found is None else found & have
            if not found:
                return set()
        return found or set()

    def tiers(self, query: str) -> dict[int, int]:
        """``{row: tier}`` of every matching row (lower tier = better)."""
        q = fold(query)
        if not q:
            return {}
        out: dict[int, int] = {}

        def put(rows: Iterable[int], tier: int) -> None:
            for i in rows:
                out.setdefault(i, tier)

        compact = q.replace(" ", "")
        put(self.exact.get(q, ()), EXACT)
        put(self.exact.get(compact, ()), EXACT)
        put((i for form, i in self._starting_with(q + " ")), PREFIX)
        words = q.split()
        put(self._with_words(words, typos=False), WORDS)
        if len(out) < 50:
            put(self._with_words(words, typos=True), TYPO)
        put((i for i, t in enumerate(self.titles) if q in t), SUBSTRING)
        return out

    def search(
        self,
        query: str,
        *,
        genre: str | None = None,
        year: int | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> tuple[int, list[int]]:
        """(number of matches, movie ids of the page) best first."""
        tiers = self.tiers(query)
        g = genre.lower() if genre else None
        rows = [
            i
            for i in tiers
            if (year is None or self.years[i] == year) and (g is None or g in self.genres[i])
        ]
        rows.sort(key=lambda i: (tiers[i], -self.popularity[i], self.forms[i][0], self.ids[i]))
        return len(rows), [self.ids[i] for i in rows[offset : offset + limit]]


@dataclass
class SearchIndex:
    """The gateway's title index: built on first use, rebuilt when older than ``max_age_s``
    (while one request rebuilds it, the others search the previous one). Popularity comes
    from the gateway's in-process catalog (no aggregate over the ratings per build)."""

    max_age_s: float = 600.0
    index: TitleIndex | None = None
    built_at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def get(self, conn: AsyncConnection, popularity: Mapping[int, float]) -> TitleIndex:
        fresh = time.monotonic() - self.built_at < self.max_age_s
        if self.index is not None and (fresh or self._lock.locked()):
            return self.index
        async with self._lock:
            if self.index is None or time.monotonic() - self.built_at >= self.max_age_s:
                rows = [
                    (m, t, y, g, popularity.get(m, 0.0))
                    for m, t, y, g in await queries.search_rows(conn)
                ]
                self.index = await asyncio.to_thread(TitleIndex.build, rows)
                self.built_at = time.monotonic()
        return self.index


async def search_movies(
    state: GatewayState,
    conn: AsyncConnection,
    *,
    q: str | None,
    genre: str | None = None,
    year: int | None = None,
    limit: int = 20,
    offset: int = 0,
) -> tuple[int, list[dict]]:
    """(total, page of movie cards): by relevance with a query, by title without one."""
    if not q or not q.strip():
        return await queries.search_movies(
            conn, q=None, genre=genre, year=year, limit=limit, offset=offset
        )
    titles = await state.search.get(conn, dict(state.catalog.popular))
    total, ids = titles.search(q, genre=genre, year=year, limit=limit, offset=offset)
    cards = await queries.movie_cards(conn, ids)
    return total, [cards[i] for i in ids if i in cards]
