"""Read letter files (.txt/.md in UTF-8 or GBK, .docx, .pdf), clean them and parse their letterhead.

The cleaned text keeps the letter's own characters (no NFKC): chunk spans index into it and quotes are
shown as written.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

from .chunking import (
    DATE_LINE_RE,
    SALUTATION_RE,
    SUB_HEADING_RE,
    TOP_HEADING_RE,
    cn_number,
    top_heading_indexes,
)
from .errors import DocumentError
from .schema import Document, LetterMeta

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".docx", ".pdf")
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TABLE_CELL_SEP = "｜"  # a docx table row becomes one line, its cells joined by this

_BOOKMARK_RE = re.compile(r"\[bookmark:[^\]\n]*\]")
_ZERO_WIDTH_RE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACE_RUN_RE = re.compile("[ \u00a0\u3000]{2,}")
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+", re.MULTILINE)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc/.xls container
_CONTROL_RATIO_MAX = 0.01  # more control characters than this and the "text" is binary data

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


def iter_corpus_files(corpus_dir: Path) -> list[Path]:
    """Supported letter files under `corpus_dir`, sorted; hidden files/folders and Word lock files skipped."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise DocumentError(corpus_dir, "corpus folder not found (set --corpus or CHATBOT_CORPUS_DIR)")
    found: list[tuple[str, Path]] = []
    folders = [(corpus_dir, "")]
    seen = {_inode(corpus_dir.stat())}  # a folder linked into itself is read once
    while folders:  # directory entries know their type without a stat per file (pathlib's rglob: 2x slower)
        folder, prefix = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith((".", "~$")):
                    continue
                if entry.is_dir():
                    if _inode(entry.stat()) not in seen:
                        seen.add(_inode(entry.stat()))
                        folders.append((Path(entry.path), f"{prefix}{entry.name}/"))
                elif not entry.is_file():
                    continue
                elif Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((prefix + entry.name, Path(entry.path)))
                else:
                    log.warning("skipping %s: unsupported file type %r", entry.path, Path(entry.name).suffix)
    return [path for _, path in sorted(found, key=lambda item: item[0])]


