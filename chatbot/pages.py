"""Page furniture and wrapped lines: what a paged letter (PDF text layer, OCR'd scan) has that its text lacks.

Shared by chatbot.pdf (text layers) and chatbot.ocr_layout (recognised rows): page numbers and heads or
feet repeated on most pages are dropped; lines the layout wrapped are joined again.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Callable

from .chunking import DATE_LINE_RE, SALUTATION_RE, SUB_HEADING_RE, TOP_HEADING_RE

# "— 3 —", "- 3 -", "第3页", "3/10"; OCR reads the dashes of "— 3 —" as 一 or ~ too.
PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–－一~～\s]*\d{1,4}[-—–－一~～\s]*|第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4})$"
)
_PAGE_TOKEN_RE = re.compile(r"第\s*\d+\s*页|\d+\s*/\s*\d+|(?:^|(?<=\s))[-—–－]?\s*\d{1,4}\s*[-—–－]?(?=\s|$)")
_EDGE_LINES = 3  # headers and footers are looked for among a page's first and last lines
# A line ending with one of these ends its paragraph, however long it is.
_SENTENCE_ENDS = ("。", "：", ":", "！", "？", "；")
# The last line of a letter's title: the line below it is never its continuation.
_TITLE_END_RE = re.compile(r"(?:答\s*复\s*函|答\s*复|的\s*函)$")


def furniture_indexes(pages: list[list[str]]) -> list[set[int]]:
    """For each page (its stripped, non-empty lines), the indexes of its page-number and recurring lines."""

    def edges(lines: list[str]) -> list[tuple[int, str]]:
        n = len(lines)
        idx = set(range(min(_EDGE_LINES, n))) | set(range(max(0, n - _EDGE_LINES), n))
        return [(i, lines[i]) for i in sorted(idx)]

    def key(line: str) -> str:  # "温州市科技局 第3页" and "温州市科技局 第4页" recur as one header
        return _PAGE_TOKEN_RE.sub("#", line)

    recurring: Counter[str] = Counter()
    for lines in pages:
        recurring.update({key(line) for _, line in edges(lines)})
    threshold = max(2, len(pages) // 2 + 1)  # "most pages"
    out: list[set[int]] = []
    for lines in pages:
        drop = {i for i, line in edges(lines) if PAGE_NUMBER_RE.match(line)}
        if len(pages) >= 2:
            drop |= {i for i, line in edges(lines) if recurring[key(line)] >= threshold}
        out.append(drop)
    return out


def strip_page_furniture(pages: list[str]) -> list[str]:
    """Lines of all pages minus page numbers and lines that recur at the edges of most pages."""
    page_lines = [[line.strip() for line in page.split("\n") if line.strip()] for page in pages]
    drops = furniture_indexes(page_lines)
    return [line for lines, drop in zip(page_lines, drops, strict=True)
            for i, line in enumerate(lines) if i not in drop]


def rejoin_wrapped(lines: list[str]) -> list[str]:
    """Join lines the PDF layout wrapped: a nearly full line not ending a sentence runs on.

    Whether a line is full is judged on the line as laid out, not on what was already joined to it: a
    title wrapped over two lines must not pull the salutation below it into the title
    ("…建议的答 复 函王建国代表："). A salutation, heading or date line always starts anew.
    """
    if not lines:
        return lines
    full = 0.8 * max(len(line) for line in lines)
    out = [lines[0]]
    for before, line in itertools.pairwise(lines):
        runs_on = (len(before) >= full and not before.endswith(_SENTENCE_ENDS)
                   and not _TITLE_END_RE.search(before))
        starts_anew = any(rx.match(line) for rx in (TOP_HEADING_RE, SUB_HEADING_RE, DATE_LINE_RE, SALUTATION_RE))
        if runs_on and not starts_anew:
            out[-1] += line
        else:
            out.append(line)
    return out


# Called after each page of a file is read: (pages done, pages in the file). OCR takes seconds a page.
PageProgress = Callable[[int, int], None]
