"""Index segments: immutable folders of plain files holding vectors and BM25 counts for a set of chunks.

A segment is written once into a hidden temporary folder, fsynced, then renamed into place; it only becomes
part of the index when the SQLite commit lists it. Files: vectors.npy (float32, L2-normalized rows),
ids.npy (int64 chunk row ids), tf_indptr.npy / tf_indices.npy / tf_counts.npy (term frequencies by
column, chatbot.bm25.TermCounts: a term's postings are one slice; memory-mapped, so loading reads nothing),
vocab.json, lengths.npy, segment.json (what kind of FAISS index serves it), and index.faiss for large
segments (IVF). Segments written before hold tf.npz (scipy CSR) instead of the three tf_ files, and may hold
a df.npy no longer read; they are still read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import TermCounts

log = logging.getLogger(__name__)

VECTORS, IDS, VOCAB, LENGTHS, INFO, FAISS_FILE = (
    "vectors.npy", "ids.npy", "vocab.json", "lengths.npy", "segment.json", "index.faiss",
)
TF_INDPTR, TF_INDICES, TF_COUNTS = "tf_indptr.npy", "tf_indices.npy", "tf_counts.npy"
OLD_TF = "tf.npz"
# Above this many vectors a segment gets an approximate IVF index; below it exact search is fast enough
# (a flat scan of 200k × 512 floats takes ~20 ms on 2 cores).
IVF_MIN_VECTORS = 200_000
# FAISS's k-means wants at least 39 training points per centroid (it warns below that), so nlist is capped.
IVF_MIN_POINTS_PER_CENTROID = 39
# k-means costs nlist x training points x dim per iteration. FAISS's default sample (256 points per list) at
# 1M vectors and 4,000 lists is a k-means over all 1M points, tens of minutes on 2 cores; 64 points per list
# and 10 iterations trained 4,000 lists over 1M stand-in vectors in 153 s (2 busy cores) with real-question
# recall@10 0.98 at nprobe 128 and 0.99 at 192 — as good as FAISS's guideline needs (at least 39 per list).
IVF_TRAIN_POINTS_PER_LIST = 64
IVF_TRAIN_ITERATIONS = 10
# nprobe is the smallest tried that keeps recall@10 against exact search at or above this on a sample.
IVF_TARGET_RECALL = 0.99  # for real questions
# On the proxy queries of train_ivf. Measured beside real questions: at 1M vectors / 4,000 lists the proxy
# tracks them within 0.003 (nprobe 128/192/256: proxy 0.980/0.987/0.9915, real 0.980/0.9895/…); at 100k / 1,263
# lists it is harder than they are (proxy 0.9885 at 512, real 0.9975 at 256). So the real target is the proxy's.
IVF_PROXY_RECALL = 0.99
# Steps of ~1.5x rather than 2x: the chosen nprobe overshoots the needed one by at most half.
IVF_NPROBES = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
IVF_SAMPLE_QUERIES = 200
# IVF lists hold 8-bit scalar-quantized vectors: a quarter of float32 to scan per question, to load and to
# keep in memory. The best IVF_REFINE·k of a search are then re-scored on the float32 vectors (vectors.npy,
# memory-mapped), which restores the exact order: measured on 100k synthetic chunks and real questions,
# nprobe 256 gave recall@10 0.9965 both ways and took 3.6 ms instead of 6.3 ms.
IVF_REFINE = 2


@dataclass
class SegmentData:
    """A segment's contents in memory."""

    ids: np.ndarray
    vectors: np.ndarray
    tf: TermCounts  # rows = chunks, columns = vocab
    vocab: list[str]
    lengths: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, write: Any) -> None:
    with open(path, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def write_segment(folder: Path, data: SegmentData) -> dict[str, Any]:
    """Write `data` as the segment `folder` (tmp folder + fsync + rename); return its segment.json."""
    n, dim = data.vectors.shape
    if len(data.ids) != n or data.tf.n_rows != n or len(data.lengths) != n:
        raise ValueError(f"segment {folder.name}: ids, vectors, tf and lengths must have {n} rows")
    tmp = folder.with_name(f".tmp-{folder.name}")
    tmp.mkdir(parents=True)
    info: dict[str, Any] = {"n": int(n), "dim": int(dim), "kind": "flat", "nprobe": None}
    vectors = np.ascontiguousarray(data.vectors, dtype=np.float32)
    _write_file(tmp / VECTORS, lambda f: np.save(f, vectors, allow_pickle=False))
    _write_file(tmp / IDS, lambda f: np.save(f, data.ids.astype(np.int64), allow_pickle=False))
    _write_file(tmp / LENGTHS, lambda f: np.save(f, data.lengths.astype(np.int32), allow_pickle=False))
    for name, array in ((TF_INDPTR, data.tf.indptr), (TF_INDICES, data.tf.indices), (TF_COUNTS, data.tf.counts)):
        _write_file(tmp / name, lambda f, array=array: np.save(f, array, allow_pickle=False))
    vocab_json = json.dumps(data.vocab, ensure_ascii=False).encode()
    _write_file(tmp / VOCAB, lambda f: f.write(vocab_json))
    if n >= IVF_MIN_VECTORS:
        import faiss

        index, nprobe, recall = train_ivf(vectors)
        faiss.write_index(index, str(tmp / FAISS_FILE))
        info.update(kind="ivf", nprobe=nprobe, nlist=int(index.nlist), recall_at_10=recall)
    info_json = json.dumps(info, ensure_ascii=False, indent=1).encode()
    _write_file(tmp / INFO, lambda f: f.write(info_json))
    _fsync_dir(tmp)
    os.replace(tmp, folder)
    _fsync_dir(folder.parent)
    data.info = info
    return info


def file_checksums(folder: Path) -> list[tuple[str, int, str]]:
    """(file name, size, SHA-256) of every file of a segment folder, by name: what its commit records."""
    found = []
    for path in sorted(folder.iterdir()):
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256")
        found.append((path.name, path.stat().st_size, digest.hexdigest()))
    return found


def read_segment(folder: Path) -> SegmentData:
    """Load a segment's files (never pickle); raises OSError/ValueError when a file is missing or bad."""
    info = json.loads((folder / INFO).read_text(encoding="utf-8"))
    ids = np.load(folder / IDS, allow_pickle=False)
    if (folder / OLD_TF).is_file():
        import scipy.sparse as sp

        tf = TermCounts.from_scipy(sp.load_npz(folder / OLD_TF))
    else:
        indptr, indices, counts = (_mapped(folder / name) for name in (TF_INDPTR, TF_INDICES, TF_COUNTS))
        tf = TermCounts(indptr, indices, counts, len(ids))
    return SegmentData(
        ids=ids,
        vectors=_mapped(folder / VECTORS),
        tf=tf,
        vocab=json.loads((folder / VOCAB).read_text(encoding="utf-8")),
        lengths=np.load(folder / LENGTHS, allow_pickle=False),
        info=info,
    )


def _mapped(path: Path) -> np.ndarray:
    """The array in an .npy file, memory-mapped read-only. A plain ndarray view of the np.memmap: slicing a
    memmap builds a memmap each time, a cost on every posting list of every question."""
    mapped: np.ndarray = np.load(path, allow_pickle=False, mmap_mode="r").view(np.ndarray)
    return mapped


def ivf_nlist(n: int) -> int:
    """≈ 4·√n lists, as FAISS's guidelines suggest, but never fewer than 39 training points per list."""
    return max(1, min(int(4 * math.sqrt(n)), n // IVF_MIN_POINTS_PER_CENTROID))


def train_ivf(vectors: np.ndarray, seed: int = 0) -> tuple[Any, int, float]:
    """An IVF index of 8-bit codes (inner product) over `vectors` and the smallest nprobe reaching the target
    recall of `refined_search`.

    Recall is measured against exact search on this data rather than guessed, and kept in segment.json.
    The probe queries are not the segment's own vectors: those sit inside their own list and reach 0.99
    at a quarter of the nprobe that real questions need (questions lie farther from passages, cosine
    ~0.78). The normalized sum of three random vectors tracks real questions closely (measured on 10k
    chunks of synthetic letters, nprobe 4…128: real 0.61/0.75/0.87/0.94/0.98/0.996, proxy
    0.62/0.79/0.90/0.97/0.99/1.0), so nprobe is the smallest giving the proxy IVF_PROXY_RECALL.
    """
    import faiss

    n, dim = vectors.shape
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, dim, ivf_nlist(n), faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = seed
    index.cp.max_points_per_centroid = IVF_TRAIN_POINTS_PER_LIST  # FAISS samples that many points per list
    index.cp.niter = IVF_TRAIN_ITERATIONS
    index.train(vectors)
    index.add(vectors)
    rng = np.random.default_rng(seed)
    picks = [vectors[rng.choice(n, size=IVF_SAMPLE_QUERIES)] for _ in range(3)]
    queries = np.ascontiguousarray(sum(picks[1:], picks[0]), dtype=np.float32)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    exact = faiss.IndexFlatIP(dim)
    exact.add(vectors)
    k = min(10, n)
    _, truth = exact.search(queries, k)
    recall = 0.0
    for nprobe in IVF_NPROBES:
        index.nprobe = min(nprobe, index.nlist)
        found = [refined_search(index, vectors, query[None, :], k)[1] for query in queries]
        recall = float(np.mean([len(set(a) & set(b)) / k for a, b in zip(truth, found, strict=True)]))
        if recall >= IVF_PROXY_RECALL or index.nprobe == index.nlist:
            break
    log.info("IVF over %d vectors: nlist=%d nprobe=%d recall@10=%.4f", n, index.nlist, index.nprobe, recall)
    return index, int(index.nprobe), recall


def refined_search(index: Any, vectors: np.ndarray, query: np.ndarray, k: int,
                   params: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows) of the k rows nearest to one query, best first: the index's best IVF_REFINE·k,
    re-scored exactly on `vectors` (ties by row)."""
    _, found = index.search(query, min(k * IVF_REFINE, index.ntotal), params=params)
    rows = np.sort(found[0][found[0] >= 0])  # ascending rows read the memory-mapped file in order
    scores = np.asarray(vectors[rows], dtype=np.float32) @ query[0]
    order = np.lexsort((rows, -scores))[:k]
    return scores[order], rows[order]


def merge_data(parts: list[SegmentData], live_ids: np.ndarray) -> SegmentData:
    """One segment holding the rows of `parts` whose ids are in `live_ids` (tombstones dropped)."""
    import scipy.sparse as sp

    ids, vectors, lengths, matrices = [], [], [], []
    vocab: dict[str, int] = {}
    for part in parts:
        keep = np.flatnonzero(np.isin(part.ids, live_ids))
        cols = np.asarray([vocab.setdefault(t, len(vocab)) for t in part.vocab], dtype=np.int64)
        tf = part.tf.to_scipy().tocsr()[keep].tocoo()
        matrices.append((tf.row, cols[tf.col] if len(cols) else tf.col, tf.data, len(keep)))
        ids.append(part.ids[keep])
        vectors.append(np.asarray(part.vectors[keep], dtype=np.float32))
        lengths.append(part.lengths[keep])
    offset, rows, cols_all, data = 0, [], [], []
    for r, c, d, count in matrices:
        rows.append(r + offset)
        cols_all.append(c)
        data.append(d)
        offset += count
    dim = parts[0].vectors.shape[1]
    tf = sp.csc_matrix(
        (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols_all))),
        shape=(offset, len(vocab)), dtype=np.float32,
    )
    return SegmentData(
        ids=np.concatenate(ids),
        vectors=np.concatenate(vectors) if offset else np.zeros((0, dim), np.float32),
        tf=TermCounts.from_scipy(tf),
        vocab=list(vocab),
        lengths=np.concatenate(lengths),
    )


def faiss_index(folder: Path, data: SegmentData) -> Any:
    """The FAISS index that serves a segment: its IVF file when large (search it with refined_search),
    else exact IndexFlatIP."""
    import faiss

    # One thread per search: a single query is memory-bound, and OpenMP's spinning threads contend with the
    # server's own threads on small machines (50k x 512 flat search under load: 92 ms with 2 threads, 33 ms
    # with 1). Concurrent questions still use every core, one each.
    faiss.omp_set_num_threads(1)
    if data.info.get("kind") == "ivf":
        index: Any = faiss.read_index(str(folder / FAISS_FILE))
        index.nprobe = int(data.info["nprobe"])
        return index
    flat = faiss.IndexFlatIP(data.vectors.shape[1])
    if len(data.ids):
        flat.add(np.ascontiguousarray(data.vectors, dtype=np.float32))
    return flat
