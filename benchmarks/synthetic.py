"""A synthetic corpus of reply letters (答复函) in the conventions of real ones, with questions of known evidence.

`generate(n, seed)` is deterministic, and letter i depends only on the letters before it, so the first 100
letters of `generate(1000, seed)` are `generate(100, seed)`: quality at 100 and 1,000 letters can be compared
on the same questions. Letters share vocabulary on purpose (the same nouns, verbs and sentence shapes with
other places, years and figures), so a question is only answerable by its place/year/figure details.

Responding units are departments of counties, cities and provinces (benchmarks/synthetic_words.py): many
letters share a department kind, others a place. Each letter is written in conventions drawn from the rng
(benchmarks/synthetic_letters.py): with or without a 文号, headings of several forms, salutations, a record above
the reply, labelled lines, contact on one line or two, dates with and without 日 or in 〇 numerals or none,
half-width punctuation, short letters without sections. The body speaks of its own place as 我县 / 全市 and
of its unit as 我局, as real letters do, so a question naming the place or the unit is answered only through
the letter's identity. Questions name the place (with or without its suffix), the unit (usual short forms),
the deputy, the number or the 文号; meta questions ask the contact and labelled lines; near-miss questions
(another year or place, a field the letter lacks) have no evidence.

Every asked fact has a key (place, year, noun, kind) no other letter uses while the key space lasts, and
every fact sentence is claimed too; a question whose evidence is not unique to its letter is dropped.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks.synthetic_letters import (
    CATEGORY_LABELS,
    HALF_WIDTH,
    Head,
    Layout,
    Unit,
    cn_number,
    doc_id,
    draw_layout,
    draw_unit,
    iso_date,
    render,
)
from benchmarks.synthetic_questions import (
    Fact,
    Keys,
    SyntheticQuestion,
    draw_fact,
    letter_questions,
    name,
    unique_name,
)
from benchmarks.synthetic_words import (
    CONTENT_CLASSES,
    COUNT_VERBS,
    COUNTED,
    FILLERS,
    LATIN,
    ORGS,
    PLACES,
    SUGGESTION_VERBS,
    YEARS,
)

__all__ = [
    "COUNTED",
    "COUNT_VERBS",
    "PLACES",
    "Fact",
    "Keys",
    "SyntheticLetter",
    "SyntheticQuestion",
    "generate",
    "question_rows",
    "write_corpus",
    "write_questions",
]
QUESTION_FIELDS = ("id", "question", "answers", "evidence", "kind", "doc")  # the question-file format
# chatbot.identity takes a line of at most 60 characters near the end that holds a date (计划于2018年2月底前…)
# for the signature date of a letter that has none. Real section lines are longer; so are these.
SIGNATURE_LINE_CHARS = 60
LONG_BODY_CHARS = 700  # the least body of a long letter (with sections)
SHORT_BODY_CHARS = 200  # the least body of a short letter: with its letterhead and closing, 300–700 characters


@dataclass(frozen=True)
class SyntheticLetter:
    doc_id: str  # as the product names the letter: its 文号, else its unit and heading
    doc_number: str | None
    file_name: str
    text: str
    proposal_kind: str  # 建议 or 提案
    proposal_number: str
    deputies: tuple[str, ...]  # as the letter names them (none when it opens "你们提出的…" without a record)
    title: str
    unit: str
    place: str  # the unit's place: what 我县 / 全市 in the body stands for
    date: str | None  # ISO, 2024-06 when the letter writes no day, None when it has no date
    contact_person: str
    contact_phone: str
    fields: tuple[tuple[str, str], ...]  # labelled lines written (办复类别, 自编号, 承办责任人, 督办领导)
    sections: tuple[str, ...]  # the section paths of its body chunks, as the chunker should give them
    conventions: tuple[str, ...]  # how it is written (heading form, salutation, contact, date, short …)
    questions: tuple[SyntheticQuestion, ...] = field(default=())


# --- the body --------------------------------------------------------------------------------------------
def _said_facts(rng: random.Random, keys: Keys, unit: Unit, plan: bool, facts: list[Fact]) -> str:
    """Usually one fact (sometimes two, sometimes none), as a sentence."""
    parts = []
    for _ in range(1 + (rng.random() < 0.2) if rng.random() < 0.65 else 0):
        fact = draw_fact(rng, keys, unit, plan)
        if fact is not None:
            facts.append(fact)
            parts.append(fact.sentence)
    return f"{'，'.join(parts)}。" if parts else ""


def _filler(rng: random.Random, unit: Unit) -> str:
    return rng.choice(FILLERS).format(org=rng.choice(ORGS), we=unit.we)


def _lead(rng: random.Random, unit: Unit) -> str:
    return f"{rng.choice(SUGGESTION_VERBS)}{rng.choice(unit.dept.objects)}"


def _items(rng: random.Random, keys: Keys, unit: Unit, plan: bool, facts: list[Fact], count: int) -> str:
    """一是…。二是…。 items: a lead phrase, the facts said, a filler."""
    return "".join(f"{cn_number(i + 1)}是{_lead(rng, unit)}。{_said_facts(rng, keys, unit, plan, facts)}"
                   f"{_filler(rng, unit)}" for i in range(count))


def _body(rng: random.Random, keys: Keys, unit: Unit, layout: Layout, facts: list[Fact]) -> tuple[
        list[str], tuple[str, ...], str]:
    """(lines, section paths of the body chunks, body form): subsections (一、 › （一）), one-line sections
    (一、加快…。…) with a 下一步 section last, or (a short letter) two paragraphs without sections."""
    if layout.short:
        done = f"近年来，{unit.we}围绕{rng.choice(unit.dept.objects)}重点开展了以下工作：" + _items(
            rng, keys, unit, False, facts, 2)
        plan = f"下一步，{unit.we}将继续{_lead(rng, unit)}。{_said_facts(rng, keys, unit, True, facts)}" + _filler(
            rng, unit)
        while len(done) + len(plan) < SHORT_BODY_CHARS:  # the fact keys ran out: a short letter all the same
            plan += _filler(rng, unit)
        return [done, plan], ("正文",), "short"
    lines, paths = _long_body(rng, keys, unit, layout, facts)
    while sum(map(len, lines)) < LONG_BODY_CHARS:  # the fact keys ran out: a long letter all the same
        lines[-1] += _filler(rng, unit)
    return lines, paths, "sections" if paths[-1].endswith("下一步工作打算") else "subsections"


def _long_body(rng: random.Random, keys: Keys, unit: Unit, layout: Layout, facts: list[Fact]) -> tuple[
        list[str], tuple[str, ...]]:
    # Not the classic letter (the first real one): "近年来，我局…" before the sections, the 引言 chunk.
    classic = layout.heading == "classic"
    lines = [] if classic else [f"近年来，{unit.we}围绕{rng.choice(unit.dept.objects)}主要开展了以下工作："]
    paths = [] if classic else ["引言"]
    if classic or rng.random() < 0.5:
        for s in range(rng.randint(2, 6)):
            heading = f"{cn_number(s + 1)}、关于“{_lead(rng, unit)}”的建议"
            lines += [heading, f"（一）工作进展。{_items(rng, keys, unit, False, facts, rng.choice((2, 2, 3)))}",
                      f"（二）下一步工作计划。{_items(rng, keys, unit, True, facts, rng.choice((2, 2, 3)))}"]
            paths += [f"{heading} › （一）工作进展", f"{heading} › （二）下一步工作计划"]
        return lines, tuple(paths)
    n = rng.randint(2, 5)
    for s in range(n):
        heading = f"{cn_number(s + 1)}、{_lead(rng, unit)}"
        line = f"{heading}。{''.join(_said_facts(rng, keys, unit, False, facts) for _ in range(2))}{_filler(rng, unit)}"
        while len(line) <= SIGNATURE_LINE_CHARS:
            line += _filler(rng, unit)
        lines.append(line)
        paths.append(heading)
    heading = f"{cn_number(n + 1)}、下一步工作打算"
    lines.append(f"{heading}。{_items(rng, keys, unit, True, facts, rng.choice((2, 3)))}")
    return lines, (*paths, heading)


# --- a letter --------------------------------------------------------------------------------------------
def _numbers(rng: random.Random, keys: Keys, unit: Unit, kind: str, year: int, index: int,
             with_docno: bool) -> tuple[int, str | None]:
    """The suggestion number and the 文号. The number is unique for the unit (a heading names one letter) and
    for the department's kind (交通局答复45号建议 names one letter); when those run out, 1000 + index."""
    number = next((n for n in (rng.randint(1, 999) for _ in range(30))
                   if keys.take(("proposal", unit.name, kind, n), ("bare", unit.dept.abbr, kind, n))), 1000 + index)
    if not with_docno:
        return number, None
    style = rng.choice((f"{kind[0]}复", "函", kind[0]))
    # Unique without its year too: deputies name a 文号 without it (泰水建复45号).
    serial, free = keys.claim(lambda: ("docno", unit.abbr + style, rng.randint(1, 999)), tries=50)
    return number, f"{unit.abbr}{style}〔{year}〕{serial[2] if free else 1000 + index}号"


