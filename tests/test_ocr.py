"""Scanned and photographed letters, read by OCR (RapidOCR's real models, offline).

The scans are drawn by the tests themselves (benchmarks/scans.py, WenQuanYi font): the real letter and
示例 97号, clean, with noise and a 1.5° skew, with a red seal over the signature, as image-only PDF and as
JPG, and a PDF whose first page is typed and second scanned. OCR costs seconds a page, so every file is
read once per session and the tests share what was read.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# benchmarks/ and tests/data/ are folders of the repository, not of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.scans import ScanStyle, render_pages, save_jpg, save_pdf, similarity
from chatbot.chunking import chunk_document
from chatbot.config import load_settings
from chatbot.documents import load_document, read_letter_text
from chatbot.errors import DocumentError
from chatbot.indexing import build_index
from chatbot.ocr_layout import Row, drop_furniture, normalise, paragraphs, rows_from_boxes
from chatbot.schema import READ_OCR, Document
from chatbot.service import Chatbot
from tests.data.make_fixtures import LETTER_97

ROOT = Path(__file__).resolve().parents[1]
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
NOISY = ScanStyle(noise=0.02, skew_degrees=1.5, seal=True, head="温州市科学技术局")


@dataclass
class Read:
    doc: Document
    source: str  # the text the scan was drawn from
    pages: list[tuple[int, int]]  # the progress calls


def _mixed_pdf(path: Path) -> Path:
    """Page 1 typed (a text layer), page 2 a scan of the rest of the letter (signature with a seal)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    lines = LETTER_97.splitlines()
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=True)
    width, height = A4
    pdf.setFont("STSong-Light", 10)
    for i, line in enumerate(lines[:7]):
        pdf.drawString(50, height - 80 - 18 * i, line)
    pdf.showPage()
    scan = render_pages("\n".join(lines[7:]), ScanStyle(seal=True))[0]
    buffer = io.BytesIO()
    scan.save(buffer, "PNG")
    pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, width, height)
    pdf.showPage()
    pdf.save()
    return path


CLEAN = ScanStyle(head="温州市科学技术局")


@pytest.fixture(scope="session")
def scanned_index(tmp_path_factory: pytest.TempPathFactory, real_embedder) -> tuple[Chatbot, list[str]]:
    """An index of the scanned copy of the real letter alone, and the staff page's progress messages."""
    root = tmp_path_factory.mktemp("scanned_index")
    (root / "corpus").mkdir()
    save_pdf(render_pages(read_letter_text(REAL_LETTER), CLEAN), root / "corpus" / "扫描件.pdf")
    settings = load_settings(corpus_dir=root / "corpus", index_dir=root / "index")
    messages: list[str] = []
    assert not build_index(settings, real_embedder, progress=lambda _f, desc: messages.append(desc)).skipped
    return Chatbot(settings, embedder=real_embedder), messages


@pytest.fixture(scope="session")
def scans(tmp_path_factory: pytest.TempPathFactory, scanned_index: tuple[Chatbot, list[str]]) -> dict[str, Read]:
    """Every scanned file of these tests, read once; the clean scan of the real letter as the index holds it."""
    folder = tmp_path_factory.mktemp("scans")
    real = read_letter_text(REAL_LETTER)
    files = {
        "real-noisy.pdf": (save_pdf(render_pages(real, NOISY), folder / "b.pdf"), real),
        "97-clean.jpg": (save_jpg(render_pages(LETTER_97)[0], folder / "c.jpg"), LETTER_97),
        "97-noisy.jpg": (save_jpg(render_pages(LETTER_97, NOISY)[0], folder / "d.jpg", quality=70), LETTER_97),
        "97-sealed.jpg": (save_jpg(render_pages(LETTER_97, ScanStyle(seal=True))[0], folder / "f.jpg"), LETTER_97),
        "97-mixed.pdf": (_mixed_pdf(folder / "e.pdf"), LETTER_97),
    }
    out = {}
    for name, (path, source) in files.items():
        calls: list[tuple[int, int]] = []
        doc = load_document(path, on_page=lambda done, total, calls=calls: calls.append((done, total)))
        out[name] = Read(doc, source, calls)
    bot, _ = scanned_index
    letter = bot.letters()[0]
    text = bot.snapshot().document_text(letter.doc_id) or ""
    stored = Document(letter.doc_id, letter.source, "", text, letter.meta, reading=letter.reading)
    out["real-clean.pdf"] = Read(stored, real, [])
    return out


@pytest.mark.parametrize(("name", "floor"), [
    ("real-clean.pdf", 0.97), ("real-noisy.pdf", 0.93), ("97-clean.jpg", 0.97), ("97-noisy.jpg", 0.93),
    ("97-sealed.jpg", 0.97),
])
def test_character_accuracy(scans: dict[str, Read], name: str, floor: float) -> None:
    read = scans[name]
    assert similarity(read.doc.text, read.source) >= floor
    assert read.doc.reading.method == READ_OCR


