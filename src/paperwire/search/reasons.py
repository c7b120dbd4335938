"""Why a similar paper is similar, in one line a reader can check: "same authors: …", "shares *image
generation*", "shares the words *MoE*, *activations*", "readers who kept this paper also kept it", "close
in meaning" (`explain`, for the strongest signal `similar.fuse_similar` found).

A "shares *…*" reason names a pair of neighbouring words both papers use that says what they are about:
specific words (by the catalogue's idf), never filler; a single word only when it is the paper's topic.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from paperwire.models import Paper
from paperwire.search.keyword import ANALYZERS, stems_of
from paperwire.search.query import EXTRA_STOPWORDS, UNMARKED

if TYPE_CHECKING:
    from paperwire.search.hybrid import SearchService
    from paperwire.search.similar import Signals

PHRASE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
# words a reason never names (they carry no topic: "shares *two key*", "shares the words *instead*")
REASON_FILLER = frozenset(
    "two three four five first second third key any given unlike prior small large set about require requires "
    "required requiring demonstrate demonstrates demonstrated demonstrating remarkable instead known number manner "
    "leaving leave predominantly significant significantly various several existing recent recently however "
    "different well high low without within toward towards many much often further additionally moreover "
    "furthermore typically generally especially including include includes achieve achieves achieved achieving "
    "improve improves improved improving enable enables enabling leverage leverages leveraging effective "
    "effectively efficient efficiently robust simple strong widely wide lack lacks remains remain github com org "
    "http https www urgent need needs take takes taking advantage present presents presented systematic "
    "systematically extensive extensively experiment experiments experimental one ability relying rely relies "
    "important importantly crucial critical fast faster open challenge challenges will would been being where "
    "whereas them they during against even only called serve serves employ employs employed utilize utilizes "
    "utilized utilizing reveal reveals revealing highlight highlights compelling evidence rapid development complex "
    "solve solves solving generate generating generated finding findings made make makes making whether should "
    "could might must may its own other another each every all some few still yet thus hence therefore "
    "since because despite although though upon after before among around beyond specifically designed provide "
    "provides providing comprehensive overview future research explore explored explores complementary strengths "
    "offer offers offered offering flexible flexibly taken together precise precisely increase increases "
    "increased increasing decrease decreases valuable insight insights promising notably".split()
)
# How specific a reason's words must be, by their idf in the catalogue's abstracts (log(1 + papers / (papers
# with the word + 1))): a shared pair's words each in at most ≈ 58% of the papers and 2.5 together ("shares
# *image generation*": 1.55 + 1.21 in arXiv cs, 2025-10; never "*models llms*", "*large language*"); a single
# word in at most a fifth of them, and the paper's topic: in its title, or used twice.
MIN_PHRASE_WORD_IDF = 1.0
MIN_PHRASE_IDF = 2.5
MIN_WORD_IDF = math.log(6)


@lru_cache(maxsize=1 << 16)
def _stems(word: str) -> tuple[str, ...]:
    """A word's en_stem tokens (reasons analyse the same words again and again: a third of their time)."""
    return tuple(ANALYZERS["en_stem"].analyze(word))


def _phrases(text: str) -> tuple[dict[tuple[str, str], str], Counter[tuple[str, str]]]:
    """(stem, stem) → the words as first written, and how often, for each pair of neighbouring content words."""
    words = PHRASE_WORD.findall(text)
    # each word's single stem, or None for a function word, a short one or one of several stems (once per word)
    stems = [_content_stem(word) for word in words]
    pairs: dict[tuple[str, str], str] = {}
    counts: Counter[tuple[str, str]] = Counter()
    for k in range(len(words) - 1):
        first, second = stems[k], stems[k + 1]
        if first is not None and second is not None:
            key = (first, second)
            pairs.setdefault(key, f"{words[k]} {words[k + 1]}")
            counts[key] += 1
    return pairs, counts


@lru_cache(maxsize=1 << 16)
def _content_stem(word: str) -> str | None:
    """The word's stem when it is a content word (not a function word, 3 letters or more) of one stem."""
    lowered = word.lower()
    if lowered in UNMARKED or lowered in EXTRA_STOPWORDS or lowered in REASON_FILLER or len(lowered) < 3:
        return None
    stems = _stems(word)
    return stems[0] if len(stems) == 1 else None


def _shown(word: str) -> str:
    """A word as a reason shows it: lower case ("Mixture" opening a sentence), but an acronym or a mixed-case
    name as written ("MoE", "LLMs", "YOLO")."""
    return word if any(letter.isupper() for letter in word[1:]) else word.lower()