def _deputies(rng: random.Random, keys: Keys, unit: Unit, role: str) -> tuple[tuple[str, ...], bool]:
    """1–3 names, and whether each surname is the only one among the deputies of the unit's letters of that
    role (王代表 with the unit then names one letter): true while the surnames last."""
    names, alone = [], True
    for _ in range(rng.randint(1, 3)):
        for _ in range(30):
            full = name(rng)
            if keys.take(("name", full), ("surname", unit.name, role, full[0])):
                break
        else:
            full, alone = unique_name(rng, keys), False
        names.append(full)
    return tuple(names), alone


def _labels(rng: random.Random, keys: Keys, year: int) -> tuple[tuple[str, str], ...]:
    """About a third of the letters carry labelled lines: 办复类别, 自编号, 承办责任人, 督办领导 (some of them)."""
    if rng.random() >= 0.35:
        return ()
    labels = []
    if rng.random() < 0.8:
        labels.append((rng.choice(CATEGORY_LABELS), rng.choice("ABC") + "类"))
    if rng.random() < 0.5:
        code = keys.claim(lambda: ("code", "".join(rng.choices(LATIN, k=3)), rng.randint(1, 999)))[0]
        labels.append(("自编号", f"{code[1]}-{year}-{code[2]:03d}"))
    for label, chance in (("承办责任人", 0.6), ("督办领导", 0.4)):
        if rng.random() < chance or not labels:
            labels.append((label, unique_name(rng, keys)))
    return tuple(labels)


