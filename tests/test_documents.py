"""Reading letters: encodings, formats, cleaning, metadata, and the errors bad files give."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from chatbot.documents import (
    PAGE_NUMBER_RE,
    SUPPORTED_SUFFIXES,
    clean_text,
    iter_corpus_files,
    load_document,
    read_letter_text,
)
from chatbot.errors import DocumentError
from chatbot.pages import strip_page_furniture
from chatbot.schema import LetterMeta

ROOT = Path(__file__).resolve().parents[1]
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
DATA = Path(__file__).resolve().parent / "data"


def test_supported_suffixes() -> None:
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".docx", ".pdf", ".html", ".htm", ".doc", ".rtf", ".odt", ".wps",
                                  ".jpg", ".jpeg", ".png", ".tif", ".tiff")


def test_real_letter_metadata() -> None:
    doc = load_document(REAL_LETTER)
    assert doc.meta == LetterMeta(
        doc_number="温科提复〔2024〕91号",
        session="市十四届人大四次会议",
        proposal_kind="建议",
        proposal_number="817",
        deputies=("虞振勇",),
        title="关于加快科技成果落地转化的建议",
        unit="温州市科学技术局",
        date="2024-06-26",
        contact_person="李贤",
        contact_phone="88962022",
        cc=("市人大常委会代表工委", "市府办", "永嘉县人大常委会"),
        heading="关于市十四届人大四次会议817号建议的答复函",
        role="代表",
        fields=(("联系人", "李贤"), ("联系电话", "88962022"), ("抄送", "市人大常委会代表工委,市府办,永嘉县人大常委会")),
    )
    assert doc.doc_id == "温科提复〔2024〕91号"
    assert doc.source == "温科提复〔2024〕91号.txt"
    assert doc.sha256 == hashlib.sha256(REAL_LETTER.read_bytes()).hexdigest()
    assert doc.warnings == ()


def test_real_letter_text_is_cleaned_but_keeps_its_characters() -> None:
    text = load_document(REAL_LETTER).text
    assert "[bookmark" not in text
    assert "\n\n\n" not in text and "\r" not in text and "  " not in text
    assert all(line == line.strip() for line in text.split("\n"))
    assert text.startswith("温科提复〔2024〕91号\n\n关于市十四届人大四次会议817号建议的\n答 复 函\n")
    assert "\n[bookmark" not in text and "\n（一）工作进展。我市一直注重科技成果转化服务机构" in text
    assert "温州市科学技术局\n2024年6月26日\n\n抄送：" in text
    assert text.endswith("温州市科学技术局办公室 2024年6月26日印发")
    assert "到 2026 年" in text  # single spaces and full-width punctuation are the letter's own
    assert read_letter_text(REAL_LETTER) == text


def test_gbk_letter_with_crlf_is_detected_and_parsed() -> None:
    path = DATA / "gbk_letter.txt"
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert b"\r\n" in raw
    doc = load_document(path)
    assert "\r" not in doc.text
    assert "（一）工作进展。今年以来，全市政府性融资担保机构新增担保额86.5亿元" in doc.text
    assert doc.doc_id == "温财提复〔2024〕15号"
    assert doc.meta == LetterMeta(
        doc_number="温财提复〔2024〕15号",
        session="市政协十二届三次会议",
        proposal_kind="提案",
        proposal_number="156",
        deputies=("陈立新", "王晓燕"),
        title="关于加大对中小微企业融资支持的提案",
        unit="温州市财政局",
        date="2024-07-15",
        contact_person="张三",
        contact_phone="0577-88888888",
        cc=("市政协提案委", "市府办", "鹿城区政协"),
        heading="关于市政协十二届三次会议第156号提案的答复函",
        role="委员",
        fields=(("联系人", "张三"), ("电话", "0577-88888888"), ("抄送", "市政协提案委,市府办、鹿城区政协")),
    )


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes("\ufeff## 标题\r\n\r\n\r\n\r\n正文一行。\r\n".encode())
    assert read_letter_text(path) == "标题\n\n正文一行。"


def test_docx_letter_reads_paragraphs_and_table_rows_in_order() -> None:
    doc = load_document(DATA / "letter.docx")
    assert (
        "各县（市、区）改造进度如下表：\n地区｜改造企业（家）\n鹿城区｜320\n瓯海区｜280\n"
        "（二）下一步工作计划。2024年计划完成数字化改造1500家" in doc.text
    )
    assert "\u200b" not in doc.text and "收悉。现答复如下：" in doc.text
    assert doc.meta.doc_number == "温经信提复〔2024〕33号"
    assert doc.meta.deputies == ("张伟", "李娜")
    assert (doc.meta.proposal_kind, doc.meta.proposal_number) == ("建议", "245")
    assert (doc.meta.unit, doc.meta.date) == ("温州市经济和信息化局", "2024-06-20")
    assert (doc.meta.contact_person, doc.meta.contact_phone) == ("王芳", "88960001")


def test_pdf_letter_drops_page_furniture_and_rejoins_wrapped_lines() -> None:
    doc = load_document(DATA / "letter.pdf")
    assert "温州市教育局文件" not in doc.text  # the header repeated on both pages
    assert "—" not in doc.text  # "— 1 —", "— 2 —"
    assert doc.text.startswith("温教提复〔2024〕7号\n关于市十四届人大四次会议第45号建议的答复函\n周明代表：")
    assert "公办幼儿园在园幼儿占比达到65%。\n（二）下一步工作计划。" in doc.text
    assert "30所。\n二、关于“加强幼儿教师队伍建设”的建议\n" in doc.text  # page 1 → page 2
    assert doc.meta.title == "关于增加公办幼儿园学位的建议"
    assert (doc.meta.unit, doc.meta.date, doc.meta.deputies) == ("温州市教育局", "2024-07-01", ("周明",))


@pytest.mark.parametrize(
    "line", ["— 3 —", "- 3 -", "3", "第3页", "第 3 页 共 10 页", "3/10", "－12－"]
)
def test_page_number_pattern(line: str) -> None:
    assert PAGE_NUMBER_RE.match(line)


@pytest.mark.parametrize("line", ["2024年计划建成5家。", "3家企业", "一、关于", "第3页内容如下"])
def test_page_number_pattern_leaves_text(line: str) -> None:
    assert not PAGE_NUMBER_RE.match(line)


def test_headers_recurring_on_most_pages_are_removed() -> None:
    pages = [f"温州市科学技术局 第{n}页\n正文{n}。\n{n}" for n in (1, 2, 3)]
    assert strip_page_furniture(pages) == ["正文1。", "正文2。", "正文3。"]
    assert strip_page_furniture(["单页标题\n正文。"]) == ["单页标题", "正文。"]


def test_clean_text_removes_conversion_artefacts() -> None:
    raw = "  [bookmark: _GoBack]（一）进展。\u200b一是\u00a0好。  \r\n\r\n\r\n\n"
    raw += "          温州市科学技术局 \r\n"
    assert clean_text(raw) == "（一）进展。一是 好。\n\n温州市科学技术局"
    assert clean_text("甲[bookmark: x1]乙\n单位          2024年6月26日印发") == "甲乙\n单位 2024年6月26日印发"


def test_letter_that_names_itself_nowhere_is_named_by_its_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "便函.txt"
    path.write_text("关于某事的说明\n\n这是第一段。\n这是第二段。\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="chatbot.documents"):
        doc = load_document(path)
    assert doc.doc_id == "便函"
    assert doc.text == "关于某事的说明\n\n这是第一段。\n这是第二段。"
    assert doc.warnings == ("no 文号, title or unit found in the letterhead: the letter's id is its file name '便函'",)
    assert f"{path}: no 文号, title or unit found" in caplog.text


def test_letter_without_doc_number_is_named_by_its_unit_and_heading(tmp_path: Path) -> None:
    path = tmp_path / "答复.txt"
    path.write_text("泰顺县水利局关于县十届人大三次会议第45号建议的答复\n王建国代表：\n您提出的建议收悉。现答复如下：\n"
                    "我县已安排资金3700万元。\n泰顺县水利局\n2024年5月6日\n", encoding="utf-8")
    doc = load_document(path)
    assert doc.doc_id == "泰顺县水利局关于县十届人大三次会议第45号建议的答复"
    assert doc.warnings == ()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bad_empty.txt", "empty file"),
        ("bad_whitespace.txt", "empty file (only whitespace)"),
        ("bad_binary.txt", "not a letter: binary data (no text encoding fits)"),
        ("bad_sheet.xls", "unsupported file type '.xls' (supported: .txt, .md, .docx, .pdf, .html, .htm, .doc, "
                          ".rtf, .odt, .wps, .jpg, .jpeg, .png, .tif, .tiff)"),
        ("bad_scanned.pdf", "no text found by OCR: the scan is blank or holds no writing"),
        ("bad_corrupt.docx", "corrupt .docx: BadZipFile: File is not a zip file"),
        ("missing.txt", "file not found"),
    ],
)
def test_bad_input_error_names_file_and_reason(name: str, reason: str) -> None:
    path = DATA / name
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value) == f"{path}: {reason}"
    assert (caught.value.path, caught.value.reason) == (str(path), reason)


def test_corrupt_pdf_error_names_file() -> None:
    path = DATA / "bad_corrupt.pdf"
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value).startswith(f"{path}: corrupt .pdf: ")


def test_docx_that_is_a_zip_but_not_a_document(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "sheet.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not word")
    with pytest.raises(DocumentError, match=r"sheet\.docx: corrupt \.docx: "):
        load_document(path)


def test_old_word_file_named_docx(tmp_path: Path) -> None:
    path = tmp_path / "old.docx"
    path.write_bytes((DATA / "bad_sheet.xls").read_bytes())  # same OLE container as a .doc
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value) == (f"{path}: corrupt .docx: this is an old Word .doc file; rename it to .doc "
                                 "(read through LibreOffice) or save it as .docx")


def test_control_characters_mean_binary(tmp_path: Path) -> None:
    path = tmp_path / "dump.txt"
    path.write_bytes(b"abc\x00\x01\x02" * 50)
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value) == f"{path}: not a letter: binary data (control characters)"


def test_size_limit_is_checked_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(int(25.3 * 1024 * 1024))  # sparse: no disk used

    def no_reading(self: Path) -> bytes:
        raise AssertionError(f"{self} was read")

    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(DocumentError) as caught:
        load_document(path)
    assert str(caught.value) == f"{path}: file is 25.3 MB, above the 20 MB limit (CHATBOT_MAX_FILE_MB)"


def test_small_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "letter.txt"
    path.write_bytes("字".encode() * 700)  # 2100 bytes
    with pytest.raises(DocumentError) as caught:
        load_document(path, max_bytes=1024)
    assert str(caught.value) == f"{path}: file is 2.1 KB, above the 1.0 KB limit (CHATBOT_MAX_FILE_MB)"


def test_iter_corpus_files_sorts_and_skips_hidden(tmp_path: Path) -> None:
    for name in ["b.txt", "a.DOCX", "sub/c.pdf", "d.md", ".hidden.txt", ".git/x.txt", "~$lock.docx", "e.xls"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path)]
    assert found == ["a.DOCX", "b.txt", "d.md", "sub/c.pdf"]


def test_iter_corpus_files_follows_linked_folders_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("甲", encoding="utf-8")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)  # a folder linked into itself
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b.txt").write_text("乙", encoding="utf-8")
    (tmp_path / "linked").symlink_to(elsewhere)
    found = [p.relative_to(tmp_path).as_posix() for p in iter_corpus_files(tmp_path)]
    assert found == ["linked/b.txt", "sub/a.txt"]


def test_iter_corpus_files_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="corpus folder not found"):
        iter_corpus_files(tmp_path / "nowhere")


def test_docx_merged_cells_appear_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("表前。")
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "合计"
    for cell, value in zip(table.rows[1].cells, ["甲", "乙", "丙"], strict=True):
        cell.text = value
    document.add_paragraph("表后。")
    path = tmp_path / "merged.docx"
    document.save(str(path))
    assert read_letter_text(path) == "表前。\n合计\n甲｜乙｜丙\n表后。"


def test_title_wrapped_above_the_salutation_does_not_swallow_it() -> None:
    """示例 97号: "关于…第512号建议的" / "答 复 函" / "王建国代表：" were joined into one line, losing the deputy."""
    doc = load_document(DATA / "示例-温科提复〔2024〕97号.pdf")
    assert doc.text.startswith("温科提复〔2024〕97号\n关于市十四届人大四次会议第512号建议的答 复 函\n王建国代表：\n")
    assert doc.doc_id == "温科提复〔2024〕97号"
    assert (doc.meta.deputies, doc.meta.date) == (("王建国",), "2024-07-08")
    assert doc.meta.title == "关于支持科技型中小企业研发投入的建议"
    assert (doc.reading.method, doc.reading.pages) == ("text", 1)


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["关于市十四届人大四次会议第512号建议的", "答 复 函", "王建国代表：", "你在会议期间所提的建议收悉。经认真研"],
         ["关于市十四届人大四次会议第512号建议的答 复 函", "王建国代表：", "你在会议期间所提的建议收悉。经认真研"]),
        (["一二三四五六七八九十一二三四五六七八九十", "二三四五六七八九十一二三四五六七八九十一", "末行。"],
         ["一二三四五六七八九十一二三四五六七八九十二三四五六七八九十一二三四五六七八九十一末行。"]),
    ],
)
def test_rejoin_judges_each_line_as_laid_out(lines: list[str], joined: list[str]) -> None:
    from chatbot.pages import rejoin_wrapped

    assert rejoin_wrapped(lines) == joined
