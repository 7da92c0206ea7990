"""The answer: the short answer first, then the quoted sentence(s), then where they stand —
or a plain statement that the letters do not answer, with the closest passages as possibly related.

Extractive by construction: the short answer is a span of the quote, or a field of the letter whose
line is quoted. Letter text and the question are escaped before they enter the markdown.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from .evidence import PARTNERS_ASKED_RE, PARTNERS_RE, coverage, miscut, term_found
from .identity import DATE_RE, NUMERIC_DATE_RE, field_text, iso_date
from .lexicon import role_words
from .names import identity_text
from .query import COUNT, DATE, META, WHAT, Question, Term, compact, is_field_word, names_unit
from .retrieval import Hit
from .schema import READ_OCR, Answer, LetterInfo, Passage
from .scope import Scope
from .ui_text import SCANNED_MARK

NOT_FOUND = "现有答复函中没有找到“{question}”的直接答复。"
NOT_FOUND_TERMS = "答复函中未提到：{terms}。"
NOT_FOUND_VALUE = "最接近的段落没有给出所问的{what}。"
NOT_FOUND_COUNTED = "最接近的段落有数字，但数的不是“{what}”。"
NOT_FOUND_YEAR = "答复函没有提到{years}年的相关内容。"
NOT_FOUND_QUALIFIER = "答复函没有说明“{qualifiers}”的情况。"
NOT_FOUND_LIST = "最接近的段落没有列举所问的内容。"
NOT_FOUND_FIELD = "答复函中没有这一项。"
NOT_FOUND_WEAK = "最接近的段落只涉及问题的一部分。"
POSSIBLY_RELATED = "以下内容可能相关，供参考："
AMBIGUOUS = "“{reference}”对应{count}份答复函，请指明是哪一份（可以说“第一份”“第二份”，或说出文号、单位）："
AMBIGUOUS_REASON = "问题所指的答复函不止一份"
SCOPE_ONE = "好的，接下来只在这份答复函中查找：{letter}。请问想了解什么？"
SCOPE_ALL = "好的，接下来在全部答复函中查找。"
NO_PASSAGES = "索引中还没有答复函。"
HOW_TO_ASK = "请直接问答复函里的内容，例如“2024年计划建成几家概念验证中心？”或“答复函的联系人是谁？”。"
VALUE_NAMES = {COUNT: "数字", DATE: "日期"}
OTHER_LETTERS = "其他答复函（问题未指明是哪一份；可注明文号或代表姓名）："
OTHER_LETTERS_MAX = 8
MIN_COVERAGE = 0.6
CLAUSE_RE = re.compile(r"[，,；;。！？!?：:]")
DAY_ASKED_RE = re.compile(r"几号|几日|哪天|哪一天|哪日")
# The fields of LetterMeta itself; any other META field is a labelled line (办复类别, 督办领导 …).
NAMED_FIELDS = frozenset({"doc_number", "session", "deputy", "contact", "contact_person", "contact_phone", "cc",
                          "unit", "date", "title", "proposal_number"})
# A 哪些 question is answered by several things named together: 甲、乙, “甲”“乙”等, 一是…二是, 甲和乙.
ENUMERATION_RE = re.compile(r"[、；;]|等|”“|一是|和|及|与")
# 哪些 asked of things done (措施, 工作, 准备做哪些事) is answered by clauses of a sentence too.
ACTIVITY_RE = re.compile(r"哪些(?:事|工作|措施|举措|办法|做法|手段|方面|内容|打算|安排|活动|服务)"
                         r"|做了哪些|做哪些|采取了?哪些|搞了哪些|开展了?哪些")
POSSIBLY_RELATED_COUNT = 3


def escape_markdown(text: str) -> str:
    """Make letter or user text inert in markdown and HTML: no tags, links, images or emphasis."""
    text = html.escape(text, quote=True)
    for char, entity in (("[", "&#91;"), ("]", "&#93;"), ("*", "&#42;"), ("_", "&#95;"), ("`", "&#96;")):
        text = text.replace(char, entity)
    return text


@dataclass(frozen=True)
class Evidence:
    """What the best hit says: the quote's span and the short answer inside it."""

    hit: Hit
    quote_start: int
    quote_end: int
    direct: str | None
    mark_start: int  # the part of the quote to highlight, in the passage text
    mark_end: int