def _head(rng: random.Random, keys: Keys, index: int) -> tuple[Head, Layout, frozenset[str]]:
    """What the letter says about itself, how it is written, and which optional names single it out."""
    unit = draw_unit(rng)
    kind, year = rng.choice(("建议", "提案")), rng.choice(YEARS)
    with_docno = rng.random() < 0.5
    number, doc_number = _numbers(rng, keys, unit, kind, year, index, with_docno)
    names, alone = _deputies(rng, keys, unit, "代表" if kind == "建议" else "委员")
    layout = draw_layout(rng, with_docno, unit, len(names))
    deputies = names if layout.salutation != "none" else names[:1] if layout.record else ()
    phone = keys.claim(lambda: ("phone", f"{unit.place.area_code}-{rng.randint(50000000, 89999999)}"))[0][1]
    head = Head(
        unit=unit, kind=kind, number=number, year=year, doc_number=doc_number, deputies=deputies,
        title=f"关于{_lead(rng, unit)}的{kind}", person=unique_name(rng, keys), phone=phone,
        month=rng.randint(4, 9), day=rng.randint(1, 28), labels=_labels(rng, keys, year),
        content_class=rng.choice(CONTENT_CLASSES),
    )
    return head, layout, frozenset({"bare"} | ({"surname"} if alone else set()))


def _conventions(head: Head, layout: Layout, body_form: str) -> tuple[str, ...]:
    tags = [layout.heading, "docno" if head.doc_number else "no-docno", head.kind, head.unit.place.level,
            f"salutation-{layout.salutation}", f"contact-{layout.contact}", f"date-{layout.date}", body_form]
    tags += ["record"] * layout.record + ["half-width"] * layout.half_width + ["cc"] * layout.cc
    if head.labels:
        tags += ["labels-head" if layout.labels_at_head else "labels-closing"] + ["labels-paired"] * (
            layout.labels_paired and len(head.labels) > 1)
    return tuple(tags)


