"""`chatbot eval`: hit@k, quote@1, answer@1, MRR, abstention and latency over a question file.

A question file has one JSON object a line: {"id", "question", "answers": [...], "evidence", "kind", "doc"}.
`evidence` is a substring of the passage that holds the answer (compared with whitespace removed);
`evidence: null` marks a question the letters do not answer: the right reply is an abstention.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ChatbotError
from .query import compact
from .schema import Answer


class Answers(Protocol):
    def answer(self, question: str, history: Sequence[Any] | None = ..., k: int = ...) -> Answer: ...


@dataclass(frozen=True)
class EvalQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    evidence: str | None
    kind: str = ""
    doc: str | None = None
    history: tuple[str, ...] = ()  # earlier questions, for follow-ups


@dataclass(frozen=True)
class QuestionResult:
    id: str
    question: str
    kind: str
    rank: int | None  # 1-based rank of the first passage holding the evidence
    quote_hit: bool
    answer_hit: bool
    abstained: bool
    direct_answer: str | None
    quote: str
    seconds: float
    expected: str | None

    @property
    def answerable(self) -> bool:
        return self.expected is not None

    @property
    def ok(self) -> bool:
        if not self.answerable:
            return self.abstained
        return self.rank == 1 and self.quote_hit and self.answer_hit and not self.abstained


@dataclass(frozen=True)
class EvalReport:
    n: int
    answerable: int
    out_of_scope: int
    hit_at_1: float
    hit_at_3: float
    hit_at_5: float
    quote_at_1: float
    answer_at_1: float
    mrr: float
    abstention: float  # share of out-of-scope questions abstained (higher is better)
    false_abstention: float  # share of answerable questions abstained (lower is better)
    latency_p50_ms: float
    latency_p95_ms: float
    misses: list[QuestionResult] = field(default_factory=list)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a question file; a bad line is an error naming the file, the line and the field."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            questions.append(
                EvalQuestion(
                    id=str(raw.get("id", number)),
                    question=raw["question"],
                    answers=tuple(raw.get("answers") or ()),
                    evidence=raw.get("evidence"),
                    kind=raw.get("kind", ""),
                    doc=raw.get("doc"),
                    history=tuple(raw.get("history") or ()),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise ChatbotError(f"{path}:{number}: not a question line ({e}); expected JSON with a 'question'") from e
    if not questions:
        raise ChatbotError(f"{path}: no questions in the file")
    return questions


def judge(item: EvalQuestion, reply: Answer, seconds: float) -> QuestionResult:
    evidence = compact(item.evidence) if item.evidence else None
    rank = None
    if evidence is not None:
        for position, passage in enumerate(reply.passages, start=1):
            if evidence in compact(passage.text) and (item.doc is None or passage.doc_id == item.doc):
                rank = position
                break
    first = reply.passages[0] if reply.passages else None
    quote_hit = bool(evidence and first and rank == 1 and evidence in compact(first.quote))
    answer_hit = not reply.abstained and any(compact(a) in compact(reply.answer) for a in item.answers)
    return QuestionResult(
        id=item.id,
        question=item.question,
        kind=item.kind,
        rank=rank,
        quote_hit=quote_hit,
        answer_hit=answer_hit,
        abstained=reply.abstained,
        direct_answer=reply.direct_answer,
        quote=first.quote if first else "",
        seconds=seconds,
        expected=item.evidence,
    )


def evaluate(bot: Answers, questions: Sequence[EvalQuestion]) -> EvalReport:
    results = []
    for item in questions:
        started = time.perf_counter()
        reply = bot.answer(item.question, history=list(item.history) or None)
        results.append(judge(item, reply, time.perf_counter() - started))
    return summarize(results)


def _share(values: Sequence[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def summarize(results: Sequence[QuestionResult]) -> EvalReport:
    answerable = [r for r in results if r.answerable]
    oos = [r for r in results if not r.answerable]
    seconds = np.array([r.seconds for r in results]) * 1000
    return EvalReport(
        n=len(results),
        answerable=len(answerable),
        out_of_scope=len(oos),
        hit_at_1=_share([r.rank == 1 for r in answerable]),
        hit_at_3=_share([r.rank is not None and r.rank <= 3 for r in answerable]),
        hit_at_5=_share([r.rank is not None and r.rank <= 5 for r in answerable]),
        quote_at_1=_share([r.quote_hit for r in answerable]),
        answer_at_1=_share([r.answer_hit for r in answerable]),
        mrr=round(sum(1 / r.rank for r in answerable if r.rank) / len(answerable), 4) if answerable else 0.0,
        abstention=_share([r.abstained for r in oos]),
        false_abstention=_share([r.abstained for r in answerable]),
        latency_p50_ms=round(float(np.percentile(seconds, 50)), 1) if len(seconds) else 0.0,
        latency_p95_ms=round(float(np.percentile(seconds, 95)), 1) if len(seconds) else 0.0,
        misses=[r for r in results if not r.ok],
    )


METRICS = (
    ("hit@1", "hit_at_1"),
    ("hit@3", "hit_at_3"),
    ("hit@5", "hit_at_5"),
    ("quote@1", "quote_at_1"),
    ("answer@1", "answer_at_1"),
    ("MRR", "mrr"),
    ("abstention (out-of-scope)", "abstention"),
    ("false abstention", "false_abstention"),
    ("latency p50 ms", "latency_p50_ms"),
    ("latency p95 ms", "latency_p95_ms"),
)


def format_report(report: EvalReport) -> str:
    lines = [f"{report.n} questions: {report.answerable} answerable, {report.out_of_scope} out of scope"]
    lines += [f"{label:<26} {getattr(report, name)}" for label, name in METRICS]
    if report.misses:
        lines.append(f"\n{len(report.misses)} miss(es):")
    for miss in report.misses:
        expected = miss.expected or "(abstain)"
        lines.append(
            f"- [{miss.id}] {miss.question}\n    expected: {expected}\n    rank={miss.rank} quote_hit={miss.quote_hit} "
            f"answer_hit={miss.answer_hit} abstained={miss.abstained} direct={miss.direct_answer!r}\n"
            f"    quote: {miss.quote[:100]}"
        )
    return "\n".join(lines)
