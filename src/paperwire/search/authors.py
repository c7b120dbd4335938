"""An author's papers: exactly those whose author list holds the name (case and accents folded), newest first."""

from __future__ import annotations

from dataclasses import dataclass

from paperwire.models import Paper, author_key
from paperwire.search.hybrid import SearchService

MAX_NAME_CHARS = 200


@dataclass(slots=True)
class AuthorPapers:
    name: str  # as the newest paper spells it (the name asked for when no paper holds it)
    papers: list[Paper]
    total: int
    limit: int
    offset: int


def papers_by_author(search: SearchService, name: str, limit: int, offset: int) -> AuthorPapers:
    """One page of the papers holding `name` in their author list, newest listed first, and their count."""
    search.refresh()
    ids, total = search.index.keyword.papers_by_author(name, limit, offset)
    found = {paper.id: paper for paper in search.store.get_papers(ids)}
    papers = [found[paper_id] for paper_id in ids if paper_id in found]
    key = author_key(name)
    spelt = next((author for paper in papers for author in paper.authors if author_key(author) == key), None)
    return AuthorPapers(spelt or " ".join(name.split()), papers, total, limit, offset)
