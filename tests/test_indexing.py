"""The index's write side: incremental builds, add/replace/remove, failures that leave the index as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import idx_letter_text

from chatbot import index_writer, indexing, segments
from chatbot.embedding import HashingEmbedder
from chatbot.errors import DocumentError, IndexMismatchError, QueryError
from chatbot.indexing import add_files, build_index, embed_texts, remove_letter, safe_name
from chatbot.store import SEGMENTS_DIR, index_generation, open_index
from chatbot.tokens import tokenize_query

ROOT = Path(__file__).resolve().parents[1]
L101, L102, L103 = "温科提复〔2024〕101号", "温科提复〔2024〕102号", "温科提复〔2024〕103号"
CHUNKS_PER_LETTER = 4  # letterhead, （一）, （二）, closing


class FailingEmbedder(HashingEmbedder):
    """Raises once it has encoded `limit` texts: a build dying midway."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def encode(self, texts: list[str], *, progress: bool = False) -> np.ndarray:
        if self.calls + len(texts) > self.limit:
            raise RuntimeError("killed midway")
        return super().encode(texts, progress=progress)


def _snapshot(settings, embedder=None):
    embedder = embedder or HashingEmbedder()
    return open_index(settings.index_dir, model_name=embedder.name, dim=embedder.dim)


def _answers(snapshot):
    query = "2024年计划建设海洋牧场几个"
    return (snapshot.dense_search(HashingEmbedder().encode([query])[0], 5),
            snapshot.bm25_search(tokenize_query(query), 5))


def test_build_embeds_every_chunk_once_and_lists_letters(idx_settings, idx_corpus) -> None:
    embedder = HashingEmbedder()
    report = build_index(idx_settings, embedder)
    assert report.added == [L101, L102, L103]
    assert (report.replaced, report.removed, report.unchanged, report.skipped) == ([], [], [], [])
    assert embedder.calls == report.chunks_embedded == 3 * CHUNKS_PER_LETTER
    letters = _snapshot(idx_settings).letters()
    assert [(x.doc_id, x.deputies, x.date, x.chunk_count) for x in letters] == [
        (L101, ("王伟",), "2024-07-01", 4),
        (L102, ("李娜",), "2024-07-02", 4),
        (L103, ("陈刚",), "2024-07-03", 4),
    ]


def test_unchanged_files_are_not_read_again_to_hash_them(idx_settings, idx_corpus, monkeypatch) -> None:
    build_index(idx_settings, HashingEmbedder())
    hashed: list[str] = []
    real_hash = indexing.file_sha256
    monkeypatch.setattr(indexing, "file_sha256", lambda path: hashed.append(path.name) or real_hash(path))
    assert build_index(idx_settings, HashingEmbedder()).unchanged == [L101, L102, L103] and hashed == []
    # Same bytes, new mtime: hashed again, found unchanged, not re-embedded; the next build trusts it again.
    path = idx_corpus[L101]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    embedder = HashingEmbedder()
    assert build_index(idx_settings, embedder).unchanged == [L101, L102, L103] and embedder.calls == 0
    assert hashed == [path.name]
    build_index(idx_settings, HashingEmbedder())
    assert hashed == [path.name]
    # New content: hashed, read and re-embedded; the next build trusts its recorded hash.
    idx_corpus[L102].write_text(idx_letter_text(L102, "李娜", number="102", plan="2024年计划建设海洋牧场9个。"),
                                encoding="utf-8")
    assert build_index(idx_settings, HashingEmbedder()).replaced == [L102]
    assert build_index(idx_settings, HashingEmbedder()).unchanged == [L101, L102, L103]
    assert hashed == [path.name, idx_corpus[L102].name]
    idx_corpus[L103].unlink()
    build_index(idx_settings, HashingEmbedder())
    conn = sqlite3.connect(idx_settings.index_dir / "store.sqlite")
    assert [r[0] for r in conn.execute("SELECT source FROM file_stats ORDER BY source")] == [
        idx_corpus[L101].name, idx_corpus[L102].name]


