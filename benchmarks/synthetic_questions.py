"""What a synthetic letter states and what deputies ask of it (benchmarks/synthetic.py).

Facts are figures with a key (kind, place, year, noun, plan) no other letter states while the key space
lasts, said of the letter's own place as 我县 / 全市 or of one of its counties or cities by name.

A fact is asked by its place (泰顺 / 泰顺县), by the unit (泰顺交通局), or by a name of its letter: the deputy
(王伟芳代表, or 王代表 with the unit), the number (泰顺水利局答复45号建议, 交通局答复45号建议) or the 文号. Meta
questions ask the contact and labelled lines (办复类别, 承办责任人 …). Near-miss questions ask the same thing for
another year or place, or a field the letter lacks: their evidence is None, the right reply is a refusal.

Every name a question uses names one letter of the corpus (chatbot's scope may rely on it): deputies,
contacts and 文号 are claimed, the suggestion number is unique for the unit and for the department's bare name
(from about 20,000 letters on, numbers run out and later letters get 1000 + their index), a surname for the
unit and role (from about 20,000 letters on, a unit's surnames run out: a later letter may then share the
surname an earlier letter was asked by). The keys of near-miss facts are claimed so that no later letter
states them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.synthetic_letters import (
    CATEGORY_LABELS,
    HALF_WIDTH,
    ONE_LINE_CONTACTS,
    WIDE_GAP,
    Head,
    Layout,
    Unit,
    contact_evidence,
)
from benchmarks.synthetic_words import (
    CHILDREN,
    COUNT_VERBS,
    COUNTED,
    FUNDS,
    GIVEN,
    PLACE_BY_NAME,
    PLACES,
    PROJECTS,
    RATES,
    SURNAMES,
    YEARS,
    Place,
)

FACT_FORMS = (("place", 3), ("unit", 2), ("named", 3))  # how a fact question names where it is about
LABELLED = ("办复类别", "自编号", "承办责任人", "督办领导")
NEAR_MISS_SHARE = 0.75  # of the letters get one near-miss question
PLACE_SHORTS = tuple(p.short for p in PLACES)


@dataclass(frozen=True)
class SyntheticQuestion:
    id: str
    question: str
    answers: list[str]
    evidence: str | None  # None: the letters do not answer it (kind "oos")
    kind: str
    doc: str  # the id of the letter it is about
    form: str = ""  # how it names its letter (place, unit, deputy, number …); not in the question file


class Keys:
    """Globally unique choices: 文号 and suggestion numbers, names, phones, fact keys and sentences."""

    def __init__(self) -> None:
        self.used: set[Any] = set()

    def claim(self, draw: Callable[[], Any], tries: int = 30) -> tuple[Any, bool]:
        """A drawn value not used before (and True), or after `tries` failures a used one (and False)."""
        value = draw()
        for _ in range(tries):
            if self.take(value):
                return value, True
            value = draw()
        return value, False

    def take(self, *values: Any) -> bool:
        """Claim all these values, or none of them when some letter has one already."""
        if any(value in self.used for value in values):
            return False
        self.used.update(values)
        return True


@dataclass(frozen=True)
class Fact:
    """A figure a letter states, keyed by (kind, place, year, noun, plan) across the corpus."""

    kind: str  # factoid (a count), percent, money, date
    place: Place
    own: bool  # of the letter's own place, said 我县 / 全县
    year: int  # the year it is of (0 for a date fact: its year is the answer)
    noun: str  # counted thing, rate, fund or project
    plan: bool
    sentence: str
    answer: str
    unique: bool  # its key and sentence were free: a question may ask it
    verb: str = ""  # of a count: 新增, 建成 …
    measure: str = ""  # of a count: 家, 个 …

    def keys(self, place: str | None = None, year: int | None = None) -> tuple[tuple[Any, ...], ...]:
        """Its key with another place or year; a count's for both plan and result (计划新增 is no near-miss)."""
        base = (self.kind, place or self.place.name, self.year if year is None else year, self.noun)
        return ((*base, False), (*base, True)) if self.kind == "factoid" else ((*base, self.plan),)

    def ask(self, where: str, year: int | None = None) -> str:
        """The question a deputy asks for it; `where` names the place ("" when the question names the letter)."""
        year = self.year if year is None else year
        if self.kind == "factoid":
            if self.plan:
                return f"{where}{year}年打算{self.verb}多少{self.measure}{self.noun}？"
            return f"{year}年{where}{dict(COUNT_VERBS)[self.verb]}多少{self.measure}{self.noun}？"
        if self.kind == "percent":
            return f"到{year}年底{where}的{self.noun}是多少？"
        if self.kind == "money":
            return f"{year}年给{where}的{self.noun}资金有多少钱？" if where else f"{year}年{self.noun}资金有多少钱？"
        return f"{where}的{self.noun}什么时候能建成投用？" if where else f"{self.noun}什么时候能建成投用？"


