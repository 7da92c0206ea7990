"""The on-disk index, read side: `open_index` loads an immutable snapshot that searches it.

Layout of an index folder:
    store.sqlite   the single commit point (WAL): meta, docs, chunks (live rows), segments, and what loading
                   and questions read instead of scanning those: letter_rows, letter_keys, file_stats; the
                   rows and segments older generations still show (retired_*, chatbot.versions); every
                   segment file's size and checksum (segment_files)
    segments/NAME/ immutable segment folders (see chatbot.segments); rows not in `chunks` are tombstones
    readers/       the leases of loaded snapshots (chatbot.leases)
    manifest.json  a human-readable export of what the index holds, rewritten after every commit

A snapshot reads SQLite after loading only through chatbot.versions, by identities that never change
meaning, under a reader lease: what it reads is what its generation showed, whatever commits meanwhile.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import bm25, versions
from .errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from .leases import LOADING, Lease
from .schema import Chunk, LetterInfo, LetterMeta, Reading
from .segments import SegmentData, faiss_index, read_segment, refined_search
from .tokens import TOKENIZER_VERSION

log = logging.getLogger(__name__)

# 2: the letter_rows, letter_keys and file_stats tables and the docs_files index.
# 3: the retired_* tables (snapshot isolation), segment_files (sizes and checksums) and docs.reading (how
#    each letter was read: text, OCR with its confidence, web page, converted).
# 4: letter_keys say what kind of name each key is (chatbot.names: 文号, number, person, title, unit, place);
#    an older index is rebuilt in full by the next `chatbot index build`.
SCHEMA_VERSION = 4
STORE_FILE = "store.sqlite"
MANIFEST_FILE = "manifest.json"
SEGMENTS_DIR = "segments"
# A letter filter leaving at most this many rows is scored exactly on those rows' vectors.
EXACT_FILTER_MAX_ROWS = 20_000
REBUILD_HINT = "run `chatbot index build --full`"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS docs (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, sha256 TEXT NOT NULL, meta TEXT NOT NULL,
    text TEXT NOT NULL, added_at TEXT NOT NULL, reading TEXT NOT NULL DEFAULT '{}');
-- The letter files by name: what a build compares with the corpus and the manifest lists. Without it
-- those read a page per letter (the full text shares the row): 100,000 pages at 100,000 letters.
CREATE INDEX IF NOT EXISTS docs_files ON docs (source, doc_id, sha256);
-- Each letter's chunk ids, one range (its chunks are inserted together and deleted together): loading an
-- index reads a row per letter here instead of a row per chunk.
CREATE TABLE IF NOT EXISTS letter_rows (
    doc_id TEXT PRIMARY KEY, first_id INTEGER NOT NULL, chunks INTEGER NOT NULL);
-- What a question may name a letter by (chatbot.names.letter_keys), looked up per question.
CREATE TABLE IF NOT EXISTS letter_keys (key TEXT NOT NULL, doc_id TEXT NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS letter_keys_key ON letter_keys (key);
CREATE INDEX IF NOT EXISTS letter_keys_doc ON letter_keys (doc_id);
-- A build's cache: a corpus file whose size and mtime match its row here has this content hash, unread.
CREATE TABLE IF NOT EXISTS file_stats (
    source TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL,
    segment TEXT NOT NULL, section TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, search_text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks (doc_id);
CREATE INDEX IF NOT EXISTS chunks_segment ON chunks (segment);
CREATE TABLE IF NOT EXISTS segments (name TEXT PRIMARY KEY, n INTEGER NOT NULL, kind TEXT NOT NULL);
-- Each segment file's size and SHA-256 as written: loading compares sizes, `chatbot index check` both.
CREATE TABLE IF NOT EXISTS segment_files (
    segment TEXT NOT NULL, file TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (segment, file));
""" + versions.RETIRED_SCHEMA


