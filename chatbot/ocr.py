"""Read letters that arrive as pictures: PDF pages without a text layer and .jpg/.png/.tif files.

Offline, with real models: RapidOCR (`rapidocr-onnxruntime`) ships PP-OCRv4's Chinese detection and
recognition models as ONNX files in its wheel and runs them on the onnxruntime the embedder already uses;
pypdfium2 renders PDF pages. A page is read in its red channel, in which a red seal is as light as the paper
while black text stays black, so the seal over a signature does not break the text under it.
chatbot.ocr_layout turns the recognised boxes into rows and paragraphs.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import file_limits as limits
from .errors import DocumentError
from .ocr_layout import Row, drop_furniture, normalise, paragraphs, rows_from_boxes
from .pages import PageProgress
from .schema import READ_OCR, Reading

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
RENDER_DPI = 150  # what a scanned page is rendered at: 3–5 s a page, 0.98+ character similarity
OCR_CONFIDENCE_FLOOR = 0.9  # a page read with a lower mean confidence is reported by number
MAX_OCR_SIDE = 2400  # a larger photo is scaled down first: the recogniser gains nothing above this
MIN_LETTER_CHARS = 40  # fewer Chinese characters than this in the whole file: not a letter
MIN_MEAN_CONFIDENCE = 0.6  # a file read with less is noise, not text
RED_INK_MARGIN = 60  # a pixel whose red exceeds its green and blue by more than this is a seal's ink


@dataclass(frozen=True)
class OcrPage:
    """One page as OCR read it."""

    number: int  # 1-based, in its file
    rows: list[Row]

    @property
    def chars(self) -> int:
        return sum(len(row.text) for row in self.rows)

    @property
    def confidence(self) -> float | None:
        if not self.chars:
            return None
        return sum(row.confidence * len(row.text) for row in self.rows) / self.chars


# RapidOCR's detector expands each found text region by this ratio (its default 1.6 let adjacent lines of a
# letter at 1.5 line spacing touch, and a whole line was then lost now and then).
DET_UNCLIP_RATIO = 1.3


class OcrEngine:
    """The recogniser, loaded on first use (≈0.3 s) and reused for every page of a file."""

    def __init__(self, **options: Any) -> None:
        self._engine: Any = None
        self._options = {"det_unclip_ratio": DET_UNCLIP_RATIO, **options}

    def read(self, image: Image.Image, number: int) -> OcrPage:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            self._engine = RapidOCR(**self._options)
            _rebuild_sessions(self._engine)
        detections, _elapsed = self._engine(_prepared(image))
        return OcrPage(number, rows_from_boxes(detections or []))


def _rebuild_sessions(engine: Any) -> None:
    """Give RapidOCR's three onnxruntime sessions a memory arena and worker threads that sleep when idle.

    RapidOCR 1.4.4 builds them without the arena: every page then allocates its buffers afresh, millions
    of page faults (~10 s of kernel time a page measured here), and its spinning worker threads crawl when
    another process shares the two cores. Measured on the same page under load: 15–24 s → 5–9 s a page.
    The models and graph optimisation are RapidOCR's own.
    """
    import onnxruntime as ort
    from rapidocr_onnxruntime.main import DEFAULT_CFG_PATH
    from rapidocr_onnxruntime.utils import read_yaml, update_model_path

    config = update_model_path(read_yaml(DEFAULT_CFG_PATH))
    parts = ((engine.text_det.infer, "Det"), (engine.text_cls.infer, "Cls"), (engine.text_rec.session, "Rec"))
    for wrapper, part in parts:
        options = ort.SessionOptions()
        options.log_severity_level = 4
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        wrapper.session = ort.InferenceSession(config[part]["model_path"], sess_options=options,
                                               providers=["CPUExecutionProvider"])


def _prepared(image: Image.Image) -> Any:
    """The page as a greyscale array without its red ink (seals vanish), no larger than MAX_OCR_SIDE."""
    import numpy as np
    from PIL import Image as PILImage
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image) or image  # a phone photo taken sideways
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    scale = MAX_OCR_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), PILImage.Resampling.LANCZOS)
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        return pixels
    red = pixels[:, :, 0]
    # The red channel keeps black text black and makes red ink light; what is clearly red (a seal's ring,
    # star and arc of characters, even where JPEG blurred it) becomes paper white.
    redness = red.astype(np.int16) - np.maximum(pixels[:, :, 1], pixels[:, :, 2])
    return np.where(redness > RED_INK_MARGIN, 255, red).astype(np.uint8)


def image_pages(path: Path, data: bytes) -> Iterator[Image.Image]:
    """The pages of an image file (one, or each frame of a TIFF), refused before decoding when too large."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        image = PILImage.open(io.BytesIO(data))
    except PILImage.DecompressionBombError as e:  # Pillow's own check, at twice its default pixel limit
        raise DocumentError(path, f"refused: {e}") from e
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DocumentError(path, f"not a readable image: {e}") from e
    limits.check_image_size(path, image.width, image.height, getattr(image, "n_frames", 1))
    for frame in range(getattr(image, "n_frames", 1)):
        try:
            image.seek(frame)
            limits.check_image_size(path, image.width, image.height)
            image.load()
        except (OSError, ValueError, PILImage.DecompressionBombError) as e:
            raise DocumentError(path, f"corrupt image: {e}") from e
        yield image.copy()


