"""How much text a question may bring: one home for the caps that bound the work of a request.

Question analysis segments text with jieba's part-of-speech HMM, about a millisecond per character of
unfamiliar text (a 6,000-character history turn cost 22 s): every text that reaches analysis is capped first.
The HTTP API refuses a question over the cap and trims history turns; the chat keeps the turns it sends
short; chatbot.service.Chatbot trims again, whoever calls it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_QUESTION_CHARS = 500
MAX_ANSWER_CHARS = 2_000  # an earlier answer in history: its short answer, quote and citation come first
MAX_HISTORY_TURNS = 50
ANSWER_TIMEOUT_S = 20.0  # a question still unanswered after this gets 503 (the server is overloaded)


def trim_turn(turn: Any) -> Any:
    """One history turn cut to what analysis may read: a question (a string, a user message, the first of a
    pair) to MAX_QUESTION_CHARS, an answer to MAX_ANSWER_CHARS. Other values (analysis skips them) pass."""
    if isinstance(turn, str):
        return turn[:MAX_QUESTION_CHARS]
    if isinstance(turn, dict):
        limit = MAX_QUESTION_CHARS if turn.get("role") == "user" else MAX_ANSWER_CHARS
        content = turn.get("content", "")  # analysis reads str(content): so does the cap
        return {**turn, "content": (content if isinstance(content, str) else str(content))[:limit]}
    if isinstance(turn, list | tuple) and turn and all(isinstance(x, str) for x in turn):
        return type(turn)(x[: MAX_QUESTION_CHARS if i == 0 else MAX_ANSWER_CHARS] for i, x in enumerate(turn))
    return turn


def trim_history(history: Sequence[Any] | None) -> list[Any]:
    """The last MAX_HISTORY_TURNS turns of `history`, each trimmed (trim_turn)."""
    return [trim_turn(turn) for turn in list(history or [])[-MAX_HISTORY_TURNS:]]
