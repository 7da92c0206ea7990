"""The index's read side: global BM25 statistics, dense search over live chunks, the store, errors."""

from __future__ import annotations

import json
import math
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from chatbot import bm25, index_writer
from chatbot.embedding import HashingEmbedder
from chatbot.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from chatbot.index_writer import Change, ParsedLetter
from chatbot.retrieval import LetterDirectory
from chatbot.schema import BODY, Chunk, Document, LetterMeta
from chatbot.segments import OLD_TF, TF_COUNTS, TF_INDICES, TF_INDPTR, read_segment
from chatbot.store import MANIFEST_FILE, SEGMENTS_DIR, index_generation, list_letters, open_index

EMBEDDER = HashingEmbedder()


def _chunks(doc_id: str, texts: list[str]) -> list[Chunk]:
    return [Chunk(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, section=f"节{i}", kind=BODY, text=t, start=0,
                  end=len(t), search_text=t) for i, t in enumerate(texts)]


def _add(index_dir: Path, doc_id: str, texts: list[str]) -> None:
    """Commit one letter made of `texts` as its own segment."""
    chunks = _chunks(doc_id, texts)
    doc = Document(doc_id=doc_id, source=f"{doc_id}.txt", sha256="0" * 64, text="\n".join(texts),
                   meta=LetterMeta(doc_number=doc_id, title=f"{doc_id}的建议", deputies=("王伟",),
                                   date="2024-07-01"))
    with index_writer.writing(index_dir) as conn:
        segment = index_writer.write_new_segment(index_dir, conn, chunks, EMBEDDER.encode(texts))
        index_writer.commit(index_dir, conn, Change(new=[ParsedLetter(doc, chunks, 0.0)], drop={doc_id}),
                            EMBEDDER, segment)


def _remove(index_dir: Path, doc_id: str) -> None:
    with index_writer.writing(index_dir) as conn:
        index_writer.commit(index_dir, conn, Change(drop={doc_id}), None, None)


def _open(index_dir: Path):
    return open_index(index_dir, model_name=EMBEDDER.name, dim=EMBEDDER.dim)


@pytest.fixture
def fruit(tmp_path: Path) -> Path:
    """Three one-chunk letters in three segments: ids 1, 2, 3."""
    index_dir = tmp_path / "index"
    _add(index_dir, "甲", ["苹果 苹果 香蕉"])
    _add(index_dir, "乙", ["香蕉 葡萄"])
    _add(index_dir, "丙", ["苹果 西瓜 西瓜 西瓜"])
    return index_dir


def _bm25(tf: int, dl: int, avgdl: float, n: int, df: int) -> float:
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / avgdl))


def test_bm25_scores_with_global_statistics_across_segments(fruit: Path) -> None:
    snapshot = _open(fruit)
    assert len(snapshot.segment_names) == 3
    # N = 3 chunks, avgdl = (3 + 2 + 4) / 3 = 3, df(苹果) = 2: idf = ln(1 + 1.5 / 2.5) = ln 1.6
    assert snapshot.bm25_search(["苹果"], 5) == [
        (1, pytest.approx(math.log(1.6) * 5 / 3.5)),
        (3, pytest.approx(math.log(1.6) * 2.5 / 2.875)),
    ]
    both = snapshot.bm25_search(["苹果", "西瓜"], 1)
    assert both == [(3, pytest.approx(_bm25(1, 4, 3, 3, 2) + _bm25(3, 4, 3, 3, 1)))]


def test_bm25_statistics_count_live_chunks_only(fruit: Path) -> None:
    _remove(fruit, "乙")
    snapshot = _open(fruit)
    # N = 2, avgdl = 3.5, df(苹果) = 2: idf = ln 1.2
    assert snapshot.bm25_search(["苹果"], 5) == [
        (1, pytest.approx(_bm25(2, 3, 3.5, 2, 2))),
        (3, pytest.approx(_bm25(1, 4, 3.5, 2, 2))),
    ]
    assert snapshot.bm25_search(["葡萄"], 5) == []
    assert (snapshot.doc_freq("香蕉"), snapshot.doc_freq("葡萄")) == (1, 0)
    assert snapshot.num_chunks == 2