def name(rng: random.Random) -> str:
    # Three characters: a two-character name could hide inside ordinary words (高+新 in 高新技术企业), and the
    # chatbot scopes a question to any letter whose deputy it names. Not 李平阳: that names 平阳县 too.
    while True:
        drawn = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        if not any(place in drawn for place in PLACE_SHORTS):
            return drawn


def unique_name(rng: random.Random, keys: Keys) -> str:
    """A name no letter has yet (while the ~0.8M names last: some 3.4 a letter, past 100,000 letters)."""
    return str(keys.claim(lambda: ("name", name(rng)))[0][1])


# --- facts -----------------------------------------------------------------------------------------------
def _fact_place(rng: random.Random, unit: Unit) -> Place:
    """The letter's own place, or (a quarter of city and province facts) one of its counties or cities."""
    below = CHILDREN[unit.place.name]
    return rng.choice(below) if below and rng.random() < 0.25 else unit.place


def _said(rng: random.Random, place: Place, own: bool) -> str:
    return rng.choice((place.we, place.whole)) if own else place.name


def _sentence(keys: Keys, write: Callable[[], tuple[str, str]]) -> tuple[str, str, bool]:
    """(sentence, answer, unique): figures redrawn until the sentence is one no letter states yet."""
    for _ in range(5):
        sentence, answer = write()
        if keys.take(("sentence", sentence)):
            return sentence, answer, True
    return sentence, answer, False


def _count_fact(rng: random.Random, keys: Keys, unit: Unit, plan: bool) -> Fact:
    # The verb is not part of the key: 新增/建成/完成 of the same thing, place and year in two letters would
    # make a question asked with a paraphrased verb ambiguous.
    def draw() -> tuple[Any, ...]:
        return ("factoid", _fact_place(rng, unit).name, rng.choice(YEARS), rng.choice(COUNTED)[0], plan)

    (_, place_name, year, noun, _), free = keys.claim(draw)
    place = PLACE_BY_NAME[place_name]
    own = place == unit.place
    verb, measure = rng.choice(COUNT_VERBS)[0], dict(COUNTED)[noun]
    said = _said(rng, place, own)

    def write() -> tuple[str, str]:
        n = rng.randint(3, 2999)
        return f"{year}年{said}{'计划' if plan else ''}{verb}{noun}{n}{measure}", f"{n}{measure}"

    sentence, answer, unique = _sentence(keys, write)
    return Fact("factoid", place, own, year, noun, plan, sentence, answer, free and unique, verb, measure)


def _rate_fact(rng: random.Random, keys: Keys, unit: Unit, plan: bool) -> Fact:
    (_, place_name, year, noun, _), free = keys.claim(
        lambda: ("percent", _fact_place(rng, unit).name, rng.choice(YEARS), rng.choice(RATES), False))
    place = PLACE_BY_NAME[place_name]
    said = _said(rng, place, place == unit.place)

    def write() -> tuple[str, str]:
        value = f"{rng.randint(20, 99)}.{rng.randint(1, 9)}%"
        return f"截至{year}年底，{said}{noun}达到{value}", value

    sentence, answer, unique = _sentence(keys, write)
    return Fact("percent", place, place == unit.place, year, noun, False, sentence, answer, free and unique)


def _money_fact(rng: random.Random, keys: Keys, unit: Unit, plan: bool) -> Fact:
    (_, place_name, year, fund, _), free = keys.claim(
        lambda: ("money", _fact_place(rng, unit).name, rng.choice(YEARS), rng.choice(FUNDS), False))
    place = PLACE_BY_NAME[place_name]
    own = place == unit.place
    payer = f"{unit.place.suffix}财政" + ("" if own else f"为{place.name}")

    def write() -> tuple[str, str]:
        value = (f"{rng.randint(1, 99)}.{rng.randint(10, 99)}亿元" if rng.random() < 0.5
                 else f"{rng.randint(120, 9800)}万元")
        return f"{year}年{payer}安排{fund}资金{value}", value

    sentence, answer, unique = _sentence(keys, write)
    return Fact("money", place, own, year, fund, False, sentence, answer, free and unique)