@pytest.mark.parametrize("name", ["real-clean.pdf", "real-noisy.pdf"])
def test_scanned_real_letter_metadata_matches_the_text_copy(scans: dict[str, Read], name: str) -> None:
    meta = scans[name].doc.meta
    assert scans[name].doc.doc_id == "温科提复〔2024〕91号"  # （2024） read by OCR, mended to 〔2024〕
    assert (meta.deputies, meta.proposal_number, meta.date) == (("虞振勇",), "817", "2024-06-26")
    assert (meta.title, meta.unit) == ("关于加快科技成果落地转化的建议", "温州市科学技术局")
    assert (meta.contact_person, meta.contact_phone) == ("李贤", "88962022")


def test_scanned_letter_has_the_section_paths_of_the_text_copy(scanned_index: tuple[Chatbot, list[str]]) -> None:
    typed = {c.section for c in chunk_document(load_document(REAL_LETTER))}
    bot, _ = scanned_index
    snapshot = bot.snapshot()
    scanned = {c.section for c in snapshot.chunks(range(1, snapshot.num_chunks + 1))}
    assert scanned == typed


def test_page_heads_and_numbers_are_dropped(scans: dict[str, Read]) -> None:
    text = scans["real-clean.pdf"].doc.text
    assert not text.startswith("温州市科学技术局")  # the running head of every page
    assert "— 2 —" not in text and "一2一" not in text
    assert "2024年计划建成5家概念验证中心和中试平台。" in text


def test_progress_is_reported_per_page(scans: dict[str, Read], scanned_index: tuple[Chatbot, list[str]]) -> None:
    assert scans["real-noisy.pdf"].pages == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert scans["97-mixed.pdf"].pages == [(1, 2), (2, 2)]  # the typed page at once, then the scan
    pages = [m for m in scanned_index[1] if "页" in m]  # what the staff page's progress bar shows
    assert pages == [f"正在读取 扫描件.pdf：第 {n}/4 页" for n in range(1, 5)]


def test_reading_records_pages_and_confidence(scans: dict[str, Read]) -> None:
    reading = scans["real-clean.pdf"].doc.reading
    assert (reading.pages, reading.ocr_pages, reading.low_confidence_pages) == (4, (1, 2, 3, 4), ())
    assert reading.ocr_confidence is not None and 0.95 <= reading.ocr_confidence <= 1.0


@pytest.mark.parametrize("name", ["97-clean.jpg", "97-noisy.jpg", "97-sealed.jpg"])
def test_photographed_letter_with_seal_keeps_its_signature(scans: dict[str, Read], name: str) -> None:
    doc = scans[name].doc
    assert doc.doc_id == "温科提复〔2024〕97号"
    assert (doc.meta.deputies, doc.meta.unit, doc.meta.date) == (("王建国",), "温州市科学技术局", "2024-07-08")
    assert doc.reading.pages == 1 and doc.reading.ocr_pages == (1,)


def test_mixed_pdf_reads_each_page_its_own_way(scans: dict[str, Read]) -> None:
    doc = scans["97-mixed.pdf"].doc
    assert (doc.reading.method, doc.reading.pages, doc.reading.ocr_pages) == (READ_OCR, 2, (2,))
    assert doc.text.startswith("温科提复〔2024〕97号\n关于市十四届人大四次会议第512号建议的答复函\n王建国代表：")
    assert "二、关于“完善科技金融服务”的建议" in doc.text  # the scanned page's first line
    assert (doc.meta.unit, doc.meta.date) == ("温州市科学技术局", "2024-07-08")  # from the scanned page


def test_answer_quotes_the_scanned_copy_and_says_so(scanned_index: tuple[Chatbot, list[str]]) -> None:
    bot, _ = scanned_index
    reply = bot.answer("2024年计划建成几家概念验证中心")
    assert reply.direct_answer == "5家"
    first = reply.passages[0]
    assert first.doc_id == "温科提复〔2024〕91号" and first.scanned
    assert "2024年计划建成5家概念验证中心和中试平台。" in first.quote
    assert "（温科提复〔2024〕91号）（识别自扫描件） · " in reply.answer
    assert [x.reading.method for x in bot.letters()] == [READ_OCR]


# --- refusals -------------------------------------------------------------------------------------------
def _image(path: Path, draw: str) -> Path:
    from PIL import Image, ImageDraw

    from benchmarks.scans import PAGE, font_path

    image = Image.new("RGB", PAGE, "white")
    pen = ImageDraw.Draw(image)
    if draw == "shapes":  # a picture without writing
        for k in range(12):
            pen.ellipse((80 + 90 * k, 300 + 60 * k, 300 + 90 * k, 520 + 60 * k), outline=(30, 90, 200), width=9)
        pen.rectangle((200, 1200, 900, 1500), fill=(40, 160, 60))
    elif draw == "sign":  # a photo of something else: a sign with two words on it
        from PIL import ImageFont

        pen.rectangle((300, 600, 940, 900), fill=(20, 120, 40))
        pen.text((620, 750), "出口", font=ImageFont.truetype(font_path(), 160), fill="white", anchor="mm")
    image.save(path)
    return path


