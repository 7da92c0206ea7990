"""Cut a letter along its own structure: 函头, 引言, 一、 sections and their （一） subsections, 落款.

Every chunk's `text` is an exact slice `doc.text[start:end]` so quotes can be located in the letter;
`search_text` is the NFKC-normalized unit and section path plus text, which is what gets embedded and searched.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from .errors import ConfigError
from .schema import BODY, CLOSING, LETTERHEAD, Chunk, Document, LetterMeta

CHUNKER_VERSION = "3"

LETTERHEAD_SECTION = "函头"
CLOSING_SECTION = "落款"
PREAMBLE_SECTION = "引言"
BODY_SECTION = "正文"  # a letter without 一、 headings: its whole body
SECTION_SEP = " › "

# 一、 at the start of a line; whether it really is a heading also depends on length and numbering.
TOP_HEADING_RE = re.compile(r"^(?P<num>[一二三四五六七八九十]{1,3})、(?P<rest>\S.*)$")
# （一） / (一) at the start of a line.
SUB_HEADING_RE = re.compile(r"^[（(](?P<num>[一二三四五六七八九十]{1,3})[）)](?P<rest>.*)$")
# Items inside a paragraph: 一是 / 1. / 1、 / （1） / ①, at a line start or right after a sentence end.
ITEM_RE = re.compile(
    r"(?:^|(?<=[。；;！？!?：:]))"
    r"(?:[一二三四五六七八九十]{1,3}是|\d{1,2}[.．、](?!\d)|[（(]\d{1,2}[）)]|[①-⑳])",
    re.MULTILINE,
)
# A sentence ends at 。！？； and any closing quotes or brackets right after it.
SENTENCE_END_RE = re.compile(r"[。！？；!?;]+[”’」』）)]*")
# 虞振勇代表： / 陈立新、王晓燕委员： / 尊敬的张三等代表：
SALUTATION_RE = re.compile(
    r"^(?:尊敬的)?(?P<names>[\u4e00-\u9fff·•、，,\s]{1,80}?)\s*(?P<role>代表|委员)们?\s*[：:]"
)
RECEIVED_RE = re.compile(r"收悉")
# Hints that short leading lines are a letterhead even without salutation or 收悉.
LETTERHEAD_HINT_RE = re.compile(r"答\s*复\s*函|答复|[〔\[［(（]\d{4}[〕\]］)）]\d+号")
# First line of the closing: thanks, contact, 特此函复, 此复.
CLOSING_START_RE = re.compile(r"^(?:非常感谢|衷心感谢|感谢您|感谢你|联系人|联系电话|特此|此复|专此)")
# Lines that can only belong to the closing, used when the letter has no thanks/contact line.
CLOSING_TAIL_RE = re.compile(r"^(?:抄送|抄报|（此件|\(此件|联系人|联系电话)|印发$")
_CN_OR_DIGITS = r"(?:\d{1,4}|[〇零一二三四五六七八九十]{1,4})"
# A line that is nothing but a date: 2024年6月26日 / 二〇二四年六月二十六日.
DATE_LINE_RE = re.compile(rf"^\s*{_CN_OR_DIGITS}\s*年\s*{_CN_OR_DIGITS}\s*月\s*{_CN_OR_DIGITS}\s*日\s*$")

TABLE_CELL_RE = re.compile(r"[｜\t]")  # a line with cells split by ｜ (a .docx table) or tabs is a table row
TABLE_MAX_FACTOR = 3  # a table is kept whole with its header up to this many times the chunk size
TOP_HEADING_MAX_CHARS = 60  # a longer 一、 line is body text unless its heading ends early with 。/：
SUB_HEADING_MAX_CHARS = 40  # the heading of an inline （一） subsection is cut there at most
_INLINE_HEADING_END_RE = re.compile(r"[。：:；;！？]")


def cn_number(numeral: str) -> int:
    """Value of a Chinese numeral up to 99 (一 → 1, 十一 → 11, 二十六 → 26, 〇/○ → 0) or of digits; -1 if malformed."""
    if numeral.isdigit():
        return int(numeral)
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "O": 0, "o": 0}
    if "十" not in numeral:
        if not numeral or any(c not in digits for c in numeral):
            return -1
        return int("".join(str(digits[c]) for c in numeral))
    tens, _, units = numeral.partition("十")
    if len(tens) > 1 or len(units) > 1 or any(c not in digits for c in tens + units):
        return -1
    return (digits[tens] if tens else 1) * 10 + (digits[units] if units else 0)


@dataclass(frozen=True)
class _Line:
    start: int
    end: int
    text: str


@dataclass
class _Unit:
    """Consecutive lines that share one section path; `heading_lines` carry no body of their own."""

    section: str
    kind: str
    lines: list[_Line]
    heading_lines: int = 0


def _lines(text: str) -> list[_Line]:
    lines, pos = [], 0
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped:
            start = pos + raw.index(stripped)
            lines.append(_Line(start, start + len(stripped), stripped))
        pos += len(raw) + 1
    return lines


def _inline_heading(line: str, max_chars: int) -> str:
    """The heading part of a line: up to its first 。/：, or the whole line when it has none."""
    match = _INLINE_HEADING_END_RE.search(line)
    head = line[: match.start()] if match else line
    return head if len(head) <= max_chars else head[:max_chars] + "…"


def _heading_only(line: str, heading: str) -> int:
    """1 when the line holds nothing but its heading (and trailing punctuation), else 0."""
    return int(line.startswith(heading.rstrip("…")) and not line[len(heading) :].strip("。：:；; "))


def top_heading_indexes(lines: list[str]) -> list[int]:
    """Indexes of the lines that are top-level headings 一、 二、 …, numbered in sequence."""
    found, expected = [], 1
    for i, line in enumerate(lines):
        match = TOP_HEADING_RE.match(line)
        if not match or cn_number(match["num"]) != expected:
            continue
        early_end = _INLINE_HEADING_END_RE.search(line)
        if len(line) <= TOP_HEADING_MAX_CHARS or (early_end and early_end.start() <= TOP_HEADING_MAX_CHARS):
            found.append(i)
            expected += 1
    return found


def _sub_heading_indexes(lines: list[_Line]) -> list[int]:
    found, expected = [], 1
    for i, line in enumerate(lines):
        match = SUB_HEADING_RE.match(line.text)
        if match and cn_number(match["num"]) == expected:
            found.append(i)
            expected += 1
    return found


def _letterhead_end(lines: list[_Line], limit: int) -> int:
    """Number of leading lines that form the letterhead (up to the 收悉 paragraph or the salutation)."""
    for i in range(limit):
        if RECEIVED_RE.search(lines[i].text):
            return i + 1
    for i in range(limit):
        if SALUTATION_RE.match(lines[i].text):
            return i + 1
    lead = 0
    while lead < limit and len(lines[lead].text) <= 40:
        lead += 1
    return lead if any(LETTERHEAD_HINT_RE.search(line.text) for line in lines[:lead]) else 0


def _is_closing_tail(lines: list[_Line], i: int) -> bool:
    """A line that only a closing holds: date, 抄送, 印发 — or the unit's name right above a date."""
    if CLOSING_TAIL_RE.search(lines[i].text) or DATE_LINE_RE.match(lines[i].text):
        return True
    below = lines[i + 1].text if i + 1 < len(lines) else ""
    return len(lines[i].text) <= 30 and "。" not in lines[i].text and bool(DATE_LINE_RE.match(below))


