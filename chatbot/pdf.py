"""Read a PDF letter, each page its own way: its text layer when it has one, OCR when it is a picture.

A signed letter is often scanned (no text layer at all); some PDFs mix typed pages and scanned ones (a
scanned signature page). pypdf reads the text layers; the pages without one are rendered by pypdfium2 and
read by chatbot.ocr. Consecutive pages read the same way are cleaned together (page numbers and repeated
heads dropped, wrapped lines joined), then the runs are put back in page order.
"""

from __future__ import annotations

import io
import re
from itertools import groupby
from pathlib import Path

from . import file_limits as limits
from .errors import DocumentError
from .ocr import OcrEngine, OcrPage, check_readable, ocr_text, reading_of, render_pdf_page
from .pages import PageProgress, rejoin_wrapped, strip_page_furniture
from .schema import READ_TEXT, Reading

_MIN_LAYER_CHARS = 5  # a page whose text layer holds fewer letters or digits than this is read by OCR
_WORD_CHAR_RE = re.compile(r"[\w\u4e00-\u9fff]")


def read_pdf(path: Path, data: bytes, on_page: PageProgress | None = None) -> tuple[str, Reading]:
    """The letter text of a PDF and how it was read."""
    layers = _text_layers(path, data)
    scanned = [i for i, text in enumerate(layers) if len(_WORD_CHAR_RE.findall(text)) < _MIN_LAYER_CHARS]
    ocr_pages = _ocr_pages(path, data, scanned, on_page, len(layers))
    parts: list[str] = []
    for is_scan, run in groupby(range(len(layers)), key=lambda i: i in ocr_pages):
        numbers = list(run)
        if is_scan:
            text = ocr_text(path, [ocr_pages[i] for i in numbers], check=False)
        else:
            text = "\n".join(rejoin_wrapped(strip_page_furniture([layers[i] for i in numbers])))
        if text.strip():
            parts.append(text)
    if not scanned:
        return "\n".join(parts), Reading(method=READ_TEXT, pages=len(layers))
    if len(scanned) == len(layers):
        check_readable(path, list(ocr_pages.values()))
    elif not any(parts):
        raise DocumentError(path, "no text found: no page has a text layer and OCR read nothing")
    return "\n".join(parts), reading_of(list(ocr_pages.values()), total_pages=len(layers))


def _text_layers(path: Path, data: bytes) -> list[str]:
    """Each page's text layer ('' for a page that is a picture), after the page-count limit."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError(path, "encrypted PDF: save an unprotected copy first")
        limits.check_pdf_pages(path, len(reader.pages))
        # pypdf caps every decompressed stream (75 MB, pypdf.Configuration): a bomb raises here.
        return [(page.extract_text() or "") for page in reader.pages]
    except DocumentError:
        raise
    except Exception as e:  # pypdf raises many error types on broken files
        raise DocumentError(path, f"corrupt .pdf: {type(e).__name__}: {e}") from e


def _ocr_pages(path: Path, data: bytes, indexes: list[int], on_page: PageProgress | None,
               total: int) -> dict[int, OcrPage]:
    """OCR the pages at `indexes` (0-based); the others count as read for the progress callback."""
    if on_page is not None and total > len(indexes):
        on_page(total - len(indexes), total)
    if not indexes:
        return {}
    import pypdfium2

    try:
        pdf = pypdfium2.PdfDocument(data)
    except Exception as e:  # PdfiumError for a file pypdf could read but pdfium cannot
        raise DocumentError(path, f"corrupt .pdf: pages cannot be rendered: {e}") from e
    engine, out = OcrEngine(), {}
    try:
        for done, index in enumerate(indexes, start=1):
            out[index] = engine.read(render_pdf_page(path, pdf, index), index + 1)
            if on_page is not None:
                on_page(total - len(indexes) + done, total)
    finally:
        pdf.close()
    return out