def store_path(index_dir: Path) -> Path:
    return Path(index_dir) / STORE_FILE


def connect(index_dir: Path, *, readonly: bool = True) -> sqlite3.Connection:
    """A connection to the index's SQLite file; read-only connections never create it."""
    path = store_path(index_dir)
    if readonly:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # a commit must survive a power cut: it is the switch-over
        # A full rebuild writes the corpus twice (new rows, retired rows) through the WAL: give the disk back
        # once it is checkpointed instead of keeping the largest WAL ever written.
        conn.execute("PRAGMA journal_size_limit=67108864")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def meta_from_json(raw: str) -> LetterMeta:
    values = json.loads(raw)
    for key in ("deputies", "cc"):
        values[key] = tuple(values.get(key) or ())
    values["fields"] = tuple(tuple(pair) for pair in values.get("fields") or ())
    known = {f.name for f in dataclasses.fields(LetterMeta)}
    return LetterMeta(**{k: v for k, v in values.items() if k in known})


def reading_from_json(raw: str) -> Reading:
    values = json.loads(raw or "{}")
    for key in ("ocr_pages", "low_confidence_pages"):
        values[key] = tuple(values.get(key) or ())
    known = {f.name for f in dataclasses.fields(Reading)}
    return Reading(**{k: v for k, v in values.items() if k in known})


def build_manifest(conn: sqlite3.Connection) -> dict[str, Any]:
    """What the index holds, as written to manifest.json."""
    meta = read_meta(conn)
    files = {src: sha for src, sha in conn.execute("SELECT source, sha256 FROM docs ORDER BY source")}
    segments = [
        {"name": name, "n": n, "kind": kind}
        for name, n, kind in conn.execute("SELECT name, n, kind FROM segments ORDER BY name")
    ]
    return {
        "schema_version": int(meta.get("schema_version", 0)),
        "embedding_model": meta.get("embedding_model"),
        "dim": int(meta.get("dim", 0)),
        "chunker_version": meta.get("chunker_version"),
        "tokenizer_version": meta.get("tokenizer_version"),
        "generation": int(meta.get("generation", 0)),
        "build_time": meta.get("build_time"),
        "num_chunks": conn.execute("SELECT count(*) FROM chunks").fetchone()[0],
        "files": files,
        "segments": segments,
    }


def letter_info(doc_id: str, source: str, raw_meta: str, chunk_count: int, raw_reading: str = "{}") -> LetterInfo:
    meta = meta_from_json(raw_meta)
    return LetterInfo(doc_id=doc_id, title=meta.title or doc_id, deputies=meta.deputies, date=meta.date,
                      chunk_count=chunk_count, source=source, meta=meta, unit=meta.unit,
                      reading=reading_from_json(raw_reading))


def query_letters(conn: sqlite3.Connection) -> list[LetterInfo]:
    """The letters in the store, by doc_id, with their live chunk counts (the latest generation)."""
    rows = conn.execute(
        "SELECT d.doc_id, d.source, d.meta, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id), d.reading "
        "FROM docs d ORDER BY d.doc_id"
    ).fetchall()
    return [letter_info(*row) for row in rows]


def list_letters(index_dir: Path) -> list[LetterInfo]:
    """The indexed letters, read from SQLite alone (no vectors loaded): for `chatbot index list`."""
    if not store_path(index_dir).is_file():
        raise IndexMissingError(f"no index at {index_dir}: run `chatbot index build`")
    try:
        conn = connect(index_dir)
        try:
            version = read_meta(conn).get("schema_version")
            if version is not None and int(version) != SCHEMA_VERSION:
                raise IndexMismatchError(f"index at {index_dir} has schema version {version}, this program "
                                         f"reads {SCHEMA_VERSION}: run `chatbot index build --full`")
            return query_letters(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise IndexCorruptError(f"{store_path(index_dir)} is damaged ({e}): {REBUILD_HINT}") from e


def index_generation(index_dir: Path) -> int | None:
    """The committed generation of the index at `index_dir`, or None when there is none (one SQLite read)."""
    version = index_version(index_dir)
    return version[1] if version is not None else None


def index_version(index_dir: Path) -> tuple[str, int] | None:
    """(index id, committed generation), or None when there is no index. The id tells an index rebuilt
    from nothing in the same folder (its generations start again) from the one a reader has loaded."""
    if not store_path(index_dir).is_file():
        return None
    try:
        conn = connect(index_dir)
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'index_id')"))
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise IndexCorruptError(f"{store_path(index_dir)} is damaged ({e}): {REBUILD_HINT}") from e
    return (rows.get("index_id", ""), int(rows["generation"])) if "generation" in rows else None