def _closing_start(lines: list[_Line], body_start: int) -> int:
    """Index of the first closing line (len(lines) when there is no closing)."""
    for i in range(body_start, len(lines)):
        if CLOSING_START_RE.match(lines[i].text):
            return i
    start = len(lines)
    while start > body_start and _is_closing_tail(lines, start - 1):
        start -= 1
    return start


def _section_units(lines: list[_Line], top: list[int], end: int) -> Iterator[_Unit]:
    """Units of the numbered sections: the intro under each 一、 and each （一） subsection."""
    bounds = [*top, end]
    for a, b in itertools.pairwise(bounds):
        heading = _inline_heading(lines[a].text, TOP_HEADING_MAX_CHARS)
        body = lines[a:b]
        subs = _sub_heading_indexes(body)
        first_sub = subs[0] if subs else len(body)
        yield _Unit(heading, BODY, body[:first_sub], heading_lines=_heading_only(lines[a].text, heading))
        sub_bounds = [*subs, len(body)]
        for s, t in itertools.pairwise(sub_bounds):
            sub_heading = _inline_heading(body[s].text, SUB_HEADING_MAX_CHARS)
            own = _heading_only(body[s].text, sub_heading)
            yield _Unit(heading + SECTION_SEP + sub_heading, BODY, body[s:t], heading_lines=own)


