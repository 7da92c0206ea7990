"""How a synthetic letter is written: the conventions of published reply letters (DESIGN.md, "Letters in the
wild"), each drawn from the generator's seeded rng, and the letter's text rendered from them.

A letter is a `Head` (who replies to whom about what: unit, numbers, people, dates, labelled fields) written
in a `Layout` (which conventions: heading form, salutation, record, labelled lines, contact, date, half-width
punctuation). `render` draws nothing: the same head, layout and body always give the same text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from benchmarks.synthetic_words import (
    CN_DIGITS,
    COUNTY,
    DEPARTMENTS,
    PLACES,
    PROVINCE,
    TERMS,
    WE_UNIT,
    Department,
    Place,
)

LEVEL_WEIGHTS = ((COUNTY, 6), ("city", 3), (PROVINCE, 1))
# Heading forms: with a 文号 on the first line, or (about half the letters) without, the heading first.
CLASSIC, UNIT_LINE, DOCNO_UNIT = "classic", "unit-line", "docno-unit-heading"
UNIT_HEADING, PLAIN_HEADING, TITLE_HEADING = "unit-heading", "plain-heading", "title-heading"
WITH_DOCNO = (CLASSIC, UNIT_LINE, DOCNO_UNIT)
WITHOUT_DOCNO = (UNIT_HEADING, PLAIN_HEADING, TITLE_HEADING)
SALUTATIONS = ("plain", "honorific", "group", "none")
CONTACTS = ("comma", "spaces", "short-label", "brackets", "person-first", "phone-first")
ONE_LINE_CONTACTS = CONTACTS[:4]
DATES = ("day", "month", "cn", "none")
CATEGORY_LABELS = ("办复类别", "办理类别", "答复类别")
HALF_WIDTH = str.maketrans("，：（）；", ",:();")
WIDE_GAP = "　　"  # between two labelled fields on one line


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals as used in headings (十一, 二十)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else CN_DIGITS[tens] + "十")
    return head + (CN_DIGITS[ones] if ones or not tens else "")


@dataclass(frozen=True)
class Unit:
    """A responding unit: a department of a place (泰顺县 + 水利局)."""

    place: Place
    dept: Department

    @property
    def name(self) -> str:
        return self.place.name + (self.dept.name(self.place.level) or "")

    @property
    def we(self) -> str:
        """How the unit speaks of itself: 我局, 我厅, 我委, 我会."""
        return next(we for end, we in WE_UNIT if self.name.endswith(end))

    @property
    def abbr(self) -> str:
        return self.place.name[0] + self.dept.abbr  # in the 文号: 泰水, 温人社, 浙交

    def short_names(self) -> tuple[str, ...]:
        """The department's usual short forms without the place (交通局, 教体局, 卫健委); may be empty."""
        return self.dept.shorts(self.place.level)

    def bare_names(self) -> tuple[str, ...]:
        """The unit without its place, as deputies say it: 交通局, 教体局, 卫健委, 水利局."""
        return self.short_names() or (str(self.dept.name(self.place.level)),)

    def phrases(self, rng: random.Random) -> str:
        """How a deputy names the unit with its place: 泰顺交通局, 泰顺县交通局, 泰顺交通运输局 or the full name."""
        depts = [*self.short_names(), str(self.dept.name(self.place.level))]
        forms = {self.name} | {p + d for d in depts for p in (self.place.short, self.place.name)}
        return rng.choice(sorted(forms))


def draw_unit(rng: random.Random) -> Unit:
    level = rng.choices([lv for lv, _ in LEVEL_WEIGHTS], weights=[w for _, w in LEVEL_WEIGHTS])[0]
    place = rng.choice([p for p in PLACES if p.level == level])
    return Unit(place, rng.choice([d for d in DEPARTMENTS if d.name(level)]))


@dataclass(frozen=True)
class Head:
    """What a letter says about itself."""

    unit: Unit
    kind: str  # 建议 or 提案
    number: int
    year: int
    doc_number: str | None
    deputies: tuple[str, ...]  # as its salutation (or record) names them
    title: str
    person: str
    phone: str
    month: int
    day: int
    labels: tuple[tuple[str, str], ...]  # labelled lines (办复类别, 自编号, 承办责任人, 督办领导) as written
    content_class: str  # 内容分类 of the record above the reply

    @property
    def role(self) -> str:
        return "代表" if self.kind == "建议" else "委员"

    @property
    def session(self) -> str:
        level, times = self.unit.place.level, cn_number((self.year - 2015) % 5 + 1)
        npc, cppcc = TERMS[level]
        suffix = self.unit.place.suffix
        return f"{suffix}{npc}届人大{times}次会议" if self.kind == "建议" else f"{suffix}政协{cppcc}届{times}次会议"


