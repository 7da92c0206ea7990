"""How each letter was read: stored in the index (schema 3), listed, and marked beside quotes of scans."""

from __future__ import annotations

import sqlite3

import pytest

from chatbot import compose
from chatbot import ui_text as T
from chatbot.embedding import HashingEmbedder
from chatbot.errors import IndexMismatchError
from chatbot.indexing import add_files, build_index
from chatbot.schema import READ_CONVERTED, READ_OCR, READ_WEB, LetterInfo, Passage, Reading
from chatbot.store import SCHEMA_VERSION, list_letters, store_path

WEB_LETTER = """<html><head><meta charset="utf-8"><title>关于第7号建议的答复函_某县人民政府</title></head><body>
<div class="content"><p>王伟代表：</p><p>您提出的《关于增加公交线路的建议》收悉，现答复如下：</p>
<p>一、工作进展。2023年我县新开通公交线路6条，覆盖行政村120个。</p>
<p>二、下一步计划。2024年计划新开通公交线路4条。</p><p>某县交通运输局</p><p>2024年5月6日</p></div>
</body></html>"""


@pytest.mark.parametrize(("reading", "label"), [
    (Reading(), "文本"),
    (Reading(method=READ_WEB), "网页"),
    (Reading(method=READ_CONVERTED, converted_from=".doc"), "由 .doc 转换"),
    (Reading(method=READ_OCR, pages=3, ocr_pages=(1, 2, 3), ocr_confidence=0.981), "识别自扫描件（置信度 0.98）"),
    (Reading(method=READ_OCR, pages=3, ocr_pages=(3,), ocr_confidence=0.9), "识别自扫描件（第 3 页；置信度 0.90）"),
    (Reading(method=READ_OCR, pages=4, ocr_pages=(1, 2, 3, 4), ocr_confidence=0.87, low_confidence_pages=(2, 4)),
     "识别自扫描件（置信度 0.87；低置信度页：2、4）"),
])
def test_reading_label(reading: Reading, label: str) -> None:
    assert T.reading_label(reading) == label


def _passage(scanned: bool) -> Passage:
    return Passage(doc_id="温科提复〔2024〕91号", title="关于加快科技成果落地转化的建议", section="落款", text="正文",
                   quote="正文", score=1.0, start=0, end=2, scanned=scanned)


def test_quotes_of_a_scanned_letter_say_so_in_the_chat_and_the_sources_panel() -> None:
    title = "《关于加快科技成果落地转化的建议》"
    assert compose.citation(_passage(True)) == f"{title}（温科提复〔2024〕91号）（识别自扫描件） · 落款"
    assert compose.citation(_passage(False)) == f"{title}（温科提复〔2024〕91号） · 落款"
    assert T.citation(_passage(True)).endswith('（温科提复〔2024〕91号）<span class="src-scanned">识别自扫描件</span>')
    assert "识别自扫描件" not in T.citation(_passage(False))


def test_letters_tab_shows_how_each_letter_was_read() -> None:
    letter = LetterInfo(doc_id="甲", title="题", deputies=(), date=None, chunk_count=3, source="a.pdf",
                        reading=Reading(method=READ_OCR, pages=2, ocr_pages=(1, 2), ocr_confidence=0.95))
    html = T.letters_html([letter])
    assert "<th>读取方式</th>" in html
    assert '<td class="reading">识别自扫描件（置信度 0.95）</td>' in html


def test_reading_is_stored_and_listed(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    page = idx_settings.corpus_dir.parent / "答复.html"
    page.write_text(WEB_LETTER, encoding="utf-8")
    add_files(idx_settings, HashingEmbedder(), [page])
    letters = {x.source: x for x in list_letters(idx_settings.index_dir)}
    assert letters["答复.html"].reading == Reading(method=READ_WEB)
    assert letters["答复.html"].doc_id == "某县交通运输局关于第7号建议的答复函"  # no 文号: the unit and the page title
    assert letters["温科提复〔2024〕101号.txt"].reading == Reading(method="text", pages=0)


def test_an_index_of_schema_2_is_rebuilt_in_full(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    with sqlite3.connect(store_path(idx_settings.index_dir)) as conn:  # what an index written before schema 3 held
        conn.execute("ALTER TABLE docs DROP COLUMN reading")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatchError) as caught:
        list_letters(idx_settings.index_dir)
    assert str(caught.value) == (f"index at {idx_settings.index_dir} has schema version 2, this program reads "
                                 f"{SCHEMA_VERSION}: run `chatbot index build --full`")
    report = build_index(idx_settings, HashingEmbedder())
    assert report.chunks_embedded == 12 and not report.unchanged  # everything re-read and re-embedded
    assert [x.reading.method for x in list_letters(idx_settings.index_dir)] == ["text"] * 3
