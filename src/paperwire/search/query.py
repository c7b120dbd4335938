"""Query parsing and highlighting: pure functions from user text to a safe query, and to marked-up text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from paperwire.models import InvalidRecord, normalise_title, parse_arxiv_id

MAX_QUERY_CHARS = 5_000  # our search takes a pasted abstract (the HF-compatible path keeps HF's 250)
MAX_TERMS = 32  # "phrases" and prefix* words (plain words are bounded by KeywordIndex.focus instead)
SEMANTIC_CHARS = 2_000  # what the embedder reads: more than MiniLM's 256-token window holds
WORD = re.compile(r"[^\W_]+(?:[-'.][^\W_]+)*", re.UNICODE)
QUOTED = re.compile(r'"([^"]*)"')
PREFIX = re.compile(r"([^\W_]{2,})\*")
STEM_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "es", "ed", "s")
# Not highlighted (they still count for ranking): marking every "of" and "in" hides the real matches.
UNMARKED = frozenset(
    "a an and are as at be by can for from has have how in into is it its of on or that the their this to "
    "was were what when which with".split()
)

# words of a paper's text that say nothing of its topic, besides the function words (similar papers'
# distinctive words and reasons leave them out)
EXTRA_STOPWORDS = frozenset(
    "we our us paper propose proposed approach method methods results show novel new using based via also "
    "which while these those such than then both more most can not into over under between across".split()
)


@dataclass(slots=True, frozen=True)
class ParsedQuery:
    """What a user typed, reduced to parts that cannot break a query engine."""

    text: str  # whitespace-collapsed text, for the embedder
    terms: tuple[str, ...] = ()  # plain words, lower case
    phrases: tuple[tuple[str, ...], ...] = ()  # "quoted words", each as its words
    prefixes: tuple[str, ...] = ()  # words typed with a trailing *
    arxiv_id: str | None = None  # set when the whole query is an arXiv id or arxiv.org link
    title_key: str = field(default="")  # normalised text, to find an exact title

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.phrases or self.prefixes or self.arxiv_id)

    @property
    def words(self) -> tuple[str, ...]:
        """Every word the query looks for, for highlighting."""
        return (*self.terms, *(word for phrase in self.phrases for word in phrase), *self.prefixes)


MAX_WORD_CHARS = 64


def words_of(text: str) -> list[str]:
    """Lower-case words of `text`; absurdly long "words" (junk) are dropped."""
    return [m.group(0).lower() for m in WORD.finditer(text) if len(m.group(0)) <= MAX_WORD_CHARS]


def parse_query(text: str) -> ParsedQuery:
    """Split user text into terms, "phrases" and prefix* words; recognise an arXiv id. Never raises."""
    collapsed = " ".join(text.split())[:MAX_QUERY_CHARS]
    arxiv_id = None
    candidate = collapsed.strip().strip("[]()<>")
    if candidate and " " not in candidate:
        try:
            arxiv_id = parse_arxiv_id(candidate)[0]
        except InvalidRecord:
            arxiv_id = None
    phrases: list[tuple[str, ...]] = []
    for match in QUOTED.finditer(collapsed):
        words = tuple(words_of(match.group(1)))
        if len(words) > 1:
            phrases.append(words)
    rest = QUOTED.sub(lambda m: " " + m.group(1) + " " if len(words_of(m.group(1))) == 1 else " ", collapsed)
    prefixes = [word.lower() for word in PREFIX.findall(rest)]
    rest = PREFIX.sub(" ", rest)
    terms = list(dict.fromkeys(words_of(rest)))
    budget = MAX_TERMS
    phrases = phrases[:budget]
    budget -= len(phrases)
    prefixes = prefixes[: max(budget, 0)]
    return ParsedQuery(
        text=collapsed, terms=tuple(terms), phrases=tuple(phrases),
        prefixes=tuple(prefixes), arxiv_id=arxiv_id, title_key=normalise_title(collapsed),
    )  # fmt: skip


def stem(word: str) -> str:
    for suffix in STEM_SUFFIXES:
        if len(word) - len(suffix) >= 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def highlight(text: str, words: tuple[str, ...] | list[str]) -> Markup:
    """`text` escaped, with the words of the query (and their inflections) wrapped in <mark>."""
    stems = {stem(word) for word in words if len(word) >= 2 and word not in UNMARKED}
    if not text or not stems:
        return escape(text or "")
    pieces: list[str] = []
    position = 0
    for match in WORD.finditer(text):
        word = match.group(0).lower()
        if word in UNMARKED:
            continue
        if word in stems or stem(word) in stems or any(word.startswith(s) for s in stems if len(s) >= 4):
            pieces.append(str(escape(text[position : match.start()])))
            pieces.append(f"<mark>{escape(match.group(0))}</mark>")
            position = match.end()
    pieces.append(str(escape(text[position:])))
    return Markup("".join(pieces))
