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

from .compose import ambiguous_answer, compose, scope_answer, to_passage
from .config import Settings, load_settings
from .embedding import Embedder, load_embedder
from .errors import QueryError
from .indexing import BuildReport, add_files, build_index, remove_letter
from .limits import MAX_QUESTION_CHARS, trim_history
from .names import CONTENT_KINDS
from .query import META, WHAT, Question, analyse, asked_label, warm_up_in_background
from .retrieval import Hit, Retriever
from .schema import Answer, LetterInfo, Passage
from .scope import LetterDirectory, Reference, Scope, conversation_scope, resolve_scope
from .store import IndexSnapshot, index_version, open_index

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
FOLLOW_UP_REPLAY = 3  # earlier questions replayed, at most, to find the letter a follow-up keeps to
OWN_LABEL_LETTERS = 3  # the letters of the best hits whose labelled lines a question may ask for by name


class Chatbot:
    """Loaded state for one index: settings, embedder, index snapshot. Thread-safe."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._snapshot: IndexSnapshot | None = None
        self._directory: tuple[tuple[str, int], LetterDirectory] | None = None
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        warm_up_in_background()

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
        version = index_version(self.settings.index_dir)
        if current is not None and (current.index_id, current.generation) == version:
            return current
        embedder = self.embedder
        with self._read_lock:
            if self._snapshot is None or (self._snapshot.index_id, self._snapshot.generation) != version:
                self._snapshot = open_index(
                    self.settings.index_dir, model_name=embedder.name, dim=embedder.dim, previous=self._snapshot
                )
                log.info("loaded index %s (generation %s)", self.settings.index_dir, self._snapshot.generation)
            return self._snapshot

    def retriever(self) -> Retriever:
        """A retriever over the current snapshot, with that generation's letter directory (built once)."""
        snapshot = self.snapshot()
        cached, version = self._directory, (snapshot.index_id, snapshot.generation)
        if cached is None or cached[0] != version:  # a rebuilt index starts its generations again
            cached = self._directory = (version, LetterDirectory.of(snapshot))
        return Retriever(snapshot, self.embedder, cached[1])

    def retrieve(self, question: str, k: int = 5, doc_ids: Sequence[str] | None = None) -> list[Passage]:
        """Passages best first, each with its quote (the sentence window that answers)."""
        retriever = self.retriever()
        parsed = analyse(question, None, *_names(retriever.directory.references(_checked(question))))
        scope = list(doc_ids or retriever.directory.named_in(parsed.text)) or None
        hits = retriever.hits(parsed, k=k, doc_ids=scope)
        return [to_passage(hit, retriever.directory.by_id) for hit in hits]

    def answer(
        self,
        question: str,
        history: Sequence[dict[str, str] | str | Sequence[str]] | None = None,
        k: int = 5,
        doc_ids: Sequence[str] | None = None,
    ) -> Answer:
        """The short answer, the quote and its source; or an abstention with possibly related passages.

        The letters searched are `doc_ids` when given, else those the question and the conversation before it
        name (chatbot.scope); a short reference that fits several letters is answered by listing them.
        """
        question, history = _checked(question), trim_history(history)  # before anything reads them
        retriever = self.retriever()
        directory = retriever.directory
        parsed = analyse(question, history, *_names(directory.references(question)))
        scope = Scope(tuple(doc_ids), explicit=True) if doc_ids else resolve_scope(parsed, history, directory)
        if parsed.is_follow_up and not (scope.doc_ids or scope.ambiguous or scope.reset or scope.excluded):
            scope = self._scope_of_last_answer(history) or scope  # 要提高到多少？ after a question on one letter
        if scope.ambiguous:
            return ambiguous_answer(parsed, scope, directory.by_id)
        if _only_names_letters(parsed) and (scope.explicit or scope.reset):
            return scope_answer(parsed, scope, directory.by_id)  # "看91号那份" / "所有答复函": nothing else asked
        # A document named by number that is no letter of the index (温政办〔2023〕64号) is something
        # the passage must mention, not a letter to search in.
        cited = [ref for ref in parsed.references if not directory.named_in(ref)]
        parsed = replace(parsed.with_terms(cited), scope_doc_ids=scope.doc_ids)
        hits = retriever.hits(parsed, k=max(k, 5), doc_ids=scope.doc_ids or None, exclude=scope.excluded)
        if (field := _own_label_asked(parsed, hits, directory)) is not None:
            # 哪个科室承办的: a labelled line of the letters found (承办科室：…), asked without its label
            parsed = replace(parsed, kind=META, meta_field=field)
            hits = retriever.hits(parsed, k=max(k, 5), doc_ids=scope.doc_ids or None, exclude=scope.excluded)
        reply = compose(parsed, hits, directory.by_id)
        return replace(reply, question=question, passages=reply.passages[:k], scope=list(scope.doc_ids))

    def _scope_of_last_answer(self, history: Sequence[Any]) -> Scope | None:
        """When the history holds the deputy's questions only (no replies to read the cited letter from), the
        letter that answers the last of them: what an elliptical follow-up keeps to."""
        if not history or not isinstance(history[-1], str) or not all(isinstance(h, str) for h in history):
            return None
        earlier = self.answer(history[-1], history=list(history[:-1])[-FOLLOW_UP_REPLAY:])  # bounded recursion
        if earlier.abstained or not earlier.passages:
            return None
        return Scope((earlier.passages[0].doc_id,))

    def conversation_scope(self, history: Sequence[Any] | None) -> list[LetterInfo]:
        """The letters a conversation keeps to (named by the deputy), [] when it asks about all of them."""
        directory = self.retriever().directory
        found = conversation_scope(trim_history(history), directory)
        return [directory.by_id[d] for d in found if d in directory.by_id]

    def letters(self) -> list[LetterInfo]:
        return self.snapshot().letters()

    def explain(self, question: str, k: int = 10) -> list[dict[str, Any]]:
        """命中测试: the top passages with their dense, BM25, fused and final scores."""
        hits = self.retriever().hits(analyse(_checked(question)), k=k)
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


def _names(refs: Sequence[Reference]) -> tuple[list[str], list[str]]:
    """What a question names letters by: names a passage's letter must bear (its unit, place, people, title),
    and references that only say which letter is meant (文号, numbers)."""
    names = [ref.key for ref in refs if ref.kind in CONTENT_KINDS]
    return names, [ref.key for ref in refs if ref.kind not in CONTENT_KINDS]


def _own_label_asked(question: Question, hits: Sequence[Hit], directory: LetterDirectory) -> str | None:
    """The field of a labelled line of the best letters that a question asks for, when it was not read so: a
    question not read as one about a letter, or one read as another field than the label it says (内容类别)."""
    letters = [directory.by_id[d] for d in dict.fromkeys(h.chunk.doc_id for h in hits[:OWN_LABEL_LETTERS])
               if d in directory.by_id]
    labels = {label for letter in letters for label, _ in letter.meta.fields}
    if question.kind == META:
        said = {label for label in labels if len(label) >= 3 and label in question.text}
        field = asked_label(question.text, said)
        if field is None or field == question.meta_field or field.startswith(f"{question.meta_field}_"):
            return None  # contact_phone is a part of the contact asked (联系人和联系电话)
        return field
    return asked_label(question.text, labels)


def _only_names_letters(question: Question) -> bool:
    """A turn that only says which letters to look at: no content of its own, nothing carried from before."""
    own = [t for t in question.terms if t.text not in question.names and t.weight >= 0.5]
    return question.kind == WHAT and not own and not question.context_terms


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
