"""Limits checked before a letter file is parsed: a small file must not unpack into gigabytes.
(chatbot.limits bounds the text of a request.)

A 211 KB .docx can hold 20 million empty paragraphs (120 MB of XML): parsing it took minutes and gigabytes.
Here a zip-based file (.docx, .odt, a converter's output) is checked from its central directory and then by
streaming its XML parts through a counter, in bounded memory, before any parser sees it. PDFs are checked
for their page count (pypdf itself caps every decompressed stream at 75 MB) and images for their pixels
before they are decoded. Each refusal is a DocumentError that says which limit and what the file holds.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from .errors import DocumentError

MAX_ZIP_MEMBERS = 1_000  # a letter's .docx has ~15 parts; images add one each
MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # all parts together, as unpacked
MAX_XML_PART_BYTES = 25 * 1024 * 1024  # one XML part (document.xml of a long letter: well under 1 MB)
MAX_COMPRESSION_RATIO = 200  # a part unpacking to more than 200x its packed size, above 1 MB, is a bomb
MAX_PARAGRAPHS = 20_000  # a 10-page letter has a few hundred
MAX_PDF_PAGES = 300
MAX_IMAGE_PIXELS = 60_000_000  # a 12-megapixel phone photo is far below; a 600 dpi A4 scan is 35M
MAX_IMAGE_FRAMES = 100  # pages of a multi-page TIFF
_STREAM_BLOCK = 1 << 20
_PARAGRAPH_RE = re.compile(rb"<(?:w|text):p[\s/>]")  # WordprocessingML and OpenDocument paragraphs
_RATIO_FLOOR_BYTES = 1024 * 1024


def _mb(n: float) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def check_zip(path: Path | str, data: bytes, kind: str = ".docx") -> None:
    """Refuse a zip container whose parts are too many, unpack too large, or hold too many paragraphs.

    The sizes in the central directory are checked first (no unpacking); then every XML part is streamed
    through a decompressor block by block, counting bytes and paragraphs, so a header that lies about its
    size is caught too and memory stays at a few megabytes whatever the file holds.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as e:
        raise DocumentError(path, f"corrupt {kind}: {type(e).__name__}: {e}") from e
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise DocumentError(path, f"refused: {kind} holds {len(members):,} parts, above the limit of "
                                      f"{MAX_ZIP_MEMBERS:,} (a letter has a few dozen)")
        declared = sum(m.file_size for m in members)
        if declared > MAX_UNCOMPRESSED_BYTES:
            raise DocumentError(path, f"refused: {kind} unpacks to {_mb(declared)}, above the limit of "
                                      f"{_mb(MAX_UNCOMPRESSED_BYTES)} (a compression bomb?)")
        paragraphs = 0
        for member in members:
            _check_ratio(path, kind, member)
            if member.filename.lower().endswith(".xml"):
                paragraphs += _stream_xml(path, kind, archive, member, MAX_PARAGRAPHS - paragraphs)


def _check_ratio(path: Path | str, kind: str, member: zipfile.ZipInfo) -> None:
    size, packed = member.file_size, max(member.compress_size, 1)
    if size > _RATIO_FLOOR_BYTES and size / packed > MAX_COMPRESSION_RATIO:
        raise DocumentError(path, f"refused: {kind} part {member.filename} unpacks {size / packed:,.0f}x "
                                  f"(to {_mb(size)}), above the limit of {MAX_COMPRESSION_RATIO}x "
                                  "(a compression bomb?)")


def _stream_xml(path: Path | str, kind: str, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                paragraphs_left: int) -> int:
    """Unpack one XML part block by block; returns its paragraph count, raises past a limit."""
    total = count = 0
    tail = b""
    try:
        with archive.open(member) as stream:
            while block := stream.read(_STREAM_BLOCK):
                total += len(block)
                if total > MAX_XML_PART_BYTES:
                    raise DocumentError(path, f"refused: {kind} part {member.filename} unpacks to more than "
                                              f"{_mb(MAX_XML_PART_BYTES)}")
                window = tail + block  # a tag cut at a block boundary is counted once, in the next window
                count += len(_PARAGRAPH_RE.findall(window)) - len(_PARAGRAPH_RE.findall(tail))
                tail = window[-16:]
                if count > paragraphs_left:
                    raise DocumentError(path, f"refused: {kind} holds more than {MAX_PARAGRAPHS:,} paragraphs "
                                              "(a letter has a few hundred)")
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError) as e:
        raise DocumentError(path, f"corrupt {kind}: part {member.filename}: {e}") from e
    return count


def check_pdf_pages(path: Path | str, pages: int) -> None:
    if pages > MAX_PDF_PAGES:
        raise DocumentError(path, f"refused: the PDF has {pages:,} pages, above the limit of {MAX_PDF_PAGES}")


def check_image_size(path: Path | str, width: int, height: int, frames: int = 1) -> None:
    """Refuse an image before decoding it when its header announces too many pixels or pages."""
    if width <= 0 or height <= 0:
        raise DocumentError(path, "corrupt image: it has no pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise DocumentError(path, f"refused: the image is {width}x{height} pixels, above the limit of "
                                  f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels (a decompression bomb?)")
    if frames > MAX_IMAGE_FRAMES:
        raise DocumentError(path, f"refused: the image has {frames} pages, above the limit of {MAX_IMAGE_FRAMES}")
