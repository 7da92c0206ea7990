"""Which letters a question is about: short references, ambiguity, and the scope a conversation keeps."""

from __future__ import annotations

import pytest

from chatbot.names import DOCNO, PLACE, PROPOSAL, UNIT
from chatbot.query import analyse
from chatbot.schema import LetterInfo, LetterMeta
from chatbot.scope import LetterDirectory, Scope, resolve_scope

KJ = "温科提复〔2024〕91号"
WC = "文成县交通运输局关于县十届人大三次会议第91号建议的答复"
LS = "丽水市教育局关于市五届人大四次会议第91号建议的答复函"
CZ = "温财提复〔2024〕15号"
TS = "泰顺县水利局关于县十届人大三次会议第45号建议的答复"
YJ = "永嘉县住房和城乡建设局关于县政协十一届三次会议第58号提案的答复"


def _letter(doc_id: str, **meta: object) -> LetterInfo:
    m = LetterMeta(**meta)  # type: ignore[arg-type]
    return LetterInfo(doc_id=doc_id, title=m.title or doc_id, deputies=m.deputies, date=m.date, chunk_count=5,
                      source=f"{doc_id}.txt", meta=m, unit=m.unit)


LETTERS = [
    _letter(KJ, doc_number=KJ, proposal_kind="建议", proposal_number="817", deputies=("虞振勇",), role="代表",
            title="关于加快科技成果落地转化的建议", unit="温州市科学技术局"),
    _letter(WC, proposal_kind="建议", proposal_number="91", deputies=("包建华",), role="代表",
            title="关于加快玉壶至南田公路提升改造的建议", unit="文成县交通运输局"),
    _letter(LS, proposal_kind="建议", proposal_number="91", deputies=("叶秀娟",), role="代表",
            title="关于缓解中心城区义务教育学位紧张问题的建议", unit="丽水市教育局"),
    _letter(CZ, doc_number=CZ, proposal_kind="提案", proposal_number="156", deputies=("陈立新", "王晓燕"),
            role="委员", title="关于加大对中小微企业融资支持的提案", unit="温州市财政局"),
    _letter(TS, proposal_kind="建议", proposal_number="45", deputies=("陶立新",), role="代表",
            title="关于加快解决罗阳镇北部山区群众饮水问题的建议", unit="泰顺县水利局"),
    _letter(YJ, doc_number="永住建提〔2024〕8号", proposal_kind="提案", proposal_number="58", deputies=("潘晓东",),
            role="委员", title="关于加快老旧小区改造和既有住宅加装电梯的提案", unit="永嘉县住房和城乡建设局"),
]
DIRECTORY = LetterDirectory.from_letters(LETTERS)


def _scope(question: str, history: list[object] | None = None) -> Scope:
    refs = DIRECTORY.references(question)
    return resolve_scope(analyse(question, history, [r.key for r in refs]), history, DIRECTORY)


def test_references_say_what_kind_of_name_they_are() -> None:
    refs = {r.key: (r.kind, r.letters) for r in DIRECTORY.references("文成交通局的91号答复")}
    assert refs == {"文成交通局": (UNIT, (WC,)), "91号": (DOCNO, (KJ, WC, LS))}
    assert [(r.key, r.kind, r.letters) for r in DIRECTORY.references("817号建议")] == [("817号", PROPOSAL, (KJ,))]
    assert DIRECTORY.references("3号楼什么时候建成") == []  # a figure, not a letter
    assert [(r.key, r.kind) for r in DIRECTORY.references("泰顺的饮水工程")] == [("泰顺", PLACE)]


@pytest.mark.parametrize(
    ("question", "doc_ids"),
    [
        ("温科提复〔2024〕91号的联系人是谁", (KJ,)),
        ("温科提复91号的联系人是谁", (KJ,)),  # the 文号 without its year
        ("91号文的联系人是谁", (KJ,)),  # 文: a 文号's number, and only one letter has 91 there
        ("817号建议的联系人是谁", (KJ,)),
        ("虞代表的建议是谁答复的", (KJ,)),  # surname + title
        ("王晓燕委员提了什么", (CZ,)),
        ("住建局那份答复的联系人是谁", (YJ,)),  # a unit's short form and 那份
        ("文成交通局的91号答复是哪天发的", (WC,)),  # a unit narrows a number
        ("加快解决罗阳镇北部山区群众饮水问题那份建议的联系人", (TS,)),  # a title
        ("2024年计划建成几家概念验证中心", ()),
    ],
)
def test_a_question_naming_a_letter_is_scoped_to_it(question: str, doc_ids: tuple[str, ...]) -> None:
    scope = _scope(question)
    assert (scope.doc_ids, scope.ambiguous) == (doc_ids, ())


def test_a_short_reference_fitting_several_letters_is_not_guessed() -> None:
    scope = _scope("第91号建议的答复是哪天发的？")
    assert scope.ambiguous == (WC, LS) and scope.doc_ids == ()
    assert _scope("91号的联系人是谁").ambiguous == (KJ, WC, LS)


def test_scope_carries_until_another_letter_or_all_letters_are_named() -> None:
    history: list[object] = ["温科提复〔2024〕91号的联系人是谁"]
    assert _scope("电话呢？", history).doc_ids == (KJ,)
    history += ["电话呢？"]
    assert _scope("这份建议是谁提的？", history).doc_ids == (KJ,)
    assert _scope("科技成果转化基金的规模是多少", history).doc_ids == (KJ,)  # named letters carry
    assert _scope("泰顺水利局那份呢？", history).doc_ids == (TS,)
    assert _scope("所有答复函里的联系人", history) == Scope(reset=True)
    assert _scope("其他答复函呢？", history) == Scope(excluded=(KJ,))


def test_this_and_the_previous_letter_are_the_letters_answers_came_from() -> None:
    history = [
        {"role": "user", "content": "玉壶至南田公路总投资多少？"},
        {"role": "assistant", "content": "**3.12亿元**\n\n> …\n\n—— 《关于加快玉壶至南田公路提升改造的建议》"
                                         f"（{WC}） · 一、前期工作进展"},
        {"role": "user", "content": "老旧小区改造了多少个？"},
        {"role": "assistant", "content": f"**46个**\n\n> …\n\n—— 《…》（{YJ}） · 一、老旧小区改造推进情况"},
    ]
    assert _scope("这份的联系人是谁？", history).doc_ids == (YJ,)
    assert _scope("上一份的联系人是谁？", history).doc_ids == (WC,)
    assert _scope("那加装电梯呢？", history).doc_ids == (YJ,)  # an answer's letter carries to a follow-up


def test_an_ordinal_picks_from_the_letters_the_reply_listed() -> None:
    listing = (f"“91号”对应2份答复函，请指明是哪一份：\n\n1. 《…》（{WC}） — 文成县交通运输局\n"
               f"2. 《…》（{LS}） — 丽水市教育局")
    history = [{"role": "user", "content": "第91号建议的答复是哪天发的？"}, {"role": "assistant", "content": listing}]
    assert _scope("第二份", history).doc_ids == (LS,)
    assert _scope("文成交通局那份。", history).doc_ids == (WC,)


def test_a_place_inside_the_current_letter_does_not_leave_it() -> None:
    history = ["浙交复23号答复里预约响应式农村客运线路开了多少条？", "永住建提〔2024〕8号累计加装了多少台电梯？"]
    assert _scope("泰顺县呢？", history).doc_ids == (YJ,)
    assert _scope("泰顺水利局的饮水工程投资多少？", history).soft == (TS,)  # a unit names another letter
