"""Similar papers from all the evidence: vectors, words, authors, categories (and what readers kept).

For one paper, each signal proposes candidates and scores them:
- meaning: cosine of the paper's stored vector (the best model it has one of) to its neighbours' and to
  every other candidate's, as a share of the best neighbour's cosine;
- words: a bounded keyword query of the paper's most distinctive title and abstract words (at most
  KEYWORD_TERMS, chosen by tf·idf) proposes candidates; each is scored by BM25 of every title and
  abstract word of the paper (each once: plain BM25 with the paper as the query), from the token bags
  the keyword index stores, as a share of the best score;
- authors: papers sharing an author (exact name, any order of the author list);
- categories: overlap of arXiv categories (a small nudge, it proposes no candidates);
- also kept: what readers who kept the paper also kept, when something wires `SearchService.also_kept`.
`fuse_similar` (pure) weighs them (WEIGHTS, tuned on the dev half of bench/similar.py) and names the
strongest signal of each paper, which `reasons.explain` turns into a line. Vectors from the bulk model count by how much their nearest papers agree with the
words' best, above chance (`agreement`, `bulk_trust`): bulk vectors that say nothing the words agree
with (noise) fall silent, so a catalogue with only bulk vectors ranks at least as the keywords would.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from paperwire.models import Paper, author_key
from paperwire.search.keyword import TITLE_BOOST, stems_of, token_hash, unpack_bags
from paperwire.search.query import EXTRA_STOPWORDS, UNMARKED
from paperwire.search.reasons import explain, own_words, paper_stems, word_idf
from paperwire.search.results import SearchHit

if TYPE_CHECKING:
    from paperwire.search.hybrid import SearchService
    from paperwire.search.vectors import VectorIndex

MAX_SIMILAR = 100
POOL = 100  # candidates proposed by each signal (the page shows at most MAX_SIMILAR)
# the keyword query of a paper (it proposes; every word scores): its most distinctive words, at most this many
# (a query of every word, i.e. plain BM25, costs +12 ms p50 / +15 ms p95 at 100k papers: docs/benchmarks.md)
KEYWORD_TERMS = 48
FETCH = 40  # candidates read from the store for their categories (the best by every other signal)
MAX_AUTHORS = 8  # authors looked up per paper (a 300-author paper is not 300 lookups)
BM25_K1, BM25_B = 1.2, 0.75  # tantivy's
AGREEMENT_TOP = 10  # bulk trust: the keyword side's top hits ...
AGREEMENT_DEPTH = 20  # ... found among the bulk side's top this many
SILENT_Z = 2.5  # bulk vectors agreeing with the words no more than this (z-score) are taken for noise


@dataclass(slots=True, frozen=True)
class SimilarWeights:
    """Shares of each signal in the fused score (each signal is in [0, 1])."""

    meaning: float = 0.3
    bulk_meaning: float = 0.06
    words: float = 0.6
    authors: float = 0.5
    categories: float = 0.05
    also_kept: float = 0.15
    bulk_full_z: float = 3.0  # keyword/bulk agreement (z-score, see `agreement`) at which bulk vectors count fully


# meaning / words / bulk_meaning / bulk_full_z: set on the dev half of bench/similar.py with the author and
# category signals off (docs/benchmarks.md, "Similar papers"), words scored by every word of the paper:
# bulk_meaning 0.06 is the dev best at the gate's shipped point (0.05 → 0.06: +0.001; 0.08 with the gate full
# at z 6, +0.0005 more, left), meaning 0.3 the dev best (0.2 → 0.3: +0.003; the expert-judged set favours
# meaning too). Authors, categories and also_kept are set by judgment (that benchmark's positives are made of
# authors and categories, so it cannot tune them).
WEIGHTS = SimilarWeights()


@dataclass(slots=True)
class Signals:
    """What each signal says about one candidate (missing signal: 0 / empty)."""

    meaning: float = 0.0  # cosine / the best neighbour's cosine, of the model that scored it (≥ 0)
    bulk: bool = False  # the meaning came from the bulk model
    words: float = 0.0  # BM25 / best BM25 of the pool
    authors: tuple[str, ...] = ()  # shared authors (exact identity), as the query paper writes them
    categories: float = 0.0  # Jaccard overlap of category sets
    also_kept: float = 0.0


@dataclass(slots=True)
class Evidence:
    """Everything `fuse_similar` needs for one query paper."""

    candidates: dict[str, Signals] = field(default_factory=dict)
    agreement: float = math.inf  # bulk vectors' agreement with the words, a z-score (see `agreement`)
    idf: dict[str, float] = field(default_factory=dict)  # the paper's distinctive tokens (its keyword query)
    papers: dict[str, Paper] = field(default_factory=dict)  # the candidates read from the store

    def of(self, paper_id: str) -> Signals:
        return self.candidates.setdefault(paper_id, Signals())


def share_of_best(scores: Sequence[tuple[str, float]], best: float) -> dict[str, float]:
    """Each score as a share of `best`, within [0, 1] (nothing when `best` is not positive)."""
    if best <= 0:
        return {}
    return {item: max(0.0, min(1.0, score / best)) for item, score in scores}


def agreement(keyword: Sequence[str], bulk: Sequence[str], catalogue: int) -> float:
    """How far the bulk vectors' nearest papers agree with the keyword side's best, beyond chance: how
    many of the keyword top AGREEMENT_TOP are among the bulk top AGREEMENT_DEPTH, as a z-score against
    what random vectors would find (infinite when there is nothing to check against)."""
    top = list(keyword[:AGREEMENT_TOP])
    chance = min(1.0, AGREEMENT_DEPTH / max(catalogue - 1, 1))
    if not top or chance >= 1.0:
        return math.inf
    depth = set(bulk[:AGREEMENT_DEPTH])
    found = sum(1 for item in top if item in depth)
    expected, spread = len(top) * chance, math.sqrt(len(top) * chance * (1 - chance))
    return (found - expected) / spread


def bulk_trust(evidence: Evidence, weights: SimilarWeights) -> float:
    """0..1: how much the bulk vectors count for this paper: nothing up to SILENT_Z (what noise reaches
    but rarely), fully from `bulk_full_z` on."""
    z = evidence.agreement
    return max(0.0, min(1.0, (z - SILENT_Z) / max(weights.bulk_full_z - SILENT_Z, 1e-6)))


def fuse_similar(evidence: Evidence, weights: SimilarWeights = WEIGHTS) -> list[tuple[str, float, str]]:
    """(paper id, score, strongest signal) best first; ties by paper id."""
    ranked = []
    trust = bulk_trust(evidence, weights)
    for paper_id, signal in evidence.candidates.items():
        parts = _parts(signal, trust, weights)
        score = sum(parts.values())
        if score - parts["categories"] <= 0:
            continue  # categories only nudge: a paper nothing else speaks for (or only silenced vectors) is out
        strongest = "authors" if signal.authors else max(parts, key=parts.__getitem__)
        ranked.append((paper_id, score, strongest))
    ranked.sort(key=lambda item: (-item[1], item[0]))
    return ranked


def _parts(signal: Signals, trust: float, weights: SimilarWeights) -> dict[str, float]:
    """Each signal's share of a candidate's fused score (`trust`: `bulk_trust`)."""
    meaning_weight = weights.bulk_meaning * trust if signal.bulk else weights.meaning
    return {
        "meaning": meaning_weight * signal.meaning,
        "words": weights.words * signal.words,
        "authors": weights.authors * min(len(signal.authors), 2) / 2,
        "categories": weights.categories * signal.categories,
        "also-kept": weights.also_kept * signal.also_kept,
    }


# ---- gathering the evidence from the index -------------------------------------------------------


def every_word_bm25(service: SearchService, paper: Paper, bags: Mapping[str, tuple[bytes, bytes]]) -> dict[str, float]:
    """BM25 of each paper in `bags` (id → its title and abstract bags, `keyword.bag_of`) for a query of every
    title and abstract word of `paper`, each once (what plain BM25 with the paper as the query scores), over
    title (boosted as in keyword search) and abstract. From the bags, not by a query over every word's postings
    (that costs +12 ms p50 at 100k papers); field lengths are measured against these papers' mean length."""
    keyword = service.index.keyword
    tokens = paper_stems(paper)
    if not tokens or not bags:
        return {}
    documents = max(keyword.count(), 1)
    order = list(bags)
    size = len(order)
    query = np.fromiter((token_hash(token) for token in tokens), dtype=np.uint32, count=len(tokens))
    idf = np.empty((2, len(tokens)))  # per field (title, abstract), per query token
    for position, (field_name, boost) in enumerate((("title", TITLE_BOOST), ("abstract", 1.0))):
        frequencies = keyword.document_frequencies(tokens, field_name)
        counts = np.fromiter((frequencies[token] for token in tokens), dtype=np.float64, count=len(tokens))
        idf[position] = boost * np.log(1 + (documents - counts + 0.5) / (counts + 0.5))
    # every bag at once: the title bags, then the abstract bags (bag k: field k // size, paper k % size)
    hashes, counted, owner = unpack_bags(
        [bags[paper_id][0] for paper_id in order] + [bags[paper_id][1] for paper_id in order]
    )
    found, token = _find(query, hashes)
    times = counted.astype(np.float64)
    lengths = np.bincount(owner, weights=times, minlength=2 * size)
    mean_length = np.maximum(lengths.reshape(2, size).mean(axis=1), 1.0)
    owner, token, times = owner[found], token[found], times[found]
    field = owner // size
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths[owner] / mean_length[field])
    part = idf[field, token] * times * (BM25_K1 + 1) / (times + norm)
    scores = np.bincount(owner - field * size, weights=part, minlength=size)
    return dict(zip(order, scores.tolist(), strict=True))


