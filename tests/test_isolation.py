"""Snapshot isolation: a question is answered from the generation it started on, whatever commits meanwhile."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import idx_letter_text

from chatbot.config import Settings
from chatbot.embedding import HashingEmbedder
from chatbot.errors import IndexCorruptError
from chatbot.indexing import add_files, build_index, remove_letter
from chatbot.leases import READERS_DIR
from chatbot.service import Chatbot
from chatbot.store import SEGMENTS_DIR, open_index

L101, L102, L103, L104 = (f"温科提复〔2024〕{n}号" for n in (101, 102, 103, 104))
# question -> (short answer, letter); 102 is replaced by two versions in turn: either figure is right for the
# generation that holds it, but the title, quote and short answer must all come from that same version.
QUESTIONS = {
    "2024年计划新建人才驿站几家？": {("12家", L101, "关于加快人才引进的建议")},
    "今年计划完成危桥改造多少座？": {("40座", L103, "关于改善农村道路的建议")},
    "2024年计划建设海洋牧场几个？": {("5个", L102, "关于发展海洋经济的建议"),
                                   ("8个", L102, "关于发展海洋经济的建议（修订）")},
}
READERS_PER_QUESTION = 2
ROUNDS = 4


def _versions(inbox: Path) -> tuple[Path, Path, Path]:
    """Two versions of 102 (5个 / 8个, titles differ) and letter 104, as files to add."""
    inbox.mkdir()
    first, second, extra = inbox / "海洋经济.txt", inbox / "海洋经济（修订）.txt", inbox / "水环境.txt"
    first.write_text(idx_letter_text(L102, "李娜", number="102", title="关于发展海洋经济的建议",
                                     topic="发展海洋经济", progress="全市海洋生产总值达到1200亿元。",
                                     plan="2024年计划建设海洋牧场5个。"), encoding="utf-8")
    second.write_text(idx_letter_text(L102, "李娜", number="102", title="关于发展海洋经济的建议（修订）",
                                      topic="发展海洋经济", progress="全市海洋生产总值达到1200亿元。",
                                      plan="2024年计划建设海洋牧场8个。"), encoding="utf-8")
    extra.write_text(idx_letter_text(L104, "赵敏", number="104", title="关于治理水环境的建议",
                                     topic="治理水环境", plan="今年计划新建污水处理厂6座。"), encoding="utf-8")
    return first, second, extra


def _writes(settings: Settings, inbox: Path) -> int:
    """Full builds, replacements of 102 and removals of 104 in turn; returns the number of commits."""
    first, second, extra = _versions(inbox)
    embedder, commits = HashingEmbedder(), 0
    for round_ in range(ROUNDS):
        build_index(settings, embedder, full=True)
        add_files(settings, embedder, [second if round_ % 2 == 0 else first])
        add_files(settings, embedder, [extra])
        remove_letter(settings, L104)
        commits += 4
    return commits


def test_every_answer_is_right_while_builds_adds_and_removes_commit(idx_settings, idx_corpus, tmp_path) -> None:
    build_index(idx_settings, HashingEmbedder())
    reader = Chatbot(idx_settings, embedder=HashingEmbedder())
    stop = threading.Event()
    replies: list[tuple[str, tuple[str | None, str | None, str | None], str]] = []
    failures: list[str] = []

    def ask(question: str) -> None:
        while not stop.is_set():
            try:
                reply = reader.answer(question)
            except Exception as e:  # every failure is reported below, with the question
                failures.append(f"{question}: {e!r}")
                continue
            top = reply.passages[0] if reply.passages else None
            got = (reply.direct_answer, top.doc_id if top else None, top.title if top else None)
            replies.append((question, got, top.quote if top else ""))

    threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS for _ in range(READERS_PER_QUESTION)]
    for thread in threads:
        thread.start()
    try:
        commits = _writes(idx_settings, tmp_path / "inbox")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert failures == []
    wrong = [(q, got) for q, got, quote in replies if got not in QUESTIONS[q] or str(got[0]) not in quote]
    assert wrong == []
    assert len(replies) >= 10 * commits
    assert reader.snapshot().generation >= commits


# ---------------------------------------------------------------- what old generations keep, and for how long


def _count(index_dir: Path, table: str) -> int:
    with sqlite3.connect(index_dir / "store.sqlite") as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_retired_rows_and_folders_stay_until_the_last_reader_lets_go(idx_settings, idx_corpus) -> None:
    index_dir = idx_settings.index_dir
    build_index(idx_settings, HashingEmbedder())
    old = open_index(index_dir)
    chunks = old.num_chunks
    folders = [index_dir / SEGMENTS_DIR / name for name in old.segment_names]
    build_index(idx_settings, HashingEmbedder(), full=True)  # retires every row and segment of generation 1
    assert all(folder.is_dir() for folder in folders)
    assert (_count(index_dir, "retired_chunks"), _count(index_dir, "retired_letters")) == (chunks, 3)
    assert old.letter(L103).title == "关于改善农村道路的建议" and len(old.chunks(range(1, chunks + 1))) == chunks
    del old  # the last reference: its lease goes with it
    remove_letter(idx_settings, L103)  # the next write purges what no reader needs
    assert not any(folder.exists() for folder in folders)
    assert (_count(index_dir, "retired_chunks"), _count(index_dir, "retired_segments")) == (0, 0)
    assert list((index_dir / READERS_DIR).iterdir()) == []


READER_SCRIPT = """
import json, sys
from chatbot.store import open_index
snapshot = open_index(sys.argv[1])
print(snapshot.generation, flush=True)
sys.stdin.readline()
print(json.dumps([c.text for c in snapshot.chunks(range(1, 1000)) if c.doc_id == sys.argv[2]], ensure_ascii=False),
      flush=True)
sys.stdin.readline()
"""


def test_a_reader_in_another_process_keeps_its_generation(idx_settings, idx_corpus, tmp_path) -> None:
    index_dir = idx_settings.index_dir
    build_index(idx_settings, HashingEmbedder())
    folders = [index_dir / SEGMENTS_DIR / name for name in open_index(index_dir).segment_names]
    reader = subprocess.Popen([sys.executable, "-c", READER_SCRIPT, str(index_dir), L101], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, encoding="utf-8")
    assert reader.stdin is not None and reader.stdout is not None
    try:
        assert reader.stdout.readline().strip() == "1"
        revised = tmp_path / "修订.txt"
        revised.write_text(idx_letter_text(L101, "王伟", plan="2024年计划新建人才驿站20家。"), encoding="utf-8")
        add_files(idx_settings, HashingEmbedder(), [revised])  # replaces 101: its old rows are retired
        build_index(idx_settings, HashingEmbedder(), full=True)  # and every segment of generation 1
        assert all(folder.is_dir() for folder in folders)
        reader.stdin.write("\n")
        reader.stdin.flush()
        texts = json.loads(reader.stdout.readline())
        assert any("人才驿站12家" in text for text in texts) and not any("20家" in text for text in texts)
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    remove_letter(idx_settings, L103)  # the reader is gone (its lock went with its process)
    assert not any(folder.exists() for folder in folders)
    assert _count(index_dir, "retired_chunks") == 0


def test_a_load_that_fails_holds_no_lease(idx_settings, idx_corpus) -> None:
    index_dir = idx_settings.index_dir
    build_index(idx_settings, HashingEmbedder())
    (segment,) = (index_dir / SEGMENTS_DIR).iterdir()
    (segment / "vectors.npy").write_bytes(b"")
    with pytest.raises(IndexCorruptError):
        open_index(index_dir)
    assert list((index_dir / READERS_DIR).iterdir()) == []
