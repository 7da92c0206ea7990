"""Answers questions about government reply letters (答复函) by quoting them, with their source.

    >>> from chatbot import retrieve, answer
    >>> passages = retrieve("2024年计划建成几家概念验证中心", k=3)   # list[Passage], best first
    >>> reply = answer("2024年计划建成几家概念验证中心")              # Answer: direct_answer "5家", quote …

Both take `index_dir=` (default: CHATBOT_INDEX_DIR or ./index) and reuse one loaded index and model per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ChatbotError, DocumentError, IndexMismatchError, IndexMissingError, QueryError
from .schema import Answer, Chunk, Document, LetterInfo, LetterMeta, Passage, Reading

if TYPE_CHECKING:
    from .service import Chatbot

__all__ = [
    "Answer",
    "ChatbotError",
    "Chunk",
    "Document",
    "DocumentError",
    "IndexMismatchError",
    "IndexMissingError",
    "LetterInfo",
    "LetterMeta",
    "Passage",
    "QueryError",
    "Reading",
    "answer",
    "letters",
    "retrieve",
]


def _chatbot(index_dir: str | Path | None) -> Chatbot:
    from .config import load_settings
    from .service import get_chatbot

    return get_chatbot(load_settings(index_dir=index_dir))


def retrieve(
    question: str, k: int = 5, index_dir: str | Path | None = None, doc_ids: Sequence[str] | None = None
) -> list[Passage]:
    """The k passages that best answer `question`, best first; `doc_ids` restricts the letters searched."""
    return _chatbot(index_dir).retrieve(question, k=k, doc_ids=doc_ids)


def answer(
    question: str, index_dir: str | Path | None = None, history: Sequence[Any] | None = None, k: int = 5
) -> Answer:
    """The short answer, the quoted sentence(s) and their source; `abstained` when the letters don't say.

    `history`: earlier turns, as Gradio messages ({"role", "content"}) or plain earlier questions.
    """
    return _chatbot(index_dir).answer(question, history=history, k=k)


def letters(index_dir: str | Path | None = None) -> list[LetterInfo]:
    """The letters the index holds."""
    return _chatbot(index_dir).letters()