def _units(lines: list[_Line]) -> list[_Unit]:
    top = top_heading_indexes([line.text for line in lines])
    head_end = _letterhead_end(lines, top[0] if top else min(len(lines), 15))
    # The closing follows the last section: a 感谢 line inside an earlier section must not end the body.
    close = _closing_start(lines, max(head_end, top[-1] + 1 if top else 0))
    units = [_Unit(LETTERHEAD_SECTION, LETTERHEAD, lines[:head_end])]
    body_end = top[0] if top else close
    units.append(_Unit(PREAMBLE_SECTION if top else BODY_SECTION, BODY, lines[head_end:body_end]))
    units.extend(_section_units(lines, top, close))
    units.append(_Unit(CLOSING_SECTION, CLOSING, lines[close:]))
    return _merge_heading_only(units)


def _merge_heading_only(units: list[_Unit]) -> list[_Unit]:
    """A unit that holds nothing but its heading lines moves them into the next unit's text."""
    merged: list[_Unit] = []
    pending: list[_Line] = []
    for unit in units:
        if not unit.lines:
            continue
        if len(unit.lines) <= unit.heading_lines:
            pending.extend(unit.lines)
            continue
        merged.append(_Unit(unit.section, unit.kind, pending + unit.lines, len(pending) + unit.heading_lines))
        pending = []
    if pending:  # headings at the very end with nothing after them
        if merged:
            merged[-1].lines.extend(pending)
        else:
            merged.append(_Unit(BODY_SECTION, BODY, pending, 0))
    return merged


def _split_at(text: str, offset: int, pattern: re.Pattern[str], after: bool) -> list[tuple[int, int]]:
    """Spans of `text` (shifted by `offset`) cut before (items) or after (sentence ends) each match."""
    cuts = {m.end() if after else m.start() for m in pattern.finditer(text)} - {0, len(text)}
    edges = [0, *sorted(cuts), len(text)]
    spans = []
    for a, b in itertools.pairwise(edges):
        piece = text[a:b]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            spans.append((offset + a + lead, offset + a + len(piece.rstrip())))
    return spans


def _is_heading_piece(piece: str) -> bool:
    """A short piece that is only a heading, like "（一）工作进展。" before its first item."""
    short = len(piece) <= SUB_HEADING_MAX_CHARS + 1
    return short and bool(SUB_HEADING_RE.match(piece) or TOP_HEADING_RE.match(piece))


def _atoms(unit: _Unit, text: str, max_chars: int) -> list[tuple[int, int, bool]]:
    """(start, end, is_heading) pieces that a chunk never cuts: lines, else items, else sentences.

    `carry` counts the heading text a piece will be packed with, so heading + piece stays within max_chars.
    """
    atoms: list[tuple[int, int, bool]] = []
    carry = 0
    for n, line in enumerate(unit.lines):
        if n < unit.heading_lines:
            atoms.append((line.start, line.end, True))
            carry += line.end - line.start + 1
            continue
        if carry + line.end - line.start <= max_chars:
            atoms.append((line.start, line.end, False))
            carry = 0
            continue
        for k, (a, b) in enumerate(_split_at(text[line.start : line.end], line.start, ITEM_RE, after=False)):
            fits = carry + b - a <= max_chars
            pieces = [(a, b)] if fits else _split_at(text[a:b], a, SENTENCE_END_RE, after=True)
            for j, (c, d) in enumerate(pieces):
                heading = k == 0 and j == 0 and _is_heading_piece(text[c:d])
                atoms.append((c, d, heading))
                carry = carry + d - c if heading else 0
    return _glue_tables(_glue_dates(atoms, text), text, TABLE_MAX_FACTOR * max_chars)


def _glue_dates(atoms: list[tuple[int, int, bool]], text: str) -> list[tuple[int, int, bool]]:
    """The unit's name and the date under it stay in one piece."""
    glued: list[tuple[int, int, bool]] = []
    for atom in atoms:
        if glued and DATE_LINE_RE.match(text[atom[0] : atom[1]]):
            glued[-1] = (glued[-1][0], atom[1], glued[-1][2])
        else:
            glued.append(atom)
    return glued


