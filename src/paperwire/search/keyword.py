"""Keyword search: a tantivy BM25 index over title (weighted), abstract and authors, with filters."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import tantivy

from paperwire.models import Paper, author_key
from paperwire.search.query import UNMARKED, ParsedQuery, words_of

SCHEMA_VERSION = "4"  # bump when the schema below changes: the index is rebuilt from the database
# Tuned on SciFact training queries (bench/relevance.py): titles already weigh more per term (short field,
# own IDF), and an extra boost hurt (nDCG@10 of BM25: boost 2.0 → 0.611, 1.0 → 0.667, 0.75 → 0.678).
TITLE_BOOST = 0.75
WRITER_HEAP_BYTES = 128_000_000
MAX_REMEMBERED_FREQUENCIES = 200_000  # document frequencies kept between reloads (≈ 30 MB at most)
TEXT_FIELDS = (("title", TITLE_BOOST, "en_stem"), ("abstract", 1.0, "en_stem"), ("authors", 1.0, "default"))
MAX_FILTER_CANDIDATES = 5_000
MAX_KEYWORD_TERMS = 32  # a pasted abstract is searched by its most informative words (lowest document frequency)


@dataclass(slots=True, frozen=True)
class Filters:
    """Restrictions on results: listed_on range (inclusive, YYYY-MM-DD), category, author name."""

    date_from: str | None = None
    date_to: str | None = None
    category: str | None = None
    author: str | None = None

    def __bool__(self) -> bool:
        return any((self.date_from, self.date_to, self.category, self.author))


def day_number(day: str | None, default: int) -> int:
    if not day:
        return default
    digits = day[:10].replace("-", "")
    return int(digits) if digits.isdigit() and len(digits) == 8 else default


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("abstract", tokenizer_name="en_stem")
    builder.add_text_field("authors", tokenizer_name="default")
    builder.add_text_field("category", tokenizer_name="raw")
    builder.add_integer_field("listed_on", indexed=True, fast=True)
    # the primary category in lower case (what cards show; filters match it in any case)
    builder.add_text_field("primary", tokenizer_name="raw")
    # each author's name folded (author_key): an author page lists exactly the papers holding the name
    builder.add_text_field("author_key", tokenizer_name="raw")
    # title words as typed (not stemmed): the vocabulary "did you mean" corrects against
    builder.add_text_field("title_words", tokenizer_name="default")
    return builder.build()


def _analyzer(stemmed: bool) -> tantivy.TextAnalyzer:
    """tantivy's built-in "en_stem" (stemmed) and "default" analyzers, rebuilt to tokenise query words
    exactly as the index did (tests/test_search_keyword.py checks they agree)."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
    builder = builder.filter(tantivy.Filter.lowercase())
    return (builder.filter(tantivy.Filter.stemmer("english")) if stemmed else builder).build()


ANALYZERS = {"en_stem": _analyzer(True), "default": _analyzer(False)}


@lru_cache(maxsize=16)
def stems_of(text: str) -> tuple[str, ...]:
    """The en_stem tokens of a title or abstract, remembered for the last few texts (one list of similar
    papers reads its paper's four times: its query, its scoring, its reasons)."""
    return tuple(ANALYZERS["en_stem"].analyze(text))


def token_hash(token: str) -> int:
    """A token's 32-bit id in bags (crc32: the same in every process; a rare collision only merges two words)."""
    return zlib.crc32(token.encode())


def bag_of(text: str) -> bytes:
    """The en_stem tokens of `text` and how often each occurs: their hashes (uint32), then the counts (uint8,
    at most 255), `len // 5` of each."""
    counts = Counter(ANALYZERS["en_stem"].analyze(text))
    hashes = np.fromiter((token_hash(token) for token in counts), dtype=np.uint32, count=len(counts))
    times = np.fromiter((min(count, 255) for count in counts.values()), dtype=np.uint8, count=len(counts))
    return hashes.tobytes() + times.tobytes()