def test_search_restricted_to_letters(fruit: Path) -> None:
    snapshot = _open(fruit)
    assert [i for i, _ in snapshot.bm25_search(["苹果"], 5, doc_ids=["丙"])] == [3]
    assert snapshot.bm25_search(["苹果"], 5, doc_ids=["乙", "没有这封"]) == []
    query = EMBEDDER.encode(["苹果 苹果 香蕉"])[0]
    assert snapshot.dense_search(query, 1)[0] == (1, pytest.approx(1.0))
    assert [i for i, _ in snapshot.dense_search(query, 5, doc_ids=["乙", "丙"])] == [
        i for i, _ in snapshot.dense_search(query, 5) if i != 1]


def test_dense_search_never_returns_removed_chunks(fruit: Path) -> None:
    old = _open(fruit)
    _remove(fruit, "甲")
    new = _open(fruit)
    query = EMBEDDER.encode(["苹果 苹果 香蕉"])[0]
    assert old.dense_search(query, 1)[0][0] == 1
    assert [i for i, _ in new.dense_search(query, 5)] == [i for i, _ in old.dense_search(query, 5) if i != 1]
    assert new.generation == old.generation + 1


def test_chunks_keep_the_given_order_and_skip_ids_the_snapshot_does_not_hold(fruit: Path) -> None:
    snapshot = _open(fruit)
    assert [c.chunk_id for c in snapshot.chunks([3, 1, 999])] == ["丙-0", "甲-0"]
    _remove(fruit, "甲")
    # the old snapshot still reads what its generation showed; a new one no longer holds 甲's chunk
    assert [c.text for c in snapshot.chunks([3, 1])] == ["苹果 西瓜 西瓜 西瓜", "苹果 苹果 香蕉"]
    assert [c.text for c in _open(fruit).chunks([3, 1])] == ["苹果 西瓜 西瓜 西瓜"]


def test_letters_and_document_text(fruit: Path) -> None:
    snapshot = _open(fruit)
    assert [(x.doc_id, x.title, x.deputies, x.date, x.chunk_count) for x in snapshot.letters()] == [
        ("丙", "丙的建议", ("王伟",), "2024-07-01", 1), ("乙", "乙的建议", ("王伟",), "2024-07-01", 1),
        ("甲", "甲的建议", ("王伟",), "2024-07-01", 1)]
    assert snapshot.letter("乙").source == "乙.txt" and snapshot.letter("丁") is None
    assert snapshot.document_text("丙") == "苹果 西瓜 西瓜 西瓜" and snapshot.document_text("丁") is None
    assert list_letters(fruit) == snapshot.letters()


