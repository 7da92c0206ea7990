"""Okapi BM25 over sparse term-frequency matrices, with statistics shared by all index segments.

Each segment keeps its own term-frequency matrix (rows = chunks, columns = that segment's vocabulary).
Scores use GLOBAL statistics (number of live chunks, document frequency over live chunks, average length)
so that a chunk scores the same whichever segment holds it. Scoring touches only the postings of the
query's terms: nothing per query scales with the corpus beyond those postings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

K1 = 1.5
B = 0.75
# Below one posting per SPARSE_RATIO rows, sorting the postings beats a pass over all rows of the segment.
SPARSE_RATIO = 16
# A query term in more than this share of a segment's rows only scores the rows rarer terms bring (best_rows);
# if those rows do not settle the exact top k, every posting is scored.
COMMON_SHARE = 0.02
# Below this many postings in all, scoring every one is cheaper than trying MaxScore (~1.5 ms a question
# at 10,000 chunks).
MAXSCORE_MIN_POSTINGS = 100_000


@dataclass(frozen=True)
class TermCounts:
    """Term frequencies as compressed sparse columns: column c's rows are indices[indptr[c]:indptr[c + 1]]
    (ascending), with their counts. Plain arrays, so a segment can memory-map them and searching needs
    no scipy (its import alone was 0.4 s of a cold start)."""

    indptr: np.ndarray  # (columns + 1,) int64
    indices: np.ndarray  # (postings,) int32 rows
    counts: np.ndarray  # (postings,) float32
    n_rows: int

    @classmethod
    def from_scipy(cls, matrix: sp.spmatrix) -> TermCounts:
        import scipy.sparse as sp

        csc = sp.csc_matrix(matrix, dtype=np.float32)
        csc.sort_indices()
        return cls(csc.indptr.astype(np.int64), csc.indices.astype(np.int32), csc.data, int(csc.shape[0]))

    def to_scipy(self) -> sp.csc_matrix:
        import scipy.sparse as sp

        return sp.csc_matrix((self.counts, self.indices, self.indptr), shape=(self.n_rows, len(self.indptr) - 1))

    def doc_freq(self, live: np.ndarray | None = None) -> np.ndarray:
        """Rows holding each column's term: all of them, or those where `live` is True (O(postings))."""
        per_column = np.diff(self.indptr)
        if live is None:
            return per_column.astype(np.int64)
        columns = np.repeat(np.arange(len(per_column)), per_column)
        return np.bincount(columns, weights=live[self.indices], minlength=len(per_column)).astype(np.int64)


@dataclass(frozen=True)
class TermMatrix:
    """One segment's term frequencies by column, so that a query term's postings are one contiguous slice."""

    tf: TermCounts  # rows x len(vocab)
    vocab: dict[str, int]  # token -> column
    lengths: np.ndarray  # (rows,) token count of each row


def build_term_matrix(token_lists: Sequence[Sequence[str]]) -> tuple[TermCounts, list[str], np.ndarray]:
    """Count tokens per row: (term counts, vocabulary in column order, row lengths)."""
    import scipy.sparse as sp

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
    return TermCounts.from_scipy(matrix), list(vocab), lengths


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
    return _accumulate(_postings(matrix, terms), norm, matrix.tf.n_rows)


@dataclass(frozen=True)
class _Postings:
    weight: float  # the term's idf
    rows: np.ndarray  # ascending
    freq: np.ndarray

    def scores(self, norm: np.ndarray, rows: np.ndarray, freq: np.ndarray) -> np.ndarray:
        f = freq.astype(np.float64)
        return self.weight * f * (K1 + 1.0) / (f + norm[rows])


def _postings(matrix: TermMatrix, terms: Sequence[tuple[str, float]]) -> list[_Postings]:
    tf, found = matrix.tf, []
    for token, weight in terms:
        col = matrix.vocab.get(token)
        if col is not None:
            start, end = tf.indptr[col], tf.indptr[col + 1]
            found.append(_Postings(weight, tf.indices[start:end], tf.counts[start:end]))
    # Rarest first, everywhere: each row's score is then summed in one order whichever way it is found,
    # so best_rows and score_terms agree to the last bit (ties are broken by row, not by rounding).
    return sorted(found, key=lambda p: len(p.rows))