def _inode(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def load_document(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read, clean and parse one letter; raises DocumentError naming the file and the reason."""
    path = Path(path)
    data = _read_bytes(path, max_bytes)
    text = _decode(path, data)
    meta = parse_metadata(text)
    warnings = _structure_warnings(text, meta, path)
    for warning in warnings:
        log.warning("%s: %s", path, warning)
    return Document(
        doc_id=meta.doc_number or path.stem,
        source=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        text=text,
        meta=meta,
        warnings=tuple(warnings),
    )


def read_letter_text(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The cleaned text of a letter file, whatever its format."""
    path = Path(path)
    return _decode(path, _read_bytes(path, max_bytes))


def _human_size(n: float) -> str:
    if n < 1024:
        return f"{int(n)} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The raw bytes, after the checks that need no reading (existence, type, size)."""
    if not path.is_file():
        raise DocumentError(path, "file not found" if not path.exists() else "not a file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(none)"
        raise DocumentError(
            path, f"unsupported file type '{shown}' (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
    size = path.stat().st_size
    if size > max_bytes:  # checked before reading so a huge file is never loaded
        shown, limit = _human_size(size), _human_size(max_bytes)
        raise DocumentError(path, f"file is {shown}, above the {limit} limit (CHATBOT_MAX_FILE_MB)")
    data = path.read_bytes()
    if not data:
        raise DocumentError(path, "empty file")
    return data


def _decode(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".docx":
        text = _docx_text(path, data)
    elif suffix == ".pdf":
        text = _pdf_text(path, data)
    else:
        text = _plain_text(path, data)
        if suffix == ".md":
            text = _MD_HEADING_RE.sub("", text)
    text = clean_text(text)
    if not text:
        raise DocumentError(path, "empty file (only whitespace)")
    return text


def _plain_text(path: Path, data: bytes) -> str:
    """Strict UTF-8 (with or without BOM) first, then the encoding charset-normalizer detects."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is None:
                raise DocumentError(path, "not a letter: binary data (no text encoding fits)") from None
            text = str(best)
    if not text.strip():
        raise DocumentError(path, "empty file (only whitespace)")
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if controls + text.count("\ufffd") > _CONTROL_RATIO_MAX * len(text):
        raise DocumentError(path, "not a letter: binary data (control characters)")
    return text


def clean_text(text: str) -> str:
    """Remove conversion artefacts, strip lines, keep one blank line at most; characters otherwise kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n")
    text = _BOOKMARK_RE.sub("", text)
    text = _ZERO_WIDTH_RE.sub("", text).replace("\u00a0", " ")
    lines = [_SPACE_RUN_RE.sub(" ", line.strip()) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _docx_text(path: Path, data: bytes) -> str:
    """Paragraphs and table rows in document order (a row is one line, cells joined by ｜)."""
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises zip, XML, key and package errors alike
        if data.startswith(_OLE_MAGIC):
            raise DocumentError(path, "corrupt .docx: this is an old Word .doc file; save it as .docx") from e
        raise DocumentError(path, f"corrupt .docx: {type(e).__name__}: {e}") from e
    lines: list[str] = []

    def walk(parent: object) -> None:
        for child in parent.iterchildren():  # type: ignore[attr-defined]
            tag = child.tag.rsplit("}", 1)[-1]
            if tag == "p":
                lines.append(Paragraph(child, document).text)
            elif tag == "tbl":
                lines.extend(_table_rows(Table(child, document)))
            elif tag in ("sdt", "sdtContent"):  # content controls wrap ordinary paragraphs
                walk(child)

    walk(document.element.body)
    return "\n".join(lines)


def _table_rows(table: object) -> list[str]:
    rows = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:  # a merged cell repeats in every column it spans
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(p.text.strip() for p in cell.paragraphs if p.text.strip()))
        if any(cells):
            rows.append(TABLE_CELL_SEP.join(cells))
    return rows


def _pdf_text(path: Path, data: bytes) -> str:
    """The text layer, without repeated page headers/footers and page numbers, wrapped lines rejoined."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "encrypted PDF: save an unprotected copy first")
        pages = [(page.extract_text() or "") for page in reader.pages]
    except DocumentError:
        raise
    except Exception as e:  # pypdf raises many error types on broken files
        raise DocumentError(path, f"corrupt .pdf: {type(e).__name__}: {e}") from e
    if not any(page.strip() for page in pages):
        raise DocumentError(path, "PDF has no text layer (scanned image?); run OCR first")
    return "\n".join(_rejoin_wrapped(_strip_page_furniture(pages)))


PAGE_NUMBER_RE = re.compile(
    r"^(?:[-—–－\s]*\d{1,4}[-—–－\s]*|第\s*\d{1,4}\s*页(?:\s*[，,/]?\s*共\s*\d{1,4}\s*页)?|\d{1,4}\s*/\s*\d{1,4})$"
)
_PAGE_TOKEN_RE = re.compile(r"第\s*\d+\s*页|\d+\s*/\s*\d+|(?:^|(?<=\s))[-—–－]?\s*\d{1,4}\s*[-—–－]?(?=\s|$)")
_EDGE_LINES = 3  # headers and footers are looked for among a page's first and last lines


def _strip_page_furniture(pages: list[str]) -> list[str]:
    """Lines of all pages minus page numbers and lines that recur at the edges of most pages."""
    page_lines = [[line.strip() for line in page.split("\n") if line.strip()] for page in pages]

    def edges(lines: list[str]) -> list[tuple[int, str]]:
        n = len(lines)
        idx = set(range(min(_EDGE_LINES, n))) | set(range(max(0, n - _EDGE_LINES), n))
        return [(i, lines[i]) for i in sorted(idx)]

    def key(line: str) -> str:  # "温州市科技局 第3页" and "温州市科技局 第4页" recur as one header
        return _PAGE_TOKEN_RE.sub("#", line)

    recurring: Counter[str] = Counter()
    for lines in page_lines:
        recurring.update({key(line) for _, line in edges(lines)})
    threshold = max(2, len(pages) // 2 + 1)  # "most pages"
    out: list[str] = []
    for lines in page_lines:
        drop = {i for i, line in edges(lines) if PAGE_NUMBER_RE.match(line)}
        if len(pages) >= 2:
            drop |= {i for i, line in edges(lines) if recurring[key(line)] >= threshold}
        out.extend(line for i, line in enumerate(lines) if i not in drop)
    return out


def _rejoin_wrapped(lines: list[str]) -> list[str]:
    """Join lines the PDF layout wrapped: a nearly full line not ending a sentence runs on."""
    if not lines:
        return lines
    full = 0.8 * max(len(line) for line in lines)
    out = [lines[0]]
    for line in lines[1:]:
        prev = out[-1]
        runs_on = len(prev) >= full and not prev.endswith(("。", "：", ":", "！", "？", "；"))
        starts_anew = any(rx.match(line) for rx in (TOP_HEADING_RE, SUB_HEADING_RE, DATE_LINE_RE))
        if runs_on and not starts_anew:
            out[-1] = prev + line
        else:
            out.append(line)
    return out


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


def _structure_warnings(text: str, meta: LetterMeta, path: Path) -> list[str]:
    """What a reader of the index should know about a letter that lacks the usual structure."""
    warnings = []
    if not meta.doc_number:
        warnings.append(f"no 文号 found in the letterhead: doc_id is the file name '{path.stem}'")
    if not top_heading_indexes([line.strip() for line in text.split("\n")]):
        warnings.append("no numbered sections (一、二、…) found: the letter is split by paragraphs")
    if not re.search(r"[\u4e00-\u9fff]", text):
        warnings.append("no Chinese text found: is this a reply letter?")
    return warnings