def _date_fact(rng: random.Random, keys: Keys, unit: Unit, plan: bool) -> Fact:
    (_, place_name, _, project, _), free = keys.claim(
        lambda: ("date", _fact_place(rng, unit).name, 0, rng.choice(PROJECTS), True))
    place = PLACE_BY_NAME[place_name]
    own = place == unit.place
    said = place.we if own else place.name

    def write() -> tuple[str, str]:
        year, month = rng.choice(YEARS) + 1, rng.randint(1, 12)
        return f"{said}{project}计划于{year}年{month}月底前建成投用", f"{year}年{month}月"

    sentence, answer, unique = _sentence(keys, write)
    return Fact("date", place, own, 0, project, True, sentence, answer, free and unique)


def draw_fact(rng: random.Random, keys: Keys, unit: Unit, plan: bool) -> Fact | None:
    """A fact whose key no other letter uses; when that kind's keys run out, a count, else none at all.

    Never reusing a key keeps every earlier question unambiguous however many letters follow.
    """
    roll = rng.random()
    kinds: list[Callable[[random.Random, Keys, Unit, bool], Fact]] = [_count_fact]
    if roll >= 0.45:
        kinds.insert(0, _rate_fact if roll < 0.65 else _money_fact if roll < 0.85 else _date_fact)
    for kind in kinds:
        fact = kind(rng, keys, unit, plan)
        if fact.unique:
            return fact
    return None


@dataclass(frozen=True)
class _Name:
    """A name of the letter: before a fact question (…那份答复里，) and before a field (…那份答复的)."""

    form: str
    fact: str
    meta: str


def _names(head: Head, rng: random.Random, forms: frozenset[str]) -> list[_Name]:
    """The names that single this letter out; `forms` says which optional ones are unique (bare, surname)."""
    unit, kind, role = head.unit.phrases(rng), head.kind, head.role
    number = rng.choice((f"第{head.number}号", f"{head.number}号")) + kind
    names = [_Name("number", _numbered(unit, number, rng), f"{unit}答复{number}的")]
    if head.doc_number:
        short = head.doc_number.split("〔")[0] + head.doc_number.split("〕")[1]  # 泰水建复45号
        docno = rng.choice((head.doc_number, head.doc_number, short))
        names.append(_Name("docno", f"{docno}里，", f"{docno}答复函的"))
    if head.deputies:
        names.append(_Name("deputy", f"{head.deputies[0]}{role}那份答复里，", f"{head.deputies[0]}{role}那份答复的"))
    if "surname" in forms and head.deputies:
        who = f"{unit}给{head.deputies[0][0]}{role}那份答复"
        names.append(_Name("deputy-surname", f"{who}里，", f"{who}的"))
    if "bare" in forms:
        bare = head.unit.bare_names()[0]
        names.append(_Name("unit-bare", _numbered(bare, number, rng), f"{bare}答复{number}的"))
    return names


def _numbered(unit: str, number: str, rng: random.Random) -> str:
    """A unit and a number before a fact question, as deputies put it (泰顺水利局45号建议的答复里，)."""
    return rng.choice((f"{unit}{number}的答复里，", f"{unit}答复{number}说", f"{unit}答复{number}的那份里，"))


def _where(place: Place, rng: random.Random) -> tuple[str, str]:
    """(words, form): a place with its suffix or without (泰顺县 / 泰顺)."""
    if place.short == place.name or rng.random() < 0.5:
        return place.name, "place-full"
    return place.short, "place-short"


def _fact_question(fact: Fact, facts: list[Fact], head: Head, names: list[_Name], rng: random.Random,
                   year: int | None = None, place: Place | None = None) -> tuple[str, str]:
    """(question, form) for a fact, or for its near-miss with another year or place."""
    place = place or fact.place
    where, place_form = _where(place, rng)
    form = rng.choices([f for f, _ in FACT_FORMS], weights=[w for _, w in FACT_FORMS])[0]
    if form == "place" or place != fact.place:
        return fact.ask(where, year), place_form if fact.own else "subplace"
    twins = sum((f.kind, f.year, f.noun, f.plan) == (fact.kind, fact.year, fact.noun, fact.plan) for f in facts)
    where = "" if fact.own and twins == 1 else where  # the letter named, its own place goes without saying
    if form == "unit":
        return head.unit.phrases(rng) + fact.ask(where, year), "unit"
    name = rng.choice(names)
    return name.fact + fact.ask(where, year), name.form


def _fact_questions(letter_id: str, head: Head, facts: list[Fact], names: list[_Name],
                    rng: random.Random) -> list[SyntheticQuestion]:
    """Up to three facts of different kinds."""
    questions: list[SyntheticQuestion] = []
    seen: set[str] = set()
    for fact in rng.sample(facts, len(facts)):
        if not fact.unique or fact.kind in seen or len(questions) >= 3:
            continue
        seen.add(fact.kind)
        text, form = _fact_question(fact, facts, head, names, rng)
        questions.append(SyntheticQuestion("", text, [fact.answer], fact.sentence, fact.kind, letter_id, form))
    return questions


