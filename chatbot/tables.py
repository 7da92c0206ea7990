"""Tables inside letters: a row is read with the header above it, and a figure is the cell of the column
the question asks about ("文成县基层就诊率是多少" → the 基层就诊率 cell of the 文成县 row).

A .docx table reaches the text as rows whose cells are joined by ｜ (chatbot.documents); tables copied from
web pages or typed in .txt separate cells by tabs. Both are read here, the letter's text is left as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .lexicon import unit_group
from .query import UNITS, Term, compact

CELL_SEP_RE = re.compile(r"[｜|\t]")
MIN_CELLS = 2
_HEADER_UNIT_RE = re.compile(rf"[（(](?:单位[:：])?(?P<unit>{UNITS})[)）]")
_BARE_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Cell:
    start: int
    end: int
    text: str


def row_cells(text: str, start: int, end: int) -> list[Cell]:
    """The cells of text[start:end] when it is one table row (cells split by ｜ or tabs), else []."""
    line = text[start:end]
    if "\n" in line.strip() or len(CELL_SEP_RE.findall(line)) < MIN_CELLS - 1:
        return []
    cells, cursor = [], start
    for m in CELL_SEP_RE.finditer(text, start, end):
        cells.append(Cell(cursor, m.start(), text[cursor : m.start()].strip()))
        cursor = m.end()
    cells.append(Cell(cursor, end, text[cursor:end].strip()))
    return cells


def header_cells(text: str, row_start: int, width: int) -> list[str]:
    """The nearest row above `row_start` that holds no figure and has `width` cells: the column headers
    ([] when there is none)."""
    offset = row_start
    for line in reversed(text[:row_start].split("\n")):
        offset -= len(line) + 1
        if not line.strip():
            continue
        cells = row_cells(text, offset + 1, offset + 1 + len(line))
        if not cells:
            return []  # the table ended before a header was found
        if not re.search(r"\d", line):
            return [c.text for c in cells] if len(cells) == width else []
    return []


_CELL_UNIT_RE = re.compile(r"\d(?:\.\d+)?\s*(?P<unit>[万亿千百]?[\u4e00-\u9fff]{1,2}|%)")


def column_value(terms: Sequence[Term], unit: str | None, cells: Sequence[Cell],
                 header: Sequence[str], counted: str | None = None) -> tuple[str, Cell, float] | None:
    """The cell of the column whose header speaks of the question (its terms, its measure word), with the
    value as it should be answered (a bare number takes the header's unit: 35 条) and the match's weight. A question
    counting something (`counted`: 乡镇) needs it in the column's header."""
    best: tuple[float, int] | None = None
    for j, name in enumerate(header):
        if j >= len(cells) or not cells[j].text or not re.search(r"\d", cells[j].text):
            continue
        found = compact(name)
        score = sum(t.mass for t in terms if any(v in found for v in t.variants))
        header_unit = _HEADER_UNIT_RE.search(name)
        said = header_unit["unit"] if header_unit else "%" if cells[j].text.endswith("%") else None
        if unit and said and said not in unit_group(unit) and said.lstrip("万亿千百") not in unit_group(unit):
            continue  # 多少个乡镇 is not answered by the 乡镇充电站覆盖率 column's 58%
        wanted = next((t.variants for t in terms if t.text == counted), (counted,)) if counted else ()
        if wanted and not any(v in found for v in wanted):
            continue  # …nor by the 公共充电桩（个） column
        own = _CELL_UNIT_RE.search(cells[j].text)  # 860套, 每月450元/间: the cell says its own unit
        if unit and ((header_unit and header_unit["unit"] in unit_group(unit))
                     or (own and own["unit"].lstrip("万亿千百") in unit_group(unit))):
            score += 0.5
        if score > 0 and (best is None or score > best[0]):
            best = (score, j)
    if best is None:
        return None
    cell = cells[best[1]]
    header_unit = _HEADER_UNIT_RE.search(header[best[1]])
    value = cell.text
    if header_unit and _BARE_NUMBER_RE.fullmatch(value):
        value += header_unit["unit"]
    return value, cell, best[0]


def caption(text: str, row_start: int) -> str:
    """The line above a table's header, which says what the table holds ("2023年各市新建体育公园…情况如下："),
    or "" when the table has none in `text`."""
    lines = text[:row_start].split("\n")
    in_table = False
    for line in reversed(lines):
        if not line.strip():
            continue
        if CELL_SEP_RE.search(line):
            in_table = True
            continue
        return line.strip() if in_table else ""
    return ""
