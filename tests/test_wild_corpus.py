"""The letters-in-the-wild question sets are sound: every evidence stands once in its letter, every short
answer in its evidence (or, for a letter field, in the letter), every out-of-scope question has neither."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatbot.documents import read_letter_text

WILD = Path(__file__).resolve().parent / "data" / "wild"
NEXT_TO = 40  # characters (without whitespace) around the evidence where its short answer may stand
SETS = ("dev", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _letters(name: str) -> dict[str, str]:
    return {p.name: _squash(read_letter_text(p)) for p in sorted((WILD / name / "letters").iterdir())}


@pytest.mark.parametrize("name", SETS)
def test_every_question_points_at_evidence_that_stands_once_in_its_letter(name: str) -> None:
    letters = _letters(name)
    rows = [json.loads(line) for line in (WILD / name / "questions.jsonl").read_text("utf-8").splitlines() if line]
    assert len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["kind"] in {"factoid", "list", "meta", "oos"}, row["id"]
        if not (row["evidence"] or "").strip():  # null or "": the letters do not answer it
            assert row["kind"] == "oos" and row["answers"] == [], row["id"]
            continue
        text, evidence = letters[row["doc"]], _squash(row["evidence"])
        assert text.count(evidence) == 1, row["id"]
        at = text.index(evidence)
        near = text[max(0, at - NEXT_TO) : at + len(evidence) + NEXT_TO]  # an answer may stand beside it
        where = text if row["kind"] == "meta" else near
        assert all(_squash(answer) in where for answer in row["answers"]), row["id"]
    out_of_scope = sum(row["kind"] == "oos" for row in rows) / len(rows)
    assert out_of_scope >= 0.25


def test_every_conversation_turn_names_a_letter_of_the_set() -> None:
    letters = _letters("dev")
    turns = [turn for line in (WILD / "dev" / "conversations.jsonl").read_text("utf-8").splitlines() if line
             for turn in json.loads(line)["turns"]]
    assert len(turns) >= 40
    for turn in turns:
        assert all(doc in letters for doc in turn.get("ambiguous") or []), turn["question"]
        if turn["evidence"] is not None:
            assert letters[turn["doc"]].count(_squash(turn["evidence"])) == 1, turn["question"]
