"""Damaged index files: every command says what is wrong and how to recover, and recovery works."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatbot.check import DAMAGED_SUFFIX, check_index
from chatbot.embedding import HashingEmbedder
from chatbot.store import SEGMENTS_DIR, STORE_FILE

HINT = "run `chatbot index build --full`"
QUESTION = "2024年计划建设海洋牧场几个？"


def _garbage_store(index_dir: Path) -> str:
    (index_dir / STORE_FILE).write_bytes(b"this is not a database\n" * 200)
    return f"{STORE_FILE} is not a readable SQLite database (file is not a database)"


def _segment(index_dir: Path) -> Path:
    (folder,) = (index_dir / SEGMENTS_DIR).iterdir()
    return folder


def _empty_vectors(index_dir: Path) -> str:
    path = _segment(index_dir) / "vectors.npy"
    size = path.stat().st_size
    path.write_bytes(b"")
    return f"{SEGMENTS_DIR}/{path.parent.name}/vectors.npy is 0 bytes, {size} were written"


def _truncated_postings(index_dir: Path) -> str:
    path = _segment(index_dir) / "tf_counts.npy"
    size = path.stat().st_size
    os.truncate(path, size // 2)
    return f"{SEGMENTS_DIR}/{path.parent.name}/tf_counts.npy is {size // 2} bytes, {size} were written"


CORRUPTIONS: dict[str, Callable[[Path], str]] = {
    "garbage store.sqlite": _garbage_store, "0-byte vectors.npy": _empty_vectors,
    "truncated segment file": _truncated_postings,
}


@pytest.fixture(params=sorted(CORRUPTIONS))
def damaged(request, run, idx_settings, idx_corpus) -> tuple[str, dict[str, bytes]]:
    """An index built from the three letters, then damaged: (the problem `index check` names, the damaged
    file's bytes)."""
    assert run("index", "build").exit_code == 0
    problem = CORRUPTIONS[request.param](idx_settings.index_dir)
    return problem, _damaged_bytes(idx_settings.index_dir)


def _damaged_bytes(index_dir: Path) -> dict[str, bytes]:
    """Every file of the folder (not SQLite's shared-memory file, rewritten by any reader)."""
    return {str(p.relative_to(index_dir)): p.read_bytes() for p in sorted(index_dir.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm")}


def test_check_names_the_damaged_file(run, damaged) -> None:
    problem, _ = damaged
    result = run("index", "check")
    assert result.exit_code == 1
    assert f"损坏  {problem}" in result.output.splitlines()
    assert "运行 `chatbot index build --full` 从语料重建" in result.output


def test_ask_says_the_index_is_damaged_and_how_to_rebuild(run, damaged) -> None:
    result = run("ask", QUESTION)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.rstrip().endswith(HINT)
    assert "Aborted" not in result.output


def test_serve_starts_on_a_damaged_index_and_answers_503_with_the_hint(run, damaged, idx_settings,
                                                                      monkeypatch) -> None:
    import uvicorn

    from chatbot.app import ask
    from chatbot.service import Chatbot

    served: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app))
    result = run("serve")
    assert result.exit_code == 0, result.output
    client = TestClient(served["app"])  # type: ignore[arg-type]
    for response in (client.get("/healthz"), client.post("/api/ask", json={"question": QUESTION})):
        assert response.status_code == 503
        assert response.json()["error"].endswith(HINT)
    _, messages, _, _ = ask(Chatbot(idx_settings, embedder=HashingEmbedder()), QUESTION, [], [])
    reply = messages[1]["content"]
    assert reply.startswith("暂时无法回答：") and "chatbot index build \\-\\-full" in reply


def test_full_build_moves_the_damaged_index_aside_and_rebuilds_from_the_corpus(run, damaged, idx_settings) -> None:
    _, before = damaged
    result = run("index", "build", "--full")
    assert result.exit_code == 0, result.output
    (aside,) = idx_settings.index_dir.parent.glob(f"index{DAMAGED_SUFFIX}*")
    assert f"原索引已损坏：已整体移到 {aside}" in result.output
    after = _damaged_bytes(aside)
    assert {name: after.get(name) for name in before} == before  # nothing of the damaged index is lost
    assert run("index", "check").exit_code == 0
    reply = run("ask", QUESTION, "--json")
    assert reply.exit_code == 0 and '"direct_answer": "5个"' in reply.output


def test_an_incremental_build_on_a_damaged_store_names_the_full_rebuild(run, idx_settings, idx_corpus) -> None:
    assert run("index", "build").exit_code == 0
    _garbage_store(idx_settings.index_dir)
    result = run("index", "build")
    assert result.exit_code == 1
    assert result.output == (f"Error: {idx_settings.index_dir / STORE_FILE} is damaged (file is not a database): "
                             f"{HINT}\n")


def test_check_finds_a_file_changed_in_place_and_passes_a_sound_index(run, idx_settings, idx_corpus) -> None:
    assert run("index", "build").exit_code == 0
    sound = run("index", "check")
    assert sound.exit_code == 0
    files = len(list(_segment(idx_settings.index_dir).iterdir()))
    assert sound.output.splitlines()[-1] == f"索引完好：已核对 {files} 个文件，索引版本 1。"
    vocab = _segment(idx_settings.index_dir) / "vocab.json"
    vocab.write_bytes(vocab.read_bytes().replace("海洋".encode(), "湖泊".encode()))  # same size
    report = check_index(idx_settings.index_dir)
    assert report.problems == [f"{SEGMENTS_DIR}/{vocab.parent.name}/vocab.json does not match the checksum "
                               "recorded when it was written"]


def test_a_running_chatbot_moves_on_to_the_index_rebuilt_in_its_place(idx_settings, idx_corpus) -> None:
    from chatbot.indexing import build_index
    from chatbot.service import Chatbot

    build_index(idx_settings, HashingEmbedder())
    bot = Chatbot(idx_settings, embedder=HashingEmbedder())
    assert bot.answer(QUESTION).direct_answer == "5个"
    old = bot.snapshot()
    _garbage_store(idx_settings.index_dir)
    report = build_index(idx_settings, HashingEmbedder(), full=True)
    assert report.moved_aside is not None and report.generation == old.generation == 1  # numbering starts again
    new = bot.snapshot()
    assert new is not old and new.index_id != old.index_id
    assert bot.retriever().directory.named_in("温科提复〔2024〕102号里的海洋牧场") == ("温科提复〔2024〕102号",)
    assert bot.answer(QUESTION).direct_answer == "5个"
