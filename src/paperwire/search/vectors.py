"""The vector index: exact (numpy) while small, an inverted-file index (faiss IVF) once large; persisted."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ANN_MIN_VECTORS = 50_000  # below this an exact scan takes < 10 ms on one core: no approximation needed
# The approximate index, measured on 2 cores at 1M synthetic vectors (docs/benchmarks.md, "Latency at
# scale"): faiss IVF, 4·√n lists of bf16 vectors (this CPU's bf16 dot products), k-means on 64 vectors
# per list (25 iterations), 256 lists scanned per query: recall@10 0.986 at ≈ 2.9 ms. The HNSW graph it
# replaced (usearch, bf16, M = 24) reached 0.84 at 4 ms (0.95 at 27 ms) and took 15 min to build.
IVF_LISTS_PER_ROOT = 4
IVF_PROBE_SHARE = 1 / 16
IVF_MIN_PROBES = 256
IVF_TRAIN_PER_LIST = 64  # k-means trains on a sample of this many vectors per list
IVF_TRAIN_ITERATIONS = 25
IVF_REBUILD_GROWTH = 4  # lists are re-trained when the index has grown this many times since training
ADD_BATCH = 100_000

log = logging.getLogger(__name__)


def decode_vector(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


def encode_vector(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f2").tobytes()


def _replace(path: Path, write) -> None:  # write(tmp_path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def ivf_lists(size: int) -> int:
    return max(64, round(IVF_LISTS_PER_ROOT * math.sqrt(size)))


def ivf_probes(lists: int) -> int:
    return min(lists, max(IVF_MIN_PROBES, round(lists * IVF_PROBE_SHARE)))


def build_ivf(dimensions: int, size: int, rows_of: Callable[[np.ndarray], np.ndarray]):  # faiss.Index
    """An IVF index over rows 0..size-1, whose vectors `rows_of(row numbers)` gives (float32)."""
    import faiss

    lists = ivf_lists(size)
    index = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dimensions), dimensions, lists, faiss.ScalarQuantizer.QT_bf16, faiss.METRIC_INNER_PRODUCT
    )  # fmt: skip
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.cp.seed = 7
    sample = min(size, IVF_TRAIN_PER_LIST * lists)
    rows = np.sort(np.random.default_rng(7).choice(size, sample, replace=False)) if sample < size else np.arange(size)
    index.train(np.ascontiguousarray(rows_of(rows), dtype=np.float32))
    # vectors by row: similar papers, filtered searches (DirectMap is missing from faiss's stub)
    index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]
    for start in range(0, size, ADD_BATCH):
        rows = np.arange(start, min(size, start + ADD_BATCH), dtype=np.int64)
        index.add_with_ids(np.ascontiguousarray(rows_of(rows), dtype=np.float32), rows)
    index.nprobe = ivf_probes(lists)
    return index


class VectorIndex:
    """Unit vectors keyed by paper id; inner product = cosine. Thread-safe for one writer, many readers."""

    def __init__(self, dimensions: int, ann_min_vectors: int = ANN_MIN_VECTORS) -> None:
        self.dimensions = dimensions
        self.ann_min_vectors = ann_min_vectors
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}
        self._matrix = np.zeros((0, dimensions), dtype=np.float32)
        self._ivf: Any = None  # faiss IVF index (ids = row numbers) once the index is large
        self._trained_size = 0  # how many vectors the IVF lists were trained for
        self._pending: set[int] | None = None  # while a new IVF index is built: the rows written meanwhile
        self._builder: threading.Thread | None = None
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def approximate(self) -> bool:
        return self._ivf is not None

    @property
    def lists(self) -> int:
        """How many IVF lists the approximate index has (0 while exact)."""
        return int(self._ivf.nlist) if self._ivf is not None else 0

    # ---- writes --------------------------------------------------------------------------------

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), self.dimensions)
        with self._lock:
            new_rows: list[int] = []
            changed: dict[int, np.ndarray] = {}
            for paper_id, vector in zip(ids, vectors, strict=True):
                row = self.rows.get(paper_id)
                if row is None:
                    row = len(self.ids)
                    self.ids.append(paper_id)
                    self.rows[paper_id] = row
                    new_rows.append(row)
                changed[row] = vector
            rows = np.fromiter(changed, dtype=np.int64, count=len(changed))
            block = np.stack(list(changed.values())) if changed else vectors[:0]
            if self._ivf is not None:
                new = set(new_rows)
                old = np.asarray([row for row in changed if row not in new], dtype=np.int64)
                if old.size:
                    self._ivf.remove_ids(old)
                if rows.size:
                    self._ivf.add_with_ids(block, rows)
            else:
                self._grow(len(self.ids))
                self._matrix[rows] = block
            if self._pending is not None:
                self._pending.update(changed)
            elif self._build_due():
                self._start_build()

    def _build_due(self) -> bool:
        size = len(self.ids)
        if self._ivf is None:
            return size >= self.ann_min_vectors
        return size >= IVF_REBUILD_GROWTH * self._trained_size

    def _start_build(self) -> None:
        """Start building an IVF index over the rows there are now (call with the lock held)."""
        self._pending = set()
        self._builder = threading.Thread(
            target=self._build, args=(len(self.ids),), name="vector-index-build", daemon=True
        )  # fmt: skip
        self._builder.start()

    def _rows_of(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of these rows in the index searches use now (read under the lock)."""
        with self._lock:
            if self._ivf is not None:
                return self._ivf.reconstruct_batch(rows)
            return self._matrix[rows].copy()

    def _build(self, size: int) -> None:
        """Build (or re-train) the IVF index over the first `size` rows on a thread of its own: it takes
        seconds to a minute (1M vectors: ≈ 45 s), and meanwhile searches and writes go on in the index
        in use. The rows written meanwhile are copied over when the new index takes its place."""
        try:
            index = build_ivf(self.dimensions, size, self._rows_of)
        except Exception:  # an index that cannot be built: keep the one in use, retry later
            log.exception("building the vector index failed; searching the current one")
            with self._lock:
                self._pending = None
            return
        with self._lock:
            pending = self._pending if self._pending is not None else set()
            rows = np.fromiter(sorted(pending), dtype=np.int64, count=len(pending))
            if rows.size:
                index.remove_ids(rows[rows < size])
                index.add_with_ids(self._rows_of(rows), rows)
            self._ivf, self._trained_size, self._pending = index, size, None
            self._matrix = np.zeros((0, self.dimensions), dtype=np.float32)
            if self._build_due():  # it grew 4× again while this one was built (a bulk load): re-train now
                self._start_build()

    def wait_for_build(self) -> None:
        """Wait until no index build is running (benchmarks, tests, a CLI that saves the index)."""
        while (builder := self._builder) is not None and builder.is_alive():
            builder.join()

    def _grow(self, size: int) -> None:
        if size > self._matrix.shape[0]:
            capacity = max(size, 2 * self._matrix.shape[0], 1024)
            grown = np.zeros((capacity, self.dimensions), dtype=np.float32)
            grown[: self._matrix.shape[0]] = self._matrix
            self._matrix = grown

    # ---- reads ---------------------------------------------------------------------------------

    def vector(self, paper_id: str) -> np.ndarray | None:
        with self._lock:
            row = self.rows.get(paper_id)
            if row is None:
                return None
            if self._ivf is not None:
                return np.asarray(self._ivf.reconstruct(row), dtype=np.float32)
            return self._matrix[row].copy()

    def search(self, query: np.ndarray, limit: int) -> list[tuple[str, float]]:
        """The `limit` nearest ids by cosine, best first."""
        with self._lock:
            size = len(self.ids)
            if size == 0 or limit <= 0:
                return []
            query = np.asarray(query, dtype=np.float32).reshape(1, self.dimensions)
            if self._ivf is not None:
                scores, rows = self._ivf.search(query, min(limit, size))
                return [(self.ids[int(r)], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]
            scores = self._matrix[:size] @ query[0]
            return self._top(scores, np.arange(size), limit)

    def search_among(self, query: np.ndarray, ids: Sequence[str], limit: int) -> list[tuple[str, float]]:
        """Exact nearest among the given ids only (for filtered searches and topic ranking)."""
        with self._lock:
            rows = np.asarray([self.rows[i] for i in ids if i in self.rows], dtype=np.int64)
            if rows.size == 0:
                return []
            if self._ivf is not None:
                vectors = self._ivf.reconstruct_batch(rows)
            else:
                vectors = self._matrix[rows]
            scores = vectors @ np.asarray(query, dtype=np.float32)
            return self._top(scores, rows, limit)

    def _top(self, scores: np.ndarray, rows: np.ndarray, limit: int) -> list[tuple[str, float]]:
        limit = min(limit, scores.shape[0])
        best = np.argpartition(-scores, limit - 1)[:limit] if limit < scores.shape[0] else np.arange(scores.shape[0])
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.ids[int(rows[i])], float(scores[i])) for i in best]

    # ---- persistence ---------------------------------------------------------------------------

    def save(self, folder: Path, state: dict) -> None:
        """Write the index, then `state` (the sync cursor) last: a crash leaves an older, consistent copy."""
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            size = len(self.ids)
            _replace(folder / "ids.json", lambda p: p.write_bytes(orjson.dumps(self.ids)))
            if self._ivf is not None:
                import faiss

                _replace(folder / "vectors.ivf", lambda p: faiss.write_index(self._ivf, str(p)))
                (folder / "vectors.npy").unlink(missing_ok=True)
            else:
                _replace(folder / "vectors.npy", lambda p: p.write_bytes(_npy_bytes(self._matrix[:size])))
                (folder / "vectors.ivf").unlink(missing_ok=True)
            (folder / "hnsw.usearch").unlink(missing_ok=True)  # the graph index of earlier versions
            meta = {"dimensions": self.dimensions, "size": size, "trained_size": self._trained_size, "state": state}
            _replace(folder / "meta.json", lambda p: p.write_bytes(orjson.dumps(meta)))

    @classmethod
    def load(cls, folder: Path, dimensions: int, ann_min_vectors: int = ANN_MIN_VECTORS) -> tuple[VectorIndex, dict]:
        """The saved index and its state, or an empty index and {} when nothing usable is saved."""
        index = cls(dimensions, ann_min_vectors)
        try:
            meta = orjson.loads((folder / "meta.json").read_bytes())
            ids = orjson.loads((folder / "ids.json").read_bytes())
            if meta["dimensions"] != dimensions or meta["size"] != len(ids):
                return index, {}
            if (folder / "vectors.ivf").exists():
                import faiss

                ivf: Any = faiss.read_index(str(folder / "vectors.ivf"))  # an IVF index: nprobe, nlist
                if ivf.ntotal != len(ids) or ivf.d != dimensions:
                    return cls(dimensions, ann_min_vectors), {}
                ivf.nprobe = ivf_probes(ivf.nlist)
                index._ivf = ivf
                index._trained_size = int(meta.get("trained_size") or len(ids))
            else:
                matrix = np.load(folder / "vectors.npy").astype(np.float32)
                if matrix.shape != (len(ids), dimensions):
                    return cls(dimensions, ann_min_vectors), {}
                index._matrix = matrix
        except (OSError, ValueError, KeyError, RuntimeError):
            return cls(dimensions, ann_min_vectors), {}
        index.ids = ids
        index.rows = {paper_id: row for row, paper_id in enumerate(ids)}
        with index._lock:  # saved exact, but large enough for the approximate index (saved before its build
            if index._build_due():  # finished): build it now, not at the next new vector (searches scan meanwhile)
                index._start_build()
        return index, meta["state"]


def _npy_bytes(matrix: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, matrix.astype(np.float16))
    return buffer.getvalue()