def citation(passage: Passage) -> str:
    title = f"《{escape_markdown(passage.title)}》" if passage.title else ""
    scanned = f"（{SCANNED_MARK}）" if passage.scanned else ""  # read by OCR: the quote may hold misreadings
    return f"{title}（{escape_markdown(passage.doc_id)}）{scanned} · {escape_markdown(passage.section)}"


def to_passage(hit: Hit, letters: Mapping[str, LetterInfo], quote: str | None = None) -> Passage:
    chunk = hit.chunk
    letter = letters.get(chunk.doc_id)
    return Passage(
        doc_id=chunk.doc_id,
        title=letter.title if letter else "",
        section=chunk.section,
        text=chunk.text,
        quote=hit.window.text if quote is None else quote,
        score=hit.score,
        start=chunk.start,
        end=chunk.end,
        chunk_id=chunk.chunk_id,
        kind=chunk.kind,
        scanned=letter is not None and letter.reading.method == READ_OCR,
    )


RECORD_LINES = 3  # lines of a signature or a record quoted with the field asked
RECORD_LINE_MAX = 40
LABELLED_LINE_RE = re.compile(r"[\u4e00-\u9fff]{2,8}[：:]\S")  # 签发人：郑国梁 (compact)


def meta_value(field: str, letter: LetterInfo) -> str | None:
    """A field of the letter, as the letter writes it."""
    return field_text(letter.meta, field)


def _line_with(text: str, needles: Sequence[str]) -> tuple[int, int] | None:
    """The span of the lines of `text` that hold the needles (compared without spaces): one line holding all
    of them, else the lines from the first to the last that hold one each (联系人 and 联系电话 on two lines)."""
    spans, offset = [], 0
    for line in text.split("\n"):
        lead = len(line) - len(line.lstrip())
        spans.append((offset + lead, offset + len(line.rstrip()), compact(line)))
        offset += len(line) + 1
    wanted = [compact(n) for n in needles if compact(n)]
    for start, end, line in spans:
        if line and all(n in line for n in wanted):
            return start, end
    found = [[i for i, (_, _, line) in enumerate(spans) if n in line][:1] for n in wanted]
    if not wanted or not all(found):
        return None
    first, last = min(i for (i,) in found), max(i for (i,) in found)
    return (spans[first][0], spans[last][1]) if last - first <= 3 else None


def meta_evidence(question: Question, hits: Sequence[Hit], letters: Mapping[str, LetterInfo]) -> Evidence | None:
    """For a question about the letter itself: the field's value and the line that states it."""
    field = question.meta_field or ""
    for hit in hits:
        letter = letters.get(hit.chunk.doc_id)
        value = meta_value(field, letter) if letter else None
        if not value or letter is None or not _described(question, letter, hits):
            continue
        if field == "date" and len(value) < len("2024-06-26") and DAY_ASKED_RE.search(question.text):
            continue  # the letter gives the month only: it does not say which day
        if field == "date":  # quote the date as the letter writes it, not as ISO
            found = next((m for rx in (DATE_RE, NUMERIC_DATE_RE) for m in rx.finditer(hit.chunk.text)
                          if iso_date(m) == value), None)
            if found:
                span = _line_with(hit.chunk.text, [found.group(0)])
                if span:
                    quote = _record_block(hit.chunk.text, *span, letter)
                    return Evidence(hit, *quote, compact(found.group(0)), found.start(), found.end())
            continue
        parts = [p for p in re.split(r"[，、《》]", value) if p][:2]
        span = _line_with(hit.chunk.text, parts)
        if span:
            return Evidence(hit, *_record_block(hit.chunk.text, *span, letter), value, span[0], span[1])
    return None


