"""Retrieval: dense (FAISS) and BM25 candidates, fused by reciprocal rank, reranked by evidence.

The rerank is cheap and explainable: the share of the question's terms a sentence window covers, a value
of the kind asked (几家 → a number with 家), the question's years, and the letterhead or closing for
questions about the letter itself.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from .embedding import Embedder
from .errors import QueryError
from .evidence import Window, best_window, sentence_match
from .identity import letter_keys
from .query import META, Question, Term, compact
from .schema import CLOSING, LETTERHEAD, Chunk, LetterInfo
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


class LetterDirectory:
    """The letters of one index generation, found by the 文号, suggestion number or deputy a text names.

    The writer stores each letter's keys (chatbot.query.letter_keys); a lookup asks which of the text's
    substrings are keys (of the lengths keys have): its cost follows the text, not the number of letters,
    and nothing is loaded per index generation.
    """

    def __init__(self, lookup: Callable[[Collection[str]], dict[str, list[str]]], lengths: Sequence[int],
                 by_id: Mapping[str, LetterInfo], position: Callable[[str], int]) -> None:
        self.by_id = by_id  # doc_id -> LetterInfo (a snapshot reads each on first use)
        self._lookup = lookup  # substrings -> the letters each names
        self._lengths = sorted(set(lengths), reverse=True)
        self._position = position  # the letter's place in the index's order

    @classmethod
    def of(cls, snapshot: IndexSnapshot) -> LetterDirectory:
        return cls(snapshot.letters_named, snapshot.key_lengths, snapshot.by_id, snapshot.position)

    @classmethod
    def from_letters(cls, letters: Sequence[LetterInfo]) -> LetterDirectory:
        """A directory of these letters, in this order (no index needed)."""
        by_id = {letter.doc_id: letter for letter in letters}
        order = {doc_id: i for i, doc_id in enumerate(by_id)}
        table: dict[str, list[str]] = defaultdict(list)
        for letter in letters:
            for key in letter_keys(letter.doc_id, letter.meta):
                table[key].append(letter.doc_id)
        return cls(lambda keys: {k: table[k] for k in keys if k in table}, [len(k) for k in table], by_id,
                   order.__getitem__)

    def named_in(self, text: str) -> tuple[str, ...]:
        """Letters named in `text` ("817号建议里……", "虞振勇代表的建议", a 文号), in the order of the index."""
        asked = compact(text)
        lengths = [n for n in self._lengths if n <= len(asked)]
        keys = self._lookup({asked[i : i + n] for n in lengths for i in range(len(asked) - n + 1)})
        found: set[str] = set()
        taken = [False] * len(asked)  # characters inside a longer key already found
        for length in lengths:
            for start in range(len(asked) - length + 1):
                ids = keys.get(asked[start : start + length])
                if not ids or any(taken[start : start + length]):
                    continue  # 291号 inside the 文号 温文建复〔2015〕291号 is not suggestion no. 291
                if not (asked[start].isdigit() and start and asked[start - 1].isdigit()):
                    found.update(ids)  # 817号 inside 1817号 names nothing
                    taken[start : start + length] = [True] * length
        return tuple(sorted(found, key=self._position))


class Retriever:
    """Hybrid search over one loaded index snapshot with one embedder."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, directory: LetterDirectory | None = None) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.directory = directory or LetterDirectory.of(snapshot)

    def hits(self, question: Question, k: int = 5, doc_ids: Sequence[str] | None = None) -> list[Hit]:
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
        chunks = self.snapshot.chunk_map(list(fused))
        quick = {row: FUSED_WEIGHT * fused[row] + (1 - FUSED_WEIGHT) * self._sentence_match(question, chunk)
                 for row, chunk in chunks.items()}
        hits = [
            self._rerank(question, chunks[row], dense_of.get(row), bm25_of.get(row), fused[row])
            for row in sorted(quick, key=quick.__getitem__, reverse=True)[:RERANK]
        ]
        hits.sort(key=lambda h: h.score, reverse=True)
        return hits[:k]

    @staticmethod
    def _sentence_match(question: Question, chunk: Chunk) -> float:
        # search_text is the NFKC section path, a newline, then the NFKC text (see chatbot.chunking).
        heading, _, text = chunk.search_text.partition("\n")
        return sentence_match(question, text, heading)

    def rarity(self, term: Term) -> float:
        """0.4 for a word in every passage up to 1 for a word in none: among many letters that share
        their wording, the rare words of a question (a place, a name) tell the passages apart."""
        n = max(self.snapshot.num_chunks, 1)
        df = max(self.snapshot.doc_freq(variant.lower()) for variant in term.variants)
        return 0.4 + 0.6 * math.log(1 + n / (df + 1)) / math.log(1 + n)

    def _rerank(
        self, question: Question, chunk: Chunk, dense: float | None, bm25: float | None, fused: float
    ) -> Hit:
        window = best_window(question, chunk.text, chunk.section)
        score = FUSED_WEIGHT * fused + (1 - FUSED_WEIGHT) * window.score / 1.55
        if question.kind == META:
            wanted = LETTERHEAD if question.meta_field in LETTERHEAD_FIELDS else CLOSING
            score += 0.4 if chunk.kind == wanted else 0.0
        return Hit(chunk, window, dense, bm25, fused, round(score, 4))
