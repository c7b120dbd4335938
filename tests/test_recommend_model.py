"""The "For you" ranking model on small synthetic papers: exclusions, reasons, diversity, cold start,
serialisation and the 👎 push."""

from __future__ import annotations

import numpy as np
import pytest

from paperwire.recommend import PaperFeatures, ReaderModel, ReaderSignals, fit_reader, prepare_period, rank_period
from paperwire.recommend.packing import ModelFormatError

DIM = 64
_RNG = np.random.default_rng(15)
_DIRECTIONS = np.linalg.qr(_RNG.standard_normal((DIM, DIM)))[0].astype(np.float32)
_NOISE = [v / np.linalg.norm(v) for v in _RNG.standard_normal((64, DIM)).astype(np.float32)]
_used = iter(range(64))


def unit(*weights: float, noise: float = 0.7) -> np.ndarray:
    """A paper's vector: a mix of topic directions plus its own noise (same-topic papers at cosine ≈ 0.6-0.7,
    as real abstracts on one topic are)."""
    vector = sum(w * _DIRECTIONS[i] for i, w in enumerate(weights)) / np.linalg.norm(weights)
    vector = vector + noise * _NOISE[next(_used)]
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def paper(
    pid: str, title: str, vector: np.ndarray | None, *, abstract: str = "", authors: tuple[str, ...] = ("A. Writer",),
    categories: tuple[str, ...] = ("cs.LG",),
) -> PaperFeatures:  # fmt: skip
    return PaperFeatures(pid, title, abstract or title, authors, categories, vector)


# Three topics, each a direction in the vector space and a vocabulary.
GRAPHS = unit(1, 0, 0)
SPEECH = unit(0, 1, 0)
VISION = unit(0, 0, 1)

LIBRARY = (
    paper("lib-1", "Message passing on molecular graphs", unit(1, 0.1, 0), abstract="graph neural network molecule"),
    paper("lib-2", "Graph transformers for chemistry", unit(1, 0, 0.1), abstract="graph attention molecule property"),
)

PERIOD = [
    paper("g-1", "Equivariant graph networks for molecules", unit(1, 0.05, 0.02), abstract="graph molecule neural"),
    paper("g-2", "Scaling graph attention to proteins", unit(0.9, 0.1, 0.1), abstract="graph attention protein"),
    paper("s-1", "Streaming speech recognition", SPEECH, abstract="speech audio recognition"),
    paper("s-2", "Speaker diarisation with transformers", unit(0.1, 1, 0), abstract="speech speaker audio"),
    paper("v-1", "Diffusion models for image synthesis", VISION, abstract="diffusion models image generation"),
    paper("v-2", "Video diffusion models", unit(0, 0.1, 1), abstract="diffusion models video generation"),
    paper("lib-1", "Message passing on molecular graphs", unit(1, 0.1, 0), abstract="graph neural network molecule"),
]
# The rest of a period: papers on other subjects (a real day has hundreds).
FILLER = [
    paper(f"f-{n}", title, unit(*([0.0] * (4 + n)), 1.0), abstract=abstract)
    for n, (title, abstract) in enumerate([
        ("Robot grasping with tactile sensing", "robot grasp tactile manipulation"),
        ("Federated learning under client drift", "federated client drift privacy"),
        ("Benchmarking code generation", "code generation benchmark programming"),
        ("Sparse attention for long documents", "sparse attention long context document"),
        ("Causal discovery from time series", "causal discovery time series"),
        ("Reinforcement learning from human feedback", "reinforcement reward human preference"),
        ("Quantised inference on phones", "quantisation inference mobile latency"),
        ("Tabular data with gradient boosting", "tabular boosting trees"),
    ])
]  # fmt: skip


def ranked(signals: ReaderSignals, candidates: list[PaperFeatures] = PERIOD, **kwargs: object) -> list:
    """The reader's list over `candidates` plus the filler papers of the period, without the filler."""
    limit = int(kwargs.pop("limit", 10))  # type: ignore[call-overload]
    lists = rank_period([fit_reader(signals)], candidates + FILLER, limit=limit + len(FILLER), **kwargs)  # type: ignore[arg-type]
    return [s for s in lists[0] if not s.paper_id.startswith("f-")][:limit]