def _letter(index: int, rng: random.Random, keys: Keys) -> SyntheticLetter:
    head, layout, forms = _head(rng, keys, index)
    facts: list[Fact] = []
    body, sections, body_form = _body(rng, keys, head.unit, layout, facts)
    if layout.half_width:
        sections = tuple(path.translate(HALF_WIDTH) for path in sections)
    letter_id = doc_id(head, layout)
    letter = SyntheticLetter(
        doc_id=letter_id, doc_number=head.doc_number,
        file_name=f"{letter_id}.txt" if head.doc_number else f"{head.unit.name}-{head.kind}{head.number}号.txt",
        text=render(head, layout, body), proposal_kind=head.kind, proposal_number=str(head.number),
        deputies=head.deputies, title=head.title, unit=head.unit.name, place=head.unit.place.name,
        date=iso_date(head, layout), contact_person=head.person, contact_phone=head.phone, fields=head.labels,
        sections=sections, conventions=_conventions(head, layout, body_form),
    )
    return replace(letter, questions=letter_questions(letter_id, head, layout, facts, rng, keys, forms))


def generate(n_letters: int, seed: int = 0) -> list[SyntheticLetter]:
    """`n_letters` letters, deterministic from `seed`; questions whose evidence is not unique are dropped."""
    rng = random.Random(seed)
    keys = Keys()
    letters = [_letter(i, rng, keys) for i in range(n_letters)]
    return _drop_ambiguous(letters)


def _compact(text: str) -> str:
    return "".join(text.split())


def _drop_ambiguous(letters: list[SyntheticLetter]) -> list[SyntheticLetter]:
    """Drop questions whose evidence occurs in another letter (exact: occurrences counted in every letter)."""
    texts = [_compact(letter.text) for letter in letters]
    needles = {_compact(q.evidence) for letter in letters for q in letter.questions if q.evidence is not None}
    counts = _occurrences(texts, needles)
    out = []
    for letter in letters:
        kept = tuple(q for q in letter.questions if q.evidence is None or counts[_compact(q.evidence)] == 1)
        out.append(letter if len(kept) == len(letter.questions) else replace(letter, questions=kept))
    return out


def _occurrences(texts: list[str], needles: set[str]) -> dict[str, int]:
    """How often each needle occurs in all texts together (str.count semantics), in near-linear time.

    Counting each needle in one joined corpus string costs O(needles x corpus): hours at 100,000 letters.
    Instead a regex finds, in C, every position where some needle's first two characters stand; only there
    is the text compared with the needles sharing its first `width` characters. Exact, because every
    occurrence starts at such a position, and each text that holds a needle counts it with str.count.
    """
    counts = dict.fromkeys(needles, 0)
    if not needles:
        return counts
    width = min(len(n) for n in needles)
    by_prefix: dict[str, list[str]] = {}
    for needle in needles:
        by_prefix.setdefault(needle[:width], []).append(needle)
    heads = sorted({needle[:2] for needle in needles}, key=len, reverse=True)
    anchor = re.compile("(?=(?:" + "|".join(re.escape(h) for h in heads) + "))")
    for text in texts:
        found = {needle for match in anchor.finditer(text)
                 for needle in by_prefix.get(text[match.start():match.start() + width], ())
                 if text.startswith(needle, match.start())}
        for needle in found:
            counts[needle] += text.count(needle)
    return counts


def write_corpus(folder: Path, letters: list[SyntheticLetter]) -> list[Path]:
    """Write each letter as a UTF-8 .txt file into `folder`; returns the paths in letter order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for letter in letters:
        path = folder / letter.file_name
        path.write_text(letter.text, encoding="utf-8")
        paths.append(path)
    return paths


def question_rows(letters: list[SyntheticLetter]) -> list[dict[str, Any]]:
    """The letters' questions as rows of the question-file format (chatbot.evaluation)."""
    return [{key: getattr(q, key) for key in QUESTION_FIELDS} for letter in letters for q in letter.questions]


def write_questions(path: Path, letters: list[SyntheticLetter]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) for row in question_rows(letters)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
