"""Letters that arrive in other containers: web pages saved from a department's site, and old word
processor files (.doc, .rtf, .odt, .wps) converted by LibreOffice.

Web pages: trafilatura (a well-kept extraction library) finds the page's main content and its title and
date, and decodes UTF-8 or GBK from the page itself; the share, print and font-size lines that government
sites keep inside the article are then dropped (chatbot/data/web_boilerplate.txt).
Old files: `soffice --headless --convert-to docx` in a temporary folder with its own profile, then the
.docx is read like any other (chatbot.documents), after the same decompression limits.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import DocumentError

log = logging.getLogger(__name__)

WEB_SUFFIXES: tuple[str, ...] = (".html", ".htm")
CONVERTED_SUFFIXES: tuple[str, ...] = (".doc", ".rtf", ".odt", ".wps")
LIBREOFFICE_PACKAGE = "libreoffice-writer-nogui"  # the Debian package the Makefile installs
CONVERT_TIMEOUT_S = 120
MIN_WEB_CHARS = 30  # a page whose main content holds fewer Chinese characters is a site page, not a letter
TABLE_CELL_SEP = "｜"  # as chatbot.documents joins a .docx table row's cells
_SITE_SUFFIX_RE = re.compile(r"\s*(?:[_|｜]|\s[-–—]\s).*$")  # "…答复函_泰顺县人民政府" → "…答复函"


@dataclass(frozen=True)
class WebPage:
    text: str
    title: str | None  # the page's own title, without the site's name
    date: str | None  # ISO date the page gives, e.g. 2023-05-05


@cache
def _boilerplate() -> tuple[re.Pattern[str], ...]:
    raw = resources.files("chatbot").joinpath("data", "web_boilerplate.txt").read_text(encoding="utf-8")
    return tuple(re.compile(line) for line in raw.splitlines() if line.strip() and not line.startswith("#"))


def is_boilerplate(line: str) -> bool:
    """A line of a web page that is page furniture (字体：大 中 小, 打印本页, 分享到…), not the letter."""
    line = line.strip()
    return any(rx.match(line) for rx in _boilerplate())


def read_web_page(path: Path, data: bytes) -> WebPage:
    """The main content of a saved web page, with the page's title first when the text lacks it."""
    try:
        import trafilatura
        from lxml import etree

        xml = trafilatura.extract(data, output_format="xml", with_metadata=True, include_tables=True,
                                  include_comments=False, include_images=False)
        root = etree.fromstring(xml.encode("utf-8")) if xml else None
    except Exception as e:  # lxml and trafilatura raise many error types on broken markup
        raise DocumentError(path, f"web page cannot be parsed: {type(e).__name__}: {e}") from e
    main = root.find("main") if root is not None else None
    lines = [line for line in (_block_lines(main) if main is not None else []) if not is_boilerplate(line)]
    chinese = sum(1 for line in lines for c in line if "\u4e00" <= c <= "\u9fff")
    if chinese < MIN_WEB_CHARS:
        raise DocumentError(path, f"no letter text found in the web page: its main content holds {chinese} "
                                  "Chinese characters")
    assert root is not None  # lines were found under it
    title = _SITE_SUFFIX_RE.sub("", root.get("title") or "").strip() or None
    if title and not any(title in line for line in lines[:5]):
        lines.insert(0, title)  # the heading stood outside the extracted body: the letterhead needs it
    date = root.get("date")
    return WebPage("\n".join(lines), title, date if date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None)


_BLOCKS = {"p", "head", "item", "quote", "code"}


def _block_lines(element: Any) -> list[str]:
    """Lines of trafilatura's XML: a paragraph, heading or list item each; a table row whose cells hold
    paragraphs (an old site laying out its page with tables) as those paragraphs, a data table's row as
    one line of cells joined by ｜ (as a .docx table row is read)."""
    lines: list[str] = []
    for child in element:
        if child.tag in _BLOCKS:
            lines.append(_text(child))
        elif child.tag == "table":
            for row in child.iter("row"):
                cells = row.findall("cell")
                if any(len(cell) and any(c.tag in _BLOCKS for c in cell) for cell in cells):
                    for cell in cells:
                        lines.extend(_block_lines(cell) if len(cell) else [_text(cell)])
                else:
                    lines.append(TABLE_CELL_SEP.join(_text(cell) for cell in cells))
        elif len(child):
            lines.extend(_block_lines(child))
        elif _text(child):
            lines.append(_text(child))
    return [line for line in lines if line.strip()]


# A space between two Chinese characters or marks: a line break in the page's source (the text has none
# there) or letter-spacing ("答 复 函"); trafilatura has already turned both into one space.
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_CJK_SPACE_RE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")


def _text(element: Any) -> str:
    return _CJK_SPACE_RE.sub("", re.sub(r"\s+", " ", "".join(element.itertext()))).strip()


def convert_to_docx(path: Path, data: bytes) -> bytes:
    """The bytes of a .docx that LibreOffice made from `data` (a .doc/.rtf/.odt/.wps file)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise DocumentError(path, f"{path.suffix} files need LibreOffice to be read: install the Debian package "
                                  f"{LIBREOFFICE_PACKAGE} (sudo apt-get install {LIBREOFFICE_PACKAGE}), "
                                  "or save the letter as .docx")
    with tempfile.TemporaryDirectory(prefix="chatbot-convert-") as tmp:
        folder = Path(tmp)
        source = folder / f"letter{path.suffix.lower()}"  # a plain name: the user's may hold anything
        source.write_bytes(data)
        command = [soffice, "--headless", "--norestore", f"-env:UserInstallation={(folder / 'profile').as_uri()}",
                   "--convert-to", "docx", "--outdir", str(folder / "out"), str(source)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise DocumentError(path, f"LibreOffice did not convert the file within {CONVERT_TIMEOUT_S} s") from e
        result = folder / "out" / "letter.docx"
        if not result.is_file():
            said = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
            reason = said[-1] if said else f"exit code {done.returncode}"
            raise DocumentError(path, f"LibreOffice could not convert this {path.suffix} file "
                                      f"(corrupt or not a document): {reason}")
        log.info("converted %s to .docx with LibreOffice", path)
        return result.read_bytes()
