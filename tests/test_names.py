"""The names a letter goes by: places with and without their suffix, units by their short forms, the keys a
question may name a letter by, and the id of a letter without 文号."""

from __future__ import annotations

import pytest

from chatbot.names import (
    DOC,
    DOCNO,
    PERSON,
    PLACE,
    PROPOSAL,
    TITLE,
    UNIT,
    full_names,
    identity_text,
    letter_id,
    letter_keys,
    place_names,
    split_unit,
    unit_names,
)
from chatbot.schema import LetterMeta


@pytest.mark.parametrize(
    ("unit", "expected"),
    [
        ("泰顺县交通运输局", (("泰顺县",), "交通运输", "局")),
        ("云南省马关县教育体育局", (("云南省", "马关县"), "教育体育", "局")),
        ("温州市市场监督管理局", (("温州市",), "市场监督管理", "局")),  # 市场 is no place
        ("张掖市甘州区住房和城乡建设局", (("张掖市", "甘州区"), "住房和城乡建设", "局")),
        ("温州市城市管理局", (("温州市",), "城市管理", "局")),  # nor is 城市
        ("交通运输部", ((), "交通运输", "部")),
        ("浙江省卫生健康委员会", (("浙江省",), "卫生健康", "委员会")),
        ("民乐县某某服务中心", (("民乐县",), "某某", "服务中心")),  # an unknown department
    ],
)
def test_split_unit(unit: str, expected: tuple[tuple[str, ...], str, str]) -> None:
    assert split_unit(unit) == expected


def test_places_with_and_without_suffix() -> None:
    assert place_names("泰顺县") == {"泰顺县", "泰顺"}
    assert place_names("温州市") == {"温州市", "温州"}  # 温州 keeps its 州
    assert place_names("沛县") == {"沛县"}  # a one-character name keeps its suffix


def test_unit_short_forms() -> None:
    assert unit_names("泰顺县交通运输局") == {
        "泰顺县交通运输局", "交通运输局", "交通局", "泰顺交通运输局", "泰顺交通局", "泰顺县交通局"}
    assert {"卫健委", "温州卫健委", "温州市卫健委"} <= unit_names("温州市卫生健康委员会")
    assert unit_names("攸县残疾人联合会") == {"攸县残疾人联合会", "残疾人联合会", "残联", "攸县残联"}
    assert full_names("人社部") == {"人力资源和社会保障部", "人力资源社会保障部"}
    assert full_names("住建局") == {"住房和城乡建设局"}


LETTER = LetterMeta(doc_number="温科提复〔2024〕91号", proposal_kind="建议", proposal_number="817",
                    deputies=("虞振勇",), role="代表", title="关于加快科技成果落地转化的建议", unit="温州市科学技术局")


def test_letter_keys_say_what_kind_of_name_each_is() -> None:
    keys = letter_keys("温科提复〔2024〕91号", LETTER)
    assert {("温科提复〔2024〕91号", DOC), ("温科提复91号", DOC), ("91号", DOCNO), ("817号", PROPOSAL)} <= keys
    assert {("虞振勇", PERSON), ("虞振勇代表", PERSON), ("虞代表", PERSON)} <= keys
    assert {("关于加快科技成果落地转化的建议", TITLE), ("加快科技成果落地转化", TITLE)} <= keys
    assert {("科技局", UNIT), ("温州科技局", UNIT), ("温州市", PLACE), ("温州", PLACE)} <= keys


def test_identity_text_holds_what_satisfies_a_question_about_the_letter() -> None:
    names = identity_text(LETTER).split("|")
    assert {"温州", "科技局", "虞代表", "第817号建议", "关于加快科技成果落地转化的建议"} <= set(names)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (LETTER, "温科提复〔2024〕91号"),
        (LetterMeta(heading="关于县十届人大三次会议第45号建议的答复", unit="泰顺县水利局"),
         "泰顺县水利局关于县十届人大三次会议第45号建议的答复"),
        (LetterMeta(heading="泰顺县水利局关于县十届人大三次会议第45号建议的答复", unit="泰顺县水利局"),
         "泰顺县水利局关于县十届人大三次会议第45号建议的答复"),  # the unit is not said twice
        (LetterMeta(heading="答复函", title="关于改善乡村学校的提案", unit="马关县教育体育局"),
         "马关县教育体育局对《关于改善乡村学校的提案》的答复"),  # 答复函 alone tells no letter apart
        (LetterMeta(), "便函"),
    ],
)
def test_letter_id(meta: LetterMeta, expected: str) -> None:
    assert letter_id(meta, "便函") == expected
