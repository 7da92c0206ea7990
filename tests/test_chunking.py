"""Chunking along the letter's own structure: section paths, spans, sizes, ids, heading patterns."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import pytest

from chatbot.chunking import (
    BODY_SECTION,
    CHUNKER_VERSION,
    CLOSING_SECTION,
    ITEM_RE,
    LETTERHEAD_SECTION,
    PREAMBLE_SECTION,
    SECTION_SEP,
    SENTENCE_END_RE,
    SUB_HEADING_RE,
    TOP_HEADING_RE,
    chunk_document,
    cn_number,
    top_heading_indexes,
)
from chatbot.documents import load_document
from chatbot.errors import ConfigError
from chatbot.schema import BODY, CLOSING, LETTERHEAD, Document, LetterMeta

ROOT = Path(__file__).resolve().parents[1]
REAL_LETTER = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
DATA = Path(__file__).resolve().parent / "data"

S1 = "一、关于“鼓励企业积极参与科技成果转化”的建议"
S2 = "二、关于“引导科研机构开展以需求和应用为导向的科技创新”的建议"
S3 = "三、关于“要引进培育专业的市场化科技成果转化服务机构”的建议"
S4 = "四、关于“借鉴先进地区经验成立温州科技成果转化基金”的建议"
PROGRESS, PLAN = "（一）工作进展", "（二）下一步工作计划"
REAL_SECTIONS = [
    "函头",
    "引言",
    f"{S1} › {PROGRESS}",
    f"{S1} › {PLAN}",
    f"{S2} › {PROGRESS}",
    f"{S2} › {PLAN}",
    f"{S3} › {PROGRESS}",
    f"{S3} › {PLAN}",
    f"{S4} › {PROGRESS}",
    f"{S4} › {PROGRESS}",
    f"{S4} › {PROGRESS}",
    f"{S4} › {PLAN}",
    "落款",
]


@pytest.fixture(scope="module")
def doc_real_letter() -> Document:
    return load_document(REAL_LETTER)


def _doc(text: str, doc_id: str = "测试函") -> Document:
    return Document(doc_id=doc_id, source=f"{doc_id}.txt", sha256="0" * 64, text=text)


def test_constants() -> None:
    assert (LETTERHEAD_SECTION, CLOSING_SECTION) == ("函头", "落款")
    assert (PREAMBLE_SECTION, SECTION_SEP) == ("引言", " › ")
    assert CHUNKER_VERSION


def test_real_letter_section_paths(doc_real_letter: Document) -> None:
    chunks = chunk_document(doc_real_letter)
    assert [c.section for c in chunks] == REAL_SECTIONS
    assert [c.kind for c in chunks] == [LETTERHEAD] + [BODY] * 11 + [CLOSING]


def test_plan_sentence_lies_in_section_two_plan(doc_real_letter: Document) -> None:
    sentence = "2024年计划建成5家概念验证中心和中试平台。"
    holding = [c for c in chunk_document(doc_real_letter) if sentence in c.text]
    assert [c.section for c in holding] == [f"{S2} › {PLAN}"]
    assert holding[0].section.endswith("（二）下一步工作计划")


def test_letterhead_preamble_and_closing(doc_real_letter: Document) -> None:
    chunks = chunk_document(doc_real_letter)
    head, preamble, closing = chunks[0], chunks[1], chunks[-1]
    assert head.text.startswith(
        "温科提复〔2024〕91号\n\n关于市十四届人大四次会议817号建议的\n答 复 函\n\n虞振勇代表："
    )
    assert head.text.endswith("我们就建议中有关问题答复如下：")
    assert head.search_text.endswith(
        "\n文号:温科提复〔2024〕91号 会议:市十四届人大四次会议 建议:817号 代表:虞振勇 "
        "标题:关于加快科技成果落地转化的建议 答复单位:温州市科学技术局 日期:2024-06-26"
    )  # NFKC turns ： into :
    assert preamble.text.startswith("建议立足于温州企业")
    assert preamble.text.endswith("具有较好的现实指导意义。")
    assert closing.text.startswith("非常感谢您对我市科技创新工作的关心与支持")
    assert "联系人：李贤，联系电话：88962022。\n\n温州市科学技术局\n2024年6月26日\n\n抄送：" in closing.text
    assert closing.text.endswith("2024年6月26日印发")


def test_top_heading_without_body_is_merged_into_next_chunk(doc_real_letter: Document) -> None:
    chunks = chunk_document(doc_real_letter)
    first_of_two = chunks[4]
    assert first_of_two.text.startswith(f"{S2}\n（一）工作进展。一是推动高校院所走进科技型企业。")
    for chunk in chunks:
        lines = chunk.text.split("\n")
        headings = [TOP_HEADING_RE.match(x) or (x.startswith("（") and len(x) < 15) for x in lines]
        assert not all(headings), chunk.text


@pytest.mark.parametrize("max_chars", [400, 200, 120])
def test_chunks_are_exact_slices_that_cover_the_letter(doc_real_letter: Document, max_chars: int) -> None:
    doc = doc_real_letter
    chunks = chunk_document(doc, max_chars=max_chars)
    position = 0
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text == chunk.text.strip() and chunk.text
        assert doc.text[position : chunk.start].strip() == ""  # nothing between chunks is lost
        position = chunk.end
    assert doc.text[position:].strip() == ""
    assert all("[bookmark" not in c.text for c in chunks)


def _sentences(text: str) -> list[str]:
    body = "\n".join(line for line in text.split("\n") if not TOP_HEADING_RE.match(line))
    return [s for s in re.split(r"(?<=[。！？；])", body) if s.strip()]


@pytest.mark.parametrize("max_chars", [400, 200, 120])
def test_no_chunk_over_max_unless_one_sentence(doc_real_letter: Document, max_chars: int) -> None:
    for chunk in chunk_document(doc_real_letter, max_chars=max_chars):
        if len(chunk.text) > max_chars:
            sentences = _sentences(chunk.text)
            # one sentence, possibly after a short heading like "（二）下一步工作计划。"
            assert len(sentences) == 1 or (len(sentences) == 2 and len(sentences[0]) <= 41), chunk.text


def test_chunks_never_end_mid_sentence(doc_real_letter: Document) -> None:
    chunks = chunk_document(doc_real_letter, max_chars=120)
    for chunk in chunks:
        if chunk.kind != CLOSING:
            assert chunk.text[-1] in "。！？；：”", chunk.text
    closing = [c.text for c in chunks if c.kind == CLOSING]
    assert any("温州市科学技术局\n2024年6月26日" in text for text in closing)  # unit and date stay together


def test_long_subsection_is_cut_at_items(doc_real_letter: Document) -> None:
    chunks = chunk_document(doc_real_letter, max_chars=250)
    one_progress = [c for c in chunks if c.section == f"{S1} › {PROGRESS}"]
    assert len(one_progress) == 2
    assert one_progress[0].text.startswith(f"{S1}\n（一）工作进展。一是持续激发企业成为市场的创新主体。")
    assert one_progress[1].text.startswith("二是引导企业主体积极参与项目科研。")


def test_section_path_stops_at_subsection(doc_real_letter: Document) -> None:
    for chunk in chunk_document(doc_real_letter, max_chars=120):
        assert chunk.section.count(SECTION_SEP) <= 1
        assert "一是" not in chunk.section and "二是" not in chunk.section


def test_chunk_ids_are_stable_and_unique(doc_real_letter: Document) -> None:
    first, again = chunk_document(doc_real_letter), chunk_document(doc_real_letter)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert len({c.chunk_id for c in first}) == len(first)
    for chunk in first:
        digest = hashlib.sha1((chunk.section + chunk.text).encode()).hexdigest()[:12]
        assert chunk.chunk_id == f"温科提复〔2024〕91号#{digest}"
        assert chunk.doc_id == "温科提复〔2024〕91号"


def test_search_text_is_nfkc_unit_path_and_text(doc_real_letter: Document) -> None:
    for chunk in chunk_document(doc_real_letter)[1:]:
        expected = f"温州市科学技术局 › {chunk.section}\n{chunk.text}"  # the unit: its body says 我市
        assert chunk.search_text == unicodedata.normalize("NFKC", expected)
    plan = chunk_document(doc_real_letter)[3]
    assert "(二)下一步工作计划" in plan.search_text and "（二）" in plan.text


def test_gbk_letter_chunks() -> None:
    chunks = chunk_document(load_document(DATA / "gbk_letter.txt"))
    assert [c.section for c in chunks] == [
        "函头",
        "一、关于“扩大政府性融资担保覆盖面”的建议 › （一）工作进展",
        "一、关于“扩大政府性融资担保覆盖面”的建议 › （二）下一步工作计划",
        "二、关于“设立科技型企业信贷风险池”的建议 › （一）工作进展",
        "二、关于“设立科技型企业信贷风险池”的建议 › （二）下一步工作计划",
        "三、关于“优化涉企资金直达机制”的建议",
        "落款",
    ]
    assert "提案:156号 委员:陈立新、王晓燕" in chunks[0].search_text
    assert "我们坚持统一、规范的担保业务流程。" in chunks[1].text  # 、 inside a sentence is no heading
    assert chunks[-1].text.endswith("抄送：市政协提案委，市府办、鹿城区政协")


def test_docx_table_stays_in_its_subsection() -> None:
    chunks = chunk_document(load_document(DATA / "letter.docx"))
    table = [c for c in chunks if "鹿城区｜320" in c.text]
    assert [c.section for c in table] == ["一、关于“加快中小企业数字化改造”的建议 › （一）工作进展"]


def test_pdf_letter_chunks() -> None:
    chunks = chunk_document(load_document(DATA / "letter.pdf"))
    assert [c.section for c in chunks] == [
        "函头",
        "一、关于“新建改扩建公办幼儿园”的建议 › （一）工作进展",
        "一、关于“新建改扩建公办幼儿园”的建议 › （二）下一步工作计划",
        "二、关于“加强幼儿教师队伍建设”的建议 › （一）工作进展",
        "落款",
    ]


def test_letter_without_headings_is_one_body_section() -> None:
    text = "关于某事的说明\n\n这是第一段。\n这是第二段。"
    assert [(c.section, c.text) for c in chunk_document(_doc(text))] == [(BODY_SECTION, text)]


def test_heading_only_section_merges_forward() -> None:
    lines = ["张三代表：", "你的建议收悉。", "一、关于甲", "二、关于乙", "（一）进展。内容一。"]
    text = "\n".join([*lines, "（二）", "（三）计划。内容三。"])
    chunks = chunk_document(_doc(text))
    assert [(c.section, c.text) for c in chunks] == [
        ("函头", "张三代表：\n你的建议收悉。"),
        ("二、关于乙 › （一）进展", "一、关于甲\n二、关于乙\n（一）进展。内容一。"),
        ("二、关于乙 › （三）计划", "（二）\n（三）计划。内容三。"),
    ]


def test_single_long_sentence_stays_whole() -> None:
    sentence = "这是一句" + "很长" * 60 + "的话。"
    chunks = chunk_document(_doc(f"一、关于甲\n（一）进展。{sentence}短句。"), max_chars=50)
    assert [c.text for c in chunks] == [f"一、关于甲\n（一）进展。{sentence}", "短句。"]


def test_letterhead_labels_for_proposal() -> None:
    meta = LetterMeta(
        doc_number="甲〔2024〕1号", proposal_kind="提案", proposal_number="9", deputies=("王五",)
    )
    doc = Document("甲〔2024〕1号", "a.txt", "0" * 64, "王五委员：\n您的提案收悉。\n一、关于甲\n正文。", meta)
    head = chunk_document(doc)[0]
    assert head.search_text == "函头\n王五委员:\n您的提案收悉。\n文号:甲〔2024〕1号 提案:9号 委员:王五"


def test_max_chars_too_small() -> None:
    with pytest.raises(ConfigError, match="CHATBOT_CHUNK_MAX_CHARS"):
        chunk_document(_doc("正文。"), max_chars=5)


def test_top_heading_indexes_need_sequence_and_line_start() -> None:
    lines = ["一、关于甲", "统一、规范管理。", "二、关于乙", "一、二类企业要加强管理。", "三、关于丙"]
    lines += [f"{n}、关于" for n in "四五六七八九十"] + ["十一、关于十一", "十三、跳号"]
    assert top_heading_indexes(lines) == [0, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert top_heading_indexes(["一、" + "很长" * 40]) == []
    assert top_heading_indexes(["一、加强组织领导。" + "很长" * 40]) == [0]


@pytest.mark.parametrize(
    ("numeral", "value"), [("一", 1), ("十", 10), ("十一", 11), ("二十六", 26), ("〇", 0)]
)
def test_cn_number(numeral: str, value: int) -> None:
    assert cn_number(numeral) == value


def test_heading_patterns() -> None:
    assert TOP_HEADING_RE.match("十一、关于甲")["num"] == "十一"  # type: ignore[index]
    assert not TOP_HEADING_RE.match("统一、规范")
    assert SUB_HEADING_RE.match("（二）下一步工作计划")["num"] == "二"  # type: ignore[index]
    assert SUB_HEADING_RE.match("(三)半角括号")
    assert not SUB_HEADING_RE.match("下一步（二）")


def test_item_pattern() -> None:
    text = "进展。一是甲。二是乙；统一是丙。1.丁，1.5亿元。（2）戊。③己。"
    assert [m.group() for m in ITEM_RE.finditer(text)] == ["一是", "二是", "1.", "（2）", "③"]


def test_sentence_end_pattern_keeps_closing_quote() -> None:
    assert [m.group() for m in SENTENCE_END_RE.finditer("他说：“好。”然后；完！")] == ["。”", "；", "！"]


@pytest.mark.parametrize("numeral", ["十十", "一十一十", ""])
def test_cn_number_malformed(numeral: str) -> None:
    assert cn_number(numeral) == -1


def test_thanks_inside_an_earlier_section_does_not_start_the_closing() -> None:
    head = ["张三代表：", "你的建议收悉。"]
    body = ["一、关于甲", "感谢您的关注，甲已完成。", "二、关于乙", "乙在推进。"]
    text = "\n".join([*head, *body, "联系人：李四，电话：88960000。", "某某局", "2024年6月26日"])
    chunks = chunk_document(_doc(text))
    assert [(c.section, c.text) for c in chunks] == [
        ("函头", "张三代表：\n你的建议收悉。"),
        ("一、关于甲", "一、关于甲\n感谢您的关注，甲已完成。"),
        ("二、关于乙", "二、关于乙\n乙在推进。"),
        ("落款", "联系人：李四，电话：88960000。\n某某局\n2024年6月26日"),
    ]


def test_letterhead_without_salutation_is_found_by_its_title() -> None:
    text = "某政函〔2024〕3号\n关于某事的答复函\n经研究，答复如下。\n一、关于甲\n甲已完成。"
    chunks = chunk_document(_doc(text))
    assert [(c.section, c.text) for c in chunks][:2] == [
        ("函头", "某政函〔2024〕3号\n关于某事的答复函\n经研究，答复如下。"),
        ("一、关于甲", "一、关于甲\n甲已完成。"),
    ]