def render_pdf_page(path: Path, pdf: Any, index: int) -> Image.Image:
    """Page `index` (0-based) of a pypdfium2 document as an image at RENDER_DPI, capped in pixels."""
    page = pdf[index]
    width, height = page.get_size()  # points
    scale = RENDER_DPI / 72
    pixels = width * height * scale * scale
    if pixels > limits.MAX_IMAGE_PIXELS:  # a page declared metres wide: render it smaller, never huge
        scale *= (limits.MAX_IMAGE_PIXELS / pixels) ** 0.5
    try:
        return page.render(scale=scale, grayscale=False).to_pil()
    except Exception as e:  # pdfium reports failures as a generic PdfiumError
        raise DocumentError(path, f"page {index + 1} cannot be rendered: {e}") from e


def read_image_file(path: Path, data: bytes, on_page: PageProgress | None = None) -> tuple[str, Reading]:
    """The text of a scanned or photographed letter (.jpg/.png/.tif, a TIFF page by page)."""
    engine, pages = OcrEngine(), []
    frames = list(image_pages(path, data))
    for number, image in enumerate(frames, start=1):
        pages.append(engine.read(image, number))
        if on_page is not None:
            on_page(number, len(frames))
    return ocr_text(path, pages), reading_of(pages, total_pages=len(frames))


def ocr_text(path: Path, pages: list[OcrPage], *, check: bool = True) -> str:
    """The letter text of consecutive OCR'd pages; with `check`, a file with too little readable text is
    refused (a mixed PDF checks its whole text instead: its scanned page may be the signature alone)."""
    if check:
        check_readable(path, pages)
    kept = drop_furniture([page.rows for page in pages])
    return "\n".join(normalise(paragraph) for paragraph in paragraphs(kept))


def check_readable(path: Path, pages: list[OcrPage]) -> None:
    """A blank scan, a picture without text or a photo of something else is refused with the reason."""
    chars = sum(page.chars for page in pages)
    if not chars:
        raise DocumentError(path, "no text found by OCR: the scan is blank or holds no writing")
    chinese = sum(1 for page in pages for row in page.rows for c in row.text if "\u4e00" <= c <= "\u9fff")
    confidence = sum((page.confidence or 0) * page.chars for page in pages) / chars
    if chinese < MIN_LETTER_CHARS:
        raise DocumentError(path, f"not a letter: OCR found only {chinese} Chinese characters "
                                  f"(a letter has hundreds; is this a photo of something else?)")
    if confidence < MIN_MEAN_CONFIDENCE:
        raise DocumentError(path, f"not readable: OCR confidence {confidence:.2f} is below "
                                  f"{MIN_MEAN_CONFIDENCE} (rescan at 300 dpi or photograph it flat and sharp)")


def reading_of(pages: list[OcrPage], total_pages: int, method: str = READ_OCR) -> Reading:
    """How the OCR'd pages were read: their numbers, the mean confidence and the pages below the floor."""
    chars = sum(page.chars for page in pages)
    mean = sum((page.confidence or 0) * page.chars for page in pages) / chars if chars else None
    low = tuple(page.number for page in pages
                if page.confidence is not None and page.confidence < OCR_CONFIDENCE_FLOOR)
    return Reading(method=method, pages=total_pages, ocr_pages=tuple(page.number for page in pages),
                   ocr_confidence=round(mean, 4) if mean is not None else None, low_confidence_pages=low)
