"""The synthetic corpus generator of the benchmarks: deterministic, in the real format, questions answerable."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

# benchmarks/ is a folder of the repository, not part of the installed package: import it from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.synthetic import (
    COUNT_VERBS,
    COUNTED,
    PLACES,
    SyntheticLetter,
    _occurrences,
    generate,
    question_rows,
    write_corpus,
    write_questions,
)
from chatbot.chunking import chunk_document
from chatbot.documents import load_document
from chatbot.schema import BODY, CLOSING, LETTERHEAD

SUBSECTIONS = ("（一）工作进展", "（二）下一步工作计划")


@pytest.fixture(scope="module")
def letters() -> list[SyntheticLetter]:
    return generate(60, seed=7)


@pytest.fixture(scope="module")
def corpus(letters: list[SyntheticLetter], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_corpus(tmp_path_factory.mktemp("synthetic"), letters)


def _compact(text: str) -> str:
    return "".join(text.split())


def test_same_seed_gives_identical_letters(letters: list[SyntheticLetter]) -> None:
    assert generate(60, seed=7) == letters
    assert generate(60, seed=8) != letters


def test_smaller_corpus_is_a_prefix_of_a_larger_one(letters: list[SyntheticLetter]) -> None:
    assert generate(20, seed=7) == letters[:20]


def test_doc_numbers_are_unique_and_varied(letters: list[SyntheticLetter]) -> None:
    numbers = [letter.doc_number for letter in letters]
    assert len(set(numbers)) == len(numbers)
    assert len({n[:2] for n in numbers}) >= 5  # several departments (温科, 温财, 温教 …)


def test_every_letter_loads_with_its_metadata(letters: list[SyntheticLetter], corpus: list[Path]) -> None:
    for letter, path in zip(letters, corpus, strict=True):
        doc = load_document(path)
        assert doc.doc_id == letter.doc_number
        assert doc.warnings == ()
        meta = doc.meta
        assert (meta.doc_number, meta.deputies, meta.date) == (letter.doc_number, letter.deputies, letter.date)
        assert (meta.proposal_kind, meta.proposal_number) == (letter.proposal_kind, letter.proposal_number)
        assert (meta.title, meta.unit) == (letter.title, letter.unit)
        assert (meta.contact_person, meta.contact_phone) == (letter.contact_person, letter.contact_phone)


def test_every_letter_chunks_into_its_sections(letters: list[SyntheticLetter], corpus: list[Path]) -> None:
    for letter, path in zip(letters, corpus, strict=True):
        chunks = chunk_document(load_document(path))
        assert 2 <= len(letter.sections) <= 6
        body = {chunk.section for chunk in chunks if chunk.kind == BODY}
        assert body == {f"{heading} › {sub}" for heading in letter.sections for sub in SUBSECTIONS}
        assert chunks[0].kind == LETTERHEAD
        assert chunks[-1].kind == CLOSING
        assert f"联系人：{letter.contact_person}" in chunks[-1].text


def test_each_evidence_is_in_exactly_the_letter_it_names(letters: list[SyntheticLetter]) -> None:
    texts = {letter.doc_number: _compact(letter.text) for letter in letters}
    rows = question_rows(letters)
    assert len(rows) >= 3 * len(letters)
    for row in rows:
        holders = [doc for doc, text in texts.items() if _compact(row["evidence"]) in text]
        assert holders == [row["doc"]], row


def test_no_two_letters_state_a_count_of_the_same_thing_place_and_year(letters: list[SyntheticLetter]) -> None:
    # A question asks with a paraphrased verb (建好了 for 建成), so the verb must not be what tells letters apart.
    nouns = "|".join(sorted((noun for noun, _ in COUNTED), key=len, reverse=True))
    verbs = "|".join(verb for verb, _ in COUNT_VERBS)
    pattern = re.compile(rf"(\d{{4}})年({'|'.join(PLACES)})(计划)?(?:{verbs})({nouns})\d+")
    owner: dict[tuple[str, ...], str] = {}
    for letter in letters:
        for m in pattern.finditer(letter.text):
            key = (m.group(1), m.group(2), m.group(3) or "", m.group(4))
            assert owner.setdefault(key, letter.doc_number) == letter.doc_number, key


def test_answers_lie_inside_the_evidence(letters: list[SyntheticLetter]) -> None:
    for row in question_rows(letters):
        assert any(_compact(answer) in _compact(row["evidence"]) for answer in row["answers"]), row


def test_questions_come_in_several_kinds_and_meta_names_its_letter(letters: list[SyntheticLetter]) -> None:
    rows = question_rows(letters)
    kinds = Counter(row["kind"] for row in rows)
    assert {"factoid", "percent", "money", "meta"} <= set(kinds)
    by_doc = {letter.doc_number: letter for letter in letters}
    for row in rows:
        if row["kind"] == "meta":
            letter = by_doc[row["doc"]]
            assert letter.doc_number in row["question"] or letter.deputies[0] in row["question"]


def test_question_file_has_the_evaluation_format(letters: list[SyntheticLetter], tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    write_questions(path, letters[:3])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows == question_rows(letters[:3])
    assert set(rows[0]) == {"id", "question", "answers", "evidence", "kind", "doc"}


# sha256 of generate(300, 20241)'s texts and questions, computed with the quadratic uniqueness check that
# _drop_ambiguous had before it became near-linear: the benchmark corpus must not change with the speed-up.
GENERATE_300_SHA256 = "2b90c0872bc2ce8c2efab4de660ee32747aa9088af4897d4c8425dacf94087d3"


def test_benchmark_corpus_is_unchanged_by_the_linear_uniqueness_check() -> None:
    digest = hashlib.sha256()
    for letter in generate(300, seed=20241):
        digest.update(letter.text.encode())
        digest.update(json.dumps([q.__dict__ for q in letter.questions], ensure_ascii=False).encode())
    assert digest.hexdigest() == GENERATE_300_SHA256


def test_occurrences_count_like_str_count_over_the_joined_texts() -> None:
    texts = ["甲乙丙甲乙丙", "乙丙丁", "丁丁丁丁", "无关"]
    needles = {"甲乙", "乙丙", "丁丁", "丙丁", "戊己"}
    joined = "\x00".join(texts)
    assert _occurrences(texts, needles) == {n: joined.count(n) for n in needles}
    assert _occurrences(texts, needles) == {"甲乙": 2, "乙丙": 3, "丁丁": 2, "丙丁": 1, "戊己": 0}


def test_questions_are_answered_from_their_letter_among_look_alike_letters(
    letters: list[SyntheticLetter], corpus: list[Path], tmp_path: Path
) -> None:
    """60 letters sharing their wording, with a hashing embedder (dense ranks are noise): the evidence rerank
    alone must find each question's passage and figure. The benchmark measures this with the real model at
    100 and 1,000 letters; here it guards the rerank (statement binding, plan vs result, the cheap match)."""
    from chatbot.config import load_settings
    from chatbot.embedding import HashingEmbedder
    from chatbot.evaluation import EvalQuestion, evaluate
    from chatbot.indexing import build_index
    from chatbot.service import Chatbot

    settings = load_settings(corpus_dir=corpus[0].parent, index_dir=tmp_path / "index")
    build_index(settings, HashingEmbedder())
    questions = [EvalQuestion(r["id"], r["question"], tuple(r["answers"]), r["evidence"], r["kind"], r["doc"])
                 for r in question_rows(letters)]
    report = evaluate(Chatbot(settings, HashingEmbedder()), questions)
    assert report.n > 200
    assert report.hit_at_1 >= 0.97, report.misses[:5]
    assert report.answer_at_1 >= 0.97, report.misses[:5]
