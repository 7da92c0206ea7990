"""Question analysis: what is asked, its content terms, follow-ups, and the word lists behind them."""

from __future__ import annotations

import pytest

from chatbot.lexicon import data_lines as _data_lines
from chatbot.lexicon import synonym_map, unit_group
from chatbot.query import (
    COUNT,
    DATE,
    DONE,
    LIST,
    META,
    PLACE,
    PLAN,
    WHAT,
    analyse,
    asked_kind,
    asked_label,
    content_terms,
    previous_question,
    units_answering,
)


@pytest.mark.parametrize(
    ("question", "kind", "unit", "field"),
    [
        ("2024年计划建成几家概念验证中心？", COUNT, "家", None),
        ("今年选派了多少人次科研人员到企业担任科技副总？", COUNT, "人次", None),
        ("市科创基金的规模调整到了多少？", COUNT, None, None),
        ("市本级有哪三支母基金？", LIST, None, None),
        ("科创基金招引了哪些项目把注册地搬到温州？", LIST, None, None),
        ("怎么培养技术经纪人？", WHAT, None, None),
        ("概念验证中心建在哪个区？", PLACE, None, None),
        ("中试平台什么时候建成？", DATE, None, None),
        ("这份答复函的文号是什么？", META, None, "doc_number"),
        ("这份答复是回复哪位代表的？", META, None, "deputy"),
        ("答复函的联系人和联系电话是什么？", META, None, "contact"),
        ("答复函抄送给了哪些单位？", META, None, "cc"),
        ("温财提复〔2024〕15号是哪天答复的？", META, None, "date"),
        ("建议是在哪次会议上提的", META, None, "session"),
        ("激光器采购成本降了百分之多少", COUNT, "%", None),
        ("市科创基金投资了多少钱", COUNT, "元", None),
        ("风险池资金撬动银行贷款放大多少倍", COUNT, "倍", None),
        ("这封答复函是哪个单位发的？", META, None, "unit"),
        ("新认定了多少万亩高标准农田？", COUNT, "亩", None),  # 万 is the magnitude of the 亩 asked for
        ("安排了多少万元资金？", COUNT, "元", None),
        ("产业基金规模多少亿？", COUNT, "亿", None),
        ("累计培育了多少万人次？", COUNT, "人次", None),
        ("几号回复的", META, None, "date"),
        ("这个答复的落款时间是几月几日", META, None, "date"),
        ("要联系谁，电话多少", META, None, "contact"),
        ("12345热线电话接通率是多少", COUNT, None, None),  # the 电话 of a service, not of the letter
        ("建议是哪两位代表提的？", META, None, "deputy"),
        ("哪家单位提的这个提案", META, None, "deputy"),  # a 党派 or 团体 proposes too
        ("签发人是谁", META, None, "签发人"),
        ("林志坚委员是在哪次会上提的这件提案", META, None, "session"),
        ("桐溪防返贫建议是哪次人代会上提的？", META, None, "session"),
        ("卫生健康局答复说数据资源中心什么时候能建成投用？", DATE, None, None),  # 说: a content question
        ("保租房建议的领衔代表是谁？", META, None, "领衔代表"),
        ("春节期间增开了多少趟列车", COUNT, "趟", None),
    ],
)
def test_asked_kind(question: str, kind: str, unit: str | None, field: str | None) -> None:
    assert asked_kind(question) == (kind, unit, field)


def test_content_terms_drop_question_words_years_and_fillers() -> None:
    terms = {t.text: t.weight for t in content_terms("2024年计划建成几家概念验证中心？")}
    assert terms == {"计划": 0.5, "建成": 0.5, "概念验证中心": 1.0}  # 计划 says the tense: never required


def test_word_after_question_word_names_the_kind_of_answer_and_weighs_little() -> None:
    terms = {t.text: t.weight for t in content_terms("智能化激光稳频系统是哪家公司研制的？")}
    assert terms["公司"] == 0.25
    assert terms["研制"] == 1.0


def test_named_letter_is_not_a_content_term() -> None:
    assert [t.text for t in content_terms("温财提复〔2024〕15号的联系人是谁")] == ["联系人"]


def test_terms_carry_their_synonyms() -> None:
    (term,) = [t for t in content_terms("去年高企新增多少") if t.text == "高企"]
    assert "高新技术企业" in term.variants


def test_follow_up_takes_kind_and_context_from_previous_question() -> None:
    history = [
        {"role": "user", "content": "2024年计划建成几家概念验证中心？"},
        {"role": "assistant", "content": "**5家**"},
    ]
    q = analyse("那中试平台呢？", history)
    assert q.is_follow_up
    assert (q.kind, q.unit) == (COUNT, "家")
    assert [t.text for t in q.terms] == ["中试平台"]
    assert "概念验证中心" in [t.text for t in q.context_terms]
    assert q.years == ("2024",)
    assert q.search_text.startswith("2024年计划建成几家概念验证中心")


def test_a_full_question_after_history_is_not_a_follow_up() -> None:
    q = analyse("市科创基金累计投资金额是多少？", ["2024年计划建成几家概念验证中心？"])
    assert not q.is_follow_up
    assert q.search_text == "市科创基金累计投资金额是多少?"