def check_compatible(index_dir: Path, meta: dict[str, str], model_name: str | None, dim: int | None) -> None:
    """Raise IndexMismatchError when the index was built with another model, dimension or schema."""
    built_model, built_dim = meta.get("embedding_model"), int(meta.get("dim", 0))
    if (model_name is not None and model_name != built_model) or (dim is not None and dim != built_dim):
        raise IndexMismatchError(
            f"index at {index_dir} was built with model {built_model} (dim {built_dim}); the configured "
            f"model is {model_name or built_model} (dim {dim or built_dim}): {REBUILD_HINT}"
        )
    if int(meta.get("schema_version", 0)) != SCHEMA_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has schema version {meta.get('schema_version')}, this program reads "
            f"{SCHEMA_VERSION}: {REBUILD_HINT}"
        )
    if meta.get("tokenizer_version") != TOKENIZER_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} was built with tokenizer {meta.get('tokenizer_version')}, this program "
            f"uses {TOKENIZER_VERSION}: run `chatbot index build`"
        )


@dataclasses.dataclass
class _Segment:
    """A loaded segment plus what the snapshot derived for it (live rows, letters, BM25 norms)."""

    name: str
    ids: np.ndarray
    live: np.ndarray  # bool per row: the row's chunk is still in the chunks table
    doc_codes: np.ndarray  # int32 per row: the letter's code in the snapshot, -1 for tombstones
    terms: bm25.TermMatrix
    norm: np.ndarray
    index: Any  # faiss index over the rows, in row order
    vectors: np.ndarray  # the rows' float32 vectors (memory-mapped): exact scores for filters and IVF refining
    live_bits: np.ndarray | None  # bitmap for faiss's IDSelectorBitmap when the segment has tombstones
    df_live: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    by_letter: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))  # rows by doc code
    sorted_codes: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))

    def rows_of(self, codes: np.ndarray) -> np.ndarray:
        """The rows (ascending) of the letters with these codes: two binary searches a letter, no scan."""
        lo = np.searchsorted(self.sorted_codes, codes, side="left")
        hi = np.searchsorted(self.sorted_codes, codes, side="right")
        if not len(codes) or not (hi > lo).any():
            return np.zeros(0, np.int64)
        return np.sort(np.concatenate([self.by_letter[a:b] for a, b in zip(lo, hi, strict=True)]))


class _Reader:
    """What a snapshot reads from SQLite after loading: by the versions of its own generation (see
    chatbot.versions), one read-only connection per thread, under the snapshot's reader lease.

    The snapshot and its letters (`by_id`) share this object and nothing points back at them: when the last
    of them is collected, the lease is released at once (no wait for the cycle collector).
    """

    def __init__(self, index_dir: Path, versions: dict[str, int], chunk_counts: dict[str, int],
                 lease: Lease | None) -> None:
        self.index_dir = index_dir
        self.versions = versions  # doc_id -> the row id of its first chunk: the letter's version
        self.chunk_counts = chunk_counts  # live chunks per letter
        self._local = threading.local()
        self._lease = lease  # released when this reader (so its snapshot and letters) is collected

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.index_dir)
        return conn

    def letters(self, doc_id: str | None = None) -> list[LetterInfo]:
        rows = versions.letter_rows(self.conn(), self.versions, doc_id)
        return [letter_info(d, source, raw, self.chunk_counts[d], reading) for d, source, raw, reading in rows]