def test_rebuild_embeds_only_the_changed_file(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    changed = idx_letter_text(L102, "李娜", number="102", plan="2024年计划建设海洋牧场9个。")
    idx_corpus[L102].write_text(changed, encoding="utf-8")
    embedder = HashingEmbedder()
    report = build_index(idx_settings, embedder)
    assert (report.added, report.replaced, report.unchanged) == ([], [L102], [L101, L103])
    assert embedder.calls == CHUNKS_PER_LETTER
    snapshot = _snapshot(idx_settings)
    new_chunks = snapshot.chunks([i for i, _ in snapshot.dense_search(np.ones(64), 10, doc_ids=[L102])])
    assert sorted(t for batch in embedder.batches for t in batch) == sorted(c.search_text for c in new_chunks)
    assert snapshot.num_chunks == 3 * CHUNKS_PER_LETTER
    assert "海洋牧场9个" in snapshot.document_text(L102)


def test_unchanged_corpus_commits_nothing(idx_settings, idx_corpus) -> None:
    first = build_index(idx_settings, HashingEmbedder())
    embedder = HashingEmbedder()
    second = build_index(idx_settings, embedder)
    assert embedder.calls == 0 and second.unchanged == [L101, L102, L103]
    assert second.generation == first.generation == index_generation(idx_settings.index_dir) == 1


def test_files_gone_from_the_corpus_are_removed(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    idx_corpus[L101].unlink()
    report = build_index(idx_settings, HashingEmbedder())
    assert report.removed == [L101]
    assert [x.doc_id for x in _snapshot(idx_settings).letters()] == [L102, L103]


def test_one_bad_file_is_skipped_and_the_others_indexed(idx_settings, idx_corpus) -> None:
    (idx_settings.corpus_dir / "空白.txt").write_text("   \n\n", encoding="utf-8")
    report = build_index(idx_settings, HashingEmbedder())
    assert report.skipped == [("空白.txt", "empty file (only whitespace)")]
    assert report.added == [L101, L102, L103]


def test_two_files_with_one_doc_number_index_the_newer_only(idx_settings, idx_corpus) -> None:
    newer = idx_settings.corpus_dir / "修改稿.txt"
    newer.write_text(idx_letter_text(L101, "王伟", plan="2024年计划新建人才驿站20家。"), encoding="utf-8")
    old_time = idx_corpus[L101].stat().st_mtime
    os.utime(newer, (old_time + 10, old_time + 10))
    report = build_index(idx_settings, HashingEmbedder())
    assert report.added == [L101, L102, L103]
    assert report.skipped == [(f"{L101}.txt", f"same 文号 {L101} as 修改稿.txt, which is indexed; "
                                              "remove one of the two files")]
    snapshot = _snapshot(idx_settings)
    assert snapshot.num_chunks == 3 * CHUNKS_PER_LETTER
    assert snapshot.letter(L101).source == "修改稿.txt"


def test_add_replaces_a_letter_with_the_same_doc_number(idx_settings, idx_corpus, tmp_path) -> None:
    build_index(idx_settings, HashingEmbedder())
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    new_file = inbox / "王伟建议答复（修订）.txt"
    new_file.write_text(idx_letter_text(L101, "王伟", plan="2024年计划新建人才驿站20家。"), encoding="utf-8")
    embedder = HashingEmbedder()
    report = add_files(idx_settings, embedder, [new_file])
    assert (report.added, report.replaced) == ([], [L101])
    assert embedder.calls == CHUNKS_PER_LETTER
    snapshot = _snapshot(idx_settings)
    assert [x.doc_id for x in snapshot.letters()].count(L101) == 1
    assert snapshot.num_chunks == 3 * CHUNKS_PER_LETTER
    assert (idx_settings.corpus_dir / "王伟建议答复（修订）.txt").is_file()
    assert not idx_corpus[L101].exists()
    assert (idx_settings.corpus_dir / ".removed" / f"{L101}.txt").is_file()
    # the corpus and the index agree: a rebuild has nothing to do
    again = HashingEmbedder()
    assert build_index(idx_settings, again).unchanged == [L101, L102, L103] and again.calls == 0


def test_add_then_remove_then_add_again_never_duplicates(idx_settings, idx_corpus, tmp_path) -> None:
    build_index(idx_settings, HashingEmbedder())
    assert remove_letter(idx_settings, L102) == f"{L102}.txt"
    assert (idx_settings.corpus_dir / ".removed" / f"{L102}.txt").is_file()
    assert [x.doc_id for x in _snapshot(idx_settings).letters()] == [L101, L103]
    copy = tmp_path / "again.txt"
    copy.write_bytes((idx_settings.corpus_dir / ".removed" / f"{L102}.txt").read_bytes())
    add_files(idx_settings, HashingEmbedder(), [copy])
    add_files(idx_settings, HashingEmbedder(), [copy])
    snapshot = _snapshot(idx_settings)
    assert [x.doc_id for x in snapshot.letters()] == [L101, L102, L103]
    assert snapshot.num_chunks == 3 * CHUNKS_PER_LETTER


def test_add_refuses_a_bad_file_and_changes_nothing(idx_settings, idx_corpus, tmp_path) -> None:
    build_index(idx_settings, HashingEmbedder())
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(idx_letter_text("温科提复〔2024〕104号", "赵敏"), encoding="utf-8")
    bad.write_bytes(b"")
    embedder = HashingEmbedder()
    with pytest.raises(DocumentError) as info:
        add_files(idx_settings, embedder, [good, bad])
    assert str(info.value) == f"{bad}: empty file"
    assert embedder.calls == 0 and index_generation(idx_settings.index_dir) == 1
    names = sorted(p.name for p in idx_settings.corpus_dir.iterdir())
    assert names == sorted(p.name for p in idx_corpus.values())


def test_remove_unknown_letter_names_the_list_command(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    with pytest.raises(QueryError) as info:
        remove_letter(idx_settings, "温科提复〔2024〕999号")
    assert str(info.value) == (f"no letter 温科提复〔2024〕999号 in the index at {idx_settings.index_dir}; "
                               "`chatbot index list` shows them")


def test_model_mismatch_names_the_full_rebuild(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    other = HashingEmbedder(dim=32, name="other-model")
    expected = (f"index at {idx_settings.index_dir} was built with model hashing-test (dim 64); "
                "the configured model is other-model (dim 32): run `chatbot index build --full`")
    with pytest.raises(IndexMismatchError) as info:
        build_index(idx_settings, other)
    assert str(info.value) == expected
    with pytest.raises(IndexMismatchError) as info:
        open_index(idx_settings.index_dir, model_name="other-model", dim=32)
    assert str(info.value) == expected
    report = build_index(idx_settings, other, full=True)
    assert report.replaced == [L101, L102, L103] and other.calls == 3 * CHUNKS_PER_LETTER
    assert _snapshot(idx_settings, other).model_name == "other-model"


def test_build_killed_while_embedding_leaves_the_old_index(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    before = _snapshot(idx_settings)
    idx_corpus[L101].unlink()
    idx_corpus[L102].write_text(idx_letter_text(L102, "李娜", plan="新计划。"), encoding="utf-8")
    with pytest.raises(RuntimeError, match="killed midway"):
        build_index(idx_settings, FailingEmbedder(limit=2), full=True)
    after = _snapshot(idx_settings)
    assert after.generation == before.generation == 1
    assert _answers(after) == _answers(before)
    assert [x.doc_id for x in after.letters()] == [L101, L102, L103]


def test_build_killed_before_commit_leaves_an_orphan_that_the_next_write_removes(
    idx_settings, idx_corpus, monkeypatch
) -> None:
    build_index(idx_settings, HashingEmbedder())
    before = _answers(_snapshot(idx_settings))
    new_letter = idx_letter_text("温科提复〔2024〕104号")
    (idx_settings.corpus_dir / "new.txt").write_text(new_letter, encoding="utf-8")

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # like a kill between the segment files and the commit

    monkeypatch.setattr(indexing, "commit", die)
    with pytest.raises(KeyboardInterrupt):
        build_index(idx_settings, HashingEmbedder())
    folders = sorted(p.name for p in (idx_settings.index_dir / SEGMENTS_DIR).iterdir())
    assert len(folders) == 2  # the committed segment and the orphan
    snapshot = _snapshot(idx_settings)
    assert snapshot.generation == 1 and _answers(snapshot) == before
    monkeypatch.undo()
    report = build_index(idx_settings, HashingEmbedder())
    assert report.added == ["温科提复〔2024〕104号"] and report.generation == 2
    assert len(list((idx_settings.index_dir / SEGMENTS_DIR).iterdir())) == 2
    assert set(p.name for p in (idx_settings.index_dir / SEGMENTS_DIR).iterdir()) != set(folders)


def test_chunk_ids_survive_removals(idx_settings, idx_corpus) -> None:
    build_index(idx_settings, HashingEmbedder())
    query = HashingEmbedder().encode(["2024年计划建设海洋牧场几个"])[0]
    before = _snapshot(idx_settings)
    hits = before.dense_search(query, 3, doc_ids=[L102])
    remove_letter(idx_settings, L101)
    after = _snapshot(idx_settings)
    assert after.dense_search(query, 3, doc_ids=[L102]) == hits
    assert [c.chunk_id for c in after.chunks([i for i, _ in hits])] == [
        c.chunk_id for c in before.chunks([i for i, _ in hits])]
    assert all(c.doc_id != L101 for c in after.chunks([i for i, _ in after.dense_search(query, 12)]))


def test_many_small_writes_are_merged_without_changing_results(idx_settings, idx_corpus, monkeypatch,
                                                               tmp_path) -> None:
    monkeypatch.setattr(index_writer, "MAX_SEGMENTS", 3)
    monkeypatch.setattr(index_writer, "MERGE_LEAVES", 1)
    build_index(idx_settings, HashingEmbedder())
    for n in range(104, 107):
        path = tmp_path / f"{n}.txt"
        text = idx_letter_text(f"温科提复〔2024〕{n}号", plan=f"计划新建驿站{n}家。")
        path.write_text(text, encoding="utf-8")
        add_files(idx_settings, HashingEmbedder(), [path])
    remove_letter(idx_settings, L102)
    snapshot = _snapshot(idx_settings)
    # 4 segments were merged into 1 when the 4th appeared; tombstones of L102 are dropped by the next merge
    assert len(snapshot.segment_names) == 1
    assert snapshot.num_chunks == 5 * CHUNKS_PER_LETTER
    bm25 = snapshot.bm25_search(tokenize_query("计划新建驿站105家"), 1)
    assert snapshot.chunks([bm25[0][0]])[0].doc_id == "温科提复〔2024〕105号"


def test_embedding_batches_are_sorted_by_length_and_rows_keep_their_order() -> None:
    texts = ["长" * n for n in (50, 3, 20, 1, 7)] * 10
    embedder = HashingEmbedder()
    vectors = embed_texts(embedder, texts)
    lengths = [len(t) for batch in embedder.batches for t in batch]
    assert lengths == sorted(lengths) and embedder.calls == 50
    assert np.allclose(vectors, HashingEmbedder().encode(texts))


def test_safe_name_keeps_the_base_name_only() -> None:
    assert safe_name("../../etc/温科提复〔2024〕91号.docx") == "温科提复〔2024〕91号.docx"
    assert safe_name("..\\..\\x\\.hidden.txt") == "hidden.txt"
    with pytest.raises(DocumentError):
        safe_name("../..")


def test_large_segment_gets_an_ivf_index_with_measured_recall(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(segments, "IVF_MIN_VECTORS", 1000)
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(20, 32))
    vectors = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.normal(size=(3000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    data = segments.SegmentData(np.arange(3000, dtype=np.int64), vectors, *_empty_terms(3000))
    info = segments.write_segment(tmp_path / "seg", data)
    assert info["kind"] == "ivf" and info["nlist"] == 3000 // 39
    assert info["recall_at_10"] >= 0.99
    written = segments.read_segment(tmp_path / "seg")
    index = segments.faiss_index(tmp_path / "seg", written)
    assert type(index).__name__ == "IndexIVFScalarQuantizer" and index.nprobe == info["nprobe"]
    # 8-bit codes find the candidates; the float32 vectors give the exact scores and order.
    scores, rows = segments.refined_search(index, written.vectors, vectors[:1], 5)
    exact = vectors @ vectors[0]
    assert rows[0] == 0 and scores.tolist() == pytest.approx(np.sort(exact)[::-1][:5].tolist(), abs=1e-6)


def _empty_terms(n: int):
    import scipy.sparse as sp

    from chatbot.bm25 import TermCounts

    return TermCounts.from_scipy(sp.csr_matrix((n, 0), dtype=np.float32)), [], np.zeros(n, dtype=np.int32)


@pytest.mark.slow
def test_real_letter_with_the_real_model_finds_the_plan_sentence(idx_settings) -> None:
    from chatbot.embedding import SentenceTransformerEmbedder

    source = ROOT / "corpus" / "温科提复〔2024〕91号.txt"
    (idx_settings.corpus_dir / source.name).write_bytes(source.read_bytes())
    embedder = SentenceTransformerEmbedder("m3e-small")
    build_index(idx_settings, embedder)
    snapshot = open_index(idx_settings.index_dir, model_name=embedder.name, dim=embedder.dim)
    hits = snapshot.dense_search(embedder.encode(["2024年计划建成几家概念验证中心"])[0], 3)
    texts = [c.text for c in snapshot.chunks([i for i, _ in hits])]
    assert any("2024年计划建成5家概念验证中心和中试平台" in t for t in texts)


_KILL_SCRIPT = """
import sys, time
from pathlib import Path
import numpy as np
from chatbot import indexing
from chatbot.config import load_settings
from chatbot.embedding import HashingEmbedder

corpus, index, where, marker = sys.argv[1:5]

def hang(*args, **kwargs):
    Path(marker).write_text("ready")
    time.sleep(60)

class SlowEmbedder(HashingEmbedder):
    def encode(self, texts, *, progress=False):
        if self.calls:
            hang()
        return super().encode(texts, progress=progress)

if where == "commit":
    indexing.commit = hang
indexing.EMBED_BATCH = 2
indexing.build_index(load_settings(corpus_dir=corpus, index_dir=index), SlowEmbedder(), full=True)
"""


@pytest.mark.parametrize("where", ["embedding", "commit"])
def test_sigkill_during_a_build_leaves_the_old_index_serving(idx_settings, idx_corpus, tmp_path,
                                                             where) -> None:
    build_index(idx_settings, HashingEmbedder())
    before = _snapshot(idx_settings)
    idx_corpus[L103].unlink()
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(idx_settings.corpus_dir),
                             str(idx_settings.index_dir), where, str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the build never reached the point where it is killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    after = _snapshot(idx_settings)
    assert after.generation == before.generation == 1
    assert _answers(after) == _answers(before)
    assert [x.doc_id for x in after.letters()] == [L101, L102, L103]
    report = build_index(idx_settings, HashingEmbedder())  # the next write cleans up and goes on
    assert report.removed == [L103] and report.generation == 2
    assert len(list((idx_settings.index_dir / SEGMENTS_DIR).iterdir())) == 1


def test_an_older_chunker_version_makes_the_next_build_rebuild_everything(idx_settings, idx_corpus,
                                                                          tmp_path) -> None:
    import sqlite3

    build_index(idx_settings, HashingEmbedder())
    conn = sqlite3.connect(idx_settings.index_dir / "store.sqlite")
    conn.execute("UPDATE meta SET value = 'old' WHERE key = 'chunker_version'")
    conn.commit()
    conn.close()
    remove_letter(idx_settings, L103)  # a write that embeds nothing does not vouch for the versions
    new = tmp_path / "new.txt"
    new.write_text(idx_letter_text("温科提复〔2024〕104号"), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match=r"older chunker or tokenizer: run `chatbot index build`"):
        add_files(idx_settings, HashingEmbedder(), [new])
    embedder = HashingEmbedder()
    report = build_index(idx_settings, embedder)
    assert report.replaced == [L101, L102] and embedder.calls == 2 * CHUNKS_PER_LETTER
    assert _snapshot(idx_settings).meta["chunker_version"] != "old"


def test_an_index_of_an_older_schema_is_rebuilt_in_full(idx_settings, idx_corpus) -> None:
    """Schema 4 says what kind of name each letter key is, and letters are read anew: a schema 2 index (its
    letter_keys without kinds, no retired_* tables) is rebuilt by the next build, not patched."""
    build_index(idx_settings, HashingEmbedder())
    with sqlite3.connect(idx_settings.index_dir / "store.sqlite") as conn:  # as the index was before 3
        conn.execute("DELETE FROM segment_files")
        for table in ("retired_chunks", "retired_letters", "retired_keys", "retired_segments", "segment_files"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("CREATE TABLE old_keys AS SELECT key, doc_id FROM letter_keys")
        conn.execute("DROP TABLE letter_keys")
        conn.execute("ALTER TABLE old_keys RENAME TO letter_keys")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with pytest.raises(IndexMismatchError, match=r"schema version 2, this program reads 4: run `chatbot index "
                                                 r"build --full`"):
        _snapshot(idx_settings)
    embedder = HashingEmbedder()
    report = build_index(idx_settings, embedder)
    assert embedder.calls > 0 and report.replaced == [L101, L102, L103] and report.generation == 2
    snapshot = _snapshot(idx_settings)
    assert snapshot.meta["schema_version"] == "4"
    with sqlite3.connect(idx_settings.index_dir / "store.sqlite") as conn:
        assert conn.execute("SELECT kind FROM letter_keys WHERE key = ?", (L101,)).fetchone() == ("doc",)
