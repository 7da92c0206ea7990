"""`chatbot eval` metrics on a tiny hand-made case where every number is known."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatbot.errors import ChatbotError
from chatbot.evaluation import (
    EvalQuestion,
    evaluate,
    evaluate_conversations,
    format_report,
    load_conversations,
    load_questions,
)
from chatbot.schema import Answer, LetterInfo, Passage


def passage(text: str, quote: str, doc_id: str = "A") -> Passage:
    return Passage(doc_id=doc_id, title="", section="一", text=text, quote=quote, score=1.0, start=0, end=len(text))


class ScriptedBot:
    """Replies fixed in advance, one per question."""

    def __init__(self, replies: dict[str, Answer]) -> None:
        self.replies = replies

    def answer(self, question: str, history: Sequence[object] | None = None, k: int = 5) -> Answer:
        return self.replies[question]


QUESTIONS = [
    # q1: right at rank 1, quote and answer right.
    EvalQuestion("1", "q1", ("5家",), "建成5家", doc="A"),
    # q2: evidence at rank 2; quote therefore misses; answer text holds the answer.
    EvalQuestion("2", "q2", ("766家",), "新增 766家", doc="A"),
    # q3: evidence nowhere; answer wrong.
    EvalQuestion("3", "q3", ("20支",), "子基金20支", doc="A"),
    # q4: evidence at rank 1 but the bot abstained: a false abstention, answer@1 not credited.
    EvalQuestion("4", "q4", ("56亿元",), "总规模56亿元", doc="A"),
    # o1, o2: out of scope; the bot abstains on o1 only.
    EvalQuestion("o1", "o1", (), None, kind="oos"),
    EvalQuestion("o2", "o2", (), None, kind="oos"),
]
REPLIES = {
    "q1": Answer("q1", "**5家** > 建成5家", "5家", False, [passage("计划建成5家中心。", "计划建成5家中心。")]),
    "q2": Answer(
        "q2",
        "**766家**",
        "766家",
        False,
        [passage("别的内容。", "别的内容。"), passage("新增766家企业。", "新增766家企业。")],
    ),
    "q3": Answer("q3", "**9支**", "9支", False, [passage("无关。", "无关。")]),
    "q4": Answer("q4", "没有找到 56亿元", None, True, [passage("总规模56亿元。", "总规模56亿元。")]),
    "o1": Answer("o1", "没有找到", None, True, [passage("无关。", "无关。")]),
    "o2": Answer("o2", "**3个**", "3个", False, [passage("无关。", "无关。")]),
}


def test_metrics_on_a_known_case() -> None:
    report = evaluate(ScriptedBot(REPLIES), QUESTIONS)
    assert (report.n, report.answerable, report.out_of_scope) == (6, 4, 2)
    assert report.hit_at_1 == 0.5  # q1, q4
    assert report.hit_at_3 == 0.75  # + q2
    assert report.hit_at_5 == 0.75
    assert report.quote_at_1 == 0.5  # q1, q4
    assert report.answer_at_1 == 0.5  # q1, q2 (q4 abstained, q3 wrong)
    assert report.mrr == pytest.approx((1 + 0.5 + 0 + 1) / 4, abs=1e-4)
    assert report.abstention == 0.5
    assert report.false_abstention == 0.25
    assert [m.id for m in report.misses] == ["2", "3", "4", "o2"]


def test_evidence_in_another_letter_is_not_a_hit() -> None:
    reply = Answer("q", "**5家**", "5家", False, [passage("建成5家。", "建成5家。", doc_id="B")])
    report = evaluate(ScriptedBot({"q": reply}), [EvalQuestion("1", "q", ("5家",), "建成5家", doc="A")])
    assert report.hit_at_1 == 0.0


def test_report_lists_every_miss() -> None:
    text = format_report(evaluate(ScriptedBot(REPLIES), QUESTIONS))
    assert "hit@1                      0.5" in text
    assert "- [3] q3" in text and "- [o2] o2" in text and "expected: (abstain)" in text


def test_load_questions(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"id": "d1", "question": "几家？", "answers": ["5家"], "evidence": "5家", "kind": "factoid", "doc": "A"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8")
    assert load_questions(path) == [EvalQuestion("d1", "几家？", ("5家",), "5家", "factoid", "A")]


def test_blank_or_missing_evidence_means_the_letters_do_not_answer(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [{"question": "甲？", "evidence": ""}, {"question": "乙？", "evidence": "  "}, {"question": "丙？"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert [q.evidence for q in load_questions(path)] == [None, None, None]


def test_bad_question_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "ok"}\n{"answers": []}\n', encoding="utf-8")
    with pytest.raises(ChatbotError, match=r"q\.jsonl:2: not a question line"):
        load_questions(path)


def test_sample_questions_parse() -> None:
    sample = Path(__file__).parent / "data" / "questions_real_letter.jsonl"
    questions = load_questions(sample)
    assert len(questions) == 48
    assert sum(q.evidence is None for q in questions) == 14


def _letter(doc_id: str, source: str) -> LetterInfo:
    return LetterInfo(doc_id=doc_id, title="", deputies=(), date=None, chunk_count=1, source=source)


def test_report_per_kind_per_letter_and_why_each_answerable_question_was_refused() -> None:
    questions = [
        EvalQuestion("1", "q1", ("5家",), "建成5家", kind="factoid", doc="a.txt"),
        EvalQuestion("4", "q4", ("56亿元",), "总规模56亿元", kind="meta", doc="a.txt"),
        EvalQuestion("o1", "o1", (), None, kind="oos", doc="a.txt"),
    ]
    replies = dict(REPLIES)
    replies["q4"] = Answer("q4", "没有找到", None, True, [passage("总规模56亿元。", "总规模56亿元。")],
                           reason="答复函中未提到：总规模。")
    report = evaluate(ScriptedBot(replies), questions, [_letter("A", "a.txt")])  # a.txt is letter A
    assert report.hit_at_1 == 1.0  # the file name named the letter whose id the passages carry
    assert report.by_kind["factoid"].answer_at_1 == 1.0 and report.by_kind["meta"].false_abstention == 1.0
    assert report.by_letter["a.txt"].n == 3 and report.by_letter["a.txt"].abstention == 1.0
    text = format_report(report)
    assert "per kind:" in text and "per letter:" not in text  # one letter: its figures are the overall ones
    assert "1 wrongly refused:\n- [4] q4 — 答复函中未提到：总规模。" in text


def test_conversations_are_asked_with_the_replies_before_them(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    turns = [{"question": "q1", "doc": "a.txt", "answers": ["5家"], "evidence": "建成5家"},
             {"question": "o1", "doc": None, "answers": [], "evidence": None},
             {"question": "amb", "doc": None, "answers": [], "evidence": None, "ambiguous": ["a.txt", "b.txt"]}]
    path.write_text(json.dumps({"id": "c1", "turns": turns}, ensure_ascii=False) + "\n", encoding="utf-8")
    seen: list[object] = []

    class Recording(ScriptedBot):
        def answer(self, question: str, history: Sequence[object] | None = None, k: int = 5) -> Answer:
            seen.append(history)
            return super().answer(question, history, k)

    replies = dict(REPLIES, amb=Answer("amb", "1. 《》（A）\n2. 《》（B）", None, True, []))
    report = evaluate_conversations(Recording(replies), load_conversations(path),
                                    [_letter("A", "a.txt"), _letter("B", "b.txt")])
    assert (report.turns, report.right, report.misses) == (3, 3, [])
    assert seen[0] is None and seen[2] == [{"role": "user", "content": "q1"},
                                           {"role": "assistant", "content": REPLIES["q1"].answer},
                                           {"role": "user", "content": "o1"},
                                           {"role": "assistant", "content": REPLIES["o1"].answer}]
