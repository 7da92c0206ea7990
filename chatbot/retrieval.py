"""Retrieval: dense (FAISS) and BM25 candidates, fused by reciprocal rank, reranked by evidence.

The rerank is cheap and explainable: the share of the question's terms a sentence window covers, a value
of the kind asked (几家 → a number with 家), the question's years, and the letterhead or closing for
questions about the letter itself.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from .embedding import Embedder
from .errors import QueryError
from .evidence import Window, best_window, sentence_match
from .identity import compact, field_text
from .names import identity_text
from .query import META, Question, Term
from .schema import CLOSING, LETTERHEAD, Chunk
from .scope import LetterDirectory
from .store import IndexSnapshot
from .tokens import tokenize_query

RRF_K = 60  # the usual constant of reciprocal rank fusion: damps the head of each list
# Candidates per retriever. BM25 gets more: among letters that share their wording, a passage holding
# every word of the question in one sentence ranks no higher than one holding them in several, and the
# sentence match below tells them apart cheaply.
DENSE_CANDIDATES, BM25_CANDIDATES = 40, 80
# Of their union, every candidate gets a cheap sentence match; the best RERANK by it (with the fusion) get
# the full evidence rerank, the costly part of a question. Among many letters that share their wording,
# fusion alone would drop the right passage (the dense ranking of such letters is close to noise).
RERANK = 20
# Beyond the best RERANK_MIN, a candidate whose cheap match trails the best by more than this is not
# reranked: on the development letters the passage finally chosen was never more than 5 places down.
RERANK_MIN, RERANK_MARGIN = 8, 0.3
# The final score: evidence (the best window) decides, the fusion of both rankings breaks near-ties.
FUSED_WEIGHT = 0.2
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


class Retriever:
    """Hybrid search over one loaded index snapshot with one embedder."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, directory: LetterDirectory | None = None) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.directory = directory or LetterDirectory.of(snapshot)

    def hits(self, question: Question, k: int = 5, doc_ids: Sequence[str] | None = None,
             exclude: Collection[str] = ()) -> list[Hit]:
        """The k best passages for `question`, within `doc_ids` when given, never from letters in `exclude`."""
        if not 1 <= k <= MAX_K:
            raise QueryError(f"k must be between 1 and {MAX_K}, got {k}")
        scope = list(doc_ids) if doc_ids else None
        if scope:
            unknown = [d for d in scope if d not in self.directory.by_id]
            if unknown:
                raise QueryError(f"unknown doc_id(s): {', '.join(unknown)}; `chatbot index list` shows them")
        question = replace(
            question,
            terms=tuple(replace(t, rarity=self.rarity(t)) for t in question.terms),
            context_terms=tuple(replace(t, rarity=self.rarity(t)) for t in question.context_terms),
        )
        vector = self.embedder.encode([question.search_text])[0]
        dense = self.snapshot.dense_search(vector, DENSE_CANDIDATES, doc_ids=scope)
        bm25 = self.snapshot.bm25_search(tokenize_query(question.search_text), BM25_CANDIDATES, doc_ids=scope)
        fused = fuse([[i for i, _ in dense], [i for i, _ in bm25]])
        dense_of, bm25_of = dict(dense), dict(bm25)
        # A chunk removed by a writer since this snapshot loaded is simply absent from the map.
        chunks = {row: c for row, c in self.snapshot.chunk_map(list(fused)).items() if c.doc_id not in exclude}
        quick = {row: FUSED_WEIGHT * fused[row] + (1 - FUSED_WEIGHT) * self._sentence_match(question, chunk)
                 for row, chunk in chunks.items()}
        ranked = sorted(quick, key=quick.__getitem__, reverse=True)[:RERANK]
        floor = quick[ranked[0]] - RERANK_MARGIN if ranked else 0.0
        hits = [
            self._rerank(question, chunks[row], dense_of.get(row), bm25_of.get(row), fused[row])
            for n, row in enumerate(ranked) if n < RERANK_MIN or quick[row] >= floor
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    def _sentence_match(self, question: Question, chunk: Chunk) -> float:
        # search_text is the NFKC section path, a newline, then the NFKC text (see chatbot.chunking).
        heading, _, text = chunk.search_text.partition("\n")
        return sentence_match(question, text, heading, self.identity(chunk.doc_id))

    def identity(self, doc_id: str) -> str:
        """The names of a letter (chatbot.names.identity_text): context for every passage of it."""
        letter = self.directory.by_id.get(doc_id)
        return identity_text(letter.meta) if letter is not None else ""

    def year(self, doc_id: str) -> int | None:
        """The year the letter was written: what its 今年 and 去年 mean."""
        letter = self.directory.by_id.get(doc_id)
        return int(letter.date[:4]) if letter is not None and letter.date else None

    def rarity(self, term: Term) -> float:
        """0.4 for a word in every passage up to 1 for a word in none: among many letters that share
        their wording, the rare words of a question (a place, a name) tell the passages apart."""
        n = max(self.snapshot.num_chunks, 1)
        df = max(self.snapshot.doc_freq(variant.lower()) for variant in term.variants)
        return 0.4 + 0.6 * math.log(1 + n / (df + 1)) / math.log(1 + n)

    def _rerank(
        self, question: Question, chunk: Chunk, dense: float | None, bm25: float | None, fused: float
    ) -> Hit:
        window = best_window(question, chunk.text, chunk.section, self.identity(chunk.doc_id), self.year(chunk.doc_id))
        score = FUSED_WEIGHT * fused + (1 - FUSED_WEIGHT) * window.score / 1.55
        if question.kind == META:
            score += self._field_bonus(question.meta_field or "", chunk)
        return Hit(chunk, window, dense, bm25, fused, round(score, 4))

    def _field_bonus(self, field: str, chunk: Chunk) -> float:
        """For a question about the letter itself: the passage that states the field of its letter wins."""
        letter = self.directory.by_id.get(chunk.doc_id)
        value = field_text(letter.meta, field) if letter is not None and field != "date" else None
        if value:
            parts = [compact(p) for p in re.split(r"[，、《》]", value) if len(p) >= 2]
            if parts and any(p in compact(chunk.text) for p in parts):
                return 0.4
            return 0.0
        wanted = LETTERHEAD if field in LETTERHEAD_FIELDS else CLOSING
        return 0.4 if chunk.kind == wanted else 0.0
