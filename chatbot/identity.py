"""A letter's identity: what its letterhead, opening and closing say about it (文号, 会议, 建议/提案 number,
deputies, title, unit, date, contact, 抄送), parsed once when the letter is read, and the keys by which a
question may name the letter.
"""

from __future__ import annotations

import re
import unicodedata

from .chunking import DATE_LINE_RE, SALUTATION_RE, cn_number, top_heading_indexes
from .schema import LetterMeta

# Metadata patterns. 文号: 温科提复〔2024〕91号, 浙政办函[2023]12号, …（2023）5号
# It opens a line, or follows a space or a label (文号：); a reference inside a sentence is not it.
DOC_NUMBER_RE = re.compile(
    r"(?:^|(?<=[\s：:]))[\u4e00-\u9fff]{1,12}[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d{1,5}\s*号", re.MULTILINE
)
SESSION_RE = re.compile(
    r"(?:[省市县区]|全国)[\u4e00-\u9fff]{0,16}?(?:人大|政协|人民代表大会)[\u4e00-\u9fff]{0,12}?会议"
)
# 817号建议 / 第123号提案 — and — （人大建议817号） / 提案第123号
NUMBER_AFTER_RE = re.compile(r"第?[ \t]*(?P<number>\d{1,5})[ \t]*号[ \t]*(?P<kind>建议|提案)")
NUMBER_BEFORE_RE = re.compile(r"(?P<kind>建议|提案)[ \t]*第?[ \t]*(?P<number>\d{1,5})[ \t]*号")
TITLE_RE = re.compile(r"《(?P<title>[^《》\n]{2,120})》")
DATE_RE = re.compile(
    r"(?P<y>\d{4}|[〇零一二三四五六七八九]{4})\s*年\s*(?P<m>\d{1,2}|[一二三四五六七八九十]{1,2})\s*月"
    r"\s*(?P<d>\d{1,2}|[一二三四五六七八九十]{1,3})\s*日"
)
CONTACT_RE = re.compile(
    r"联系人[：:]\s*(?P<person>[\u4e00-\u9fff·]{2,6}?)(?=[\s，,；;。、(（]|联系|电话|手机|$)"
)
PHONE_RE = re.compile(r"(?:联系电话|电话|手机)[：:]\s*(?P<phone>\d[\d\-－— ]{3,20}\d)")
CC_RE = re.compile(r"^抄送[：:](?P<cc>.+)$", re.MULTILINE)
_LIST_SEP_RE = re.compile(r"[，、,；;\s]+")
_NAME_SEP_RE = re.compile(r"[、，,\s]+|等")
_NOT_NAMES = {"各位", "全体", "有关", "各", "人大", "政协"}  # 各位代表： names nobody


def _cn_date(match: re.Match[str]) -> str | None:
    """ISO date of a DATE_RE match, digits or Chinese numerals (二〇二四年六月二十六日)."""
    year = match["y"]
    if not year.isdigit():
        year = "".join(str(cn_number(c)) for c in year)
    month, day = (int(v) if v.isdigit() else cn_number(v) for v in (match["m"], match["d"]))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{int(year):04d}-{month:02d}-{day:02d}"


def _letterhead_lines(lines: list[str]) -> list[str]:
    """The lines before the first 一、 heading (at most 15), where 文号, title and salutation stand."""
    top = top_heading_indexes(lines)
    return lines[: min(top[0] if top else len(lines), 15)]


def _proposal(head: str, text: str) -> tuple[str | None, str | None]:
    """(kind, number): 817号建议, （人大建议817号）, 第123号提案, 提案第123号; letterhead first."""
    for region in (head, text[:2000]):
        matches = [m for rx in (NUMBER_AFTER_RE, NUMBER_BEFORE_RE) if (m := rx.search(region))]
        if matches:
            first = min(matches, key=lambda m: m.start())
            return first["kind"], first["number"]
    for kind in ("提案", "建议"):
        if kind in head:
            return kind, None
    return None, None


def _deputies(head_lines: list[str]) -> tuple[tuple[str, ...], str | None]:
    """Names on the salutation line (虞振勇代表： / 张三、李四等委员：) and the role it names."""
    for line in head_lines:
        match = SALUTATION_RE.match(line)
        if match:
            names = [n for n in _NAME_SEP_RE.split(match["names"]) if n and n not in _NOT_NAMES]
            return tuple(n for n in names if 2 <= len(n) <= 8), match["role"]
    return (), None


def _closing(lines: list[str]) -> tuple[str | None, str | None]:
    """(unit, ISO date) from the 落款: the last date line and the line right above it."""
    for i in range(len(lines) - 1, -1, -1):
        line = lines[i]
        if "印发" in line or line.startswith(("抄送", "抄报")):
            continue
        match = DATE_RE.search(line)
        if not match or len(line) > 60:
            continue
        before = line[: match.start()].strip()
        if before and not DATE_LINE_RE.match(line):
            return (before if len(before) <= 40 else None), _cn_date(match)
        above = lines[i - 1] if i > 0 else ""
        unit = above if above and len(above) <= 40 and not re.search(r"[。：:，,]", above) else None
        return unit, _cn_date(match)
    return None, None


def parse_metadata(text: str) -> LetterMeta:
    """What the letterhead and closing say: 文号, 会议, 建议/提案 number, names, title, unit, date,
    contact and 抄送. Fields the letter does not show stay None (or empty)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    head_lines = _letterhead_lines(lines)
    head = "\n".join(head_lines)
    # The 文号 stands on a short line of its own near the top, not inside the 收悉 paragraph.
    doc_number = DOC_NUMBER_RE.search("\n".join(line for line in head_lines[:6] if len(line) <= 40))
    session = SESSION_RE.search(head) or SESSION_RE.search(text)
    kind, number = _proposal(head, text)
    deputies, role = _deputies(head_lines)
    if kind is None and role:
        kind = "提案" if role == "委员" else "建议"
    title = TITLE_RE.search(head)
    tail = lines[-15:]
    unit, date = _closing(tail)
    contact = CONTACT_RE.search("\n".join(tail))
    phone = PHONE_RE.search("\n".join(tail))
    cc = CC_RE.search("\n".join(tail))
    return LetterMeta(
        doc_number=re.sub(r"\s+", "", doc_number.group()) if doc_number else None,
        session=session.group() if session else None,
        proposal_kind=kind,
        proposal_number=number,
        deputies=deputies,
        title=title["title"].strip() if title else None,
        unit=unit,
        date=date,
        contact_person=contact["person"] if contact else None,
        contact_phone=phone["phone"].strip() if phone else None,
        cc=tuple(c for c in _LIST_SEP_RE.split(cc["cc"].strip().rstrip("。.")) if c) if cc else (),
    )




def compact(text: str) -> str:
    """NFKC without any whitespace: how names are compared with questions."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def letter_keys(doc_id: str, meta: LetterMeta) -> set[str]:
    """What a question may name a letter by, compacted: its 文号, a deputy's name, its suggestion number.

    The writer stores them (the letter_keys table) so that the directory of every letter loads in one read.
    """
    keys = {compact(doc_id), *(compact(name) for name in meta.deputies if len(compact(name)) >= 2)}
    if meta.proposal_number:
        keys.add(compact(f"{meta.proposal_number}号"))
    return keys


