"""The term embedding learned from the catalogue's authors (recommend/learned.py): what it embeds, how it is
stored, that training pulls an author's papers together, and that ranking uses it where one is given."""

from __future__ import annotations

import numpy as np
import pytest

from paperwire.recommend import PaperFeatures, ReaderSignals, fit_reader, keywords, prepare_period, rank_period
from paperwire.recommend.learned import TermEmbedding, randomized_svd, spherical_kmeans, train_term_embedding
from paperwire.recommend.packing import ModelFormatError
from paperwire.recommend.selection import Weights


def ids(*texts: str) -> list[int]:
    return sorted({t for text in texts for t in keywords.term_ids(text)})


def embedding_of(groups: dict[str, int], dims: int = 4) -> TermEmbedding:
    """Each word's hashed id (and nothing else) at the unit vector of its group."""
    terms = {keywords.term_ids(word)[0]: group for word, group in groups.items()}
    vocabulary = np.array(sorted(terms), dtype=np.int64)
    table = np.eye(dims, dtype=np.float32)[[terms[t] for t in vocabulary]]
    return TermEmbedding(vocabulary, np.ones(len(vocabulary), dtype=np.float32), table)


def paper(pid: str, text: str) -> PaperFeatures:
    return PaperFeatures(pid, text, text, (), ("cs.LG",), None)


def test_embed_maps_known_terms_and_leaves_unknown_rows_zero() -> None:
    embedding = embedding_of({"lattice": 0, "crystal": 0, "speech": 1})
    vectors = embedding.embed(keywords.count_matrix(["lattice", "crystal", "speech", "zebra"]))
    assert vectors.shape == (4, 4)
    assert vectors[0] @ vectors[1] == pytest.approx(1.0)  # different words, same learned direction
    assert vectors[0] @ vectors[2] == pytest.approx(0.0)
    assert not vectors[3].any()


def test_bytes_round_trip_and_damage_is_a_named_error() -> None:
    embedding = embedding_of({"lattice": 0, "speech": 1, "robot": 2})
    again = TermEmbedding.from_bytes(embedding.to_bytes())
    counts = keywords.count_matrix(["lattice speech", "robot"])
    assert np.allclose(again.embed(counts), embedding.embed(counts), atol=1e-3)
    with pytest.raises(ModelFormatError):
        TermEmbedding.from_bytes(b"not an embedding")


def test_learned_channels_rank_a_paper_that_shares_no_word_with_the_library() -> None:
    # The library says "lattice"; the catalogue taught that "crystal" is the same line of research.
    embedding = embedding_of({"lattice": 0, "crystal": 0, "speech": 1, "robot": 2, "vision": 3})
    reader = fit_reader(ReaderSignals((paper("k-1", "lattice"), paper("k-2", "lattice lattice")), ()))
    period = [paper("robot", "robot"), paper("speech", "speech"), paper("crystal", "crystal"), paper("v", "vision")]

    def first(**kwargs: object) -> str:
        return rank_period([reader], period, limit=4, **kwargs)[0][0].paper_id  # type: ignore[arg-type]

    assert first(embedding=embedding) == "crystal"
    prepared = prepare_period(period, embedding=embedding)
    assert rank_period([reader], prepared, limit=1)[0][0].paper_id == "crystal"
    off = Weights(learned_nearest=0.0, learned_centroid=0.0)
    scores = [s.score for s in rank_period([reader], period, limit=4, weights=off, embedding=embedding)[0]]
    assert len(set(scores)) == 1  # without the learned channels nothing tells these four apart


def test_randomized_svd_and_kmeans_recover_structure() -> None:
    from scipy import sparse

    rng = np.random.default_rng(1)
    low = rng.standard_normal((60, 3)) @ rng.standard_normal((3, 40))
    coordinates, components = randomized_svd(sparse.csr_matrix(low.astype(np.float32)), 3)
    assert np.allclose(coordinates @ components, low, atol=1e-3)
    x = np.concatenate([np.tile([1.0, 0.0], (20, 1)), np.tile([0.0, 1.0], (20, 1))]) + 0.01
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = spherical_kmeans(x, 2)
    assert len(set(labels[:20])) == 1 and len(set(labels[20:])) == 1 and labels[0] != labels[-1]


def test_training_pulls_an_authors_papers_together() -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    # 16 authors; each writes 6 papers mixing their own two jargon words with words common to everybody.
    common = [f"common{n}" for n in range(40)]
    texts, authors = [], []
    for a in range(16):
        own = [f"jargon{a}x", f"jargon{a}y"]
        for n in range(6):
            words = list(rng.choice(common, 8)) + [own[n % 2]] * 2
            texts.append(" ".join(words))
            authors.append((f"Author {a}",))
    embedding = train_term_embedding(texts, authors, dimensions=16, min_df=2, epochs=30, batch=32, rate=0.05)
    vectors = embedding.embed(keywords.count_matrix(texts))
    similarity = vectors @ vectors.T
    same = np.equal.outer(np.arange(96) // 6, np.arange(96) // 6) & ~np.eye(96, dtype=bool)
    # The two jargon words of an author never meet in one paper: only authorship says they belong together.
    x_and_y = same & np.not_equal.outer(np.arange(96) % 2, np.arange(96) % 2)
    assert similarity[x_and_y].mean() > similarity[~same & ~np.eye(96, dtype=bool)].mean() + 0.2
    assert embedding.papers == 96 and set(embedding.vocabulary) <= set(ids(*texts))