def test_library_neighbours_come_first_and_own_papers_never_appear() -> None:
    negative = paper("s-2", "Speaker diarisation with transformers", unit(0.1, 1, 0))
    suggestions = ranked(ReaderSignals(LIBRARY, (negative,), (), ()))
    ids = [s.paper_id for s in suggestions]
    assert ids[:2] in (["g-1", "g-2"], ["g-2", "g-1"])
    assert "lib-1" not in ids
    assert "s-2" not in ids
    assert len(ids) == len(set(ids)) == len(PERIOD) - 2


def test_reasons_name_a_real_library_title_a_followed_author_or_a_topic() -> None:
    by_followed = paper("s-1", "Streaming speech recognition", SPEECH, authors=("Ada Lovelace", "B. Other"))
    candidates = [by_followed if p.id == "s-1" else p for p in PERIOD]
    suggestions = ranked(ReaderSignals(LIBRARY, (), ("Ada Lovelace",), ()), candidates)
    reasons = {s.paper_id: s.reason for s in suggestions}
    assert reasons["s-1"] == "by an author you follow: Ada Lovelace"
    assert reasons["g-1"] == "close to *Message passing on molecular graphs* in your library"
    titles = {p.title for p in LIBRARY}
    for paper_id, text in reasons.items():
        if paper_id != "s-1":
            assert text.removeprefix("close to *").removesuffix("* in your library") in titles
    cold = ranked(ReaderSignals((), (), (), ("diffusion models",)))
    assert [s.reason for s in cold[:2]] == ["matches your topic *diffusion models*"] * 2
    assert {s.paper_id for s in cold[:2]} == {"v-1", "v-2"}


def test_followed_author_lifts_an_unrelated_paper() -> None:
    by_followed = paper("v-1", "Diffusion models for image synthesis", VISION, authors=("Ada Lovelace",))
    candidates = [by_followed if p.id == "v-1" else p for p in PERIOD]
    without = [s.paper_id for s in ranked(ReaderSignals(LIBRARY, (), (), ()), candidates)]
    with_follow = [s.paper_id for s in ranked(ReaderSignals(LIBRARY, (), ("Ada Lovelace",), ()), candidates)]
    assert with_follow.index("v-1") < without.index("v-1")
    assert with_follow.index("v-1") <= 2


def test_near_copies_do_not_fill_the_list() -> None:
    original = unit(1, 0.02, 0)
    copies = [
        paper(f"copy-{i}", f"Graph networks for molecules, variant {i}", original + 0.03 * _NOISE[i]) for i in range(10)
    ]
    others = [
        paper("g-far", "Graph signal processing", unit(0.8, 0.6, 0), abstract="graph signal spectral filter"),
        paper("g-far2", "Graphs of speech units", unit(0.75, 0.5, 0.4), abstract="graph speech units"),
    ]
    suggestions = ranked(ReaderSignals(LIBRARY, (), (), ()), copies + others + PERIOD[2:6], limit=5)
    ids = [s.paper_id for s in suggestions]
    assert sum(i.startswith("copy-") for i in ids) <= 3
    assert "g-far" in ids


def test_cold_start_orders_by_topics_then_trending() -> None:
    trending = ["s-2", "g-2", "v-2", "s-1"]
    suggestions = ranked(ReaderSignals((), (), (), ("speech",)), trending=trending)
    ids = [s.paper_id for s in suggestions]
    assert ids[:2] == ["s-2", "s-1"]  # both match the topic; s-2 trends higher
    assert ids[2:4] == ["g-2", "v-2"]  # then the trending order
    assert suggestions[2].reason == "trending in this period"
    nothing = ranked(ReaderSignals((), (), (), ()), trending=trending)
    assert [s.paper_id for s in nothing[:4]] == trending


def test_not_interested_pushes_neighbours_down() -> None:
    library = (*LIBRARY, paper("lib-3", "Speech models", unit(0.2, 1, 0), abstract="speech audio"))
    before = {s.paper_id: (rank, s.score) for rank, s in enumerate(ranked(ReaderSignals(library, (), (), ())))}
    rejected = paper("s-old", "Streaming speech recognition at scale", unit(0, 1, 0), abstract="speech audio")
    after = {s.paper_id: (rank, s.score) for rank, s in enumerate(ranked(ReaderSignals(library, (rejected,), (), ())))}
    assert after["s-1"][0] > before["s-1"][0]
    assert after["s-1"][1] < before["s-1"][1] - 1.0
    assert after["s-2"][1] < before["s-2"][1] - 1.0
    assert after["g-1"][1] == before["g-1"][1]  # an unrelated paper keeps its score