class _Letters(Mapping[str, LetterInfo]):
    """A snapshot's letters by doc_id, each read from SQLite when first asked for and then kept.

    At 100,000 letters, reading them all costs seconds at every index change; a question needs a few.
    """

    def __init__(self, reader: _Reader, doc_codes: dict[str, int]) -> None:
        self._reader = reader
        self._doc_codes = doc_codes
        self._read: dict[str, LetterInfo] = {}

    def __getitem__(self, doc_id: str) -> LetterInfo:
        found = self._read.get(doc_id)
        if found is None:
            if doc_id not in self._doc_codes:
                raise KeyError(doc_id)
            letters = self._reader.letters(doc_id)
            if not letters:
                raise IndexCorruptError(f"index at {self._reader.index_dir}: letter {doc_id} of this generation "
                                        f"has no row: {REBUILD_HINT}")
            found = self._read[doc_id] = letters[0]
        return found

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._doc_codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._doc_codes)

    def __len__(self) -> int:
        return len(self._doc_codes)


class IndexSnapshot:
    """One committed generation of the index, loaded; immutable and safe to share between threads.

    Everything it answers comes from that generation, also what it reads from SQLite later (chunk text,
    letters, the letters a question names): see chatbot.versions.
    """

    def __init__(self, index_dir: Path, meta: dict[str, str], segments: list[_Segment], live_ids: np.ndarray,
                 doc_codes: dict[str, int], reader: _Reader, key_lengths: list[int]) -> None:
        self.index_dir = Path(index_dir)
        self.meta = meta  # the meta table of this generation (versions, model, build time)
        self.generation = int(meta["generation"])
        self.index_id = meta.get("index_id", "")
        self.model_name = meta["embedding_model"]
        self.dim = int(meta["dim"])
        self.segment_names = [s.name for s in segments]
        self._segments = segments
        self._live_ids = live_ids  # ascending: the chunk rows this generation shows
        self._doc_codes = doc_codes  # doc_id -> code; codes follow doc_id order
        self._reader = reader
        self.key_lengths = key_lengths  # the lengths of the letter_keys, longest first
        self.by_id: Mapping[str, LetterInfo] = _Letters(reader, doc_codes)
        self.num_chunks = int(sum(int(s.live.sum()) for s in segments))

    # --- dense ----------------------------------------------------------------------------------------
    def dense_search(
        self, query: np.ndarray, k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(chunk row id, cosine) of the k live chunks nearest to `query`, best first."""
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValueError(f"query vector has dimension {q.shape[1]}, the index {self.dim}")
        codes = self._codes(doc_ids)
        found: list[tuple[int, float]] = []
        for seg in self._segments:
            found.extend(self._dense_segment(seg, q, k, codes))
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:k]

    def _dense_segment(
        self, seg: _Segment, q: np.ndarray, k: int, codes: np.ndarray | None
    ) -> list[tuple[int, float]]:
        import faiss

        if codes is None:
            bits = seg.live_bits
        else:
            rows = seg.rows_of(codes)
            if len(rows) == 0:
                return []
            if len(rows) <= EXACT_FILTER_MAX_ROWS:
                scores = np.asarray(seg.vectors[rows], dtype=np.float32) @ q[0]
                pos, best = bm25.top_k(rows, scores.astype(np.float64), k)
                return [(int(seg.ids[p]), float(s)) for p, s in zip(pos, best, strict=True)]
            mask = np.zeros(len(seg.ids), dtype=bool)
            mask[rows] = True
            bits = np.packbits(mask, bitorder="little")
        params: Any = None
        if bits is not None:
            # `bits` must outlive the search: the selector only points at it.
            selector = faiss.IDSelectorBitmap(len(seg.ids), faiss.swig_ptr(bits))
            if hasattr(seg.index, "nprobe"):
                params = faiss.SearchParametersIVF()
                params.nprobe = seg.index.nprobe
            else:
                params = faiss.SearchParameters()
            params.sel = selector
        if len(seg.ids) == 0:
            return []
        if hasattr(seg.index, "nprobe"):
            ivf_scores, ivf_rows = refined_search(seg.index, seg.vectors, q, k, params)
            return [(int(seg.ids[r]), float(s)) for r, s in zip(ivf_rows, ivf_scores, strict=True)]
        scores, rows = seg.index.search(q, min(k, len(seg.ids)), params=params)
        return [(int(seg.ids[r]), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    # --- BM25 -----------------------------------------------------------------------------------------
    def bm25_search(
        self, tokens: list[str], k: int, doc_ids: Collection[str] | None = None
    ) -> list[tuple[int, float]]:
        """(chunk row id, BM25 score) of the k best live chunks holding a query token, best first."""
        n = self.num_chunks
        unique = list(dict.fromkeys(tokens))
        terms = [(t, float(bm25.idf(df, n))) for t in unique if (df := self.doc_freq(t)) > 0]
        if not terms:
            return []
        codes = self._codes(doc_ids)
        found: list[tuple[int, float]] = []
        for seg in self._segments:
            if codes is None:
                rows, scores = bm25.best_rows(seg.terms, seg.norm, terms, k, seg.live.__getitem__)
            else:  # a few letters: score their rows only
                scoped = seg.rows_of(codes)
                scores = bm25.score_rows(seg.terms, seg.norm, terms, scoped)
                held = scores > 0
                rows, scores = bm25.top_k(scoped[held], scores[held], k)
            found.extend((int(seg.ids[r]), float(s)) for r, s in zip(rows, scores, strict=True))
        found.sort(key=lambda item: (-item[1], item[0]))
        return found[:k]

    def doc_freq(self, token: str) -> int:
        """How many live chunks hold `token` (a token from chatbot.tokens): one lookup per segment."""
        total = 0
        for seg in self._segments:
            col = seg.terms.vocab.get(token)
            if col is not None:
                total += int(seg.df_live[col])
        return total

    def letters_named(self, keys: Collection[str]) -> dict[str, list[tuple[str, str]]]:
        """Which of `keys` name letters of this snapshot (the letter_keys of its generation): key → [(doc_id,
        kind)]."""
        return versions.letters_named(self._reader.conn(), keys, self._reader.versions)

    def letters_titled(self, phrase: str) -> list[str]:
        """Letters whose title holds `phrase` (compact): "备用水源那份" names the letter about 备用水源."""
        return versions.letters_titled(self._reader.conn(), phrase, self._reader.versions)

    def position(self, doc_id: str) -> int:
        """The letter's place in doc_id order (KeyError when the snapshot does not hold it)."""
        return self._doc_codes[doc_id]

    def _codes(self, doc_ids: Collection[str] | None) -> np.ndarray | None:
        if doc_ids is None:
            return None
        return np.asarray([self._doc_codes[d] for d in doc_ids if d in self._doc_codes], dtype=np.int32)

    # --- store ----------------------------------------------------------------------------------------
    def chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """The chunks with these row ids, in the given order; ids this snapshot does not hold are skipped."""
        by_id = self.chunk_map(ids)
        return [by_id[int(i)] for i in ids if int(i) in by_id]

    def chunk_map(self, ids: Sequence[int]) -> dict[int, Chunk]:
        """Row id → chunk for the ids this snapshot holds live (as its generation showed them)."""
        wanted = np.asarray([int(i) for i in ids], dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._live_ids, wanted), max(len(self._live_ids) - 1, 0))
        held = wanted[self._live_ids[pos] == wanted].tolist() if len(self._live_ids) else []
        found = versions.chunk_rows(self._reader.conn(), held)
        if len(found) < len(set(held)):
            missing = sorted(set(held) - set(found))[:5]
            raise IndexCorruptError(f"index at {self.index_dir}: chunk rows {missing} of generation "
                                    f"{self.generation} are gone: {REBUILD_HINT}")
        return found

    def letters(self) -> list[LetterInfo]:
        """Every letter in the index, by doc_id."""
        return self._reader.letters()

    def letter(self, doc_id: str) -> LetterInfo | None:
        """One letter (an indexed read); self.by_id keeps the letters already read."""
        found = self._reader.letters(doc_id)
        return found[0] if found else None

    def document_text(self, doc_id: str) -> str | None:
        first = self._reader.versions.get(doc_id)
        return None if first is None else versions.letter_text(self._reader.conn(), doc_id, first)