@dataclass(frozen=True)
class Layout:
    """The conventions one letter is written in."""

    heading: str
    padded: bool  # 第0045号 (province letters)
    handled: bool  # "…办理情况的答复"
    salutation: str
    record: bool  # the suggestion's own record above the reply
    labels_at_head: bool
    labels_paired: bool  # two labelled fields a line
    contact: str
    contact_after_date: bool
    date: str
    half_width: bool
    short: bool  # 300–700 characters, no 一、 sections
    cc: bool
    thanks: int  # which thanks line (and, for 提案, which 收悉 sentence)


def draw_layout(rng: random.Random, with_docno: bool, unit: Unit, n_deputies: int) -> Layout:
    heading = rng.choice(WITH_DOCNO if with_docno else WITHOUT_DOCNO)
    date = rng.choices(DATES, weights=(50, 20, 18, 12))[0]
    salutation = rng.choices(SALUTATIONS, weights=(50, 20, 15 if n_deputies > 1 else 0, 15))[0]
    return Layout(
        heading=heading, padded=unit.place.level == PROVINCE and rng.random() < 0.5, handled=rng.random() < 0.2,
        salutation=salutation, record=not with_docno and rng.random() < 0.2,
        labels_at_head=rng.random() < 0.5, labels_paired=rng.random() < 0.5,
        contact=rng.choice(CONTACTS), contact_after_date=heading != CLASSIC and rng.random() < 0.7,
        date=date, half_width=rng.random() < 0.15, short=heading != CLASSIC and rng.random() < 0.4,
        cc=heading == CLASSIC or rng.random() < 0.3, thanks=rng.randrange(3),
    )


def you(head: Head, layout: Layout) -> str:
    return "你们" if len(head.deputies) != 1 or layout.salutation == "none" else "您"


def number_text(head: Head, layout: Layout) -> str:
    return f"第{head.number:04d}号" if layout.padded else f"第{head.number}号"


def heading_lines(head: Head, layout: Layout) -> list[str]:
    """The lines above the salutation that name the letter (文号, unit line, heading)."""
    unit, kind, no = head.unit.name, head.kind, number_text(head, layout)
    about = f"关于{head.session}{no}{kind}{'办理情况' if layout.handled else ''}的答复"
    if layout.heading == CLASSIC:
        if kind == "建议":
            return [f" {head.doc_number}", "", "", f"关于{head.session}{head.number}号建议的", "答 复 函"]
        return [f" {head.doc_number}", "", "", f"关于{head.session}{no}提案的答复函"]
    if layout.heading == UNIT_LINE:
        return [str(head.doc_number), "", unit, about]
    if layout.heading == DOCNO_UNIT:
        return [str(head.doc_number), "", unit + about]
    if layout.heading == UNIT_HEADING:
        return [unit + about]
    if layout.heading == PLAIN_HEADING:
        return [f"关于{head.session}{no}{'代表建议' if kind == '建议' else '提案'}的答复函"]
    return [f"对《{head.title}》（{no}{kind}）的答复"]


def doc_id(head: Head, layout: Layout) -> str:
    """The id the product gives the letter: its 文号, else its heading with the unit before it."""
    if head.doc_number:
        return head.doc_number
    heading = heading_lines(head, layout)[-1]
    if layout.half_width:
        heading = heading.translate(HALF_WIDTH)
    return heading if head.unit.name in heading else head.unit.name + heading


def iso_date(head: Head, layout: Layout) -> str | None:
    if layout.date == "none":
        return None
    return f"{head.year}-{head.month:02d}" + ("" if layout.date == "month" else f"-{head.day:02d}")


def date_text(head: Head, layout: Layout) -> str | None:
    if layout.date == "none":
        return None
    if layout.date == "cn":
        year = "".join(CN_DIGITS[int(d)] for d in str(head.year))
        return f"{year}年{cn_number(head.month)}月{cn_number(head.day)}日"
    return f"{head.year}年{head.month}月" + ("" if layout.date == "month" else f"{head.day}日")


def record_lines(head: Head, layout: Layout) -> list[str]:
    """The suggestion's record above the reply: 建议号, 领衔代表, 内容分类, 交办日期."""
    if not layout.record:
        return []
    number, who = ("建议号", "领衔代表") if head.kind == "建议" else ("提案号", "提案人")
    lines = [f"{number}：第{head.number}号"]
    if head.deputies:
        lines.append(f"{who}：{head.deputies[0]}")
    lines.append(f"内容分类：{head.content_class}")
    # Not in a letter without a date: chatbot.identity would read its 交办日期 as the signature date.
    if layout.date != "none":
        lines.append(f"交办日期：{head.year}年{max(1, head.month - 2)}月{head.day}日")
    return [*lines, ""]