def _glue_tables(atoms: list[tuple[int, int, bool]], text: str, limit: int) -> list[tuple[int, int, bool]]:
    """A table (rows of cells split by ｜ or tabs) stays in one piece with its header and the line above it
    that says what it holds, up to `limit` characters: a row means little without its header."""
    glued: list[tuple[int, int, bool]] = []
    for atom in atoms:
        is_row = bool(TABLE_CELL_RE.search(text[atom[0] : atom[1]]))
        before = text[glued[-1][0] : glued[-1][1]] if glued else ""
        caption = not glued[-1][2] and (before.endswith(("：", ":")) or len(before) <= 60) if glued else False
        if is_row and glued and atom[1] - glued[-1][0] <= limit and (TABLE_CELL_RE.search(before) or caption):
            glued[-1] = (glued[-1][0], atom[1], glued[-1][2])
        else:
            glued.append(atom)
    return glued


def _pack(atoms: list[tuple[int, int, bool]], limit: int) -> list[tuple[int, int]]:
    """Greedy: consecutive atoms while the span stays within `limit`; headings never end a chunk."""
    spans: list[tuple[int, int]] = []
    start, end, body = atoms[0][0], atoms[0][1], not atoms[0][2]
    for a, b, is_heading in atoms[1:]:
        if body and b - start > limit:
            spans.append((start, end))
            start, body = a, False
        end, body = b, body or not is_heading
    spans.append((start, end))
    return spans


def _balanced_spans(atoms: list[tuple[int, int, bool]], max_chars: int) -> list[tuple[int, int]]:
    """As few chunks as greedy packing at `max_chars` gives, but of even size (no tiny last chunk)."""
    greedy = _pack(atoms, max_chars)
    total = atoms[-1][1] - atoms[0][0]
    for limit in range(math.ceil(total / len(greedy)), max_chars, 10):
        spans = _pack(atoms, limit)
        if len(spans) <= len(greedy):
            return spans
    return greedy


def meta_labels(meta: LetterMeta) -> str:
    """Labelled letterhead fields added to the letterhead's search text: 文号：… 建议：817号 代表：…"""
    person = "委员" if meta.proposal_kind == "提案" else "代表"
    kind = meta.proposal_kind or "建议"
    fields = [
        ("文号", meta.doc_number),
        ("会议", meta.session),
        (kind, f"{meta.proposal_number}号" if meta.proposal_number else None),
        (person, "、".join(meta.deputies) or None),
        ("标题", meta.title),
        ("答复单位", meta.unit),
        ("日期", meta.date),
    ]
    return " ".join(f"{label}：{value}" for label, value in fields if value)


def _make_chunk(doc: Document, unit: _Unit, start: int, end: int, seen: dict[str, int]) -> Chunk:
    text = doc.text[start:end]
    chunk_id = f"{doc.doc_id}#{hashlib.sha1((unit.section + text).encode()).hexdigest()[:12]}"
    seen[chunk_id] = seen.get(chunk_id, 0) + 1
    if seen[chunk_id] > 1:  # the same text twice under one heading: keep ids unique
        chunk_id += f"-{seen[chunk_id]}"
    # The unit (its place inside) heads every passage's search text: the body says 我县/我局, and a question
    # naming 泰顺 or 水利局 must find the passage by BM25 and by meaning, not only in the rerank.
    search = f"{doc.meta.unit}{SECTION_SEP}{unit.section}\n{text}" if doc.meta.unit else f"{unit.section}\n{text}"
    if unit.kind == LETTERHEAD and (labels := meta_labels(doc.meta)):
        search += "\n" + labels
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc.doc_id,
        section=unit.section,
        kind=unit.kind,
        text=text,
        start=start,
        end=end,
        search_text=unicodedata.normalize("NFKC", search),
    )


def chunk_document(doc: Document, *, max_chars: int = 400) -> list[Chunk]:
    """Chunks of `doc` in reading order; each at most ~max_chars unless one sentence is longer."""
    if max_chars < 20:
        raise ConfigError(
            f"chunk size {max_chars} is too small: set CHATBOT_CHUNK_MAX_CHARS to 20 or more (default 400)"
        )
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for unit in _units(_lines(doc.text)):
        atoms = _atoms(unit, doc.text, max_chars)
        for start, end in _balanced_spans(atoms, max_chars):
            chunks.append(_make_chunk(doc, unit, start, end, seen))
    return chunks
