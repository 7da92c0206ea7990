"""Decompression limits: a small file that unpacks into gigabytes is refused before any parser sees it."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from chatbot import file_limits as limits
from chatbot.documents import load_document
from chatbot.errors import DocumentError

DATA = Path(__file__).resolve().parent / "data"
_BODY_START = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>')
_BODY_END = b"</w:body></w:document>"


def _docx_with_body(path: Path, paragraph: bytes, count: int, *, extra_parts: int = 0) -> Path:
    """letter.docx with word/document.xml replaced by `count` copies of `paragraph`, streamed in blocks."""
    with zipfile.ZipFile(DATA / "letter.docx") as source, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                target.writestr(item, source.read(item))
        with target.open("word/document.xml", "w", force_zip64=True) as body:
            body.write(_BODY_START)
            block = paragraph * 100_000
            for _ in range(count // 100_000):
                body.write(block)
            body.write(paragraph * (count % 100_000))
            body.write(_BODY_END)
        for k in range(extra_parts):
            target.writestr(f"extra/part{k}.xml", "<a/>")
    return path


def _refusal(path: Path) -> str:
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert caught.value.path == str(path)
    return caught.value.reason


def test_twenty_million_empty_paragraphs_are_refused_from_the_directory(tmp_path: Path) -> None:
    path = _docx_with_body(tmp_path / "bomb.docx", b"<w:p/>", 20_000_000)
    assert path.stat().st_size < 400_000  # a few hundred KB that unpack to 120 MB of XML
    assert _refusal(path) == "refused: .docx unpacks to 115 MB, above the limit of 100 MB (a compression bomb?)"


def test_too_many_paragraphs_in_a_small_part_are_counted_while_streaming(tmp_path: Path) -> None:
    path = _docx_with_body(tmp_path / "many.docx", b"<w:p><w:r><w:t>x</w:t></w:r></w:p>", 25_000)
    assert _refusal(path) == "refused: .docx holds more than 20,000 paragraphs (a letter has a few hundred)"


def test_a_part_that_unpacks_hundreds_of_times_its_size_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ratio.docx"
    with zipfile.ZipFile(DATA / "letter.docx") as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("word/media/blank.bin", bytes(8 * 1024 * 1024))
    assert _refusal(path).startswith("refused: .docx part word/media/blank.bin unpacks ")
    assert _refusal(path).endswith("x (to 8 MB), above the limit of 200x (a compression bomb?)")


def test_too_many_parts_are_refused(tmp_path: Path) -> None:
    path = _docx_with_body(tmp_path / "parts.docx", b"<w:p/>", 10, extra_parts=1_000)
    assert _refusal(path) == "refused: .docx holds 1,017 parts, above the limit of 1,000 (a letter has a few dozen)"


def test_a_part_larger_than_its_header_says_is_corrupt(tmp_path: Path) -> None:
    path = _docx_with_body(tmp_path / "liar.docx", b"<w:p/>", 1_000)
    data = bytearray(path.read_bytes())
    name = b"word/document.xml"
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(name))  # the central directory entry of document.xml
    struct.pack_into("<I", data, central + 24, 100)  # its uncompressed size, now a lie
    path.write_bytes(bytes(data))
    assert _refusal(path).startswith("corrupt .docx: ")


def test_a_normal_letter_passes_every_limit() -> None:
    limits.check_zip("letter.docx", (DATA / "letter.docx").read_bytes())  # raises nothing


def test_pdf_page_limit(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(limits.MAX_PDF_PAGES + 1):
        writer.add_blank_page(72, 72)
    path = tmp_path / "pages.pdf"
    with open(path, "wb") as f:
        writer.write(f)
    assert _refusal(path) == "refused: the PDF has 301 pages, above the limit of 300"


def _png_header(width: int, height: int) -> bytes:
    """A PNG that announces width x height pixels and holds almost none (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def test_image_announcing_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(10_000, 7_000))
    assert _refusal(path) == ("refused: the image is 10000x7000 pixels, above the limit of 60 megapixels "
                              "(a decompression bomb?)")
    path.write_bytes(_png_header(40_000, 40_000))  # Pillow refuses this one itself, on opening
    assert _refusal(path).startswith("refused: Image size (1600000000 pixels) exceeds limit of ")