def test_manifest_file_matches_the_snapshot(fruit: Path) -> None:
    snapshot = _open(fruit)
    on_disk = json.loads((fruit / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert [s["name"] for s in on_disk["segments"]] == snapshot.segment_names
    assert on_disk["tokenizer_version"] == snapshot.meta["tokenizer_version"]
    assert (on_disk["generation"], on_disk["embedding_model"], on_disk["dim"], on_disk["num_chunks"]) == (
        3, "hashing-test", 64, 3)
    assert on_disk["files"] == {"丙.txt": "0" * 64, "乙.txt": "0" * 64, "甲.txt": "0" * 64}


def test_missing_index_says_which_command_builds_it(tmp_path: Path) -> None:
    assert index_generation(tmp_path) is None
    with pytest.raises(IndexMissingError) as info:
        open_index(tmp_path)
    assert str(info.value) == f"no index at {tmp_path}: run `chatbot index build`"
    assert not (tmp_path / "store.sqlite").exists()  # reading never creates an index


def test_index_generation_counts_commits(fruit: Path) -> None:
    assert index_generation(fruit) == 3
    _remove(fruit, "甲")
    assert index_generation(fruit) == 4


def test_missing_segment_file_is_reported_as_corrupt(fruit: Path) -> None:
    folder = next((fruit / SEGMENTS_DIR).iterdir())
    (folder / "vectors.npy").unlink()
    with pytest.raises(IndexCorruptError) as info:
        _open(fruit)
    assert str(info.value).startswith(f"index at {fruit}: segment {folder.name} is damaged (FileNotFoundError: ")
    assert str(info.value).endswith("): run `chatbot index build --full`")


def test_other_tokenizer_version_asks_for_a_rebuild(fruit: Path) -> None:
    conn = sqlite3.connect(fruit / "store.sqlite")
    conn.execute("UPDATE meta SET value = 'old-tokenizer' WHERE key = 'tokenizer_version'")
    conn.commit()
    conn.close()
    with pytest.raises(IndexMismatchError, match=r"tokenizer old-tokenizer.*run `chatbot index build`"):
        _open(fruit)


def test_snapshot_is_shared_safely_between_threads(fruit: Path) -> None:
    snapshot = _open(fruit)
    query = EMBEDDER.encode(["苹果 西瓜"])[0]

    def ask(_: int) -> tuple:
        return (snapshot.dense_search(query, 3), snapshot.bm25_search(["苹果", "香蕉"], 3),
                [c.chunk_id for c in snapshot.chunks([1, 2, 3])])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(ask, range(40)))
    assert all(r == results[0] for r in results)
    assert results[0][2] == ["甲-0", "乙-0", "丙-0"]
    assert np.isclose(results[0][0][0][1], float(query @ EMBEDDER.encode(["苹果 西瓜 西瓜 西瓜"])[0]))


def test_reload_reuses_unchanged_segments_and_matches_a_fresh_load(fruit: Path) -> None:
    old = _open(fruit)
    _remove(fruit, "乙")
    _add(fruit, "丁", ["苹果 葡萄 葡萄"])
    reloaded = open_index(fruit, model_name=EMBEDDER.name, dim=EMBEDDER.dim, previous=old)
    fresh = _open(fruit)
    kept = {s.name: s.index for s in old._segments}
    assert [s.index is kept.get(s.name) for s in reloaded._segments] == [True, True, False]
    query = EMBEDDER.encode(["苹果 葡萄"])[0]
    assert reloaded.dense_search(query, 5) == fresh.dense_search(query, 5)
    assert reloaded.bm25_search(["苹果", "葡萄"], 5) == fresh.bm25_search(["苹果", "葡萄"], 5)
    assert reloaded.doc_freq("葡萄") == fresh.doc_freq("葡萄") == 1


def test_rare_terms_are_scored_like_common_ones() -> None:
    """score_terms sorts few postings and passes over all rows for many: both give the same scores."""
    rng = np.random.default_rng(7)
    tokens = [["常见"] * int(rng.integers(1, 4)) + (["罕见"] if i in (5, 77) else []) for i in range(200)]
    tf, vocab, lengths = bm25.build_term_matrix(tokens)
    matrix = bm25.TermMatrix(tf, {t: i for i, t in enumerate(vocab)}, lengths)
    norm = bm25.length_norm(lengths, float(lengths.mean()))
    rare_rows, rare = bm25.score_terms(matrix, norm, [("罕见", 2.0)])  # 2 postings in 200 rows: sorted
    assert rare_rows.tolist() == [5, 77]
    both_rows, both = bm25.score_terms(matrix, norm, [("罕见", 2.0), ("常见", 0.1)])  # every row: bincount
    common_rows, common = bm25.score_terms(matrix, norm, [("常见", 0.1)])
    assert both_rows.tolist() == common_rows.tolist() == list(range(200))
    assert both[[5, 77]] == pytest.approx(rare + common[[5, 77]])


def test_letter_rows_and_keys_follow_adds_and_removals(fruit: Path) -> None:
    _remove(fruit, "乙")
    _add(fruit, "丁", ["葡萄", "西瓜 葡萄"])
    _add(fruit, "甲", ["苹果"])  # replaced: new rows
    conn = sqlite3.connect(fruit / "store.sqlite")
    assert conn.execute("SELECT doc_id, first_id, chunks FROM letter_rows ORDER BY doc_id").fetchall() == \
        conn.execute("SELECT doc_id, min(id), count(*) FROM chunks GROUP BY doc_id ORDER BY doc_id").fetchall() == \
        [("丁", 4, 2), ("丙", 3, 1), ("甲", 6, 1)]
    assert conn.execute("SELECT key, doc_id, kind FROM letter_keys WHERE kind = 'doc' OR key = '王伟' "
                        "ORDER BY key, doc_id").fetchall() == [
        ("丁", "丁", "doc"), ("丙", "丙", "doc"), ("王伟", "丁", "person"), ("王伟", "丙", "person"),
        ("王伟", "甲", "person"), ("甲", "甲", "doc")]
    assert {key for (key,) in conn.execute("SELECT key FROM letter_keys WHERE doc_id = '甲'")} == {
        "王伟", "王伟代表", "王伟委员", "王代表", "王委员", "甲", "甲的建议"}
    snapshot = _open(fruit)
    assert (snapshot.num_chunks, snapshot.key_lengths) == (4, [4, 3, 2, 1])
    expected = [*_chunks("丁", ["葡萄", "西瓜 葡萄"]), *_chunks("丙", ["苹果 西瓜 西瓜 西瓜"])]
    expected += _chunks("甲", ["苹果"])
    assert snapshot.chunks([4, 5, 3, 6]) == expected
    directory = LetterDirectory.of(snapshot)
    assert directory.named_in("王伟代表的建议") == ("丁", "丙", "甲")
    assert directory.named_in("甲的答复") == ("甲",) and directory.named_in("乙的答复") == ()
    assert snapshot.by_id["甲"].title == "甲的建议" and "乙" not in snapshot.by_id and len(snapshot.by_id) == 3
    with pytest.raises(KeyError):
        snapshot.by_id["乙"]


def test_segments_store_postings_by_term_and_still_read_the_older_layout(fruit: Path) -> None:
    import scipy.sparse as sp

    folder = next((fruit / SEGMENTS_DIR).iterdir())
    written = read_segment(folder)
    assert isinstance(written.tf.indices.base, np.memmap)  # mapped, not read, at load
    assert written.tf.doc_freq().tolist() == [int(c) for c in (written.tf.to_scipy().toarray() > 0).sum(axis=0)]
    # The layout before: one tf.npz holding a scipy CSR matrix.
    sp.save_npz(folder / OLD_TF, written.tf.to_scipy().tocsr(), compressed=False)
    for name in (TF_INDPTR, TF_INDICES, TF_COUNTS):
        (folder / name).unlink()
    with sqlite3.connect(fruit / "store.sqlite") as conn:  # an index of then recorded no file sizes
        conn.execute("DELETE FROM segment_files WHERE segment = ?", (folder.name,))
    older = read_segment(folder)
    assert [a.tolist() for a in (older.tf.indptr, older.tf.indices, older.tf.counts)] == [
        a.tolist() for a in (written.tf.indptr, written.tf.indices, written.tf.counts)]
    assert older.tf.doc_freq().tolist() == written.tf.doc_freq().tolist()
    assert _open(fruit).bm25_search(["苹果"], 5)[0][0] == 1


@pytest.mark.parametrize("seed", range(6))
def test_best_rows_equal_scoring_every_posting(seed: int, monkeypatch) -> None:
    """best_rows lets common terms score only the rows rare terms bring, score_rows scores given rows only:
    both must agree with scoring every posting."""
    monkeypatch.setattr(bm25, "MAXSCORE_MIN_POSTINGS", 0)  # these matrices are small
    rng = np.random.default_rng(seed)
    vocab_size, n_rows = 40, 3000
    share = np.geomspace(0.3, 0.0005, vocab_size)  # term t is in ~share[t] of the rows
    tokens = [[f"t{t}" for t in np.flatnonzero(rng.random(vocab_size) < share) for _ in range(rng.integers(1, 4))]
              for _ in range(n_rows)]
    tf, vocab, lengths = bm25.build_term_matrix(tokens)
    matrix = bm25.TermMatrix(tf, {t: i for i, t in enumerate(vocab)}, lengths)
    norm = bm25.length_norm(lengths, float(lengths.mean()))
    live = rng.random(n_rows) > 0.1
    for _ in range(30):
        picked = rng.choice(vocab_size, size=int(rng.integers(1, 6)), replace=False)
        terms = [(f"t{t}", float(bm25.idf(int(share[t] * n_rows), n_rows))) for t in picked]
        k = int(rng.choice([1, 5, 80]))
        rows, scores = bm25.score_terms(matrix, norm, terms)
        want_rows, want = bm25.top_k(rows[live[rows]], scores[live[rows]], k)
        got_rows, got = bm25.best_rows(matrix, norm, terms, k, live.__getitem__)
        assert got == pytest.approx(want)
        assert got_rows.tolist() == want_rows.tolist()
        some = np.flatnonzero(rng.random(n_rows) < 0.05)  # a scoped search scores these rows only
        every = np.zeros(n_rows)
        every[rows] = scores
        assert bm25.score_rows(matrix, norm, terms, some).tolist() == pytest.approx(every[some].tolist())


def test_ivf_segment_answers_like_exact_search_with_tombstones_and_filters(tmp_path: Path, monkeypatch) -> None:
    from chatbot import segments

    monkeypatch.setattr(segments, "IVF_MIN_VECTORS", 1000)
    rng = np.random.default_rng(3)
    words = [f"词{i}" for i in range(300)]
    letters = {name: [" ".join(rng.choice(words, 6)) for _ in range(400)] for name in ("甲", "乙", "丙")}
    index_dir = tmp_path / "index"
    chunks = [c for name, texts in letters.items() for c in _chunks(name, texts)]
    parsed = [ParsedLetter(Document(doc_id=name, source=f"{name}.txt", sha256="0" * 64, text="", meta=LetterMeta()),
                           _chunks(name, texts), 0.0) for name, texts in letters.items()]
    with index_writer.writing(index_dir) as conn:
        segment = index_writer.write_new_segment(index_dir, conn, chunks, EMBEDDER.encode([c.text for c in chunks]))
        index_writer.commit(index_dir, conn, Change(new=parsed), EMBEDDER, segment)
    _remove(index_dir, "乙")
    snapshot = _open(index_dir)
    assert type(snapshot._segments[0].index).__name__ == "IndexIVFScalarQuantizer"
    vectors = EMBEDDER.encode([c.text for c in chunks])
    owner = np.repeat(["甲", "乙", "丙"], 400)
    for text in ("词1 词2 词3", "词250 词7"):
        query = EMBEDDER.encode([text])[0]
        for scope, allowed in ((None, {"甲", "丙"}), (["丙"], {"丙"})):
            exact = vectors @ query
            exact[~np.isin(owner, list(allowed))] = -np.inf
            best = np.argsort(-exact, kind="stable")[:5]
            found = snapshot.dense_search(query, 5, doc_ids=scope)
            assert [i for i, _ in found] == [int(b) + 1 for b in best]  # row ids start at 1
            assert [s for _, s in found] == pytest.approx(exact[best].tolist(), abs=1e-5)