def label_lines(head: Head, layout: Layout) -> list[str]:
    """The labelled lines, one a line or two a line (办复类别：A类　　自编号：YZF-2024-036)."""
    items = [f"{label}：{value}" for label, value in head.labels]
    if not layout.labels_paired:
        return items
    return [WIDE_GAP.join(items[i:i + 2]) for i in range(0, len(items), 2)]


def salutation_lines(head: Head, layout: Layout) -> list[str]:
    names = "、".join(head.deputies)
    if layout.salutation == "none" or not head.deputies:
        return []
    if layout.salutation == "honorific":
        return [f"尊敬的{names}{head.role}："]
    if layout.salutation == "group":
        return [f"{names}等{head.role}："]
    return [f"{names}{head.role}："]


def opening_line(head: Head, layout: Layout) -> str:
    """The 收悉 sentence."""
    who, title, number = you(head, layout), head.title, head.number
    if layout.heading == CLASSIC and head.kind == "建议":
        return (f"{who}在{head.session}期间所提的《{title}》（人大建议{number}号）收悉。"
                "经调查研究，我们就建议中有关问题答复如下：")
    if head.kind == "提案" and layout.thanks == 0:
        return f"{who}提出的《{title}》（第{number}号提案）收悉。现答复如下："
    return f"{who}提出的《{title}》收悉。{head.unit.we}高度重视，经认真研究，现将办理情况答复如下："


def contact_lines(head: Head, layout: Layout) -> list[str]:
    person, phone = head.person, head.phone
    return {
        "comma": [f"联系人：{person}，联系电话：{phone}"],
        "spaces": [f"联系人：{person}{WIDE_GAP}联系电话：{phone}"],
        "short-label": [f"联系人：{person}，电话：{phone}"],
        "brackets": [f"（联系人：{person}；联系电话：{phone}）"],
        "person-first": [f"联系人：{person}", f"联系电话：{phone}"],
        "phone-first": [f"联系电话：{phone}", f"联系人：{person}"],
    }[layout.contact]


def contact_evidence(head: Head, layout: Layout, asked: str) -> str:
    """The words that state the contact person (asked="person") or phone, as the letter writes them."""
    lines = contact_lines(head, layout)
    if len(lines) == 1:
        return lines[0].strip("（）")
    return next(line for line in lines if line.startswith("联系人" if asked == "person" else "联系电话"))


def thanks_line(head: Head, layout: Layout) -> str:
    who, place, work = you(head, layout), head.unit.place, head.unit.dept.work
    if layout.heading == CLASSIC:
        return f"非常感谢{who}对{place.we}{work}工作的关心与支持，诚挚希望{who}继续向我们提供宝贵建议。"
    if layout.thanks == 1:
        return f"感谢{who}对{place.we}{work}工作的关心和支持，欢迎继续提出宝贵意见。"
    return f"感谢{who}对{place.whole}{work}工作的关心和支持！"


def closing_lines(head: Head, layout: Layout) -> list[str]:
    """Thanks, labelled lines (when not above), contact, signature (unit, date), 抄送, 印发."""
    unit, date = head.unit.name, date_text(head, layout)
    lines = [thanks_line(head, layout)]
    if not layout.labels_at_head:
        lines += label_lines(head, layout)
    contact = contact_lines(head, layout)
    indent = " " * 31 if layout.heading == CLASSIC else ""
    signature = ["", "", indent + unit, *([indent + date] if date else []), "", ""]
    lines += [*signature, *contact] if layout.contact_after_date else [*contact, *signature]
    suffix = head.unit.place.suffix
    if layout.cc:
        cc = f"{suffix}人大常委会代表工委" if head.kind == "建议" else f"{suffix}政协提案委"
        lines.append(f"抄送：{cc}，{suffix}政府办公室")
    if layout.heading == CLASSIC and date:
        lines.append(f"{unit}办公室                 {date}印发")
    return lines


def render(head: Head, layout: Layout, body: list[str]) -> str:
    """The letter's text; with half-width punctuation when the layout says so (a copy from a web page)."""
    top = record_lines(head, layout) + heading_lines(head, layout) + [""]
    if layout.labels_at_head:
        top += [*label_lines(head, layout), ""]
    lines = [*top, *salutation_lines(head, layout), opening_line(head, layout), *body,
             *closing_lines(head, layout)]
    text = "\n".join(lines) + "\n"
    return text.translate(HALF_WIDTH) if layout.half_width else text
