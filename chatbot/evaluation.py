"""`chatbot eval`: hit@k, quote@1, answer@1, MRR, abstention and latency over a question file, overall, per
question kind and per letter, with the reason of every wrong refusal; and multi-turn conversations.

A question file has one JSON object a line: {"id", "question", "answers": [...], "evidence", "kind", "doc",
"history"?}. `evidence` is a substring of the passage that holds the answer (compared with whitespace
removed); `evidence: null` (or "") marks a question the letters do not answer: the right reply is an abstention.
`doc` names the letter by its id or by its file name.

A conversation file has one conversation a line: {"id", "turns": [{"question", "doc", "answers", "evidence",
"ambiguous"?: [letters]}]}: each turn is asked with the turns before it (and the replies given) as history.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import ChatbotError
from .query import compact
from .schema import Answer, LetterInfo


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
    doc: str | None = None
    reason: str | None = None  # the refusal reason the reply gave

    @property
    def answerable(self) -> bool:
        return self.expected is not None

    @property
    def ok(self) -> bool:
        if not self.answerable:
            return self.abstained
        return self.rank == 1 and self.quote_hit and self.answer_hit and not self.abstained


@dataclass(frozen=True)
class Figures:
    """The figures of one group of questions (all of them, one kind, one letter)."""

    n: int
    answerable: int
    out_of_scope: int
    hit_at_1: float
    quote_at_1: float
    answer_at_1: float
    abstention: float  # share of out-of-scope questions abstained (higher is better)
    false_abstention: float  # share of answerable questions abstained (lower is better)


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
    abstention: float
    false_abstention: float
    latency_p50_ms: float
    latency_p95_ms: float
    misses: list[QuestionResult] = field(default_factory=list)
    by_kind: dict[str, Figures] = field(default_factory=dict)
    by_letter: dict[str, Figures] = field(default_factory=dict)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a question file; a bad line is an error naming the file, the line and the field."""
    questions = []
    for number, raw in _json_lines(path):
        try:
            questions.append(
                EvalQuestion(
                    id=str(raw.get("id", number)),
                    question=raw["question"],
                    answers=tuple(raw.get("answers") or ()),
                    evidence=_evidence(raw),
                    kind=raw.get("kind", ""),
                    doc=raw.get("doc"),
                    history=tuple(raw.get("history") or ()),
                )
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ChatbotError(f"{path}:{number}: not a question line ({e}); expected JSON with a 'question'") from e
    if not questions:
        raise ChatbotError(f"{path}: no questions in the file")
    return questions


def _evidence(raw: dict[str, Any]) -> str | None:
    """A line's evidence; null, "" or blanks: the letters do not answer it."""
    evidence = raw.get("evidence")
    return evidence if isinstance(evidence, str) and evidence.strip() else None


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            raise ChatbotError(f"{path}:{number}: not a JSON line ({e})") from e
    return rows


def is_conversation_file(path: Path) -> bool:
    """Whether the file holds conversations ({"turns": …}) rather than questions."""
    rows = _json_lines(path)
    return bool(rows) and isinstance(rows[0][1], dict) and "turns" in rows[0][1]


def letter_ids(letters: Sequence[LetterInfo] | None) -> Callable[[str | None], str | None]:
    """A letter named by id or by file name → its id in the index (unknown names are kept as they are)."""
    known = {letter.source: letter.doc_id for letter in letters or ()}
    known.update({Path(letter.source).name: letter.doc_id for letter in letters or ()})
    return lambda doc: known.get(doc, doc) if doc is not None else None


def judge(item: EvalQuestion, reply: Answer, seconds: float, doc_id: str | None = None) -> QuestionResult:
    """Score one reply; `doc_id` is the expected letter's id (item.doc by default)."""
    expected_doc = doc_id if doc_id is not None else item.doc
    evidence = compact(item.evidence) if item.evidence else None
    rank = None
    if evidence is not None:
        for position, passage in enumerate(reply.passages, start=1):
            if evidence in compact(passage.text) and (expected_doc is None or passage.doc_id == expected_doc):
                rank = position
                break
    first = reply.passages[0] if reply.passages else None
    quote_hit = bool(evidence and first and rank == 1 and evidence in compact(first.quote))
    answer_hit = not reply.abstained and any(compact(a) in compact(reply.answer) for a in item.answers)
    return QuestionResult(
        id=item.id, question=item.question, kind=item.kind or ("oos" if item.evidence is None else "factoid"),
        rank=rank, quote_hit=quote_hit, answer_hit=answer_hit, abstained=reply.abstained,
        direct_answer=reply.direct_answer, quote=first.quote if first else "", seconds=seconds,
        expected=item.evidence, doc=item.doc, reason=reply.reason,
    )


def evaluate(bot: Answers, questions: Sequence[EvalQuestion],
             letters: Sequence[LetterInfo] | None = None) -> EvalReport:
    """Ask every question (with its history) and score the replies; `letters` maps file names to ids."""
    resolve = letter_ids(letters)
    results = []
    for item in questions:
        started = time.perf_counter()
        reply = bot.answer(item.question, history=list(item.history) or None)
        results.append(judge(item, reply, time.perf_counter() - started, resolve(item.doc)))
    return summarize(results)


def _share(values: Sequence[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def figures(results: Sequence[QuestionResult]) -> Figures:
    answerable = [r for r in results if r.answerable]
    oos = [r for r in results if not r.answerable]
    return Figures(
        n=len(results), answerable=len(answerable), out_of_scope=len(oos),
        hit_at_1=_share([r.rank == 1 for r in answerable]),
        quote_at_1=_share([r.quote_hit for r in answerable]),
        answer_at_1=_share([r.answer_hit for r in answerable]),
        abstention=_share([r.abstained for r in oos]),
        false_abstention=_share([r.abstained for r in answerable]),
    )


def _grouped(results: Sequence[QuestionResult], key: Callable[[QuestionResult], str]) -> dict[str, Figures]:
    groups: dict[str, list[QuestionResult]] = defaultdict(list)
    for result in results:
        groups[key(result)].append(result)
    return {name: figures(group) for name, group in sorted(groups.items())}


def summarize(results: Sequence[QuestionResult]) -> EvalReport:
    overall = figures(results)
    answerable = [r for r in results if r.answerable]
    seconds = np.array([r.seconds for r in results]) * 1000
    return EvalReport(
        n=overall.n, answerable=overall.answerable, out_of_scope=overall.out_of_scope,
        hit_at_1=overall.hit_at_1,
        hit_at_3=_share([r.rank is not None and r.rank <= 3 for r in answerable]),
        hit_at_5=_share([r.rank is not None and r.rank <= 5 for r in answerable]),
        quote_at_1=overall.quote_at_1, answer_at_1=overall.answer_at_1,
        mrr=round(sum(1 / r.rank for r in answerable if r.rank) / len(answerable), 4) if answerable else 0.0,
        abstention=overall.abstention, false_abstention=overall.false_abstention,
        latency_p50_ms=round(float(np.percentile(seconds, 50)), 1) if len(seconds) else 0.0,
        latency_p95_ms=round(float(np.percentile(seconds, 95)), 1) if len(seconds) else 0.0,
        misses=[r for r in results if not r.ok],
        by_kind=_grouped(results, lambda r: r.kind),
        by_letter=_grouped(results, lambda r: r.doc or "(none)"),
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
GROUP_COLUMNS = "n  hit@1  quote@1  answer@1  oos-refused  false-refusals"


def _figures_line(name: str, f: Figures) -> str:
    oos = f"{f.abstention:.2f}" if f.out_of_scope else "   -"
    wrong = f"{f.false_abstention:.2f}" if f.answerable else "   -"
    answerable = "   -      -        -"
    if f.answerable:
        answerable = f"{f.hit_at_1:.2f}   {f.quote_at_1:.2f}     {f.answer_at_1:.2f}"
    return f"  {f.n:>3}  {answerable}      {oos}         {wrong}   {name}"


def format_report(report: EvalReport) -> str:
    lines = [f"{report.n} questions: {report.answerable} answerable, {report.out_of_scope} out of scope"]
    lines += [f"{label:<26} {getattr(report, name)}" for label, name in METRICS]
    for title, groups in (("per kind", report.by_kind), ("per letter", report.by_letter)):
        if len(groups) > 1:
            lines += [f"\n{title}:", f"  {GROUP_COLUMNS}"]
            lines += [_figures_line(name, f) for name, f in groups.items()]
    refused = [m for m in report.misses if m.answerable and m.abstained]
    if refused:
        lines.append(f"\n{len(refused)} wrongly refused:")
        lines += [f"- [{m.id}] {m.question} — {m.reason or '(no reason given)'}" for m in refused]
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


# --- conversations ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    question: str
    doc: str | None  # the letter the turn must be answered from; None with evidence None: an abstention
    answers: tuple[str, ...] = ()
    evidence: str | None = None
    ambiguous: tuple[str, ...] = ()  # a short reference fitting these letters: the reply must list them


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class TurnResult:
    conversation: str
    number: int  # 1-based
    question: str
    ok: bool
    right_letter: bool  # answered from the expected letter, or refused / listed as expected
    expected: str
    got: str
    reason: str | None


@dataclass(frozen=True)
class ConversationReport:
    conversations: int
    turns: int
    right: int
    right_letter: int
    misses: list[TurnResult] = field(default_factory=list)


def load_conversations(path: Path) -> list[Conversation]:
    conversations = []
    for number, raw in _json_lines(path):
        try:
            turns = tuple(
                Turn(question=t["question"], doc=t.get("doc"), answers=tuple(t.get("answers") or ()),
                     evidence=_evidence(t), ambiguous=tuple(t.get("ambiguous") or ()))
                for t in raw["turns"]
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ChatbotError(f"{path}:{number}: not a conversation line ({e}); expected {{\"turns\": [...]}}") from e
        conversations.append(Conversation(str(raw.get("id", number)), turns))
    if not conversations:
        raise ChatbotError(f"{path}: no conversations in the file")
    return conversations


def evaluate_conversations(bot: Answers, conversations: Sequence[Conversation],
                           letters: Sequence[LetterInfo] | None = None) -> ConversationReport:
    """Ask every turn with the conversation so far (questions and replies) as history."""
    resolve = letter_ids(letters)
    results: list[TurnResult] = []
    for conversation in conversations:
        history: list[dict[str, str]] = []
        for number, turn in enumerate(conversation.turns, start=1):
            reply = bot.answer(turn.question, history=list(history) or None)
            results.append(_judge_turn(conversation.id, number, turn, reply, resolve))
            history += [{"role": "user", "content": turn.question}, {"role": "assistant", "content": reply.answer}]
    return ConversationReport(len(conversations), len(results), sum(r.ok for r in results),
                              sum(r.right_letter for r in results), [r for r in results if not r.ok])


def _judge_turn(conversation: str, number: int, turn: Turn, reply: Answer,
                resolve: Callable[[str | None], str | None]) -> TurnResult:
    first = reply.passages[0].doc_id if reply.passages and not reply.abstained else None
    got = first or ("(refused) " + (reply.reason or ""))
    if turn.ambiguous:
        listed = [resolve(d) or "" for d in turn.ambiguous]
        ok = reply.abstained and all(compact(d) in compact(reply.answer) for d in listed)
        return TurnResult(conversation, number, turn.question, ok, ok, "list " + "、".join(listed), got, reply.reason)
    if turn.evidence is None:
        return TurnResult(conversation, number, turn.question, reply.abstained, reply.abstained, "(refuse)", got,
                          reply.reason)
    doc = resolve(turn.doc)
    item = EvalQuestion("", turn.question, turn.answers, turn.evidence, doc=doc)
    result = judge(item, reply, 0.0, doc)
    return TurnResult(conversation, number, turn.question, result.ok, first == doc, doc or "", got, reply.reason)


def format_conversation_report(report: ConversationReport) -> str:
    lines = [
        f"{report.conversations} conversations, {report.turns} turns",
        f"{'turns right (letter, quote, answer)':<38} {report.right}/{report.turns}",
        f"{'turns answered from the right letter':<38} {report.right_letter}/{report.turns}",
    ]
    if report.misses:
        lines.append(f"\n{len(report.misses)} miss(es):")
    lines += [f"- [{m.conversation} #{m.number}] {m.question}\n    expected: {m.expected}\n    got: {m.got}"
              for m in report.misses]
    return "\n".join(lines)