def _surface_words(text: str) -> dict[str, str]:
    """stem → the word as first written in `text` (as `_shown`)."""
    found: dict[str, str] = {}
    for word in PHRASE_WORD.findall(text):
        stems = _stems(word)
        if len(stems) == 1:
            found.setdefault(stems[0], _shown(word))
    return found


def word_idf(service: SearchService, paper: Paper) -> dict[str, float]:
    """stem → its idf in the catalogue's abstracts, for every word of the paper (reasons weigh and filter by it;
    the frequencies are those every-word BM25 just read, remembered by the index)."""
    keyword = service.index.keyword
    documents = max(keyword.count(), 1)
    return {
        token: math.log(1 + documents / (frequency + 1))
        for token, frequency in keyword.document_frequencies(paper_stems(paper)).items()
    }


@dataclass(slots=True)
class OwnWords:
    """What reasons need of the query paper's words, read once per list (`own_words`)."""

    phrases: dict[tuple[str, str], str]  # (stem, stem) → the pair as first written
    counts: Counter[tuple[str, str]]  # how often each pair occurs
    surface: dict[str, str]  # stem → the word as first written (as `_shown`)
    topical: frozenset[str]  # stems of its title, and those its abstract uses twice or more
    title_pairs: frozenset[tuple[str, str]]  # the pairs (of `phrases`) its title has


def own_words(paper: Paper) -> OwnWords:
    text = f"{paper.title}. {paper.abstract}"
    phrases, counts = _phrases(text)
    twice = {token for token, times in Counter(stems_of(paper.abstract)).items() if times >= 2}
    topical = frozenset(stems_of(paper.title)) | twice
    return OwnWords(phrases, counts, _surface_words(text), topical, frozenset(_phrases(paper.title)[1]))


def explain(
    paper: Paper, other: Paper, signal: Signals, strongest: str, idf: Mapping[str, float], own: OwnWords | None = None
) -> str:
    """One line a reader understands: why `other` is similar to `paper`. `idf`: the catalogue's idf of the
    paper's words (`word_idf`); `own`: `own_words(paper)`, when already read."""
    if strongest == "authors" and signal.authors:
        more = len(signal.authors) - 2
        return "same authors: " + ", ".join(signal.authors[:2]) + (f" and {more} more" if more > 0 else "")
    if strongest == "words":
        own = own or own_words(paper)
        their_text = f"{other.title}. {other.abstract}"
        _, their_counts = _phrases(their_text)
        shared = [
            key for key in own.phrases
            if key in their_counts and min(idf.get(key[0], 0.0), idf.get(key[1], 0.0)) >= MIN_PHRASE_WORD_IDF
            and idf[key[0]] + idf[key[1]] >= MIN_PHRASE_IDF
        ]  # fmt: skip
        if shared:
            # the pair both papers lean on most: rare words, used often by each, twice as much when a title has it
            their_title = set(_phrases(other.title)[1])
            best = max(shared, key=lambda key: (
                (idf[key[0]] + idf[key[1]]) * (1 + math.log(own.counts[key])) * (1 + math.log(their_counts[key]))
                * (2 if key in own.title_pairs or key in their_title else 1),
                own.phrases[key],
            ))  # fmt: skip
            return f"shares *{' '.join(_shown(word) for word in own.phrases[best].split())}*"
        # a stem is shown only as the paper writes it ("mixture", never "mixtur")
        their_tokens = set(ANALYZERS["en_stem"].analyze(their_text))
        common = sorted(
            (
                token for token in their_tokens & own.topical
                if token in own.surface and idf.get(token, 0.0) >= MIN_WORD_IDF
                and _content_stem(own.surface[token]) == token
            ),
            key=lambda token: (-idf[token], token),
        )[:2]  # fmt: skip
        if common:
            return "shares the words " + ", ".join(f"*{own.surface[token]}*" for token in common)
        return "similar words"
    if strongest == "categories":
        common = [c for c in paper.categories if c in set(other.categories)]
        return f"also in {common[0]}" if common else "related categories"
    if strongest == "also-kept":
        return "readers who kept this paper also kept it"
    return "close in meaning"


def paper_stems(paper: Paper) -> list[str]:
    """Every distinct en_stem token of the paper's title and abstract, sorted."""
    return sorted(set(stems_of(paper.title)) | set(stems_of(paper.abstract)))
