"""A letter's identity from its letterhead and closing, in the conventions of letters published by departments."""

from __future__ import annotations

import pytest

from chatbot.identity import field_text, field_value, labelled_fields, parse_metadata
from chatbot.schema import LetterMeta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("浙政办函[2023]12号\n关于第5号建议的答复", {"doc_number": "浙政办函[2023]12号"}),
        ("温政函（2023）7号\n张三代表：", {"doc_number": "温政函（2023）7号", "proposal_kind": "建议"}),
        ("关于市政协十二届三次会议提案第123号的答复", {"proposal_number": "123", "proposal_kind": "提案"}),
        ("关于第123号提案的答复", {"proposal_number": "123", "proposal_kind": "提案"}),
        ("《关于X的建议》（人大建议817号）收悉。", {"proposal_number": "817", "title": "关于X的建议"}),
        ("张三、李四，王五等委员：\n你们的提案收悉。", {"deputies": ("张三", "李四", "王五")}),
        ("尊敬的赵六代表：", {"deputies": ("赵六",), "proposal_kind": "建议"}),
        ("正文。\n某某局\n二〇二四年六月二十六日", {"unit": "某某局", "date": "2024-06-26"}),
        ("正文。\n某局 二〇二三年十二月三十一日", {"unit": "某局", "date": "2023-12-31"}),
        ("联系人：张三 电话：0577-88888888", {"contact_person": "张三", "contact_phone": "0577-88888888"}),
        ("联系人：李贤，联系电话：88962022。", {"contact_person": "李贤", "contact_phone": "88962022"}),
        ("抄送：市府办、市人大，市政协；某局。", {"cc": ("市府办", "市人大", "市政协", "某局")}),
        ("正文。\n联系人：银行保险处　胡立强\n联系电话：0571-1234567", {"contact_person": "胡立强"}),
        ("正文。\n联系电话：0539-8216620（联系人：马晓东）", {"contact_person": "马晓东"}),
        ("王芳代表：\n您提出的《关于解决停车难问题的建议》（第15号）收悉。", {"proposal_number": "15"}),
        ("民盟某县委员会：\n贵委员会提出的第63号《关于加强司法保护的提案》收悉。", {"proposal_number": "63"}),
    ],
)
def test_parse_metadata_variants(text: str, expected: dict[str, object]) -> None:
    meta = parse_metadata(text)
    assert {key: getattr(meta, key) for key in expected} == expected


def test_metadata_of_an_inline_reference_is_not_the_doc_number() -> None:
    text = "张三代表：\n你的建议收悉。依据《若干措施》（温政办〔2023〕64号），答复如下：\n一、关于甲\n正文。"
    assert parse_metadata(text).doc_number is None


# A web copy without 文号: the title on the first line with the unit before it, half-width punctuation, a
# labelled category line, contact on two lines in the other order, a date without 日.
WEB_COPY = """泰顺县水利局关于县十届人大三次会议第45号建议的答复
办复类别:B类
尊敬的王建国代表:
您提出的《关于加快农村饮用水提升的建议》收悉,现答复如下:
我县已建成筱村镇备用水源工程,总投资3700万元(其中省补资金1200万元)。
感谢您对水利工作的关心和支持。
联系电话:0577-67812345
联系人:陈晓
泰顺县水利局
2024年5月
"""

# The suggestion's own record published above the reply; members addressed with 政协 in the salutation.
RECORD_ABOVE = """提案号：第0094号
提案人：郭红苹
内容分类：教育
交办日期：2023年2月20日
对《关于改善乡村学校办学条件的提案》的答复
郭红苹、王玉花、黄成美、于金娥政协委员：
你们提出的提案收悉。经研究，答复如下：
一、关于校舍改造
我局今年改造农村校舍12所。
承办责任人：李明
督办领导：张华
马关县教育体育局
二〇二三年六月十二日
"""


def test_web_copy_without_doc_number() -> None:
    meta = parse_metadata(WEB_COPY)
    assert meta.doc_number is None
    assert meta.heading == "泰顺县水利局关于县十届人大三次会议第45号建议的答复"
    assert meta.title == "关于加快农村饮用水提升的建议"
    assert meta.unit == "泰顺县水利局"
    assert (meta.proposal_kind, meta.proposal_number) == ("建议", "45")
    assert (meta.deputies, meta.role) == (("王建国",), "代表")
    assert meta.date == "2024-05"
    assert (meta.contact_person, meta.contact_phone) == ("陈晓", "0577-67812345")
    assert field_value(meta.fields, "办复类别") == "B类"


def test_record_above_the_reply_and_members_with_their_body() -> None:
    meta = parse_metadata(RECORD_ABOVE)
    assert (meta.proposal_kind, meta.proposal_number) == ("提案", "94")
    assert meta.deputies == ("郭红苹", "王玉花", "黄成美", "于金娥")
    assert meta.role == "委员"
    assert meta.title == "关于改善乡村学校办学条件的提案"
    assert meta.heading == "对《关于改善乡村学校办学条件的提案》的答复"
    assert meta.unit == "马关县教育体育局"
    assert meta.date == "2023-06-12"
    assert field_value(meta.fields, "交办日期") == "2023年2月20日"
    assert field_value(meta.fields, "承办责任人") == "李明"
    assert field_value(meta.fields, "督办领导") == "张华"
    assert field_value(meta.fields, "内容分类") == "教育"