@pytest.mark.parametrize(
    "history",
    [
        [{"role": "user", "content": "上一个问题"}, {"role": "assistant", "content": "回答"}],
        ["上一个问题"],
        [("上一个问题", "回答")],
    ],
)
def test_previous_question_reads_every_history_shape(history: list[object]) -> None:
    assert previous_question(history) == "上一个问题"


def test_qualifiers_and_years_are_kept() -> None:
    q = analyse("2025年每家概念验证中心补助多少？")
    assert q.years == ("2025",)
    assert q.qualifiers == ("每家",)


def test_a_labelled_line_is_asked_for_by_its_label() -> None:
    labels = ["办复类别", "承办责任人", "联系人", "联系电话"]
    assert asked_label("办复类别是哪一类？", labels) == "办复类别"
    assert asked_label("这份答复的承办责任人是谁", labels) == "承办责任人"
    assert asked_label("几号答复的？", labels) is None


def test_unit_groups() -> None:
    assert unit_group("条") == frozenset({"条", "艘"})  # 渔船 are counted by 条 and by 艘
    assert "家" in unit_group("个")
    assert "个工作日" in unit_group("天")
    assert {"元", "万元", "亿"} <= unit_group("亿元")
    assert unit_group("瓦") == frozenset({"瓦"})


def test_word_lists_are_well_formed() -> None:
    for line in _data_lines("synonyms.tsv"):
        assert len(line.split("\t")) >= 2, line
    fillers = _data_lines("query_fillers.txt")
    assert len(fillers) == len(set(fillers)), "a filler is listed twice"
    assert synonym_map()["高企"] >= {"高企", "高新技术企业"}
    for line in _data_lines("attribute_units.tsv"):
        assert len(line.split("\t")) >= 2, line


@pytest.mark.parametrize(
    ("question", "tense"),
    [
        ("2022年苍南县建好了多少个数字化车间？", DONE),
        ("温州已经有几家概念验证中心？", DONE),
        ("2024年计划建成几家概念验证中心？", PLAN),
        ("平阳县2017年打算新认定多少个小微企业园？", PLAN),
        ("科技副总选派了多少人次？", DONE),
        ("概念验证中心有几家？", None),
        ("已经建成的和计划建设的各有几家？", None),  # both: the question does not choose
    ],
)
def test_asked_tense(question: str, tense: str | None) -> None:
    assert analyse(question).tense == tense


def test_follow_up_keeps_the_tense_of_the_question_before() -> None:
    assert analyse("那中试平台呢？", history=["2024年计划建成几家概念验证中心？"]).tense == PLAN


def test_rate_and_share_words_stay_whole_and_ask_for_a_percentage() -> None:
    assert [t.text for t in analyse("到2019年底龙湾区的公交分担率是多少？").terms] == ["龙湾区", "公交", "分担率"]
    assert "占比" in [t.text for t in analyse("高标准农田占比是多少？").terms]
    assert units_answering("分担率") == units_answering("占比") == frozenset({"%", "个百分点", "百分点"})
    assert units_answering("功率") == frozenset({"瓦", "千瓦", "万千瓦"})  # from attribute_units.tsv
    assert units_answering("农田") == frozenset()


def test_references_say_which_letter_not_what_is_asked() -> None:
    dated = analyse("平发改建〔2020〕774号里，2025年要建成几个充电站？", references=["平发改建〔2020〕774号"])
    assert (dated.kind, dated.years) == (COUNT, ("2025",))  # the 文号's 2020 is no year asked
    assert analyse("温州市卫健委答复264号建议是哪天", references=["264号"]).meta_field == "date"
    event = analyse("王伟芳代表那份答复里，充电站什么时候能建成投用？", names=["王伟芳代表"])
    assert (event.kind, event.meta_field) == (DATE, None)  # the date of an event, not the letter's


def test_pieces_of_one_noun_are_joined() -> None:
    assert [t.text for t in analyse("中医阁现在建了多少个").terms] == ["中医阁"]  # 中医/阁
    assert "岸电" in [t.text for t in analyse("2019年船靠港用了多少度岸电").terms]  # 岸/电, 度 is the unit
    assert "服务团" in [t.text for t in analyse("侨界专家乡村服务团里是哪些领域的专家").terms]  # 服务/团里
    assert "全国县" not in [t.text for t in analyse("全国县中大班额比例降到多少？").terms]  # a place stays apart


@pytest.mark.parametrize("question", ["要提高到多少？", "十四五要搞到多少个？", "一共花了多少？", "乡村的有多少？"])
def test_elliptical_questions_after_another_are_follow_ups(question: str) -> None:
    assert analyse(question, ["港口岸电现在覆盖了百分之多少的泊位"]).is_follow_up


def test_a_question_of_its_own_is_no_follow_up() -> None:
    assert not analyse("锦川2023年新建了多少个暖新驿站", ["港口岸电现在覆盖了百分之多少的泊位"]).is_follow_up


def test_a_rate_per_head_is_a_qualifier_and_a_follow_up_attribute_sets_its_own_unit() -> None:
    assert analyse("清河每10万人有多少台AED？").qualifiers == ("每10万人",)
    follow = analyse("入住率呢？", ["江湾人才公寓租金多少钱？"])
    assert (follow.kind, follow.unit) == (COUNT, None)  # 92%, not 元