def _record_block(text: str, start: int, end: int, letter: LetterInfo) -> tuple[int, int]:
    """The lines of the record a field's line stands in, quoted together: the signature (unit above its date)
    or the labelled lines next to it (签发人 / 办理类别, 联系人 / 联系电话), at most RECORD_LINES."""
    unit = compact(letter.meta.unit or "") or None

    def record(line: str) -> bool:
        line = compact(line)
        return 0 < len(line) <= RECORD_LINE_MAX and bool(
            LABELLED_LINE_RE.match(line) or (unit and unit in line)
            or any(rx.fullmatch(line) for rx in (DATE_RE, NUMERIC_DATE_RE)))

    lines, offset = [], 0
    for line in text.split("\n"):
        lines.append((offset + len(line) - len(line.lstrip()), offset + len(line.rstrip())))
        offset += len(line) + 1
    inside = [i for i, (a, b) in enumerate(lines) if a < end and b > start]
    if not inside or not all(record(text[slice(*lines[i])]) for i in inside):
        return start, end
    first, last = inside[0], inside[-1]
    while last - first + 1 < RECORD_LINES and first > 0 and record(text[slice(*lines[first - 1])]):
        first -= 1
    while last - first + 1 < RECORD_LINES and last + 1 < len(lines) and record(text[slice(*lines[last + 1])]):
        last += 1
    return min(start, lines[first][0]), max(end, lines[last][1])


def _described(question: Question, letter: LetterInfo, hits: Sequence[Hit]) -> bool:
    """Whether the letter is the one a question about a letter describes: every strong word of the question but
    the field's own (文号, 联系人 …) is in its identity (unit, place, people, title) or in its passages found —
    "国网桐江县供电公司这份答复的文号" is not answered by the 桐江县 自然资源局's 文号."""
    names = identity_text(letter.meta)
    said = names + "|" + "|".join(compact(h.chunk.text) for h in hits if h.chunk.doc_id == letter.doc_id)
    for term in question.terms:
        if not term.strong or is_field_word(term.text, question.text):
            continue
        if names_unit(term.text, question.text):  # a unit: the one that replied
            if not term_found(term, names):
                return False
        elif not (term_found(term, said) or miscut(term.text, question.text, said)):
            return False
    return True


def text_evidence(question: Question, hit: Hit) -> Evidence:
    window = hit.window
    if window.value and question.kind in (COUNT, DATE):
        text = hit.chunk.text  # the clause that states the value is marked, the value itself is the short answer
        start = max((m.end() for m in CLAUSE_RE.finditer(text, window.start, window.value_start)), default=window.start)
        end = next((m.start() for m in CLAUSE_RE.finditer(text, window.value_end, window.end)), window.end)
        return Evidence(hit, window.start, window.end, window.value, start, end)
    mark = _best_clause(question, hit.chunk.text, window.start, window.end)
    return Evidence(hit, window.start, window.end, None, *mark)


def _best_clause(question: Question, text: str, start: int, end: int) -> tuple[int, int]:
    """The clause of the quote that holds most of the question's terms: the part to highlight."""
    best, best_cov = (start, end), -1.0
    for m in re.finditer(r"[^，,；;：:。！？]+[，,；;：:。！？]?", text[start:end]):
        a, b = start + m.start(), start + m.end()
        cov = coverage(question.terms, compact(text[a:b]))
        if cov > best_cov:
            best, best_cov = (a, b), cov
    return best


def _field_words(question: Question, hit: Hit, letters: Mapping[str, LetterInfo]) -> list[Term]:
    """What the text must say to answer for a labelled line the letter lacks: the question's own words, but
    those naming the letter (税务局), and of a label only its own word (协办 of 协办单位; 单位 says nothing)."""
    letter = letters.get(hit.chunk.doc_id)
    names = identity_text(letter.meta) if letter else ""
    own = [t for t in question.terms if t.weight >= 0.5 and t.text not in question.names and not term_found(t, names)]
    words = [w for t in own for w in (_label_words(t.text) if len(t.text) == 4 else [t])]
    return words or _label_words(question.meta_field or "")