@pytest.mark.parametrize(("draw", "reason"), [
    ("blank", "no text found by OCR: the scan is blank or holds no writing"),
    ("shapes", "not a letter: OCR found only 0 Chinese characters (a letter has hundreds; is this a photo of "
               "something else?)"),
    ("sign", "not a letter: OCR found only 2 Chinese characters (a letter has hundreds; is this a photo of "
             "something else?)"),
])
def test_scans_without_a_letter_are_refused_with_the_reason(tmp_path: Path, draw: str, reason: str) -> None:
    path = _image(tmp_path / f"{draw}.png", draw)
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value) == f"{path}: {reason}"


def test_corrupt_image_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    with pytest.raises(DocumentError, match=r"broken\.jpg: not a readable image: "):
        load_document(path)


# --- layout and normalisation, on boxes and rows made by hand ---------------------------------------------
def test_doc_number_brackets_and_digit_lookalikes_are_mended() -> None:
    assert normalise("温科提复（2024）91号") == "温科提复〔2024〕91号"
    assert normalise("温科提复〔2024】91号") == "温科提复〔2024〕91号"
    assert normalise("2O24年建成1l5家") == "2024年建成115家"
    assert normalise("5G基站、3D打印、（2024）年度") == "5G基站、3D打印、（2024）年度"  # not a 文号, not between digits


def test_boxes_of_a_skewed_page_form_rows_read_left_to_right() -> None:
    slope = 0.03  # ≈ 1.7°: the right end of each line sits 30 px lower over 1,000 px
    boxes = []
    for line, y in ((("温州市", "科学技术局"), 100), (("第二行", "文字"), 160)):
        for k, text in enumerate(line):
            x0, x1 = 100 + 500 * k, 400 + 500 * k
            boxes.append(([[x0, y + slope * x0], [x1, y + slope * x1], [x1, y + 30 + slope * x1],
                           [x0, y + 30 + slope * x0]], text, 0.9))
    rows = rows_from_boxes(list(reversed(boxes)))
    assert [row.text for row in rows] == ["温州市 科学技术局", "第二行 文字"]
    assert rows[0].confidence == pytest.approx(0.9)


def _row(text: str, left: float, right: float, top: float) -> Row:
    return Row(text, left, right, top, top + 30, 0.99)


def test_rows_join_into_paragraphs_by_margins_and_starts() -> None:
    page = [
        _row("王建国代表：", 100, 280, 100),
        _row("你在会议期间所提的建议收悉。经研究，现答复如", 160, 1100, 150),  # indented: starts a paragraph
        _row("下：", 100, 160, 200),  # runs on from a full row; ends with ：
        _row("一、关于研发补助的建议", 100, 500, 250),  # a heading starts one
        _row("全市兑现补助资金3.2亿元，惠及企业1860家，研发", 160, 1100, 300),
        _row("投入增长12.5%", 100, 1100, 350),  # full and without a sentence end: runs on
        _row("二是新增合作银行5家。", 100, 520, 400),  # 二是 starts one
        _row("— 1 —", 560, 640, 1600),
    ]
    assert paragraphs(drop_furniture([page])) == [
        "王建国代表：", "你在会议期间所提的建议收悉。经研究，现答复如下：", "一、关于研发补助的建议",
        "全市兑现补助资金3.2亿元，惠及企业1860家，研发投入增长12.5%", "二是新增合作银行5家。",
    ]


def test_index_list_shows_the_letter_was_scanned(scanned_index: tuple[Chatbot, list[str]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from click.testing import CliRunner

    from chatbot import cli

    bot, _ = scanned_index
    monkeypatch.setenv("CHATBOT_INDEX_DIR", str(bot.settings.index_dir))
    runner = CliRunner()
    table = runner.invoke(cli.main, ["index", "list"]).stdout.splitlines()
    assert table[0].endswith("\t读取方式")
    row = table[1].split("\t")
    assert row[:5] == ["温科提复〔2024〕91号", "关于加快科技成果落地转化的建议", "温州市科学技术局", "虞振勇",
                       "2024-06-26"]
    assert row[6].startswith("识别自扫描件（置信度 0.9") and row[6].endswith("）")
    listed = json.loads(runner.invoke(cli.main, ["index", "list", "--json"]).stdout)
    assert listed[0]["reading"]["method"] == "ocr"
    assert (listed[0]["reading"]["ocr_pages"], listed[0]["reading"]["pages"]) == ([1, 2, 3, 4], 4)
