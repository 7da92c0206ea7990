"""Retrieval: dense (FAISS) and BM25 candidates, fused by reciprocal rank, reranked by evidence.

The rerank is cheap and explainable: the share of the question's terms a sentence window covers, a value
of the kind asked (几家 → a number with 家), the question's years, and the letterhead or closing for
questions about the letter itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .embedding import Embedder
from .errors import QueryError
from .evidence import Window, best_window
from .query import META, Question, compact
from .schema import CLOSING, LETTERHEAD, Chunk, LetterInfo
from .store import IndexSnapshot
from .tokens import tokenize_query

RRF_K = 60  # the usual constant of reciprocal rank fusion: damps the head of each list
CANDIDATES = 40  # per retriever; the rerank sees the union
MAX_K = 50
LETTERHEAD_FIELDS = {"doc_number", "deputy", "proposal_number", "title"}


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    window: Window
    dense: float | None  # cosine, when the chunk was among the dense candidates
    bm25: float | None
    fused: float  # reciprocal-rank fusion, scaled to 0..1
    score: float  # after the evidence rerank


def fuse(rankings: Iterable[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion of several best-first id lists, scaled so that first in all lists is 1."""
    lists = [list(r) for r in rankings]
    scores: dict[int, float] = {}
    for ranking in lists:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    top = len(lists) / (k + 1)
    return {item: score / top for item, score in scores.items()} if lists else {}


def scope_from_text(text: str, letters: Sequence[LetterInfo]) -> tuple[str, ...]:
    """Letters a question names by 文号, suggestion number or deputy ("817号建议里……", "虞振勇代表的建议")."""
    asked = compact(text)
    found: list[str] = []
    for letter in letters:
        meta = letter.meta
        number = meta.proposal_number
        names = [d for d in letter.deputies if len(d) >= 2]
        if (
            compact(letter.doc_id) in asked
            or (number and re.search(rf"(?<!\d){re.escape(number)}号", asked))
            or any(name in asked for name in names)
        ):
            found.append(letter.doc_id)
    return tuple(found)


class Retriever:
    """Hybrid search over one loaded index snapshot with one embedder."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder) -> None:
        self.snapshot = snapshot
        self.embedder = embedder

    def hits(self, question: Question, k: int = 5, doc_ids: Sequence[str] | None = None) -> list[Hit]:
        if not 1 <= k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
        scope = list(doc_ids) if doc_ids else None
        if scope:
            known = {letter.doc_id for letter in self.snapshot.letters()}
            unknown = [d for d in scope if d not in known]
            if unknown:
                raise QueryError(f"unknown doc_id(s): {', '.join(unknown)}; `chatbot index list` shows them")
        vector = self.embedder.encode([question.search_text])[0]
        dense = self.snapshot.dense_search(vector, CANDIDATES, doc_ids=scope)
        bm25 = self.snapshot.bm25_search(tokenize_query(question.search_text), CANDIDATES, doc_ids=scope)
        fused = fuse([[i for i, _ in dense], [i for i, _ in bm25]])
        dense_of, bm25_of = dict(dense), dict(bm25)
        # A chunk removed by a writer since this snapshot loaded is simply absent from the map.
        chunks = self.snapshot.chunk_map(list(fused))
        hits = [
            self._rerank(question, chunk, dense_of.get(row), bm25_of.get(row), fused[row])
            for row, chunk in chunks.items()
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _rerank(
        self, question: Question, chunk: Chunk, dense: float | None, bm25: float | None, fused: float
    ) -> Hit:
        window = best_window(question, chunk.text, chunk.section)
        score = 0.45 * fused + 0.55 * window.score / 1.55
        if question.kind == META:
            wanted = LETTERHEAD if question.meta_field in LETTERHEAD_FIELDS else CLOSING
            score += 0.4 if chunk.kind == wanted else 0.0
        return Hit(chunk, window, dense, bm25, fused, round(score, 4))