def _label_question(label: str, name: _Name, letter_label: str) -> str:
    if label == "办复类别":
        return f"{name.meta}{letter_label}是哪一类？"
    return f"{name.meta}{label}{'是多少' if label == '自编号' else '是谁'}？"


def _meta_questions(letter_id: str, head: Head, layout: Layout, names: list[_Name],
                    rng: random.Random) -> list[SyntheticQuestion]:
    """The contact person or phone; for half the letters with labelled lines, one of them."""
    asked = rng.choice(("person", "phone"))
    name = rng.choice(names)
    question = f"{name.meta}联系人是谁？" if asked == "person" else f"{name.meta}联系电话是多少？"
    answer = head.person if asked == "person" else head.phone
    form = name.form + ("" if layout.contact in ONE_LINE_CONTACTS else "+two-line-contact")
    out = [SyntheticQuestion("", question, [answer], contact_evidence(head, layout, asked), "meta", letter_id, form)]
    labelled = [(i, label, value) for i, (label, value) in enumerate(head.labels)
                if label not in CATEGORY_LABELS or (layout.labels_paired and len(head.labels) > 1)]
    if labelled and rng.random() < 0.5:
        i, label, value = rng.choice(labelled)
        field = "办复类别" if label in CATEGORY_LABELS else label
        evidence = f"{label}：{value}"
        if field == "办复类别":  # "办复类别：A类" stands in many letters: the line with its neighbour does not
            other = head.labels[i + 1]
            evidence += f"{WIDE_GAP}{other[0]}：{other[1]}"
        name = rng.choice(names)
        out.append(SyntheticQuestion("", _label_question(field, name, rng.choice(("办复类别", label))), [value],
                                     evidence, "meta", letter_id, f"{name.form}+{field}"))
    return out


def _near_miss(letter_id: str, head: Head, facts: list[Fact], names: list[_Name], rng: random.Random,
               keys: Keys) -> list[SyntheticQuestion]:
    """One question the letters do not answer: another year or place of a fact, a field the letter lacks."""
    if rng.random() >= NEAR_MISS_SHARE:
        return []
    kind = rng.choice(("year", "place", "field"))
    asked = [f for f in facts if f.unique]
    if kind in ("year", "place") and asked:
        fact = rng.choice(asked)
        if kind == "year" and fact.kind != "date":
            for year in rng.sample(YEARS, len(YEARS)):
                stated = any((f.kind, f.noun, f.year) == (fact.kind, fact.noun, year) for f in facts)
                if not stated and keys.take(*fact.keys(year=year)):
                    text, form = _fact_question(fact, facts, head, names, rng, year=year)
                    return [SyntheticQuestion("", text, [], None, "oos", letter_id, f"oos-year:{form}")]
        siblings = [p for p in PLACES if p.parent == fact.place.parent and p.level == fact.place.level]
        for place in rng.sample(siblings, len(siblings)):
            if place != fact.place and keys.take(*fact.keys(place=place.name)):
                text, _ = _fact_question(fact, facts, head, names, rng, place=place)
                return [SyntheticQuestion("", text, [], None, "oos", letter_id, "oos-place")]
    have = {"办复类别" if label in CATEGORY_LABELS else label for label, _ in head.labels}
    lacking = [label for label in LABELLED if label not in have]
    if not lacking:
        return []
    name, field = rng.choice(names), rng.choice(lacking)
    return [SyntheticQuestion("", _label_question(field, name, field), [], None, "oos", letter_id, "oos-field")]


def letter_questions(letter_id: str, head: Head, layout: Layout, facts: list[Fact], rng: random.Random,
                     keys: Keys, forms: frozenset[str]) -> tuple[SyntheticQuestion, ...]:
    """Fact questions, meta questions and a near miss, numbered <id>#1, #2 …; in a half-width copy the
    evidence is written as the letter writes it."""
    names = _names(head, rng, forms)
    questions = (_fact_questions(letter_id, head, facts, names, rng) + _meta_questions(letter_id, head, layout,
                 names, rng) + _near_miss(letter_id, head, facts, names, rng, keys))
    out = []
    for i, q in enumerate(questions, start=1):
        evidence = q.evidence.translate(HALF_WIDTH) if q.evidence and layout.half_width else q.evidence
        out.append(SyntheticQuestion(f"{letter_id}#{i}", q.question, q.answers, evidence, q.kind, q.doc, q.form))
    return tuple(out)