def test_title_wrapped_over_two_lines_is_one_heading() -> None:
    meta = parse_metadata("温科提复〔2024〕91号\n关于市十四届人大四次会议817号建议的\n答 复 函\n虞振勇代表：\n正文。")
    assert meta.heading == "关于市十四届人大四次会议817号建议的答复函"
    assert meta.title == meta.heading  # no 《》 in the letterhead: the heading is the title


@pytest.mark.parametrize(
    ("line", "deputies", "role"),
    [
        ("尊敬的朱杰代表:", ("朱杰",), "代表"),
        ("张三代表、李四代表：", ("张三", "李四"), "代表"),
        ("赵六等代表们：", ("赵六",), "代表"),
        ("各位代表：", (), "代表"),
    ],
)
def test_salutations(line: str, deputies: tuple[str, ...], role: str) -> None:
    meta = parse_metadata(line + "\n您的建议收悉。")
    assert (meta.deputies, meta.role) == (deputies, role)


def test_deputies_named_in_the_opening_sentence() -> None:
    meta = parse_metadata("关于第12号建议的答复\n王建国等5位代表在县十届人大三次会议期间提出的建议收悉。")
    assert (meta.deputies, meta.role) == (("王建国",), "代表")


@pytest.mark.parametrize(
    ("closing", "date"),
    [
        ("某局\n2023年5月5日", "2023-05-05"),
        ("某局\n二○二三年五月五日", "2023-05-05"),
        ("某局\n2023.5.5", "2023-05-05"),
        ("某局\n2023年5月", "2023-05"),
        ("某局", None),
    ],
)
def test_dates_in_all_their_forms(closing: str, date: str | None) -> None:
    meta = parse_metadata("正文。\n" + closing)
    assert (meta.unit, meta.date) == ("某局", date)


def test_labelled_lines() -> None:
    assert labelled_fields("联系人：李贤，联系电话：88962022。", generic=False) == [("联系人", "李贤"),
                                                                            ("联系电话", "88962022")]
    assert labelled_fields("承办单位:县交通运输局  承办责任人:周伟", generic=False) == [
        ("承办单位", "县交通运输局"), ("承办责任人", "周伟")]
    assert labelled_fields("工作目标：到2025年建成10座。", generic=True) == []  # a sentence, not a field
    assert labelled_fields("虞振勇代表：", generic=True) == []
    assert labelled_fields("自编号：JY-2024-017", generic=True) == [("自编号", "JY-2024-017")]


def test_field_text_reads_named_and_labelled_fields() -> None:
    meta = LetterMeta(deputies=("甲", "乙"), proposal_number="45", fields=(("办理类别", "A类"),))
    assert field_text(meta, "deputy") == "甲、乙"
    assert field_text(meta, "proposal_number") == "45号"
    assert field_text(meta, "办复类别") == "A类"  # 办理类别 is another label of 办复类别
    assert field_text(meta, "督办领导") is None


def test_a_date_in_the_record_or_in_a_sentence_is_not_the_signature_date() -> None:
    short = ("建议号：12\n交办日期：2024年2月26日\n关于第12号建议的答复\n王伟代表：\n"
             "您的建议收悉。我县已安排资金30万元。\n某县水利局")
    assert (parse_metadata(short).unit, parse_metadata(short).date) == ("某县水利局", None)
    undated = "正文。\n计划于2018年2月底前完成全部改造。\n某县住建局"
    assert (parse_metadata(undated).unit, parse_metadata(undated).date) == ("某县住建局", None)


def test_doc_number_below_the_record_and_a_spaced_label() -> None:
    meta = parse_metadata("建议号：第56号\n提案人：张三\n内容分类：交通\n平交提复〔2024〕8号\n"
                          "关于加快乡村道路建设的建议的答复\n张三代表：\n你提出的建议收悉。现答复如下。\n"
                          "某县交通运输局\n2024年6月1日\n联 系 人：李四\n联系电话：12345678")
    assert meta.doc_number == "平交提复〔2024〕8号"
    assert meta.title == "关于加快乡村道路建设的建议的答复"
    assert (meta.contact_person, meta.contact_phone) == ("李四", "12345678")  # 联 系 人 is 联系人
    assert field_value(meta.fields, "内容分类") == "交通"


def test_a_labelled_line_after_the_doc_number() -> None:
    meta = parse_metadata("清机事函〔2024〕21号                签发人：杜红梅\n\n对第0152号提案的答复\n正文。")
    assert meta.doc_number == "清机事函〔2024〕21号"
    assert field_value(meta.fields, "签发人") == "杜红梅"


def test_a_lead_deputy_asked_of_a_letter_without_that_line_is_its_deputy() -> None:
    assert field_text(LetterMeta(deputies=("刘建华", "马丽")), "领衔代表") == "刘建华、马丽"
    assert field_text(LetterMeta(deputies=("刘建华", "马丽"), fields=(("领衔代表", "刘建华"),)), "领衔代表") == "刘建华"
