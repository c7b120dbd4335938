"""What goes into a digest: pure functions of the period's papers, a subscriber's interests and history.

- trending: the period's top papers (by trending rank where there is one, else upvotes);
- matches: the period's papers scored against the interests — topic relevance (a swappable
  `TopicRelevance`: hybrid search when available, else the keyword scorer here), plus boosts for
  categories, authors and keywords — each with a one-line reason;
- a paper a subscriber already received is never selected again.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from paperwire.mail.subscribers import Interests
from paperwire.models import Paper

# topic → {paper id: relevance in [0, 1]} over the period's papers (0 or absent: no match).
TopicRelevance = Callable[[str], dict[str, float]]

MIN_MATCH_SCORE = 0.35
CATEGORY_BOOST = 0.5
AUTHOR_BOOST = 0.9
KEYWORD_BOOST = 0.45
CATEGORY_POOL = 60  # a category's papers considered per subscriber (a digest shows at most 50)
# Whole interest sets repeat (many subscribers have none, or one topic); the cache stays small so
# memory does not grow with the number of subscribers (the per-interest components are what is shared).
INTEREST_CACHE = 2_000
COMPONENT_CACHE = 20_000
STOPWORDS = frozenset(
    "a an and are as at be by for from in into is it its of on or over that the their this to towards "
    "under using via we what when which with without".split()
)
WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trending paper of the period and why it trends."""

    paper: Paper
    reason: str


@dataclass(frozen=True, slots=True)
class Match:
    paper_id: str
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class DigestItem:
    paper_id: str
    section: str  # trending | match
    reason: str


# ---- text ---------------------------------------------------------------------------------------


def fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def stem(word: str) -> str:
    """A light plural/verb-ending stemmer: 'models' → 'model', 'agents' → 'agent'."""
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


def terms(text: str) -> list[str]:
    return [stem(word) for word in WORD.findall(fold(text)) if word not in STOPWORDS]


# ---- the default topic relevance ----------------------------------------------------------------


def keyword_relevance(papers: Sequence[Paper]) -> TopicRelevance:
    """Relevance of each paper to a topic by the topic's words in title (double weight) and abstract.

    Score = idf-weighted share of the topic's words the paper contains (title counts twice), plus a
    bonus when the whole topic appears as a phrase. Results are cached per topic.
    """
    postings: dict[str, dict[str, float]] = {}
    texts: dict[str, str] = {}
    for paper in papers:
        weights: dict[str, float] = defaultdict(float)
        for term in set(terms(paper.title)):
            weights[term] += 2.0
        for term in set(terms(paper.abstract)):
            weights[term] += 1.0
        for term, weight in weights.items():
            postings.setdefault(term, {})[paper.id] = weight / 3.0
        texts[paper.id] = " ".join(WORD.findall(fold(f"{paper.title} {paper.abstract}")))
    count = max(len(texts), 1)
    idf = {term: math.log(1 + count / len(hits)) for term, hits in postings.items()}

    @lru_cache(maxsize=4096)
    def relevance(topic: str) -> dict[str, float]:
        words = list(dict.fromkeys(terms(topic)))
        if not words:
            return {}
        total = sum(idf.get(word, math.log(1 + count)) for word in words)
        scores: dict[str, float] = {}
        for word in words:
            for paper_id, weight in postings.get(word, {}).items():
                scores[paper_id] = scores.get(paper_id, 0.0) + weight * idf[word] / total
        phrase = " ".join(WORD.findall(fold(topic)))
        if len(words) > 1 and phrase:
            for paper_id in scores:
                if phrase in texts[paper_id]:
                    scores[paper_id] = min(1.0, scores[paper_id] + 0.3)
        return {paper_id: round(min(score, 1.0), 4) for paper_id, score in scores.items() if score > 0}

    return relevance


# ---- matching interests ------------------------------------------------------------------------


def name_key(name: str) -> str:
    return " ".join(WORD.findall(fold(name)))