def _accumulate(postings: list[_Postings], norm: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    if not postings:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    rows_all = np.concatenate([p.rows for p in postings])
    scores = np.concatenate([p.scores(norm, p.rows, p.freq) for p in postings])
    if len(rows_all) * SPARSE_RATIO < n_rows:
        # Rare terms in a large segment: sort the few postings rather than pass over every row.
        rows, slots = np.unique(rows_all, return_inverse=True)
        return rows.astype(np.int64), np.bincount(slots, weights=scores, minlength=len(rows))
    # Accumulating into one slot per row (bincount) is ~40x faster than sorting the postings (np.unique)
    # for common terms; its O(rows) pass is C code over a float array, not a Python loop.
    totals = np.bincount(rows_all, weights=scores, minlength=n_rows)
    rows = np.flatnonzero(totals)
    return rows.astype(np.int64), totals[rows]


def best_rows(
    matrix: TermMatrix, norm: np.ndarray, terms: Sequence[tuple[str, float]], k: int,
    keep: Callable[[np.ndarray], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """The k best rows that `keep` accepts, best first: the same as top_k of score_terms, found cheaper.

    MaxScore (Turtle and Flood, 1995): the terms in at most COMMON_SHARE of the rows bring the candidate
    rows and the common ones only add to those. A row holding common terms only scores below their summed
    upper bounds idf·(k1 + 1), so when the k-th best candidate reaches that bound no other row can enter;
    otherwise every posting is scored.
    """
    postings = _postings(matrix, terms)  # rarest first
    n_rows = matrix.tf.n_rows
    split = sum(len(p.rows) <= COMMON_SHARE * n_rows for p in postings)
    if 0 < split < len(postings) and sum(len(p.rows) for p in postings) > MAXSCORE_MIN_POSTINGS:
        found = _maxscore(postings[:split], postings[split:], norm, n_rows, k, keep)
        if found is not None:
            return found
    rows, scores = _accumulate(postings, norm, n_rows)
    accepted = keep(rows)
    return top_k(rows[accepted], scores[accepted], k)


def score_rows(matrix: TermMatrix, norm: np.ndarray, terms: Sequence[tuple[str, float]],
               rows: np.ndarray) -> np.ndarray:
    """BM25 of the given rows (ascending): a binary search per row in each term's postings, for a search
    scoped to a few letters, which costs their rows and not the terms' postings."""
    scores = np.zeros(len(rows), dtype=np.float64)
    for p in _postings(matrix, terms):
        _add_held(p, norm, rows, scores)
    return scores


def _add_held(p: _Postings, norm: np.ndarray, rows: np.ndarray, scores: np.ndarray) -> None:
    """Add the term's score to `scores` at the `rows` (ascending) that hold it."""
    if not len(p.rows):
        return
    at = np.minimum(np.searchsorted(p.rows, rows), len(p.rows) - 1)
    held = p.rows[at] == rows
    scores[held] += p.scores(norm, rows[held], p.freq[at[held]])


def _maxscore(rare: list[_Postings], common: list[_Postings], norm: np.ndarray, n_rows: int, k: int,
              keep: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The exact top k when the rows `rare` brings settle it, else None."""
    rows, scores = _accumulate(rare, norm, n_rows)
    accepted = keep(rows)
    rows, scores = rows[accepted], scores[accepted]
    if len(rows) < k:
        return None  # rows holding common terms only would fill the rest
    bound = sum(p.weight for p in common) * (K1 + 1.0)
    # The k-th best rare-only score is a floor of the final k-th best: a row below it by more than the
    # common terms can add cannot get in.
    floor = np.partition(scores, len(scores) - k)[len(scores) - k]
    hopeful = scores + bound >= floor
    rows, scores = rows[hopeful], scores[hopeful]
    for p in common:
        _add_held(p, norm, rows, scores)
    rows, scores = top_k(rows, scores, k)
    return (rows, scores) if scores[-1] >= bound else None


def top_k(positions: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (position, score) pairs, best first; ties broken by position, also at the k-th place."""
    if len(scores) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = np.flatnonzero(scores >= kth)  # every row tied with the k-th best stays in the running
        positions, scores = positions[keep], scores[keep]
    order = np.lexsort((positions, -scores))[:k]
    return positions[order], scores[order]
