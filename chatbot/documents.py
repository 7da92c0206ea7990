"""Read letter files (.txt/.md in UTF-8 or GBK, .docx, .pdf) and clean them.

chatbot.identity parses what a letter says about itself (文号, deputies, unit, date …).

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
    SUB_HEADING_RE,
    TOP_HEADING_RE,
)
from .errors import DocumentError
from .identity import parse_metadata
from .names import letter_id
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
    doc_id = letter_id(meta, path.stem)
    warnings = _structure_warnings(text, meta, doc_id, path)
    for warning in warnings:
        log.warning("%s: %s", path, warning)
    return Document(
        doc_id=doc_id,
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


def _structure_warnings(text: str, meta: LetterMeta, doc_id: str, path: Path) -> list[str]:
    """What a reader of the index should know about a letter that does not name itself."""
    warnings = []
    if meta.doc_number is None and doc_id == path.stem:
        warnings.append(f"no 文号, title or unit found in the letterhead: the letter's id is its file name '{doc_id}'")
    if not re.search(r"[\u4e00-\u9fff]", text):
        warnings.append("no Chinese text found: is this a reply letter?")
    return warnings
