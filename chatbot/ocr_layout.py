"""From OCR'd text boxes to a letter's text: rows, page furniture, paragraphs, look-alike characters.

The recogniser returns one box per run of text, with its corner points. A page scanned 1–2° askew has
tilted boxes, so the boxes are first turned back by their median angle; boxes that then overlap vertically
form a row. A row ends its paragraph when it ends short of the right margin or with 。：；, and a row that
is indented or opens a heading (一、 （一） 一是), a date or a salutation starts one. Page numbers and
heads repeated on most pages are dropped as in a PDF's text layer (chatbot.pages).
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .chunking import (
    CLOSING_START_RE,
    CLOSING_TAIL_RE,
    DATE_LINE_RE,
    ITEM_RE,
    SALUTATION_RE,
    SUB_HEADING_RE,
    TOP_HEADING_RE,
)
from .pages import furniture_indexes

# A 文号 as OCR reads it: 温科提复（2024）91号, 温科提复〔2024】91号 → 温科提复〔2024〕91号
OCR_DOC_NUMBER_RE = re.compile(
    r"(?P<org>[\u4e00-\u9fff]{1,12})\s*[〔\[［(（【{]\s*(?P<year>(?:19|20)\d{2})\s*[〕\]］)）】}]\s*(?P<num>\d{1,5})\s*号"
)
_ENDS_PARAGRAPH = ("。", "：", ":", "；", ";", "！", "？", "!", "?")
_GAP_FOR_SPACE = 2.0  # a horizontal gap wider than this many character heights is kept as a space


@dataclass(frozen=True)
class Row:
    """One line of a page as read: its text and where it stands (deskewed pixels)."""

    text: str
    left: float
    right: float
    top: float
    bottom: float
    confidence: float  # mean over its characters

    @property
    def height(self) -> float:
        return self.bottom - self.top


def rows_from_boxes(detections: list[Any]) -> list[Row]:
    """RapidOCR's [points, text, score] boxes as rows, top to bottom, each read left to right."""
    boxes = [(list(map(tuple, points)), str(text).strip(), float(score))
             for points, text, score in detections if str(text).strip()]
    if not boxes:
        return []
    angle = _skew(boxes)
    cos, sin = math.cos(-angle), math.sin(-angle)
    flat = []
    for points, text, score in boxes:
        turned = [(x * cos - y * sin, x * sin + y * cos) for x, y in points]
        xs, ys = [p[0] for p in turned], [p[1] for p in turned]
        flat.append((min(xs), max(xs), min(ys), max(ys), text, score))
    flat.sort(key=lambda b: (b[2] + b[3]) / 2)
    groups: list[list[tuple[float, float, float, float, str, float]]] = []
    for box in flat:
        if groups and _same_row(groups[-1], box):
            groups[-1].append(box)
        else:
            groups.append([box])
    return [_row(group) for group in groups]


def _skew(boxes: list[tuple[list[tuple[float, float]], str, float]]) -> float:
    """The median angle of the top edges of the wide boxes (radians); 0 without any."""
    angles = []
    for points, _text, _score in boxes:
        (x0, y0), (x1, y1) = points[0], points[1]
        height = math.dist(points[0], points[3])
        if x1 - x0 > 3 * max(height, 1.0):
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return statistics.median(angles) if angles else 0.0


def _same_row(group: list[tuple[float, float, float, float, str, float]],
              box: tuple[float, float, float, float, str, float]) -> bool:
    top, bottom = max(b[2] for b in group), min(b[3] for b in group)
    overlap = min(bottom, box[3]) - max(top, box[2])
    return overlap > 0.5 * min(bottom - top, box[3] - box[2])


def _row(group: list[tuple[float, float, float, float, str, float]]) -> Row:
    group.sort(key=lambda b: b[0])
    height = statistics.median(b[3] - b[2] for b in group)
    parts = [group[0][4]]
    for before, box in itertools.pairwise(group):
        parts.append(" " if box[0] - before[1] > _GAP_FOR_SPACE * height else "")
        parts.append(box[4])
    chars = sum(len(b[4]) for b in group)
    confidence = sum(b[5] * len(b[4]) for b in group) / max(chars, 1)
    return Row("".join(parts), group[0][0], max(b[1] for b in group), min(b[2] for b in group),
               max(b[3] for b in group), confidence)


def drop_furniture(pages: list[list[Row]]) -> list[list[Row]]:
    """The pages without page numbers and heads or feet that recur on most pages."""
    drops = furniture_indexes([[row.text for row in rows] for rows in pages])
    return [[row for i, row in enumerate(rows) if i not in drop] for rows, drop in zip(pages, drops, strict=True)]


def paragraphs(pages: list[list[Row]]) -> list[str]:
    """The rows of consecutive pages joined into paragraphs (a paragraph may run on to the next page)."""
    out: list[str] = []
    previous: tuple[Row, float] | None = None  # the last row and its page's right margin
    for rows in pages:
        if not rows:
            continue
        left, right, char = _margins(rows)
        for row in rows:
            if previous is not None and out and _runs_on(previous, row, left, char):
                out[-1] += row.text
            else:
                out.append(row.text)
            previous = (row, right)
    return out


def _margins(rows: list[Row]) -> tuple[float, float, float]:
    """The text block's left and right edges and the size of a character on this page."""
    char = statistics.median(row.height for row in rows)
    lefts = sorted(row.left for row in rows)
    rights = sorted(row.right for row in rows)
    return lefts[len(lefts) // 10], rights[min(len(rights) - 1, (9 * len(rights)) // 10)], char


def _runs_on(previous: tuple[Row, float], row: Row, left: float, char: float) -> bool:
    before, right = previous
    if before.text.endswith(_ENDS_PARAGRAPH) or before.right < right - 1.5 * char or DATE_LINE_RE.match(before.text):
        return False  # the previous row ends its paragraph: it ends a sentence, stops short or is a date
    if row.left > left + 1.2 * char:
        return False  # indented (a paragraph's first line) or centred
    return not _starts_paragraph(row.text)


def _starts_paragraph(text: str) -> bool:
    starters = (TOP_HEADING_RE, SUB_HEADING_RE, DATE_LINE_RE, SALUTATION_RE, CLOSING_START_RE, CLOSING_TAIL_RE)
    if any(rx.match(text) for rx in starters):
        return True
    item = ITEM_RE.match(text)
    return item is not None and item.group().endswith("是")


@cache
def _lookalikes() -> dict[str, str]:
    raw = resources.files("chatbot").joinpath("data", "ocr_lookalikes.tsv").read_text(encoding="utf-8")
    pairs = [line.split("\t") for line in raw.splitlines() if line.strip() and not line.startswith("#")]
    return {char: digit for char, digit in pairs}


@cache
def _lookalike_re() -> re.Pattern[str]:
    chars = "".join(re.escape(c) for c in _lookalikes())
    return re.compile(rf"(?<=\d)[{chars}]+(?=\d)")


def normalise(text: str) -> str:
    """OCR look-alikes mended where they can only be one thing: 文号 brackets and letters inside numbers."""
    text = OCR_DOC_NUMBER_RE.sub(lambda m: f"{m['org']}〔{m['year']}〕{m['num']}号", text)
    table = _lookalikes()
    return _lookalike_re().sub(lambda m: "".join(table[c] for c in m.group()), text)