def _label_words(label: str) -> list[Term]:
    """The words of a label that the text must say when no line bears it: 会办 of 会办单位 (单位 says nothing)."""
    halves = (label[:2], label[2:]) if len(label) == 4 else (label,)
    return [Term(h, 1.0, (h,)) for h in halves if len(h) >= 2 and h not in role_words()]


def abstention_reason(question: Question, evidence: Evidence | None) -> str | None:
    """Why the best evidence does not answer the question, or None when it does."""
    if evidence is None:
        return ""
    window = evidence.hit.window
    if question.kind == META:
        return None if evidence.direct else ""
    if window.missing:
        return NOT_FOUND_TERMS.format(terms="、".join(window.missing))
    if not window.years_ok:
        return NOT_FOUND_YEAR.format(years="、".join(question.years))
    if not window.qualifiers_ok:
        return NOT_FOUND_QUALIFIER.format(qualifiers="、".join(question.qualifiers))
    if window.coverage < MIN_COVERAGE and not (PARTNERS_ASKED_RE.search(question.text)
                                               and PARTNERS_RE.search(window.text)):
        return ""  # (会同了哪些部门 is answered by "会同市财政局、市发展改革委…研究", whatever else it says)
    if question.kind in (COUNT, DATE) and not evidence.direct:
        return NOT_FOUND_VALUE.format(what=VALUE_NAMES[question.kind])
    if question.kind == COUNT and window.uncounted:
        return NOT_FOUND_COUNTED.format(what=question.counted)  # 67个老年食堂 is no count of 行政村
    clauses = ACTIVITY_RE.search(question.text) and re.search("[，,]", window.text)
    lists = ENUMERATION_RE.search(window.text) or clauses
    if "哪些" in question.text and not lists:
        return NOT_FOUND_LIST  # 合作银行有哪些 is not answered by "合作银行按1:10放大发放贷款"
    return None


def render_quote(text: str, quote: tuple[int, int], mark: tuple[int, int]) -> str:
    """The quote as escaped markdown with the answering part in <mark>."""
    (qs, qe), (ms, me) = quote, mark
    if not (qs <= ms < me <= qe):
        ms = me = qs
    lines, offset = [], qs
    for line in text[qs:qe].split("\n"):
        a, b = offset, offset + len(line)
        offset = b + 1
        if not line.strip():
            continue
        lo, hi = max(a, ms), min(b, me)  # the marked part of this line, if any
        if lo < hi:
            before, inside, after = (escape_markdown(text[x:y]) for x, y in ((a, lo), (lo, hi), (hi, b)))
            marked = f"{before}<mark>{inside}</mark>{after}"
        else:
            marked = escape_markdown(text[a:b])
        lines.append("> " + marked.strip())
    return "\n".join(lines)


