"""Help for a search that found nothing: a spelling from the catalogue's own words, nearby categories."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from paperwire.models import Paper
from paperwire.search.keyword import KeywordIndex
from paperwire.search.query import UNMARKED, ParsedQuery, parse_query, words_of
from paperwire.search.results import SearchResults
from paperwire.storage import Store

MAX_CORRECTED_WORDS = 8  # words of a query checked for spelling (a long query that matches nothing is rare)
MAX_EDITS = 2
NEARBY_CATEGORIES = 5
NEARBY_POOL = 20  # nearest papers whose categories are offered when nothing is close enough


def edit_distance(left: str, right: str) -> int:
    """Levenshtein distance with adjacent transpositions counting one edit ("teh" → "the": 1)."""
    previous2: list[int] = []
    previous = list(range(len(right) + 1))
    for i, a in enumerate(left, start=1):
        current = [i] + [0] * len(right)
        for j, b in enumerate(right, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b))
            if i > 1 and j > 1 and a == right[j - 2] and left[i - 2] == b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def best_spelling(word: str, papers: Sequence[Paper]) -> str | None:
    """The title word of `papers` closest to `word` (within MAX_EDITS), the most frequent among equals."""
    counts = Counter(candidate for paper in papers for candidate in words_of(paper.title) if candidate != word)
    scored = [(edit_distance(word, candidate), -count, candidate) for candidate, count in counts.items()]
    close = [entry for entry in scored if entry[0] <= MAX_EDITS and len(entry[2]) >= 3]
    return min(close)[2] if close else None


def did_you_mean(keyword: KeywordIndex, store: Store, query: ParsedQuery) -> str | None:
    """The query with each word no paper has replaced by the nearest word of the catalogue's titles;
    None when no word needed (or found) a correction."""
    words = list(query.terms[:MAX_CORRECTED_WORDS]) or [w for phrase in query.phrases for w in phrase]
    corrected, changed = [], False
    for word in words:
        if len(word) < 4 or word in UNMARKED or not word.isalpha() or keyword.known_word(word):
            corrected.append(word)
            continue
        spelling = best_spelling(word, store.get_papers(keyword.near_spellings(word)))
        corrected.append(spelling or word)
        changed = changed or spelling is not None
    return " ".join(corrected) if changed else None


def nearby_categories(papers: Sequence[Paper]) -> list[str]:
    """The primary categories of these papers (the nearest ones, even if not close enough), commonest first."""
    counts = Counter(paper.categories[0] for paper in papers if paper.categories)
    return [category for category, _ in counts.most_common(NEARBY_CATEGORIES)]


def fill_help(
    keyword: KeywordIndex, store: Store, query: ParsedQuery, nearest: list[tuple[str, float]], results: SearchResults
) -> None:
    """Nothing matched: a spelling from the catalogue, and the categories of the nearest papers."""
    results.did_you_mean = did_you_mean(keyword, store, query)
    near_ids = [paper_id for paper_id, _ in sorted(nearest, key=lambda pair: -pair[1])[:NEARBY_POOL]]
    if not near_ids and results.did_you_mean:
        respelt = keyword.search(parse_query(results.did_you_mean), results.filters, NEARBY_POOL)
        near_ids = [paper_id for paper_id, _ in respelt]
    results.nearby_categories = nearby_categories(store.get_papers(near_ids))
