"""The loaded Chatbot: reuse, live reload after another writer's rebuild, input checks."""

from __future__ import annotations

import pytest
from conftest import idx_letter_text

from chatbot.embedding import HashingEmbedder
from chatbot.errors import IndexMissingError, QueryError
from chatbot.indexing import build_index
from chatbot.service import MAX_QUESTION_CHARS, Chatbot, get_chatbot


@pytest.fixture
def bot(idx_settings, idx_corpus):
    embedder = HashingEmbedder()
    build_index(idx_settings, embedder)
    return Chatbot(idx_settings, embedder=embedder)


def test_answers_from_the_index(bot) -> None:
    reply = bot.answer("2024年计划建设海洋牧场几个？")
    assert reply.direct_answer == "5个"
    assert reply.passages[0].doc_id == "温科提复〔2024〕102号"


def test_snapshot_is_reused_until_the_index_changes(bot) -> None:
    assert bot.snapshot() is bot.snapshot()


def test_rebuild_by_another_writer_is_picked_up_without_restart(bot, idx_settings) -> None:
    before = bot.snapshot()
    assert bot.answer("今年计划新建多少座污水处理厂？").abstained
    path = idx_settings.corpus_dir / "温科提复〔2024〕104号.txt"
    path.write_text(
        idx_letter_text("温科提复〔2024〕104号", "赵敏", number="104", title="关于治理水环境的建议",
                        topic="治理水环境", plan="今年计划新建污水处理厂6座。"),
        encoding="utf-8",
    )
    build_index(idx_settings, HashingEmbedder())  # another writer: not through this Chatbot
    reply = bot.answer("今年计划新建多少座污水处理厂？")
    assert bot.snapshot() is not before
    assert not reply.abstained
    assert reply.direct_answer == "6座"
    assert reply.passages[0].doc_id == "温科提复〔2024〕104号"


def test_question_in_flight_during_a_rebuild_is_answered_from_its_generation(bot, idx_settings, idx_corpus) -> None:
    """A caller holding the old snapshot when a writer commits is answered from the old generation, whole:
    the letter the commit removed, its chunk text and its title included."""
    from chatbot.query import analyse
    from chatbot.retrieval import Retriever

    old = bot.snapshot()
    idx_corpus["温科提复〔2024〕103号"].unlink()
    build_index(idx_settings, HashingEmbedder())
    hits = Retriever(old, bot.embedder).hits(analyse("今年计划完成危桥改造多少座？"), k=5)
    assert hits[0].chunk.doc_id == "温科提复〔2024〕103号" and "危桥改造40座" in hits[0].chunk.text
    assert old.by_id["温科提复〔2024〕103号"].title == "关于改善农村道路的建议"
    assert "温科提复〔2024〕103号" not in [letter.doc_id for letter in bot.letters()]


@pytest.mark.parametrize("question", ["", "   ", "问" * (MAX_QUESTION_CHARS + 1)])
def test_unusable_question_is_refused(bot, question: str) -> None:
    with pytest.raises(QueryError):
        bot.answer(question)


def test_k_out_of_range_is_refused(bot) -> None:
    with pytest.raises(QueryError, match="k must be between 1 and 50"):
        bot.retrieve("海洋牧场", k=0)


def test_unknown_doc_id_is_refused(bot) -> None:
    with pytest.raises(QueryError, match="unknown doc_id"):
        bot.retrieve("海洋牧场", doc_ids=["温科提复〔2099〕1号"])


def test_missing_index_says_which_command_builds_it(idx_settings) -> None:
    with pytest.raises(IndexMissingError, match="chatbot index build"):
        Chatbot(idx_settings, embedder=HashingEmbedder()).answer("海洋牧场")


def test_one_chatbot_per_index_folder(idx_settings) -> None:
    assert get_chatbot(idx_settings) is get_chatbot(idx_settings)


def test_staff_writes_report_progress(bot, idx_settings, tmp_path) -> None:
    letter = tmp_path / "温科提复〔2024〕105号.txt"
    letter.write_text(idx_letter_text("温科提复〔2024〕105号", "孙丽", number="105"), encoding="utf-8")
    seen: list[tuple[float, str]] = []
    report = bot.add_files([letter], progress=lambda fraction, desc: seen.append((fraction, desc)))
    assert report.added == ["温科提复〔2024〕105号"]
    assert seen[0] == (0.0, "正在读取 温科提复〔2024〕105号.txt")
    assert seen[-1][0] == pytest.approx(0.95)
    assert seen[-1][1].startswith("正在向量化：")
    assert [f for f, _ in seen] == sorted(f for f, _ in seen)


def test_answer_echoes_the_question_as_asked(bot) -> None:
    assert bot.answer("2024年计划建设海洋牧场几个？").question == "2024年计划建设海洋牧场几个？"
