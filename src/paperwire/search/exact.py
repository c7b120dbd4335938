"""The papers a search puts first: the arXiv id typed, an exact title, the papers of an author named."""

from __future__ import annotations

from collections.abc import Sequence

from paperwire.models import Paper, normalise_title
from paperwire.search.keyword import Filters, KeywordIndex
from paperwire.search.query import ParsedQuery
from paperwire.storage import Store


def candidates(store: Store, keyword: KeywordIndex, query: ParsedQuery) -> list[tuple[str, str, Paper | None]]:
    """(paper id, why, the paper when it is an author match) for the papers that must come first:
    the arXiv id typed, an exact title, an author's papers."""
    found: list[tuple[str, str, Paper | None]] = []
    if query.arxiv_id:
        found.append((query.arxiv_id, "arxiv id", None))
    if len(query.title_key) >= 3:
        found += [(paper_id, "title", None) for paper_id in store.paper_ids_with_title_key(query.title_key)]
        by_author = keyword.author_papers(query.text)
        if by_author:
            papers = store.get_papers(by_author)
            found += [
                (p.id, "author", p) for p in papers if any(normalise_title(a) == query.title_key for a in p.authors)
            ]
    return found


def matches(
    keyword: KeywordIndex, candidates: list[tuple[str, str, Paper | None]], filters: Filters, fused_order: Sequence[str]
) -> list[tuple[str, str]]:
    """The exact candidates that pass `filters`, in order: id, titles, then an author's papers
    as the search ranks them (unranked ones newest first)."""
    if not candidates:
        return []
    position = {paper_id: i for i, paper_id in enumerate(fused_order)}
    wrote = [paper for _, why, paper in candidates if why == "author" and paper is not None]
    wrote.sort(key=lambda p: (position.get(p.id, len(position)), -(int((p.listed_on or "0").replace("-", "")))))
    found = [(paper_id, why) for paper_id, why, _ in candidates if why != "author"]
    found += [(paper.id, "author") for paper in wrote]
    unique = list(dict.fromkeys(paper_id for paper_id, _ in found))
    passing, _ = keyword.matching(filters, among=unique, limit=len(unique))
    passing_set = set(passing)
    reasons: dict[str, str] = {}
    for paper_id, why in found:
        if paper_id in passing_set:
            reasons.setdefault(paper_id, why)
    return list(reasons.items())