class PeriodMatcher:
    """Scores the period's papers against interests; built once per digest run, cached per interest."""

    def __init__(self, papers: Sequence[Paper], topic_relevance: TopicRelevance | None = None) -> None:
        self.papers = list(papers)  # trending first: the order breaks ties between equal matches
        self._rank = {paper.id: position for position, paper in enumerate(self.papers)}
        self.topic_relevance = topic_relevance or keyword_relevance(self.papers)
        self._by_category: dict[str, list[str]] = {}
        self._by_author: dict[str, list[tuple[str, str]]] = {}
        self._papers_with: dict[str, set[str]] = {}
        for paper in self.papers:
            for category in paper.categories:
                self._by_category.setdefault(category.lower(), []).append(paper.id)
            for author in paper.authors:
                self._by_author.setdefault(name_key(author), []).append((paper.id, author))
            for word in set(terms(" ".join((paper.title, paper.abstract, *paper.keywords)))):
                self._papers_with.setdefault(word, set()).add(paper.id)
        self._cache: dict[Interests, list[Match]] = {}
        self._components: dict[tuple[str, str], list[tuple[str, float, str]]] = {}

    def matches(self, interests: Interests, limit: int = 60) -> list[Match]:
        """The best `limit` papers that match, best first, each with its strongest reason."""
        if not interests:
            return []
        found = self._cache.get(interests)
        if found is None:
            found = self._score(interests, limit)
            if len(self._cache) >= INTEREST_CACHE:
                self._cache.clear()
            self._cache[interests] = found
        return found

    def _component(self, kind: str, value: str) -> list[tuple[str, float, str]]:
        """(paper id, score, reason) for one interest; shared by every subscriber who has it."""
        key = (kind, value)
        found = self._components.get(key)
        if found is not None:
            return found
        if kind == "topic":
            reason = f"matches your topic ‘{value}’"
            found = [(paper_id, score, reason) for paper_id, score in self.topic_relevance(value).items() if score > 0]
        elif kind == "category":
            reason = f"in your category {value}"
            # Every paper of a category scores the same: keep the first ones in trending order.
            found = [(paper_id, CATEGORY_BOOST, reason)
                     for paper_id in self._by_category.get(value.lower(), ())[:CATEGORY_POOL]]  # fmt: skip
        elif kind == "author":
            found = [(paper_id, AUTHOR_BOOST, f"by {written}, an author you follow")
                     for paper_id, written in self._by_author.get(name_key(value), ())]  # fmt: skip
        else:
            wanted = set(terms(value))
            reason = f"mentions your keyword ‘{value}’"
            candidates = set.intersection(*(self._papers_with.get(word, set()) for word in wanted)) if wanted else set()
            found = [(paper_id, KEYWORD_BOOST, reason) for paper_id in sorted(candidates)]
        if len(self._components) >= COMPONENT_CACHE:
            self._components.clear()
        self._components[key] = found
        return found

    def _score(self, interests: Interests, limit: int) -> list[Match]:
        scores: dict[str, float] = {}
        best: dict[str, tuple[float, str]] = {}
        parts = [("topic", v) for v in interests.topics] + [("category", v) for v in interests.categories]
        parts += [("author", v) for v in interests.authors] + [("keyword", v) for v in interests.keywords]
        for kind, value in parts:
            for paper_id, score, reason in self._component(kind, value):
                scores[paper_id] = scores.get(paper_id, 0.0) + score
                if score > best.get(paper_id, (0.0, ""))[0]:
                    best[paper_id] = (score, reason)
        # Ties go to the paper that trends more (the papers are in trending order).
        rank = self._rank
        top = heapq.nsmallest(
            limit,
            ((-score, rank[paper_id], paper_id) for paper_id, score in scores.items() if score >= MIN_MATCH_SCORE),
        )
        return [Match(paper_id, round(-negative, 4), best[paper_id][1]) for negative, _, paper_id in top]


# ---- the selection -------------------------------------------------------------------------------


def select_digest(
    trending: Sequence[Candidate], matches: Sequence[Match], already_sent: set[str] | frozenset[str],
    max_papers: int,
) -> list[DigestItem]:  # fmt: skip
    """The digest of one subscriber: best matches and top trending papers, none received before.

    With matches, up to half of the places go to them (the rest to trending; unused places go to
    the other list); without interests every place is trending. A paper appears once.
    """
    fresh_matches = [m for m in matches if m.paper_id not in already_sent]
    fresh_trending = [c for c in trending if c.paper.id not in already_sent]
    match_places = min(len(fresh_matches), max(max_papers - max_papers // 2, max_papers - len(fresh_trending)))
    chosen_matches = fresh_matches[:match_places]
    taken = {m.paper_id for m in chosen_matches}
    chosen_trending = [c for c in fresh_trending if c.paper.id not in taken][: max_papers - len(chosen_matches)]
    items = [DigestItem(c.paper.id, "trending", c.reason) for c in chosen_trending]
    items += [DigestItem(m.paper_id, "match", m.reason) for m in chosen_matches]
    return items
