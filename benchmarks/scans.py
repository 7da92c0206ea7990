"""Scanned letters made from their text, for the OCR tests and benchmarks: A4 pages drawn with the CJK font
(WenQuanYi Micro Hei, Debian `fonts-wqy-microhei`) as a department prints a reply letter — centred
letterhead, indented paragraphs, the signature on the right, a running head and "— N —" page numbers —
then, on request, a red seal over the signature, random-pixel noise and a 1–2° skew. Saved as an
image-only PDF (no text layer) or as JPG pages. Pillow draws everything; nothing is downloaded.
"""

from __future__ import annotations

import difflib
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont

FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
)
DPI = 150
PAGE = (1240, 1754)  # A4 at 150 dpi
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 140, 170, 170
FONT_PX = 28  # ≈ 13.5 pt at 150 dpi
LINE_PX = 46


@dataclass(frozen=True)
class ScanStyle:
    noise: float = 0.0  # share of pixels set to a random grey
    skew_degrees: float = 0.0
    seal: bool = False  # a red seal over the signature (the unit and date lines)
    head: str | None = None  # a running head on every page
    seed: int = 7


def font_path() -> str:
    for path in FONT_PATHS:
        if Path(path).is_file():
            return path
    raise FileNotFoundError("the CJK font is missing: apt-get install fonts-wqy-microhei (make test does)")


def _font(size: int = FONT_PX) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(font_path(), size)


_SIGNATURE_RE = re.compile(r"\S{2,20}(?:局|委|办|厅|院|会|政府)|\d{4}年\d{1,2}月\d{1,2}日")


def _layout(text: str, font: ImageFont.FreeTypeFont) -> list[tuple[str, str]]:
    """(alignment, text) per printed line: letterhead centred, body indented and wrapped, signature right."""
    source = [line for line in text.split("\n") if line.strip()]
    salutation = next((i for i, line in enumerate(source) if re.search(r"(代表|委员)[：:]$", line.strip())), 0)
    out: list[tuple[str, str]] = []
    for i, raw in enumerate(source):
        line = raw.strip()
        if i < salutation:
            out.append(("center", line))
        elif re.search(r"\S {3,}\S", line):  # "温州市科学技术局办公室      2024年6月26日印发"
            out.append(("spread", line))
        elif i == salutation or line.startswith(("抄送", "联系人")):
            out.append(("left", line))
        elif raw.startswith("    ") or _SIGNATURE_RE.fullmatch(line):
            out.append(("right", line))
        else:
            out.extend(("left", part) for part in _wrap("\u3000\u3000" + line, font))  # first-line indent
    return out


def _wrap(text: str, font: ImageFont.FreeTypeFont) -> list[str]:
    """Lines no wider than the text block, measured in pixels (digits are narrower than characters)."""
    width, lines, current = PAGE[0] - 2 * MARGIN_X, [], ""
    for char in text:
        if current and font.getlength(current + char) > width:
            lines.append(current)
            current = ""
        current += char
    return [*lines, current] if current else lines


def render_pages(text: str, style: ScanStyle = ScanStyle()) -> list[Image.Image]:
    """The letter drawn on white A4 pages (RGB), with the style's seal, noise and skew."""
    from PIL import Image, ImageDraw

    font, small = _font(), _font(22)
    lines = _layout(text, font)
    per_page = (PAGE[1] - MARGIN_TOP - MARGIN_BOTTOM) // LINE_PX
    pages = []
    for number, start in enumerate(range(0, len(lines), per_page), start=1):
        page = Image.new("RGB", PAGE, "white")
        draw = ImageDraw.Draw(page)
        if style.head:
            draw.text((PAGE[0] // 2, 90), style.head, font=small, fill="black", anchor="mm")
        signature: list[tuple[int, int]] = []
        for row, (align, line) in enumerate(lines[start:start + per_page]):
            y = MARGIN_TOP + row * LINE_PX
            if align == "spread":
                left, right = re.split(r" {3,}", line, maxsplit=1)
                draw.text((MARGIN_X, y), left, font=font, fill="black")
                draw.text((PAGE[0] - MARGIN_X - draw.textlength(right, font=font), y), right, font=font, fill="black")
                continue
            width = draw.textlength(line, font=font)
            x = {"left": MARGIN_X, "center": (PAGE[0] - width) / 2, "right": PAGE[0] - MARGIN_X - width}[align]
            draw.text((x, y), line, font=font, fill="black")
            if align == "right":
                signature.append((int(x + width / 2), y))
        draw.text((PAGE[0] // 2, PAGE[1] - 90), f"— {number} —", font=small, fill="black", anchor="mm")
        if style.seal and signature:
            _seal(page, signature[-1], style.seed)
        pages.append(_degrade(page, style, number))
    return pages


def _seal(page: Image.Image, centre: tuple[int, int], seed: int) -> None:
    """A red seal (ring, star, the unit's name on an arc) multiplied over the signature."""
    from PIL import Image, ImageChops, ImageDraw

    radius = 120
    stamp = Image.new("RGB", page.size, "white")
    draw = ImageDraw.Draw(stamp)
    cx, cy = centre[0] - 20, centre[1]
    red = (215, 40, 40)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=red, width=7)
    points = [math.pi / 2 + k * 4 * math.pi / 5 for k in range(5)]
    star = [(cx + 38 * math.cos(a), cy - 38 * math.sin(a)) for a in points]
    draw.polygon(star, fill=red)
    name = "温州市科学技术局"
    font = _font(30)
    for k, char in enumerate(name):
        angle = math.radians(210 - k * (240 / (len(name) - 1)))
        glyph = Image.new("L", (40, 40), 0)
        ImageDraw.Draw(glyph).text((20, 20), char, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
        x, y = cx + (radius - 32) * math.cos(angle), cy - (radius - 32) * math.sin(angle)
        stamp.paste(Image.new("RGB", (40, 40), red), (int(x - 20), int(y - 20)), glyph)
    page.paste(ImageChops.multiply(page, stamp))


def _degrade(page: Image.Image, style: ScanStyle, number: int) -> Image.Image:
    from PIL import Image

    rng = random.Random(style.seed * 1000 + number)
    if style.skew_degrees:
        page = page.rotate(style.skew_degrees, resample=Image.Resampling.BICUBIC, fillcolor="white")
    if style.noise:
        pixels = page.load()
        assert pixels is not None
        for _ in range(int(style.noise * PAGE[0] * PAGE[1])):
            grey = rng.randrange(256)
            pixels[rng.randrange(PAGE[0]), rng.randrange(PAGE[1])] = (grey, grey, grey)
    return page


def save_pdf(pages: list[Image.Image], path: Path) -> Path:
    """An image-only PDF (no text layer), as a scanner writes it."""
    pages[0].save(path, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return path


def save_jpg(page: Image.Image, path: Path, quality: int = 80) -> Path:
    page.save(path, "JPEG", quality=quality, dpi=(DPI, DPI))
    return path


def similarity(read: str, source: str) -> float:
    """Character similarity of OCR'd text to its source, whitespace removed (difflib's ratio)."""
    a, b = re.sub(r"\s+", "", read), re.sub(r"\s+", "", source)
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