def _find(query: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which `hashes` are in `query` (distinct uint32), and at which position of `query`. Through a table of
    2¹⁶ slots by the low bits (a binary search per entry cost 0.6 ms for a hundred papers' bags); the rare
    query tokens that share a slot with another are matched one by one."""
    slots = (query & 0xFFFF).astype(np.int64)
    table = np.full(1 << 16, -1, dtype=np.int32)
    table[slots] = np.arange(len(query))
    at = table[hashes & 0xFFFF]
    found = at >= 0
    found[found] = query[at[found]] == hashes[found]
    for position in np.flatnonzero(table[slots] != np.arange(len(query))):  # lost its slot to another token
        same = hashes == query[position]
        found |= same
        at[same] = position
    return found, at


def distinctive_tokens(service: SearchService, paper: Paper, limit: int = KEYWORD_TERMS) -> dict[str, float]:
    """token → idf of the paper's `limit` most distinctive words (by tf·idf; words only it has are left out)."""
    counts: Counter[str] = Counter()
    for text, times in ((paper.title, 2), (paper.abstract, 1)):
        for token in stems_of(text):
            if len(token) >= 3 and token not in UNMARKED and token not in EXTRA_STOPWORDS and not token.isdigit():
                counts[token] += times
    keyword = service.index.keyword
    documents = max(keyword.count(), 1)
    read = keyword.document_frequencies(list(counts))
    idf = {token: math.log(1 + documents / (frequency + 1)) for token, frequency in read.items() if frequency > 1}
    ranked = sorted(idf, key=lambda token: (-(1 + math.log(counts[token])) * idf[token], token))
    return {token: idf[token] for token in ranked[:limit]}


def gather_evidence(service: SearchService, paper: Paper, *, authors: bool = True) -> Evidence:
    """Every signal's candidates for `paper` (never the paper itself). `authors=False` leaves the author
    signal out entirely, its candidates too (bench/similar.py's blind rows: its positives are made of authors)."""
    evidence = Evidence()
    index = service.index
    evidence.idf = distinctive_tokens(service, paper)
    # each word once: weighting them by how often the paper uses them ranked worse on the dev half (0.099 → 0.103)
    # the distinctive words propose (a cheap query); every word of the paper scores what they propose (BM25
    # from the hits' stored bags): dev +0.003 / report +0.004 with bulk vectors only (docs/benchmarks.md)
    hits = [hit for hit in index.keyword.search_bags(list(evidence.idf), POOL + 1) if hit[0] != paper.id][:POOL]
    words = [(paper_id, score) for paper_id, score, _ in hits]
    rescored = every_word_bm25(service, paper, {paper_id: bag for paper_id, _, bag in hits})
    best = max(rescored.values(), default=0.0)
    for paper_id, score in rescored.items():
        evidence.of(paper_id).words = score / best if best > 0 else 0.0
    quality, bulk = index.vectors, index.bulk_vectors
    quality_vector = quality.vector(paper.id) if quality is not None else None
    bulk_vector = bulk.vector(paper.id) if bulk is not None else None
    quality_neighbours: list[tuple[str, float]] = []
    bulk_neighbours: list[tuple[str, float]] = []
    if quality is not None and quality_vector is not None:
        quality_neighbours = [(i, s) for i, s in quality.search(quality_vector, POOL + 1) if i != paper.id][:POOL]
        for paper_id, _ in quality_neighbours:
            evidence.of(paper_id)
    if bulk is not None and bulk_vector is not None:
        bulk_neighbours = [(i, s) for i, s in bulk.search(bulk_vector, POOL + 1) if i != paper.id][:POOL]
        evidence.agreement = agreement([i for i, _ in words], [i for i, _ in bulk_neighbours], len(bulk))
        for paper_id, _ in bulk_neighbours:
            evidence.of(paper_id)
    # papers sharing an author (exact identity: the folded name, as an author page lists them), and which
    # ones: counted from the lookups, so no candidate is read from the store for it (a prolific author
    # proposes a hundred papers; reading them all cost up to 7 ms at 100k papers)
    own_authors = (
        {author_key(name): name for name in paper.authors[:MAX_AUTHORS] if author_key(name)} if authors else {}
    )
    shared: dict[str, list[str]] = {}
    for name in own_authors.values():
        for paper_id in index.keyword.papers_by_author(name, POOL, 0)[0]:
            if paper_id != paper.id:
                shared.setdefault(paper_id, []).append(name)
    for paper_id, names in shared.items():
        evidence.of(paper_id).authors = tuple(names)
    if service.also_kept is not None:
        kept = [(i, s) for i, s in service.also_kept(paper.id, POOL) if i != paper.id]
        best_kept = max((score for _, score in kept), default=0.0)
        for paper_id, score in kept:
            evidence.of(paper_id).also_kept = score / best_kept if best_kept > 0 else 0.0
    evidence.candidates.pop(paper.id, None)
    # Every candidate (the words', the vectors', the authors', what was also kept) gets its own cosine, not
    # 0 for missing the vector top POOL: by the better model where it has a vector of it, else by the bulk one
    # (the neighbours' cosines are known from the search: only the other candidates' are computed).
    unscored = list(evidence.candidates)
    if quality is not None and quality_vector is not None and quality_neighbours:
        scored = share_of_best(
            _cosines(quality, quality_vector, unscored, quality_neighbours), quality_neighbours[0][1]
        )
        for paper_id, share in scored.items():
            evidence.candidates[paper_id].meaning = share
        unscored = [i for i in unscored if i not in scored]
    if bulk is not None and bulk_vector is not None and bulk_neighbours and unscored:
        for paper_id, share in share_of_best(_cosines(bulk, bulk_vector, unscored, bulk_neighbours),
                                             bulk_neighbours[0][1]).items():  # fmt: skip
            signal = evidence.candidates[paper_id]
            signal.meaning, signal.bulk = share, True
    # Categories need the papers themselves: read only the candidates that can still reach the top
    # (the best FETCH by the other signals).
    trust = bulk_trust(evidence, WEIGHTS)
    # (the categories signal is still 0 for every candidate here)
    ahead = sorted(
        evidence.candidates, key=lambda i: (-sum(_parts(evidence.candidates[i], trust, WEIGHTS).values()), i)
    )
    own_categories = set(paper.categories)
    for other in service.store.get_papers(ahead[:FETCH]):
        evidence.papers[other.id] = other
        categories = set(other.categories)
        if own_categories and categories:
            evidence.candidates[other.id].categories = len(own_categories & categories) / len(
                own_categories | categories
            )
    return evidence


def _cosines(
    vectors: VectorIndex, vector: np.ndarray, ids: Sequence[str], neighbours: Sequence[tuple[str, float]]
) -> list[tuple[str, float]]:
    """(id, cosine) of those `ids` that have a vector in `vectors`: the `neighbours`' as their search found them,
    the others' computed."""
    known = dict(neighbours)
    rest = [paper_id for paper_id in ids if paper_id not in known]
    computed = vectors.search_among(vector, rest, len(rest)) if rest else []
    return [(paper_id, known[paper_id]) for paper_id in ids if paper_id in known] + computed


def find_similar(service: SearchService, paper_id: str, limit: int = 10, offset: int = 0) -> list[SearchHit]:
    """Up to `limit` similar papers after the first `offset` (at most MAX_SIMILAR in all), each with a reason."""
    paper = service.store.get_paper(paper_id)
    if paper is None:
        return []
    offset = max(0, min(offset, MAX_SIMILAR))
    limit = max(0, min(limit, MAX_SIMILAR - offset))
    evidence = gather_evidence(service, paper)
    ranked = fuse_similar(evidence)[offset : offset + limit]
    missing = [i for i, _, _ in ranked if i not in evidence.papers]
    papers = {**evidence.papers, **{p.id: p for p in service.store.get_papers(missing)}}
    own = own_words(paper)
    idf = word_idf(service, paper)
    hits = []
    for other_id, score, strongest in ranked:
        other = papers.get(other_id)
        if other is None or other.id == paper.id:
            continue
        why = explain(paper, other, evidence.candidates[other_id], strongest, idf, own)
        hits.append(SearchHit(other, score, strongest, why))
    return hits