def unpack_bag(bag: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(token hashes, counts) of a `bag_of` bag."""
    size = len(bag) // 5
    return np.frombuffer(bag, dtype=np.uint32, count=size), np.frombuffer(bag, dtype=np.uint8, offset=4 * size)


def unpack_bags(bags: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(token hashes, counts, which bag) of all these bags at once (`unpack_bag` of each, concatenated)."""
    sizes = np.fromiter((len(bag) // 5 for bag in bags), dtype=np.int64, count=len(bags))
    raw = np.frombuffer(b"".join(bags), dtype=np.uint8)
    owner = np.repeat(np.arange(len(bags)), sizes)
    starts = np.concatenate(([0], np.cumsum(5 * sizes)[:-1]))  # where each bag begins
    within = np.arange(len(owner)) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # entry number in its bag
    at = starts[owner] + 4 * within
    hashes = raw[at].astype(np.uint32) | raw[at + 1].astype(np.uint32) << 8
    hashes |= raw[at + 2].astype(np.uint32) << 16 | raw[at + 3].astype(np.uint32) << 24
    return hashes, raw[starts[owner] + 4 * sizes[owner] + within], owner


class WriterBusy(RuntimeError):
    """Another process (or another index object) holds this folder's writer lock right now."""


class BagStore:
    """Each paper's token bags (`bag_of` of its title and of its abstract) by id, in an SQLite file beside the
    index: similar papers score their candidates with every word of a paper without a query over every
    word's postings. A hundred bags are read by primary key in ≈ 0.7 ms (from a side tantivy index's stored
    documents: ≈ 2 ms at 100k papers). Written by whoever holds the index's writer, just before it commits;
    each thread reads through its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        with self._connection() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS bags (id TEXT PRIMARY KEY, title BLOB NOT NULL, abstract BLOB NOT NULL) "
                "WITHOUT ROWID"
            )

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def write(self, rows: Sequence[tuple[str, bytes, bytes]]) -> None:
        """(id, title bag, abstract bag) of each paper, replacing what it had."""
        if rows:
            with self._connection() as connection:
                connection.executemany("INSERT OR REPLACE INTO bags VALUES (?, ?, ?)", rows)

    def clear(self) -> None:
        with self._connection() as connection:
            connection.execute("DELETE FROM bags")

    def read(self, ids: Sequence[str]) -> dict[str, tuple[bytes, bytes]]:
        """id → (title bag, abstract bag) of those of `ids` that have bags."""
        found: dict[str, tuple[bytes, bytes]] = {}
        connection = self._connection()
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for paper_id, title, abstract in connection.execute(
                f"SELECT id, title, abstract FROM bags WHERE id IN ({marks})", chunk
            ):  # fmt: skip
                found[paper_id] = (title, abstract)
        return found

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
        self._local = threading.local()


class KeywordIndex:
    """One tantivy index in a folder (and the papers' token bags, `BagStore`, in `bags.sqlite3`). One writer per
    folder at a time: whoever finds the lock taken reads what the holder commits and tries again on its next
    sync (the writer is held only while a sync writes, never between syncs)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        marker = folder / "schema-version"
        if folder.exists() and (not marker.exists() or marker.read_text() != SCHEMA_VERSION):
            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(SCHEMA_VERSION)
        self.schema = build_schema()
        self.index = tantivy.Index(self.schema, path=str(folder), reuse=True)
        self.bags = BagStore(folder / "bags.sqlite3")
        self._writer: tantivy.IndexWriter | None = None
        self._pending_bags: list[tuple[str, bytes, bytes]] = []  # written with the next commit
        self._frequencies: dict[tuple[str, str], int] = {}  # (field, token) → papers, until the next reload
        self.busy_conflicts = 0  # syncs that found the writer lock taken (each retried on the next sync)

    @property
    def writer(self) -> tantivy.IndexWriter:
        """The writer, taken now if not held; WriterBusy when another holder has the lock."""
        if self._writer is None:
            try:
                self._writer = self.index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as error:  # the lock is taken: this sync reads instead, the next one retries
                self.busy_conflicts += 1
                raise WriterBusy(str(error)) from error
        return self._writer

    def release(self) -> None:
        """Give up the writer without committing (what was added since the last commit is dropped)."""
        if self._writer is not None:
            self._writer.rollback()
        self._writer = None
        self._pending_bags = []

    def reload(self) -> None:
        """Read what the writer (this one or another process's) committed last."""
        self.index.reload()
        self._frequencies = {}

    def upsert(self, papers: Iterable[Paper]) -> int:
        writer = self.writer
        count = 0
        for paper in papers:
            writer.delete_documents_by_term("id", paper.id)
            self._pending_bags.append((paper.id, bag_of(paper.title), bag_of(paper.abstract)))
            document = tantivy.Document(
                id=paper.id, title=paper.title, abstract=paper.abstract, authors=list(paper.authors) or [""],
                category=list(paper.categories) or [""], listed_on=day_number(paper.listed_on, 0),
                primary=(paper.categories[0] if paper.categories else "").lower(),
                author_key=[author_key(name) for name in paper.authors] or [""], title_words=paper.title,
            )  # fmt: skip
            writer.add_document(document)
            count += 1
        return count

    def commit(self) -> None:
        self.bags.write(self._pending_bags)  # the bags first: a search finds no paper without its bags
        self._pending_bags = []
        if self._writer is not None:
            self._writer.commit()
            self._writer.wait_merging_threads()
        self._writer = None
        self.reload()

    def clear(self) -> None:
        self.writer.delete_all_documents()
        self._pending_bags = []
        self.bags.clear()
        self.commit()

    def count(self) -> int:
        return self.index.searcher().num_docs

    # ---- queries -------------------------------------------------------------------------------

    def filter_query(self, filters: Filters) -> tantivy.Query | None:
        clauses: list[tantivy.Query] = []
        if filters.date_from or filters.date_to:
            clauses.append(
                tantivy.Query.range_query(
                    self.schema,
                    "listed_on",
                    tantivy.FieldType.Integer,
                    day_number(filters.date_from, 0),
                    day_number(filters.date_to, 99991231),
                )  # fmt: skip
            )
        if filters.category:
            clauses.append(tantivy.Query.term_query(self.schema, "primary", filters.category.strip().lower()))
        if filters.author:
            words = words_of(filters.author)
            if words:
                clauses.append(self._author_query(words))
            else:
                clauses.append(tantivy.Query.empty_query())
        if not clauses:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, clause) for clause in clauses])

    def _author_query(self, words: Sequence[str]) -> tantivy.Query:
        tokens = [
            token for word in words for token in word.replace("'", " ").replace("-", " ").replace(".", " ").split()
        ]
        if len(tokens) == 1:
            return tantivy.Query.term_query(self.schema, "authors", tokens[0])
        return tantivy.Query.phrase_query(self.schema, "authors", list[str | tuple[int, str]](tokens))

    def text_query(self, query: ParsedQuery) -> tantivy.Query | None:
        """Any word matches (BM25 ranks documents with more of them higher); "phrases" match in order;
        prefix* words by regex.

        Plain words become one flat disjunction of (boosted) term queries, field by field, which
        tantivy answers with block-max WAND: it skips the documents that cannot reach the top
        `limit`. The words of a hyphenated word count one by one, and function words ("of", "the":
        query.UNMARKED) are left out when the query has other words. Measured (docs/benchmarks.md):
        at 1M papers the keyword top-100 took 7.4 ms p50 instead of 29 ms with the query parser's
        nested per-word disjunctions; on SciFact training queries BM25 nDCG@10 0.689 instead of 0.678.
        """
        schema = self.schema
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = []
        focused = [term for term in self.focus(query).terms if term not in UNMARKED]
        terms = focused or list(query.terms)[:MAX_KEYWORD_TERMS]
        for name, boost, analyzer in TEXT_FIELDS:
            tokens = dict.fromkeys(token for term in terms for token in ANALYZERS[analyzer].analyze(term))
            queries = [tantivy.Query.term_query(schema, name, token) for token in tokens]
            for phrase in query.phrases:
                words = ANALYZERS[analyzer].analyze(" ".join(phrase))
                if len(words) > 1:
                    queries.append(tantivy.Query.phrase_query(schema, name, list[str | tuple[int, str]](words)))
                elif words:
                    queries.append(tantivy.Query.term_query(schema, name, words[0]))
            clauses += [
                (tantivy.Occur.Should, q if boost == 1.0 else tantivy.Query.boost_query(q, boost)) for q in queries
            ]
        for prefix in query.prefixes:
            # Prefix words hold only letters and digits (see query.PREFIX): safe inside a regex.
            for name, boost in (("title", TITLE_BOOST), ("abstract", 1.0)):
                regex = tantivy.Query.regex_query(schema, name, f"{prefix}.*")
                clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(regex, boost)))
        if not clauses:
            return None
        return clauses[0][1] if len(clauses) == 1 else tantivy.Query.boolean_query(clauses)

    def search(self, query: ParsedQuery, filters: Filters | None = None, limit: int = 100) -> list[tuple[str, float]]:
        """(id, BM25 score) of the best `limit` documents, best first."""
        text_query = self.text_query(query)
        if text_query is None:
            return []
        filter_query = self.filter_query(filters) if filters else None
        if filter_query is not None:
            text_query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, text_query), (tantivy.Occur.Must, filter_query)]
            )
        return self._run(text_query, limit, count=False)[0]  # not counting lets tantivy skip documents

    def document_frequencies(self, tokens: Sequence[str], field: str = "abstract") -> dict[str, int]:
        """In how many papers' `field` (abstract or title) each (already analysed, en_stem) token occurs
        (remembered until the index is next reloaded: similar papers ask for a paper's every word)."""
        known = self._frequencies
        missing = [token for token in tokens if (field, token) not in known]
        if missing:
            if len(known) > MAX_REMEMBERED_FREQUENCIES:
                known.clear()
            searcher = self.index.searcher()
            known.update(((field, token), searcher.doc_freq(field, token)) for token in missing)
        return {token: known[field, token] for token in tokens}

    def search_tokens(self, tokens: Mapping[str, float] | Sequence[str], limit: int) -> list[tuple[str, float]]:
        """BM25 over title and abstract for already analysed (en_stem) tokens, any of them, each weighted
        by its value when `tokens` is a mapping; best first."""
        weights = tokens if isinstance(tokens, Mapping) else dict.fromkeys(tokens, 1.0)
        clauses = [
            (tantivy.Occur.Should,
             tantivy.Query.boost_query(tantivy.Query.term_query(self.schema, name, token), boost * weight))
            for token, weight in weights.items()
            for name, boost in (("title", TITLE_BOOST), ("abstract", 1.0))
        ]  # fmt: skip
        if not clauses:
            return []
        return self._run(tantivy.Query.boolean_query(clauses), limit, count=False)[0]

    def search_bags(self, tokens: Sequence[str], limit: int) -> list[tuple[str, float, tuple[bytes, bytes]]]:
        """`search_tokens` (each token once), each hit with its (title bag, abstract bag) (see `bag_of`; a
        hit without bags yet is left out)."""
        hits = self.search_tokens(list(dict.fromkeys(tokens)), limit)
        if not hits:
            return []
        bags = self.bags.read([paper_id for paper_id, _ in hits])
        return [(paper_id, score, bags[paper_id]) for paper_id, score in hits if paper_id in bags]

    def author_papers(self, name: str, limit: int = 50) -> list[str]:
        """Papers with an author whose name contains the words of `name` in order."""
        words = words_of(name)
        if not 2 <= len(words) <= 6:
            return []
        hits, _ = self._run(self._author_query(words), limit)
        return [paper_id for paper_id, _ in hits]

    def focus(self, query: ParsedQuery) -> ParsedQuery:
        """The query with at most MAX_KEYWORD_TERMS plain words: the rarest ones in the catalogue (the
        most informative), in the order typed. Words no paper has are dropped first; a short query is
        unchanged. Keeps the keyword half of a pasted abstract as fast as a typed question."""
        terms = [term for term in query.terms if term not in UNMARKED]
        if len(terms) <= MAX_KEYWORD_TERMS:
            return query
        searcher = self.index.searcher()
        analyzer = ANALYZERS["en_stem"]

        def rarity(term: str) -> tuple[int, int]:
            tokens = analyzer.analyze(term)
            frequency = min((searcher.doc_freq("abstract", token) for token in tokens), default=0)
            return (0, frequency) if frequency else (1, 0)

        chosen = set(sorted(terms, key=rarity)[:MAX_KEYWORD_TERMS])
        return replace(query, terms=tuple(term for term in terms if term in chosen))

    def known_word(self, word: str) -> bool:
        """Whether some paper's title or abstract holds this word (in any inflection)."""
        searcher = self.index.searcher()
        tokens = ANALYZERS["en_stem"].analyze(word)
        return bool(tokens) and all(
            searcher.doc_freq("abstract", token) or searcher.doc_freq("title", token) for token in tokens
        )

    def near_spellings(self, word: str, limit: int = 20) -> list[str]:
        """Ids of papers whose title has a word within two edits of `word` (for "did you mean")."""
        query = tantivy.Query.fuzzy_term_query(self.schema, "title_words", word.lower(), distance=2)
        return [paper_id for paper_id, _ in self._run(query, limit, count=False)[0]]

    def browse(self, filters: Filters, limit: int, offset: int) -> tuple[list[str], int]:
        """Ids of papers passing `filters`, newest listed first, a page of them; and how many pass."""
        query = self.filter_query(filters) or tantivy.Query.all_query()
        return self._ordered(query, limit, offset)

    def papers_by_author(self, name: str, limit: int, offset: int) -> tuple[list[str], int]:
        """Ids of the papers whose author list holds `name` (case and accents folded), newest first."""
        key = author_key(name)
        if not key:
            return [], 0
        return self._ordered(tantivy.Query.term_query(self.schema, "author_key", key), limit, offset)

    def _ordered(self, query: tantivy.Query, limit: int, offset: int) -> tuple[list[str], int]:
        searcher = self.index.searcher()
        result = searcher.search(query, limit=max(limit, 1), count=True, order_by_field="listed_on", offset=offset)
        count = getattr(result, "count", None)  # set because count=True above
        return [searcher.doc(address)["id"][0] for _, address in result.hits], count or 0

    def matching(
        self, filters: Filters, among: Sequence[str] | None = None, limit: int = MAX_FILTER_CANDIDATES
    ) -> tuple[list[str], int]:
        """Ids that pass `filters` (optionally only among the given ids), and how many pass in all."""
        clauses = []
        filter_query = self.filter_query(filters)
        if filter_query is not None:
            clauses.append((tantivy.Occur.Must, filter_query))
        if among is not None:
            clauses.append((tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "id", list(among))))
        if not clauses:
            clauses.append((tantivy.Occur.Must, tantivy.Query.all_query()))
        hits, total = self._run(tantivy.Query.boolean_query(clauses), limit)
        return [paper_id for paper_id, _ in hits], total

    def _run(self, query: tantivy.Query, limit: int, count: bool = True) -> tuple[list[tuple[str, float]], int]:
        searcher = self.index.searcher()
        result = searcher.search(query, limit=max(limit, 1), count=count)
        hits = [(searcher.doc(address)["id"][0], float(score)) for score, address in result.hits]
        return hits, result.count or 0  # type: ignore[attr-defined]  # tantivy's stub lacks `count`
