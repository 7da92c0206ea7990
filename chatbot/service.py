"""The loaded chatbot: one index snapshot and one embedder, shared by every caller of a process.

`Chatbot` notices a rebuild made by another process (the index generation changed) and swaps in the new
snapshot; callers holding the old one finish with it, so a question asked during a rebuild is answered
from the old index. Writes made through it (staff page) are serialized by a lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from .answer import compose
from .config import Settings, load_settings
from .embedding import Embedder, load_embedder
from .errors import QueryError
from .indexing import BuildReport, add_files, build_index, remove_letter
from .query import LETTER_WORDS_RE, Question, analyse
from .retrieval import Hit, Retriever, scope_from_text
from .schema import Answer, LetterInfo, Passage
from .store import IndexSnapshot, index_generation, open_index

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 500
Progress = Callable[[float, str], None]


class Chatbot:
    """Loaded state for one index: settings, embedder, index snapshot. Thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._snapshot: IndexSnapshot | None = None
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._read_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings)
        return self._embedder

    def snapshot(self) -> IndexSnapshot:
        """The current index, reloaded when its generation on disk moved on."""
        current = self._snapshot
        generation = index_generation(self.settings.index_dir)
        if current is not None and current.generation == generation:
            return current
        embedder = self.embedder
        with self._read_lock:
            if self._snapshot is None or self._snapshot.generation != generation:
                self._snapshot = open_index(
                    self.settings.index_dir, model_name=embedder.name, dim=embedder.dim, previous=self._snapshot
                )
                log.info("loaded index %s (generation %s)", self.settings.index_dir, self._snapshot.generation)
            return self._snapshot

    def _hits(self, question: Question, k: int, doc_ids: Sequence[str] | None) -> tuple[list[Hit], IndexSnapshot]:
        snapshot = self.snapshot()
        retriever = Retriever(snapshot, self.embedder)
        return retriever.hits(question, k=k, doc_ids=doc_ids), snapshot

    def retrieve(self, question: str, k: int = 5, doc_ids: Sequence[str] | None = None) -> list[Passage]:
        """Passages best first, each with its quote (the sentence window that answers)."""
        from .answer import to_passage

        parsed = analyse(_checked(question))
        snapshot = self.snapshot()
        scope = list(doc_ids) if doc_ids else list(scope_from_text(parsed.text, snapshot.letters())) or None
        hits, snapshot = self._hits(parsed, k, scope)
        letters = {letter.doc_id: letter for letter in snapshot.letters()}
        return [to_passage(hit, letters) for hit in hits]

    def answer(
        self,
        question: str,
        history: Sequence[dict[str, str] | str | Sequence[str]] | None = None,
        k: int = 5,
        doc_ids: Sequence[str] | None = None,
    ) -> Answer:
        """The short answer, the quote and its source; or an abstention with possibly related passages."""
        parsed = analyse(_checked(question), history)
        snapshot = self.snapshot()
        letters = {letter.doc_id: letter for letter in snapshot.letters()}
        scope = list(doc_ids) if doc_ids else list(self._scope(parsed, history, list(letters.values()))) or None
        # A document named by number that is no letter of the index (温政办〔2023〕64号) is something
        # the passage must mention, not a letter to search in.
        cited = [ref for ref in parsed.references if not scope_from_text(ref, list(letters.values()))]
        parsed = replace(parsed.with_terms(cited), scope_doc_ids=tuple(scope or ()))
        hits, snapshot = self._hits(parsed, max(k, 5), scope)
        reply = compose(parsed, hits, letters)
        return Answer(question, reply.answer, reply.direct_answer, reply.abstained, reply.passages[:k])

    @staticmethod
    def _scope(question: Question, history: Sequence[Any] | None, letters: list[LetterInfo]) -> tuple[str, ...]:
        """Letters the question names; for "这份答复函…" the letter the previous answer cited."""
        named = scope_from_text(question.text, letters)
        if named or not history or len(letters) < 2 or not LETTER_WORDS_RE.search(question.text):
            return named
        for item in reversed(list(history)):
            if isinstance(item, dict) and item.get("role") == "assistant":
                return tuple(d for d in scope_from_text(str(item.get("content", "")), letters))[:1]
        return ()

    def letters(self) -> list[LetterInfo]:
        return self.snapshot().letters()

    def explain(self, question: str, k: int = 10) -> list[dict[str, Any]]:
        """命中测试: the top passages with their dense, BM25, fused and final scores."""
        parsed = analyse(_checked(question))
        hits, _ = self._hits(parsed, k, None)
        return [
            {
                "rank": rank,
                "doc_id": hit.chunk.doc_id,
                "section": hit.chunk.section,
                "text": hit.chunk.text,
                "quote": hit.window.text,
                "dense": hit.dense,
                "bm25": hit.bm25,
                "fused": round(hit.fused, 4),
                "score": hit.score,
            }
            for rank, hit in enumerate(hits, start=1)
        ]

    def add_files(self, files: Sequence[Path], progress: Progress | None = None) -> BuildReport:
        with self._write_lock:
            return add_files(self.settings, self.embedder, list(files), progress=progress or False)

    def remove(self, doc_id: str) -> str:
        with self._write_lock:
            return remove_letter(self.settings, doc_id)

    def rebuild(self, full: bool = False, progress: Progress | None = None) -> BuildReport:
        with self._write_lock:
            return build_index(self.settings, self.embedder, full=full, progress=progress or False)


def _checked(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QueryError("the question is empty: ask something, e.g. 2024年计划建成几家概念验证中心")
    if len(question) > MAX_QUESTION_CHARS:
        raise QueryError(f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}")
    return question


_chatbots: dict[Path, Chatbot] = {}
_chatbots_lock = threading.Lock()


def get_chatbot(settings: Settings | None = None) -> Chatbot:
    """One Chatbot per index folder per process: the model and index load once and are reused."""
    settings = settings or load_settings()
    key = settings.index_dir.resolve()
    with _chatbots_lock:
        if key not in _chatbots:
            _chatbots[key] = Chatbot(settings)
        return _chatbots[key]


def answer_json(answer: Answer) -> dict[str, Any]:
    """The JSON of DESIGN.md (`chatbot ask --json`, POST /api/ask)."""
    return asdict(answer)
