"""Retrieval pieces that need no model: rank fusion and letter scoping."""

from __future__ import annotations

import pytest

from chatbot.retrieval import LetterDirectory, fuse
from chatbot.schema import LetterInfo, LetterMeta


def test_fuse_is_reciprocal_rank_scaled_to_one() -> None:
    scores = fuse([[1, 2, 3], [2, 1]], k=60)
    assert scores[1] == pytest.approx((1 / 61 + 1 / 62) / (2 / 61))  # first in one list, second in the other
    assert scores[1] == scores[2]
    assert fuse([[7], [7]])[7] == pytest.approx(1.0)  # first everywhere
    assert scores[3] == pytest.approx((1 / 63) / (2 / 61))


def test_fuse_of_nothing_is_empty() -> None:
    assert fuse([]) == {}


LETTERS = [
    LetterInfo(
        doc_id="温科提复〔2024〕91号",
        title="关于加快科技成果落地转化的建议",
        deputies=("虞振勇",),
        date="2024-06-26",
        chunk_count=13,
        source="a.txt",
        meta=LetterMeta(doc_number="温科提复〔2024〕91号", proposal_number="817", deputies=("虞振勇",)),
    ),
    LetterInfo(
        doc_id="温财提复〔2024〕15号",
        title="关于加大对中小微企业融资支持的提案",
        deputies=("陈立新", "王晓燕"),
        date="2024-07-15",
        chunk_count=7,
        source="b.txt",
        meta=LetterMeta(doc_number="温财提复〔2024〕15号", proposal_number="156", deputies=("陈立新", "王晓燕")),
    ),
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("817号建议里科技副总选派了多少人次？", ("温科提复〔2024〕91号",)),
        ("虞振勇代表的建议是谁答复的", ("温科提复〔2024〕91号",)),
        ("温财提复〔2024〕15号 的联系人是谁", ("温财提复〔2024〕15号",)),
        ("王晓燕委员提了什么", ("温财提复〔2024〕15号",)),
        ("2024年计划建成几家概念验证中心", ()),
        ("1817号建议", ()),
    ],
)
def test_letters_named_in_a_question(question: str, expected: tuple[str, ...]) -> None:
    assert LetterDirectory.from_letters(LETTERS).named_in(question) == expected


def test_a_number_inside_a_named_doc_number_is_not_a_suggestion_number() -> None:
    """温交提复〔2023〕817号 names that letter only, not also the letter answering suggestion no. 817."""
    third = LetterInfo(doc_id="温交提复〔2023〕817号", title="关于城乡公交一体化的提案", deputies=("李明华",),
                       date="2023-06-01", chunk_count=9, source="c.txt",
                       meta=LetterMeta(doc_number="温交提复〔2023〕817号", proposal_number="42", deputies=("李明华",)))
    directory = LetterDirectory.from_letters([*LETTERS, third])
    assert directory.named_in("温交提复〔2023〕817号答复函的联系人是谁？") == ("温交提复〔2023〕817号",)
    assert directory.named_in("817号建议的联系人是谁？") == ("温科提复〔2024〕91号",)


def test_directory_finds_letters_by_id() -> None:
    directory = LetterDirectory.from_letters(LETTERS)
    assert directory.by_id["温财提复〔2024〕15号"].title == "关于加大对中小微企业融资支持的提案"