def test_a_rejected_paper_is_not_treated_as_kept() -> None:
    rejected = LIBRARY[0]
    model = fit_reader(ReaderSignals(LIBRARY, (rejected,), (), ()))
    assert model.positives.ids == ("lib-2",)
    assert "lib-1" in model.excluded


def test_to_bytes_round_trip_ranks_the_same() -> None:
    signals = ReaderSignals(
        LIBRARY, (paper("s-2", "Speaker diarisation", SPEECH),), ("Ada Lovelace",), ("diffusion models",)
    )
    model = fit_reader(signals)
    data = model.to_bytes()
    assert b"pickle" not in data
    again = ReaderModel.from_bytes(data)
    assert again.positives.ids == model.positives.ids
    assert again.topics == model.topics and again.followed_authors == model.followed_authors
    first, second = rank_period([model, again], PERIOD, limit=10)
    assert [s.paper_id for s in first] == [s.paper_id for s in second]
    assert [s.reason for s in first] == [s.reason for s in second]
    assert np.allclose([s.score for s in first], [s.score for s in second], atol=1e-2)


def test_papers_without_vectors_rank_by_keywords() -> None:
    library = tuple(paper(p.id, p.title, None, abstract=p.abstract) for p in LIBRARY)
    candidates = [paper(p.id, p.title, None, abstract=p.abstract) for p in PERIOD + FILLER]
    ids = [s.paper_id for s in rank_period([fit_reader(ReaderSignals(library, (), (), ()))], candidates, limit=5)[0]]
    assert set(ids[:2]) == {"g-1", "g-2"}


def test_bad_serialised_model_is_a_named_error() -> None:
    good = fit_reader(ReaderSignals(LIBRARY, (), (), ())).to_bytes()
    for bad in (b"not a model", good[:-20], good[:4] + bytes([9]) + good[5:]):
        with pytest.raises(ModelFormatError):
            ReaderModel.from_bytes(bad)


def test_many_readers_in_one_call_each_get_their_own_list() -> None:
    speech_reader = ReaderSignals((paper("lib-s", "Speech recognition", SPEECH, abstract="speech audio"),), (), (), ())
    graph_reader = ReaderSignals(LIBRARY, (), (), ())
    models = [fit_reader(speech_reader), fit_reader(graph_reader)] * 3
    lists = rank_period(models, PERIOD, limit=2, block=4)
    assert len(lists) == 6
    for number, suggestions in enumerate(lists):
        expected = {"s-1", "s-2"} if number % 2 == 0 else {"g-1", "g-2"}
        assert {s.paper_id for s in suggestions} == expected


def test_the_bulk_vector_ranks_where_a_paper_has_one() -> None:
    # `vector` (MiniLM) says the kept papers are about speech, their bulk vectors say graphs: ranking
    # follows the bulk vectors (every paper here has one).
    period = [
        PaperFeatures(p.id, p.title, "", (), p.categories, SPEECH if p.id.startswith("s-") else VISION, p.vector)
        for p in reversed(PERIOD + FILLER)
    ]
    library = tuple(PaperFeatures(p.id, "", "", (), p.categories, SPEECH, p.vector) for p in LIBRARY)
    ids = [s.paper_id for s in rank_period([fit_reader(ReaderSignals(library, ()))], period, limit=20)[0]]
    assert ids[0] in {"g-1", "g-2"}
    assert max(ids.index("g-1"), ids.index("g-2")) < min(ids.index("s-1"), ids.index("s-2"))


def test_a_prepared_period_ranks_like_the_papers() -> None:
    models = [fit_reader(ReaderSignals(LIBRARY, (), ("Ada Lovelace",), ("speech",)))]
    prepared = prepare_period(PERIOD, ["s-2", "v-1"])
    once = rank_period(models, PERIOD, limit=5, trending=["s-2", "v-1"])
    assert rank_period(models, prepared, limit=5) == once
    assert rank_period(models, prepared, limit=5) == once  # reusable
