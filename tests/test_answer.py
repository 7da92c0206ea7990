"""Answers with the real model: short answer, exact quote, citation, abstention, follow-ups, scoping."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatbot.compose import NOT_FOUND, NOT_FOUND_LIST, escape_markdown
from chatbot.evaluation import evaluate, load_questions

pytestmark = pytest.mark.slow

LETTER = "温科提复〔2024〕91号"
SAMPLE = Path(__file__).parent / "data" / "questions_sample.jsonl"  # ../shared/eval/questions.jsonl
DATA = Path(__file__).parent / "data"


def test_headline_answer_is_short_answer_quote_and_source(real_chatbot) -> None:
    reply = real_chatbot.answer("2024年计划建成几家概念验证中心")
    assert reply.answer == (
        "**5家**\n\n> <mark>2024年计划建成5家概念验证中心和中试平台</mark>。\n\n"
        "—— 《关于加快科技成果落地转化的建议》（温科提复〔2024〕91号） · "
        "二、关于“引导科研机构开展以需求和应用为导向的科技创新”的建议 › （二）下一步工作计划"
    )
    assert reply.direct_answer == "5家"
    assert not reply.abstained
    first = reply.passages[0]
    assert first.quote == "2024年计划建成5家概念验证中心和中试平台。"
    assert first.doc_id == LETTER
    assert first.section.endswith("（二）下一步工作计划")


@pytest.mark.parametrize(
    ("question", "direct", "quote_part"),
    [
        ("2023年度新增了多少家高新技术企业？", "766家", "2023年度新增高新技术企业766家"),
        ("科技型中小企业累计有多少家？", "17075家", "累计17075家"),
        ("去年高企新增多少家？", "766家", "新增高新技术企业766家"),
        ("市科创基金的规模调整到了多少？", "100亿元", "规模从50亿元逐步调整为100亿元"),
        ("截至2024年4月底，市科创基金设立了几支子基金？", "20支", "注册设立子基金 20支"),
        ("今年要建几个概念验证中心", "5家", "2024年计划建成5家概念验证中心和中试平台。"),
        ("涉企资金平均兑付时间缩短到几天？", "7个工作日", "平均兑付时间缩短至7个工作日"),
        ("鹿城区改造了多少家企业？", "320家", "鹿城区｜320"),
        ("2024年要新建改扩建多少所公办幼儿园？", "30所", "2024年计划新建改扩建公办幼儿园30所。"),
        ("817号建议是谁提的？", "虞振勇", "虞振勇代表："),
        ("温财提复〔2024〕15号是哪天答复的？", "二〇二四年七月十五日", "二〇二四年七月十五日"),
        ("245号建议的联系人是谁？", "王芳", "联系人：王芳，联系电话：88960001。"),
    ],
)
def test_short_answer_and_quote(real_chatbot, question: str, direct: str, quote_part: str) -> None:
    reply = real_chatbot.answer(question)
    assert not reply.abstained
    assert reply.direct_answer == direct
    assert quote_part in reply.passages[0].quote


@pytest.mark.parametrize(
    "question",
    [
        "温州市的人口有多少？",
        "2025年计划建成几家概念验证中心？",
        "市科创基金的年化收益率是多少？",
        "每家概念验证中心补助多少钱？",
        "公办幼儿园的收费标准是多少？",
    ],
)
def test_abstains_when_the_letters_do_not_say(real_chatbot, question: str) -> None:
    reply = real_chatbot.answer(question)
    assert reply.abstained
    assert reply.direct_answer is None
    assert reply.answer.startswith(NOT_FOUND.format(question=escape_markdown(question.replace("？", "?"))))
    assert "<mark>" not in reply.answer
    assert "以下内容可能相关" in reply.answer
    assert reply.passages, "possibly related passages are still listed"


def test_which_ones_needs_a_list(real_chatbot) -> None:
    """The letters mention 合作银行 but never name them; they do list the service institutions."""
    refused = real_chatbot.answer("风险池的合作银行有哪些？")
    assert refused.abstained
    assert NOT_FOUND_LIST in refused.answer
    listed = real_chatbot.answer("科技大市场下一步要招引哪些服务机构？")
    assert not listed.abstained
    assert "知识产权、法律咨询、科技咨询公司、投资融资等科技服务机构" in listed.answer


def test_greeting_gets_how_to_ask(real_chatbot) -> None:
    reply = real_chatbot.answer("你好")
    assert reply.abstained
    assert reply.answer.startswith("请直接问答复函里的内容")


def test_document_cited_inside_a_letter_is_a_term_not_a_scope(real_chatbot) -> None:
    reply = real_chatbot.answer("温政办〔2023〕64号文件叫什么？")
    assert not reply.abstained
    assert "《温州市加快基金业集聚促进股权投资高质量发展若干措施》（温政办〔2023〕64号）" in reply.passages[0].quote


def test_attribute_noun_makes_a_figure_question(real_chatbot) -> None:
    assert real_chatbot.answer("今年科技副总人数").direct_answer == "364人次"


def test_follow_up_is_answered_in_context(real_chatbot) -> None:
    first = real_chatbot.answer("2024年计划建成几家概念验证中心？")
    history = [
        {"role": "user", "content": "2024年计划建成几家概念验证中心？"},
        {"role": "assistant", "content": first.answer},
    ]
    reply = real_chatbot.answer("那中试平台呢？", history=history)
    assert reply.direct_answer == "5家"
    assert "中试平台" in reply.passages[0].quote


def test_this_letter_follows_the_previous_answer(real_chatbot) -> None:
    first = real_chatbot.answer("2023年新建改扩建公办幼儿园多少所？")
    assert first.direct_answer == "42所"
    history = [
        {"role": "user", "content": "2023年新建改扩建公办幼儿园多少所？"},
        {"role": "assistant", "content": first.answer},
    ]
    reply = real_chatbot.answer("这份答复函的联系人是谁？", history=history)
    assert reply.direct_answer == "刘洋"  # the person asked; the quoted line gives the phone too
    assert "88961234" in reply.answer
    assert reply.passages[0].doc_id == "温教提复〔2024〕7号"


def test_a_date_or_unit_is_quoted_with_its_signature(real_chatbot) -> None:
    reply = real_chatbot.answer("温财提复〔2024〕15号是哪天答复的？")
    assert reply.direct_answer == "二〇二四年七月十五日"
    assert reply.passages[0].quote == "温州市财政局\n二〇二四年七月十五日"
    reply = real_chatbot.answer("91号答复函是哪个单位发的？")  # the reference holds the word 答复函
    assert (reply.direct_answer, reply.passages[0].doc_id) == ("温州市科学技术局", LETTER)


def test_a_follow_up_after_a_plain_question_keeps_to_the_letter_that_answered_it(real_chatbot) -> None:
    reply = real_chatbot.answer("总规模多大？", history=["市科创基金设立了几支子基金？"])
    assert (reply.direct_answer, reply.passages[0].doc_id) == ("56亿元", LETTER)


def test_question_naming_a_letter_is_answered_from_it(real_chatbot) -> None:
    reply = real_chatbot.answer("温财提复〔2024〕15号的联系人和电话？")
    assert reply.direct_answer == "张三，0577-88888888"
    assert {p.doc_id for p in reply.passages} == {"温财提复〔2024〕15号"}


def test_unscoped_letter_question_lists_every_letter(real_chatbot) -> None:
    reply = real_chatbot.answer("答复函的联系人是谁？")
    for value in ("李贤", "王芳", "张三", "刘洋"):
        assert value in reply.answer


def test_retrieve_restricted_to_letters(real_chatbot) -> None:
    passages = real_chatbot.retrieve("计划新增多少", k=5, doc_ids=["温教提复〔2024〕7号"])
    assert passages and {p.doc_id for p in passages} == {"温教提复〔2024〕7号"}


def test_html_in_question_is_escaped(real_chatbot) -> None:
    reply = real_chatbot.answer("<script>alert(1)</script>![x](http://evil/x.png) 人口有多少")
    assert "<script>" not in reply.answer
    assert "](http" not in reply.answer
    assert "&lt;script&gt;" in reply.answer


def test_sample_questions_meet_targets(real_letter_chatbot) -> None:
    report = evaluate(real_letter_chatbot, load_questions(SAMPLE))
    assert report.hit_at_1 == 1.0, report.misses
    assert report.quote_at_1 >= 0.95, report.misses
    assert report.answer_at_1 >= 0.95, report.misses
    assert report.abstention == 1.0
    assert report.false_abstention == 0.0


def test_near_misses_are_all_refused(real_chatbot) -> None:
    """Questions on the letters' topics whose answer the letters do not give."""
    report = evaluate(real_chatbot, load_questions(DATA / "questions_nearmiss.jsonl"))
    assert report.abstention == 1.0, report.misses


