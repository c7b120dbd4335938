"""What a search answers: hits, a page of results, a paper's relevance to a topic."""

from __future__ import annotations

from dataclasses import dataclass, field

from paperwire.models import Paper
from paperwire.search.keyword import Filters


@dataclass(slots=True)
class SearchHit:
    paper: Paper
    score: float
    # search: arxiv id | title | author | keyword+semantic | keyword | semantic;
    # similar papers: the strongest signal, authors | words | meaning | categories | also-kept
    reason: str
    explanation: str = ""  # similar papers: why this one, for a person ("same authors: A. Author")

    def to_json(self) -> dict:
        record = self.paper.to_record()
        extra = {"reason": self.explanation} if self.explanation else {}
        return {"id": self.paper.id, "title": self.paper.title, "score": round(self.score, 6),
                "match": self.reason, **extra, **{k: v for k, v in record.items() if k not in ("id", "title")},
                "url": self.paper.abs_url}  # fmt: skip


@dataclass(slots=True)
class SearchResults:
    query: str
    hits: list[SearchHit]
    total: int  # exactly the results paging reaches, the same on every page
    limit: int
    offset: int
    words: tuple[str, ...] = ()
    keywords_only: bool = False
    notice: str | None = None
    filters: Filters = field(default_factory=Filters)
    index: dict = field(default_factory=lambda: {"state": "ready"})  # or building, with done / of
    opens: str | None = None  # the query is the arXiv id of this catalogue paper: open it
    unknown_id: str | None = None  # the query is an arXiv id the catalogue lacks: offer to add it
    did_you_mean: str | None = None  # the query spelt with the catalogue's words, when a word is unknown
    nearby_categories: list[str] = field(default_factory=list)  # with no results: where to look instead

    def to_json(self) -> dict:
        return {"query": self.query, "total": self.total, "limit": self.limit, "offset": self.offset,
                "keywords_only": self.keywords_only, "notice": self.notice, "index": self.index, "opens": self.opens,
                "did_you_mean": self.did_you_mean,
                "help": self.help_json(), "hits": [hit.to_json() for hit in self.hits]}  # fmt: skip

    def help_json(self) -> dict | None:
        """What to try when nothing matched (None when something did)."""
        if self.total:
            return None
        return {"did_you_mean": self.did_you_mean, "nearby_categories": self.nearby_categories,
                "submit_arxiv_id": self.unknown_id}  # fmt: skip


@dataclass(slots=True, frozen=True)
class TopicMatch:
    """How relevant one paper is to a topic: fused score in [0, 1] and its two parts."""

    paper_id: str
    score: float
    keyword_score: float  # BM25, 0 when no word matches
    semantic_score: float | None  # cosine in [-1, 1], None without vectors
