"""Read letter files and clean them: .txt/.md (UTF-8 or GBK), .docx, .pdf (text layer, or OCR for scanned
pages: chatbot.pdf), images (chatbot.ocr), web pages and old word processor files (chatbot.converted).

chatbot.identity parses what a letter says about itself (文号, deputies, unit, date …).

The cleaned text keeps the letter's own characters (no NFKC): chunk spans index into it and quotes are
shown as written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from . import file_limits as limits
from .converted import CONVERTED_SUFFIXES, WEB_SUFFIXES, convert_to_docx, read_web_page
from .errors import DocumentError
from .identity import parse_metadata
from .names import letter_id
from .ocr import IMAGE_SUFFIXES, read_image_file
from .pages import PAGE_NUMBER_RE, PageProgress
from .pdf import read_pdf
from .schema import READ_CONVERTED, READ_WEB, Document, LetterMeta, Reading

log = logging.getLogger(__name__)

# PAGE_NUMBER_RE moved to chatbot.pages with the PDF code; it is still importable from here.
__all__ = ["PAGE_NUMBER_RE", "SUPPORTED_SUFFIXES", "TEXT_SUFFIXES", "clean_text", "iter_corpus_files",
           "load_document", "read_letter_text"]

TEXT_SUFFIXES: tuple[str, ...] = (".txt", ".md", ".docx", ".pdf")
SUPPORTED_SUFFIXES: tuple[str, ...] = (*TEXT_SUFFIXES, *WEB_SUFFIXES, *CONVERTED_SUFFIXES, *IMAGE_SUFFIXES)
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


@dataclass(frozen=True)
class _Extracted:
    """A file's text and how it was read; a web page's own title and date besides."""

    text: str
    reading: Reading = field(default_factory=Reading)
    page_title: str | None = None
    page_date: str | None = None


def load_document(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
                  on_page: PageProgress | None = None) -> Document:
    """Read, clean and parse one letter; raises DocumentError naming the file and the reason.

    `on_page(done, total)` is called after each page of a PDF or image file (OCR takes seconds a page).
    """
    path = Path(path)
    data = _read_bytes(path, max_bytes)
    found = _decode(path, data, on_page)
    meta = parse_metadata(found.text)
    if found.page_title and not meta.title:  # a web page's own title and date when the letter lacks them
        meta = dataclasses.replace(meta, title=found.page_title)
    if found.page_date and not meta.date:
        meta = dataclasses.replace(meta, date=found.page_date)
    doc_id = letter_id(meta, path.stem)
    warnings = _structure_warnings(found.text, meta, doc_id, path)
    for warning in warnings:
        log.warning("%s: %s", path, warning)
    return Document(
        doc_id=doc_id,
        source=path.name,
        sha256=hashlib.sha256(data).hexdigest(),
        text=found.text,
        meta=meta,
        warnings=tuple(warnings),
        reading=found.reading,
    )


def read_letter_text(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The cleaned text of a letter file, whatever its format."""
    path = Path(path)
    return _decode(path, _read_bytes(path, max_bytes), None).text


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


def _decode(path: Path, data: bytes, on_page: PageProgress | None) -> _Extracted:
    found = _extract(path, data, on_page)
    text = clean_text(found.text)
    if not text:
        raise DocumentError(path, "empty file (only whitespace)")
    return dataclasses.replace(found, text=text)


def _extract(path: Path, data: bytes, on_page: PageProgress | None) -> _Extracted:
    """The raw text of a file by its type, and how it was read."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return _Extracted(_docx_text(path, data))
    if suffix == ".pdf":
        return _Extracted(*read_pdf(path, data, on_page))
    if suffix in IMAGE_SUFFIXES:
        return _Extracted(*read_image_file(path, data, on_page))
    if suffix in WEB_SUFFIXES:
        page = read_web_page(path, data)
        return _Extracted(page.text, Reading(method=READ_WEB), page.title, page.date)
    if suffix in CONVERTED_SUFFIXES:
        if suffix == ".odt":  # a zip like .docx: the same limits before LibreOffice unpacks it
            limits.check_zip(path, data, kind=".odt")
        text = _docx_text(path, convert_to_docx(path, data))
        _refuse_binary(path, text)  # LibreOffice opens a file it cannot parse as plain text
        return _Extracted(text, Reading(method=READ_CONVERTED, converted_from=suffix))
    text = _plain_text(path, data)
    return _Extracted(_MD_HEADING_RE.sub("", text) if suffix == ".md" else text)


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
    _refuse_binary(path, text)
    return text


def _refuse_binary(path: Path, text: str) -> None:
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
    if controls + text.count("\ufffd") > _CONTROL_RATIO_MAX * len(text):
        raise DocumentError(path, "not a letter: binary data (control characters)")


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
    if data.startswith(_OLE_MAGIC):
        raise DocumentError(path, "corrupt .docx: this is an old Word .doc file; rename it to .doc (read "
                                  "through LibreOffice) or save it as .docx")
    limits.check_zip(path, data)  # before python-docx unpacks anything: sizes, parts, paragraphs
    try:
        import docx
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # python-docx raises zip, XML, key and package errors alike
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


def _structure_warnings(text: str, meta: LetterMeta, doc_id: str, path: Path) -> list[str]:
    """What a reader of the index should know about a letter that does not name itself."""
    warnings = []
    if letter_id(meta, "") == "":  # the letter names itself nowhere: its id fell back to the file name
        warnings.append(f"no 文号, title or unit found in the letterhead: the letter's id is its file name '{doc_id}'")
    if not re.search(r"[\u4e00-\u9fff]", text):
        warnings.append("no Chinese text found: is this a reply letter?")
    return warnings
