"""Hashed keyword features for recommendations: words and word pairs → stable hashed term ids, TF-IDF rows.

The hash is crc32 (the same in every process, unlike Python's `hash`), so a reader's stored term counts
meet the period's papers in the same space wherever the ranking runs; the IDF comes from the period's
papers at rank time, so a model never carries global state.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import sparse

HASH_BITS = 20
DIMENSIONS = 1 << HASH_BITS
_MASK = DIMENSIONS - 1
_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*|[0-9]+[a-z][a-z0-9]*")

# Common English function words plus the boilerplate of abstracts (they say nothing about a topic).
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
    nor not now of off on once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours yourself yourselves
    via within without across among upon thus however therefore moreover furthermore whereas yet may might
    must shall us one two three new novel propose proposed proposes present presents paper work approach
    method methods results result show shows shown demonstrate demonstrates based using use used study
    existing state art extensive experiments experimental performance achieve achieves achieving significantly
    significant outperforms outperform superior effective effectively efficient efficiently introduce
    introduces introduced task tasks framework model models code available https github com""".split()
)


def normalise_word(word: str) -> str:
    """A light plural fold (models → model, analyses stay), so a topic and a paper meet on the same word."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Content words of `text`, lower case, stop words out, plurals folded."""
    return [normalise_word(w) for w in _TOKEN.findall(text.lower()) if w not in STOP_WORDS and len(w) > 1]


def term_ids(text: str) -> list[int]:
    """Hashed ids of the words and adjacent word pairs of `text` (with repeats: they are counts)."""
    tokens = words(text)
    terms = tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]
    return [zlib.crc32(term.encode("utf-8")) & _MASK for term in terms]


def count_matrix(texts: Sequence[str]) -> sparse.csr_matrix:
    """Term counts, one row per text (float32, DIMENSIONS columns)."""
    indptr = [0]
    indices: list[int] = []
    for text in texts:
        indices.extend(term_ids(text))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    matrix = sparse.csr_matrix(
        (data, np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
        shape=(len(texts), DIMENSIONS),
    )
    matrix.sum_duplicates()
    return matrix


def inverse_document_frequency(counts: sparse.csr_matrix, max_df: float = 1.0, min_df: int = 1) -> np.ndarray:
    """Smoothed IDF over the rows of `counts` (the period's papers), as sklearn computes it; terms in more
    than `max_df` of the papers or fewer than `min_df` of them weigh nothing (they rank nobody apart)."""
    frequency = np.bincount(counts.indices, minlength=DIMENSIONS).astype(np.float32)
    idf = (np.log((1.0 + counts.shape[0]) / (1.0 + frequency)) + 1.0).astype(np.float32)
    idf[(frequency > max_df * counts.shape[0]) | (frequency < min_df)] = 0.0
    return idf


def tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear TF × IDF, each row scaled to unit length; terms the IDF gives no weight are dropped (so later
    products skip them), rows without weighted terms stay zero."""
    count = counts.shape[0]
    rows = np.repeat(np.arange(count), np.diff(counts.indptr))
    weight = idf[counts.indices]
    keep = weight > 0
    rows, indices = rows[keep], counts.indices[keep]
    data = (1.0 + np.log(counts.data[keep].astype(np.float32))) * weight[keep]
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=count)).astype(np.float32)
    norms[norms == 0] = 1.0
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=count))])
    return sparse.csr_matrix((data / norms[rows], indices, indptr), shape=counts.shape)


def stack_rows(parts: Iterable[sparse.csr_matrix]) -> sparse.csr_matrix:
    """One CSR matrix of all the rows of `parts` (cheaper than scipy's vstack for many small blocks)."""
    blocks = list(parts)
    if not blocks:
        return sparse.csr_matrix((0, DIMENSIONS), dtype=np.float32)
    offsets = np.cumsum([0] + [b.nnz for b in blocks])
    indptr = np.concatenate([[0]] + [b.indptr[1:] + offset for b, offset in zip(blocks, offsets)])
    indices = np.concatenate([b.indices for b in blocks])
    data = np.concatenate([b.data for b in blocks]).astype(np.float32)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, DIMENSIONS))