def compose(question: Question, hits: Sequence[Hit], letters: Mapping[str, LetterInfo]) -> Answer:
    """Turn reranked hits into the Answer the chat, the CLI and the API show."""
    if not hits:
        return Answer(question.text, NO_PASSAGES, None, True, [])
    if not question.terms and not question.is_follow_up and question.kind != META:
        return Answer(question.text, HOW_TO_ASK, None, True, [])  # 你好 / 谢谢: nothing to look up
    evidence = meta_evidence(question, hits, letters) if question.kind == META else text_evidence(question, hits[0])
    own = _field_words(question, hits[0], letters) if evidence is None else []
    if own and question.meta_field not in NAMED_FIELDS:
        # A labelled line the letters do not label so (协办单位 inside 办理单位：…（协办）): read the text, which
        # must then say one of the question's own words (a 督办领导 asked of a letter naming none is refused).
        question = replace(question, kind=WHAT)
        found = text_evidence(question, hits[0])
        said = compact(found.hit.chunk.text[found.quote_start : found.quote_end])
        evidence = found if any(term_found(t, said) for t in own) else None
    reason = abstention_reason(question, evidence)
    if reason is not None or evidence is None:
        passages = [to_passage(h, letters) for h in hits]
        why = reason or (NOT_FOUND_FIELD if question.kind == META else NOT_FOUND_WEAK)
        return Answer(question.text, _abstention_text(question, reason or "", passages), None, True, passages,
                      reason=why)
    best = evidence.hit
    quote = best.chunk.text[evidence.quote_start : evidence.quote_end]
    first = to_passage(best, letters, quote=quote)
    rest = [to_passage(h, letters) for h in hits if h is not best]
    lines = []
    if evidence.direct:
        lines.append(f"**{escape_markdown(evidence.direct)}**")
    lines.append(
        render_quote(
            best.chunk.text,
            (evidence.quote_start, evidence.quote_end),
            (evidence.mark_start, evidence.mark_end),
        )
    )
    lines.append(f"—— {citation(first)}")
    if question.kind == META and not question.scope_doc_ids:
        lines += _other_letters(question, best.chunk.doc_id, letters)
    return Answer(question.text, "\n\n".join(lines), evidence.direct, False, [first, *rest])


def _other_letters(question: Question, shown: str, letters: Mapping[str, LetterInfo]) -> list[str]:
    """A question about "the letter" that names none: the same field of the other letters too."""
    rows: list[str] = []
    for letter in letters.values():
        value = meta_value(question.meta_field or "", letter)
        if letter.doc_id != shown and value:
            title, doc_id = escape_markdown(letter.title), escape_markdown(letter.doc_id)
            rows.append(f"{len(rows) + 1}. 《{title}》（{doc_id}）：{escape_markdown(value)}")
        if len(rows) == OTHER_LETTERS_MAX:
            break
    if not rows:
        return []
    return [OTHER_LETTERS + "\n\n" + "\n".join(rows)]


def _abstention_text(question: Question, reason: str, passages: Sequence[Passage]) -> str:
    lines = [NOT_FOUND.format(question=escape_markdown(question.text)) + reason, POSSIBLY_RELATED]
    for passage in passages[:POSSIBLY_RELATED_COUNT]:
        snippet = passage.quote if len(passage.quote) <= 120 else passage.quote[:120] + "……"
        lines.append(f"- {citation(passage)}：{escape_markdown(snippet)}")
    return "\n\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:])


def letter_line(letter: LetterInfo) -> str:
    """《title》（doc_id） — unit · date: how a list of letters names each one (escaped)."""
    extra = " · ".join(escape_markdown(v) for v in (letter.meta.unit, letter.date) if v)
    return f"《{escape_markdown(letter.title)}》（{escape_markdown(letter.doc_id)}）" + (f" — {extra}" if extra else "")


def ambiguous_answer(question: Question, scope: Scope, letters: Mapping[str, LetterInfo]) -> Answer:
    """A short reference that fits several letters: say so and list them, never guess."""
    named = [letters[d] for d in scope.ambiguous if d in letters]
    reference = escape_markdown(scope.reference or question.text)
    rows = [f"{i}. {letter_line(letter)}" for i, letter in enumerate(named, start=1)]
    text = AMBIGUOUS.format(reference=reference, count=len(named)) + "\n\n" + "\n".join(rows)
    return Answer(question.text, text, None, True, [], reason=AMBIGUOUS_REASON)


def scope_answer(question: Question, scope: Scope, letters: Mapping[str, LetterInfo]) -> Answer:
    """A turn that only names the letters to look at: say which, so the deputy sees the conversation's scope."""
    named = [letters[d] for d in scope.doc_ids if d in letters]
    text = SCOPE_ONE.format(letter="；".join(letter_line(x) for x in named)) if named else SCOPE_ALL
    return Answer(question.text, text, None, True, [], scope=list(scope.doc_ids))
