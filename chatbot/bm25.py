"""Okapi BM25 over sparse term-frequency matrices, with statistics shared by all index segments.

Each segment keeps its own term-frequency matrix (rows = chunks, columns = that segment's vocabulary).
Scores use GLOBAL statistics (number of live chunks, document frequency over live chunks, average length)
so that a chunk scores the same whichever segment holds it. Scoring touches only the postings of the
query's terms: nothing per query scales with the corpus beyond those postings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

K1 = 1.5
B = 0.75
# Below one posting per SPARSE_RATIO rows, sorting the postings beats a pass over all rows of the segment.
SPARSE_RATIO = 16


@dataclass(frozen=True)
class TermMatrix:
    """One segment's term frequencies: CSC so that a query term's postings are one contiguous slice."""

    tf: sp.csc_matrix  # (rows, len(vocab)) float32 counts
    vocab: dict[str, int]  # token -> column
    lengths: np.ndarray  # (rows,) token count of each row


def build_term_matrix(token_lists: Sequence[Sequence[str]]) -> tuple[sp.csr_matrix, list[str], np.ndarray]:
    """Count tokens per row: (CSR matrix, vocabulary in column order, row lengths)."""
    vocab: dict[str, int] = {}
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for tokens in token_lists:
        counts: dict[int, int] = {}
        for token in tokens:
            col = vocab.setdefault(token, len(vocab))
            counts[col] = counts.get(col, 0) + 1
        indices.extend(counts)
        data.extend(counts.values())
        indptr.append(len(indices))
    matrix = sp.csr_matrix(
        (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
        shape=(len(token_lists), len(vocab)),
    )
    lengths = np.asarray([len(t) for t in token_lists], dtype=np.int32)
    return matrix, list(vocab), lengths


def column_doc_freq(tf: sp.spmatrix, live: np.ndarray) -> np.ndarray:
    """Document frequency of each column counted over the rows where `live` is True (O(nonzeros))."""
    csc = sp.csc_matrix(tf)
    columns = np.repeat(np.arange(csc.shape[1]), np.diff(csc.indptr))
    counts = np.bincount(columns, weights=live[csc.indices].astype(np.float64), minlength=csc.shape[1])
    return counts.astype(np.int64)


def idf(df: np.ndarray | int, n: int) -> np.ndarray:
    """Okapi idf with the +1 inside the log (never negative): ln(1 + (N - df + 0.5) / (df + 0.5))."""
    df_arr = np.asarray(df, dtype=np.float64)
    return np.log1p((n - df_arr + 0.5) / (df_arr + 0.5))


def length_norm(lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """The per-row part of BM25's denominator, k1·(1 − b + b·dl/avgdl), computed once at load."""
    return (K1 * (1.0 - B + B * lengths / max(avgdl, 1e-9))).astype(np.float32)


def score_terms(
    matrix: TermMatrix, norm: np.ndarray, terms: Sequence[tuple[str, float]]
) -> tuple[np.ndarray, np.ndarray]:
    """BM25 of every row holding at least one term: (row positions, scores).

    `terms` pairs each query token with its global idf; `norm` is `length_norm` of this segment's rows.
    """
    rows_parts: list[np.ndarray] = []
    score_parts: list[np.ndarray] = []
    tf = matrix.tf
    for token, weight in terms:
        col = matrix.vocab.get(token)
        if col is None:
            continue
        start, end = tf.indptr[col], tf.indptr[col + 1]
        col_rows = tf.indices[start:end]
        freq = tf.data[start:end].astype(np.float64)
        rows_parts.append(col_rows)
        score_parts.append(weight * freq * (K1 + 1.0) / (freq + norm[col_rows]))
    if not rows_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    postings, scores = np.concatenate(rows_parts), np.concatenate(score_parts)
    if len(postings) * SPARSE_RATIO < tf.shape[0]:
        # Rare terms in a large segment: sort the few postings rather than pass over every row.
        rows, slots = np.unique(postings, return_inverse=True)
        return rows.astype(np.int64), np.bincount(slots, weights=scores, minlength=len(rows))
    # Accumulating into one slot per row (bincount) is ~40x faster than sorting the postings (np.unique)
    # for common terms; its O(rows) pass is C code over a float array, not a Python loop.
    totals = np.bincount(postings, weights=scores, minlength=tf.shape[0])
    rows = np.flatnonzero(totals)
    return rows.astype(np.int64), totals[rows]


def top_k(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (position, score) pairs, best first; ties broken by position for stable results."""
    if len(scores) > k:
        keep = np.argpartition(-scores, k - 1)[:k]
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((positions, -scores))
    return positions[order], scores[order]