def open_index(index_dir: Path, *, model_name: str | None = None, dim: int | None = None,
               previous: IndexSnapshot | None = None) -> IndexSnapshot:
    """Load the committed index at `index_dir`, checking it was built with `model_name` and `dim`.

    Segments are immutable, so those already loaded by `previous` (an older snapshot of the same index)
    are reused: after adding one letter, a reload reads only the new segment's files. The snapshot holds a
    reader lease from before its first read: writers keep what its generation shows until it is collected.
    """
    index_dir = Path(index_dir)
    if not store_path(index_dir).is_file():
        raise IndexMissingError(f"no index at {index_dir}: run `chatbot index build`")
    return _load(index_dir, model_name, dim, previous, Lease.take(index_dir, LOADING))


def _load(index_dir: Path, model_name: str | None, dim: int | None, previous: IndexSnapshot | None,
          lease: Lease | None) -> IndexSnapshot:
    """The snapshot, holding `lease` (moved to its generation); a load that fails drops the lease with it."""
    try:
        conn = connect(index_dir)
        try:
            conn.execute("BEGIN")  # one read transaction: meta, segments and chunks of one generation
            meta = read_meta(conn)
            if "generation" not in meta:
                raise IndexMissingError(f"no index at {index_dir}: run `chatbot index build`")
            check_compatible(index_dir, meta, model_name, dim)
            names = [r[0] for r in conn.execute("SELECT name FROM segments ORDER BY name")]
            sizes = _recorded_sizes(conn)
            live_ids, live_codes, firsts = _live_rows(conn)
            lengths = [r[0] for r in conn.execute(
                "SELECT DISTINCT length(key) AS n FROM letter_keys ORDER BY n DESC")]
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise IndexCorruptError(f"{store_path(index_dir)} is damaged ({e}): {REBUILD_HINT}") from e
    if lease is not None:
        lease = lease.moved_to(int(meta["generation"]))
    doc_codes = {d: i for i, d in enumerate(firsts)}
    same = (previous is not None and previous.index_dir.resolve() == index_dir.resolve()
            and previous.index_id == meta.get("index_id", ""))
    reusable = {s.name: s for s in previous._segments} if previous is not None and same else {}
    loaded = [reusable.get(name) or _read(index_dir, name, sizes.get(name, {})) for name in names]
    per_letter = np.bincount(live_codes, minlength=len(doc_codes))
    reader = _Reader(index_dir, firsts, {d: int(per_letter[c]) for d, c in doc_codes.items()}, lease)
    return _assemble(index_dir, meta, loaded, live_ids, live_codes, doc_codes, reader, lengths)


