"""Recommendations: a per-reader model fitted on what the reader keeps and rejects, ranked per period."""

from paperwire.recommend.model import (
    PaperFeatures,
    ReaderModel,
    ReaderSignals,
    Suggestion,
    fit_reader,
    prepare_period,
    rank_period,
)

__all__ = ["PaperFeatures", "ReaderModel", "ReaderSignals", "Suggestion", "fit_reader", "prepare_period", "rank_period"]
