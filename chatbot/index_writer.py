"""The index's single writer: the write lock, the commit transaction, segment merging, the manifest.

chatbot.indexing decides WHAT changes (which letters to add, replace, drop); this module applies a change
atomically. The SQLite commit is the switch-over: a segment folder written before it is invisible until
the commit lists it, and an uncommitted one is an orphan deleted by the next write. What a commit drops is
retired, not deleted (chatbot.versions): readers still on an older generation read it until they are done.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import numpy as np

from . import bm25, leases, versions
from .embedding import Embedder
from .errors import IndexCorruptError
from .names import letter_keys
from .schema import Chunk, Document
from .segments import IVF_MIN_VECTORS, SegmentData, file_checksums, merge_data, read_segment, write_segment
from .store import (
    MANIFEST_FILE,
    REBUILD_HINT,
    SCHEMA,
    SCHEMA_VERSION,
    SEGMENTS_DIR,
    build_manifest,
    connect,
    read_meta,
    store_path,
)
from .tokens import TOKENIZER_VERSION, tokenize

log = logging.getLogger(__name__)

# More segments than this and the smallest are merged into one, leaving MERGE_LEAVES segments: a search
# visits every segment, while a merge rewrites only small ones (never one that reached IVF size).
MAX_SEGMENTS = 8
MERGE_LEAVES = 4
LOCK_FILE = ".write.lock"


@dataclass
class ParsedLetter:
    doc: Document
    chunks: list[Chunk]
    mtime: float


@dataclass
class Change:
    """One transaction's worth of changes."""

    new: list[ParsedLetter] = field(default_factory=list)
    drop: set[str] = field(default_factory=set)  # doc_ids whose rows are deleted
    drop_all: bool = False


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_manifest(index_dir: Path, conn: sqlite3.Connection) -> None:
    path = index_dir / MANIFEST_FILE
    tmp = path.with_name(f".{MANIFEST_FILE}.tmp")
    tmp.write_text(json.dumps(build_manifest(conn), ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def remove_orphans(index_dir: Path, conn: sqlite3.Connection) -> None:
    """Delete segment folders that neither the index nor a reader still on an older generation lists
    (a killed write's, or merged-away and retired ones that every reader has moved past)."""
    folder = index_dir / SEGMENTS_DIR
    if not folder.is_dir():
        return
    kept = versions.kept_segments(conn)
    for child in folder.iterdir():
        if child.name not in kept:
            log.info("removing segment folder %s: no generation a reader holds lists it", child)
            shutil.rmtree(child, ignore_errors=True)


def clean_up(index_dir: Path, conn: sqlite3.Connection) -> None:
    """Purge what was retired before the oldest generation a reader holds, then the folders nobody lists."""
    current = int(read_meta(conn).get("generation", 0))
    oldest = leases.oldest_held(index_dir)
    versions.purge(conn, current if oldest is None else min(oldest, current))
    remove_orphans(index_dir, conn)


def lock_index(index_dir: Path) -> TextIO:
    """The index's exclusive write lock (an open lock file: closing it unlocks).

    A writer that waited may find the folder moved aside meanwhile (`build --full` on a damaged index): it
    then locks the new folder's lock file instead of writing into it under the old one's.
    """
    while True:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = open(index_dir / LOCK_FILE, "a")  # noqa: SIM115 - returned open: closing it unlocks
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another process is writing the index at %s; waiting for it", index_dir)
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            same = os.path.samestat(os.fstat(lock.fileno()), os.stat(index_dir / LOCK_FILE))
        except FileNotFoundError:
            same = False
        if same:
            return lock
        lock.close()


@contextmanager
def writing(index_dir: Path) -> Iterator[sqlite3.Connection]:
    """The index's single writer: an exclusive lock file, the schema, and the clean-up of old generations."""
    with lock_index(index_dir):
        try:
            conn = connect(index_dir, readonly=False)
            _migrate(conn)
            conn.executescript(SCHEMA)
            add_missing_columns(conn)
        except sqlite3.DatabaseError as e:
            raise IndexCorruptError(f"{store_path(index_dir)} is damaged ({e}): {REBUILD_HINT}") from e
        try:
            clean_up(index_dir, conn)
            yield conn
        finally:
            conn.close()


def _migrate(conn: sqlite3.Connection) -> None:
    """Drop the tables whose columns changed since an older schema; the full rebuild that the older schema
    calls for refills them (schema 4: letter_keys say what kind of name each key is)."""
    for table in ("letter_keys", "retired_keys"):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if columns and "kind" not in columns:
            conn.execute(f"DROP TABLE {table}")


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Columns newer schema versions added to old tables (CREATE TABLE IF NOT EXISTS leaves those as they
    were); the rows are rewritten by the full rebuild an older schema version triggers."""
    for table in ("docs", "retired_letters"):
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if "reading" not in columns:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN reading TEXT NOT NULL DEFAULT '{{}}'")


# --- the commit -----------------------------------------------------------------------------------------
def next_chunk_id(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'chunks'").fetchone()
    return (int(row[0]) if row else 0) + 1


def write_new_segment(
    index_dir: Path, conn: sqlite3.Connection, chunks: list[Chunk], vectors: np.ndarray
) -> tuple[str, np.ndarray]:
    """Write the segment of `chunks` with freshly allocated row ids (safe: we hold the write lock)."""
    generation = int(read_meta(conn).get("generation", 0)) + 1
    name = f"g{generation:08d}-{secrets.token_hex(3)}"
    first = next_chunk_id(conn)
    ids = np.arange(first, first + len(chunks), dtype=np.int64)
    tf, vocab, lengths = bm25.build_term_matrix([tokenize(c.search_text) for c in chunks])
    (index_dir / SEGMENTS_DIR).mkdir(parents=True, exist_ok=True)
    write_segment(index_dir / SEGMENTS_DIR / name, SegmentData(ids, vectors, tf, vocab, lengths))
    return name, ids


def commit(index_dir: Path, conn: sqlite3.Connection, change: Change, embedder: Embedder | None,
            segment: tuple[str, np.ndarray] | None) -> int:
    """Apply `change` in one transaction; returns the new generation."""
    from .chunking import CHUNKER_VERSION

    files = file_checksums(index_dir / SEGMENTS_DIR / segment[0]) if segment is not None else []
    conn.execute("BEGIN IMMEDIATE")
    try:
        meta = read_meta(conn)
        generation = int(meta.get("generation", 0)) + 1
        touched = delete_docs(conn, change, generation)
        if segment is not None:
            name, ids = segment
            conn.execute("INSERT INTO segments (name, n, kind) VALUES (?, ?, ?)", (name, len(ids), "flat"))
            record_files(conn, name, files)
            insert_docs(conn, change.new, name, int(ids[0]) if len(ids) else 0)
        # a segment left with only tombstones leaves the index
        empty = [seg for seg in sorted(touched)
                 if conn.execute("SELECT 1 FROM chunks WHERE segment = ? LIMIT 1", (seg,)).fetchone() is None]
        versions.retire_segments(conn, generation, empty)
        new_meta = {"generation": str(generation), "build_time": now_iso()}
        if "index_id" not in meta:  # tells a new index in the same folder from the old one (chatbot.service)
            new_meta["index_id"] = secrets.token_hex(8)
        if embedder is not None:  # only writes that embed (build, add) vouch for the versions
            new_meta.update(schema_version=str(SCHEMA_VERSION), chunker_version=CHUNKER_VERSION,
                            tokenizer_version=TOKENIZER_VERSION, embedding_model=embedder.name,
                            dim=str(embedder.dim))
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", new_meta.items())
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    write_manifest(index_dir, conn)
    clean_up(index_dir, conn)
    return generation


def record_files(conn: sqlite3.Connection, segment: str, files: list[tuple[str, int, str]]) -> None:
    """The sizes and checksums of a segment's files, as written (`chatbot index check` verifies them)."""
    conn.executemany("INSERT OR REPLACE INTO segment_files (segment, file, size, sha256) VALUES (?, ?, ?, ?)",
                     [(segment, name, size, sha) for name, size, sha in files])


def delete_docs(conn: sqlite3.Connection, change: Change, generation: int) -> set[str]:
    """Retire, then delete, the rows of the letters `change` drops; returns the segments that held their
    chunks. Readers of generations before `generation` still find them in the retired tables."""
    touched: set[str]
    if change.drop_all:
        touched = {r[0] for r in conn.execute("SELECT name FROM segments")}
        versions.retire_letters(conn, generation, None)
        conn.execute("DELETE FROM chunks")
        conn.execute("DELETE FROM docs")
        conn.execute("DELETE FROM letter_keys")
        conn.execute("DELETE FROM letter_rows")
        return touched
    touched = set()
    versions.retire_letters(conn, generation, change.drop)
    for doc_id in sorted(change.drop):
        touched.update(r[0] for r in conn.execute("SELECT DISTINCT segment FROM chunks WHERE doc_id = ?",
                                                   (doc_id,)))
        conn.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM docs WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM letter_keys WHERE doc_id = ?", (doc_id,))
        conn.execute("DELETE FROM letter_rows WHERE doc_id = ?", (doc_id,))
    return touched


_INSERT_DOC = ("INSERT INTO docs (doc_id, source, sha256, meta, text, added_at, reading) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_CHUNK = (
    'INSERT INTO chunks (id, chunk_id, doc_id, segment, section, kind, text, start, "end", search_text) '
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_docs(conn: sqlite3.Connection, parsed: list[ParsedLetter], segment: str, first_id: int) -> None:
    """Insert the letters whose chunks the segment holds, in order, from row id `first_id` on."""
    now, next_id = now_iso(), first_id
    for item in parsed:
        doc = item.doc
        meta_json = json.dumps(dataclasses.asdict(doc.meta), ensure_ascii=False)
        reading_json = json.dumps(dataclasses.asdict(doc.reading), ensure_ascii=False)
        conn.execute(_INSERT_DOC, (doc.doc_id, doc.source, doc.sha256, meta_json, doc.text, now, reading_json))
        conn.executemany("INSERT INTO letter_keys (key, doc_id, kind) VALUES (?, ?, ?)",
                         [(key, doc.doc_id, kind) for key, kind in sorted(letter_keys(doc.doc_id, doc.meta))])
        rows = range(next_id, next_id + len(item.chunks))
        next_id = rows.stop
        conn.execute("INSERT INTO letter_rows (doc_id, first_id, chunks) VALUES (?, ?, ?)",
                     (doc.doc_id, rows.start, len(rows)))
        conn.executemany(
            _INSERT_CHUNK,
            [(row, c.chunk_id, c.doc_id, segment, c.section, c.kind, c.text, c.start, c.end, c.search_text)
             for row, c in zip(rows, item.chunks, strict=True)],
        )


# --- merging --------------------------------------------------------------------------------------------
def maybe_merge(index_dir: Path, conn: sqlite3.Connection) -> int | None:
    """Merge the smallest segments when there are more than MAX_SEGMENTS; returns the new generation."""
    sizes = conn.execute(
        "SELECT s.name, (SELECT count(*) FROM chunks c WHERE c.segment = s.name) AS live FROM segments s"
    ).fetchall()
    if len(sizes) <= MAX_SEGMENTS:
        return None
    small = sorted((live, name) for name, live in sizes if live < IVF_MIN_VECTORS)
    victims = [name for _, name in small[: len(sizes) - MERGE_LEAVES + 1]]
    if len(victims) < 2:
        return None
    parts = [read_segment(index_dir / SEGMENTS_DIR / name) for name in victims]
    marks = ",".join("?" * len(victims))
    live_ids = np.asarray(sorted(r[0] for r in conn.execute(
        f"SELECT id FROM chunks WHERE segment IN ({marks})", victims)), dtype=np.int64)
    generation = int(read_meta(conn)["generation"]) + 1
    name = f"g{generation:08d}-{secrets.token_hex(3)}"
    data = merge_data(parts, live_ids)
    info = write_segment(index_dir / SEGMENTS_DIR / name, data)
    files = file_checksums(index_dir / SEGMENTS_DIR / name)
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"UPDATE chunks SET segment = ? WHERE segment IN ({marks})", [name, *victims])
        versions.retire_segments(conn, generation, victims)
        conn.execute("INSERT INTO segments (name, n, kind) VALUES (?, ?, ?)",
                     (name, len(data.ids), info["kind"]))
        record_files(conn, name, files)
        conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         [("generation", str(generation)), ("build_time", now_iso())])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    log.info("merged %d segments into %s (%d chunks)", len(victims), name, len(data.ids))
    write_manifest(index_dir, conn)
    clean_up(index_dir, conn)
    return generation