@pytest.mark.parametrize("name", ["questions_multi.jsonl", "questions_heldout.jsonl"])
def test_own_questions_on_several_letters(real_chatbot, name: str) -> None:
    """Questions written for the tests over four letters (.txt, GBK .txt, .docx, .pdf)."""
    report = evaluate(real_chatbot, load_questions(DATA / name))
    assert report.hit_at_1 >= 0.9, report.misses
    assert report.answer_at_1 >= 0.9, report.misses
    assert report.abstention >= 0.8, report.misses
    assert report.false_abstention <= 0.1, report.misses


def test_public_functions_stay_callable_after_use(real_letter_chatbot) -> None:
    """`chatbot.answer` is the function, also after the pipeline's modules are imported."""
    import chatbot

    index_dir = real_letter_chatbot.settings.index_dir
    first = chatbot.retrieve("2024年计划建成几家概念验证中心", k=3, index_dir=index_dir)
    assert first[0].quote == "2024年计划建成5家概念验证中心和中试平台。"
    assert callable(chatbot.answer) and callable(chatbot.retrieve)
    assert chatbot.answer("2024年计划建成几家概念验证中心", index_dir=index_dir).direct_answer == "5家"
    assert [letter.doc_id for letter in chatbot.letters(index_dir=index_dir)] == ["温科提复〔2024〕91号"]