def _recorded_sizes(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """segment -> file -> its size when written (segments of older indexes have none)."""
    sizes: dict[str, dict[str, int]] = defaultdict(dict)
    for segment, name, size in conn.execute("SELECT segment, file, size FROM segment_files"):
        sizes[segment][name] = size
    return sizes


def _live_rows(conn: sqlite3.Connection) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The live chunk ids (ascending), each one's letter code, and each letter's first chunk id (its version)
    in doc_id order (the codes)."""
    ranges = conn.execute("SELECT doc_id, first_id, chunks FROM letter_rows ORDER BY doc_id").fetchall()
    first = np.asarray([r[1] for r in ranges], dtype=np.int64)
    counts = np.asarray([r[2] for r in ranges], dtype=np.int64)
    starts = np.cumsum(counts) - counts
    ids = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(first - starts, counts)
    codes = np.repeat(np.arange(len(ranges), dtype=np.int32), counts)
    order = np.argsort(ids, kind="stable")
    return ids[order], codes[order], {r[0]: int(r[1]) for r in ranges}


def _read(index_dir: Path, name: str, sizes: dict[str, int]) -> _Segment:
    """A segment's files as a _Segment whose per-snapshot fields (live rows, norms) are still blank."""
    folder = index_dir / SEGMENTS_DIR / name
    try:
        for file, size in sorted(sizes.items()):
            found = (folder / file).stat().st_size
            if found != size:
                raise ValueError(f"{file} is {found} bytes, {size} were written")
        data: SegmentData = read_segment(folder)
        index = faiss_index(folder, data)
    except Exception as e:  # numpy, json and faiss each fail their own way on a damaged file
        raise IndexCorruptError(f"index at {index_dir}: segment {name} is damaged ({type(e).__name__}: {e}): "
                                f"{REBUILD_HINT}") from e
    terms = bm25.TermMatrix(tf=data.tf, vocab={t: i for i, t in enumerate(data.vocab)}, lengths=data.lengths)
    return _Segment(name=name, ids=data.ids, live=np.zeros(0, bool),
                    doc_codes=np.zeros(0, np.int32), terms=terms,
                    norm=np.zeros(0, np.float32), index=index, vectors=data.vectors,
                    live_bits=None)


def _assemble(index_dir: Path, meta: dict[str, str], loaded: list[_Segment], live_ids: np.ndarray,
              live_codes: np.ndarray, doc_codes: dict[str, int], reader: _Reader,
              key_lengths: list[int]) -> IndexSnapshot:
    """This generation's view of the segments: live rows, letter codes, global BM25 statistics."""
    total_len, lives = 0, []
    for seg in loaded:
        pos = np.minimum(np.searchsorted(live_ids, seg.ids), max(len(live_ids) - 1, 0))
        if len(live_ids):
            is_live = live_ids[pos] == seg.ids
            codes = np.where(is_live, live_codes[pos], -1).astype(np.int32)
        else:
            is_live, codes = np.zeros(len(seg.ids), bool), np.full(len(seg.ids), -1, np.int32)
        lives.append((is_live, codes))
        total_len += int(seg.terms.lengths[is_live].sum())
    n_live = int(sum(int(live.sum()) for live, _ in lives))
    if n_live != len(live_ids):
        raise IndexCorruptError(
            f"index at {index_dir}: {len(live_ids) - n_live} chunk(s) have no vectors in any segment: "
            f"{REBUILD_HINT}"
        )
    avgdl = total_len / n_live if n_live else 1.0
    segments = [
        dataclasses.replace(
            seg, live=is_live, doc_codes=codes, norm=bm25.length_norm(seg.terms.lengths, avgdl),
            # Without tombstones every posting is live: a count per column, no pass over the postings.
            df_live=seg.terms.tf.doc_freq(None if is_live.all() else is_live),
            live_bits=None if is_live.all() else np.packbits(is_live, bitorder="little"),
            by_letter=(order := np.argsort(codes, kind="stable")), sorted_codes=codes[order],
        )
        for seg, (is_live, codes) in zip(loaded, lives, strict=True)
    ]
    return IndexSnapshot(index_dir, meta, segments, live_ids, doc_codes, reader, key_lengths)
