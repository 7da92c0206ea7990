"""The on-disk index, write side: build, add and remove letters.

Every write embeds only new or changed letters into a NEW immutable segment folder, then switches over
in ONE SQLite transaction (docs, chunks and segments rows, generation + 1). A write killed before that
commit leaves the previous index loadable and unchanged; its half-written folder is an orphan that the
next write deletes. Chunks of replaced or removed letters leave the chunks table and stay in their old
segment files as tombstones until a merge rewrites those (small) segments.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .config import Settings
from .embedding import Embedder
from .errors import ConfigError, DocumentError, IndexMismatchError, QueryError
from .index_writer import (
    Change,
    ParsedLetter,
    commit,
    maybe_merge,
    write_new_segment,
    writing,
)
from .store import SCHEMA_VERSION, check_compatible, read_meta, store_path
from .tokens import TOKENIZER_VERSION

log = logging.getLogger(__name__)

EMBED_BATCH = 32
REMOVED_DIR = ".removed"  # inside the corpus: where removed or replaced letter files are kept
Progress = bool | Callable[[float, str], None]  # True: tqdm bars (CLI); a callback: the staff page
READING_PROGRESS = "正在读取 {name}"
PAGE_PROGRESS = "正在读取 {name}：第 {done}/{total} 页"
EMBEDDING_PROGRESS = "正在向量化：{done}/{total} 个片段"


@dataclass
class BuildReport:
    """What a write did; letters are named by doc_id, skipped files by file name."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    moved_aside: str | None = None  # where `build --full` moved a damaged index folder
    chunks_embedded: int = 0
    seconds: float = 0.0
    generation: int = 0


# --- helpers --------------------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _max_bytes(settings: Settings) -> int:
    return int(settings.max_file_mb * 1024 * 1024)


class FileHashes:
    """Content hashes of corpus files, with the file_stats table as a cache keyed by size and mtime.

    A no-op build of 100,000 letters read every file to hash it (~20 s); like make or git, an unchanged
    size and modification time (nanoseconds) is taken to mean unchanged content.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._known = {r[0]: (r[1], r[2], r[3]) for r in
                       conn.execute("SELECT source, size, mtime_ns, sha256 FROM file_stats")}
        self._learned: list[tuple[str, int, int, str]] = []

    def of(self, path: Path) -> str:
        stat = path.stat()
        known = self._known.get(path.name)
        if known is not None and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        sha = file_sha256(path)
        self.learn(path.name, stat, sha)
        return sha

    def learn(self, source: str, stat: os.stat_result, sha: str) -> None:
        """Record `sha` for the file as it was when `stat` was taken (before reading it)."""
        self._learned.append((source, stat.st_size, stat.st_mtime_ns, sha))

    def save(self, present: set[str]) -> None:
        """Keep what was learned and forget the files no longer in the corpus (one transaction)."""
        gone = [(source,) for source in self._known if source not in present]
        if not self._learned and not gone:
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany("DELETE FROM file_stats WHERE source = ?", gone)
            self._conn.executemany("INSERT OR REPLACE INTO file_stats VALUES (?, ?, ?, ?)", self._learned)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise


class PageReport:
    """Per-page progress while one file is read (OCR takes seconds a page): a tqdm bar in the CLI, the
    staff page's callback between `start` and `end` of its bar."""

    def __init__(self, progress: Progress, name: str, start: float = 0.0, end: float = 0.2) -> None:
        self._progress, self._name, self._start, self._end = progress, name, start, end
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._progress is True:
            if self._bar is None and done < total:  # a text layer is read at once: no bar for it
                from tqdm import tqdm

                self._bar = tqdm(total=total, initial=done, desc=self._name, unit="page", leave=False)
            elif self._bar is not None:
                self._bar.update(done - self._bar.n)
            return
        fraction = self._start + (self._end - self._start) * done / max(total, 1)
        notify(self._progress, fraction, PAGE_PROGRESS.format(name=self._name, done=done, total=total))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _parse(path: Path, settings: Settings, pages: PageReport | None = None) -> ParsedLetter:
    from .chunking import chunk_document
    from .documents import load_document

    try:
        doc = load_document(path, max_bytes=_max_bytes(settings), on_page=pages)
    finally:
        if pages is not None:
            pages.close()
    chunks = chunk_document(doc, max_chars=settings.chunk_max_chars)
    if not chunks:
        raise DocumentError(path, "no text to index after cleaning")
    return ParsedLetter(doc, chunks, path.stat().st_mtime)


def notify(progress: Progress, fraction: float, desc: str) -> None:
    """Tell a caller's progress callback (the staff page) how far a write has come."""
    if callable(progress):
        progress(min(max(fraction, 0.0), 1.0), desc)


def embed_texts(embedder: Embedder, texts: list[str], *, progress: Progress = False) -> np.ndarray:
    """Encode in batches of similar length (less padding: ~2x faster), rows in the order of `texts`.

    `progress`: True for a tqdm bar (CLI), or a callback(fraction, description) (staff page).
    """
    from tqdm import tqdm

    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    starts = range(0, len(order), EMBED_BATCH)
    for start in tqdm(starts, desc="embedding", unit="batch", disable=progress is not True):
        rows = order[start : start + EMBED_BATCH]
        out[rows] = embedder.encode([texts[i] for i in rows])
        done = min(start + EMBED_BATCH, len(order))
        notify(progress, 0.2 + 0.75 * done / len(order), EMBEDDING_PROGRESS.format(done=done, total=len(order)))
    return out

def _needs_full(index_dir: Path, conn: sqlite3.Connection, embedder: Embedder, full: bool) -> bool:
    """Whether this write must rebuild everything; IndexMismatchError when the model changed without full."""
    from .chunking import CHUNKER_VERSION

    meta = read_meta(conn)
    if "generation" not in meta or full:
        return full
    check = dict(meta, tokenizer_version=TOKENIZER_VERSION, schema_version=str(SCHEMA_VERSION))
    check_compatible(index_dir, check, embedder.name, embedder.dim)  # model or dim changed: needs --full
    stale = {
        "schema": meta.get("schema_version") != str(SCHEMA_VERSION),
        "chunker": meta.get("chunker_version") != CHUNKER_VERSION,
        "tokenizer": meta.get("tokenizer_version") != TOKENIZER_VERSION,
    }
    if any(stale.values()):
        log.info("index at %s has an older %s: rebuilding it all", index_dir,
                 ", ".join(k for k, v in stale.items() if v))
        return True
    return False

def _apply(index_dir: Path, conn: sqlite3.Connection, change: Change, embedder: Embedder,
           report: BuildReport, progress: Progress) -> None:
    """Embed the new letters, write their segment, commit, then merge small segments if there are many."""
    chunks = [c for item in change.new for c in item.chunks]
    segment = None
    if chunks:
        vectors = embed_texts(embedder, [c.search_text for c in chunks], progress=progress)
        segment = write_new_segment(index_dir, conn, chunks, vectors)
    report.chunks_embedded = len(chunks)
    report.generation = commit(index_dir, conn, change, embedder, segment)
    merged = maybe_merge(index_dir, conn)
    if merged:
        report.generation = merged

# --- public API -----------------------------------------------------------------------------------------
def build_index(settings: Settings, embedder: Embedder, *, full: bool = False,
                progress: Progress = False) -> BuildReport:
    """Bring the index at settings.index_dir up to date with settings.corpus_dir.

    Incremental by file content hash: unchanged files are not read again, new and changed ones are parsed
    and embedded, letters whose file left the corpus are removed. A file that cannot be read is reported in
    `skipped` and the others are indexed. `full` re-embeds everything (also with another model), and
    first moves a damaged index folder aside (chatbot.check) to rebuild from the corpus alone.
    """
    from tqdm import tqdm

    from .check import set_aside_if_damaged
    from .documents import iter_corpus_files

    started, report = time.monotonic(), BuildReport()
    corpus = Path(settings.corpus_dir)
    if not corpus.is_dir():
        raise ConfigError(
            f"corpus folder {corpus} does not exist: pass --corpus DIR or set CHATBOT_CORPUS_DIR"
        )
    index_dir = Path(settings.index_dir)
    if full:
        moved = set_aside_if_damaged(index_dir)
        report.moved_aside = str(moved) if moved is not None else None
    with writing(index_dir) as conn:
        full = _needs_full(index_dir, conn, embedder, full)
        old = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT source, doc_id, sha256 FROM docs")}
        files = iter_corpus_files(corpus)
        hashes = FileHashes(conn)
        parsed: list[ParsedLetter] = []
        kept: dict[str, tuple[str, float]] = {}  # unchanged: doc_id -> (source, mtime)
        for number, path in enumerate(tqdm(files, desc="reading", unit="file", disable=progress is not True)):
            start, end = 0.2 * number / max(len(files), 1), 0.2 * (number + 1) / max(len(files), 1)
            notify(progress, start, READING_PROGRESS.format(name=path.name))
            if not full and path.name in old and old[path.name][1] == hashes.of(path):
                kept[old[path.name][0]] = (path.name, path.stat().st_mtime)
                continue
            try:
                stat = path.stat()
                parsed.append(_parse(path, settings, PageReport(progress, path.name, start, end)))
                hashes.learn(path.name, stat, parsed[-1].doc.sha256)
            except DocumentError as e:
                report.skipped.append((path.name, e.reason))
        change = _plan_build(old, {p.name for p in files}, kept, parsed, full, report)
        hashes.save({p.name for p in files})
        if change.new or change.drop or change.drop_all or "generation" not in read_meta(conn):
            _apply(index_dir, conn, change, embedder, report, progress)
        else:
            report.generation = int(read_meta(conn)["generation"])
    report.seconds = time.monotonic() - started
    return report


def _plan_build(old: dict[str, tuple[str, str]], present: set[str], kept: dict[str, tuple[str, float]],
                parsed: list[ParsedLetter], full: bool, report: BuildReport) -> Change:
    """Decide what the build adds and drops. One letter per doc_id: the newest file wins."""
    old_ids = {doc_id for doc_id, _ in old.values()}
    winners: dict[str, ParsedLetter] = {}
    for item in sorted(parsed, key=lambda p: (p.mtime, p.doc.source)):
        doc_id = item.doc.doc_id
        loser = winners.get(doc_id)
        if loser is not None:
            report.skipped.append((loser.doc.source, _duplicate(doc_id, item.doc.source)))
        elif doc_id in kept and kept[doc_id][1] > item.mtime:
            report.skipped.append((item.doc.source, _duplicate(doc_id, kept[doc_id][0])))
            continue
        elif doc_id in kept:
            report.skipped.append((kept.pop(doc_id)[0], _duplicate(doc_id, item.doc.source)))
        winners[doc_id] = item
    change = Change(new=list(winners.values()), drop_all=full)
    for source, (doc_id, _sha) in old.items():
        if source not in present:
            change.drop.add(doc_id)
        elif full and doc_id not in winners and doc_id not in kept:
            change.drop.add(doc_id)  # its file failed to parse this time; --full keeps nothing old
    for item in change.new:
        previous = old.get(item.doc.source)
        if previous is not None and previous[0] != item.doc.doc_id:
            change.drop.add(previous[0])  # the file now carries another 文号
        change.drop.add(item.doc.doc_id)
    report.added = sorted(d for d in winners if d not in old_ids)
    report.replaced = sorted(d for d in winners if d in old_ids)
    report.removed = sorted(change.drop - set(winners) - set(kept))
    report.unchanged = sorted(kept)
    change.drop -= set(kept)
    return change


def _duplicate(doc_id: str, winner: str) -> str:
    return f"same 文号 {doc_id} as {winner}, which is indexed; remove one of the two files"


def safe_name(name: str) -> str:
    """A corpus file name from a user-given path: its base name only, not hidden, Chinese kept."""
    base = Path(name.replace("\\", "/")).name.replace("\x00", "").lstrip(".").strip()
    if not base:
        raise DocumentError(name, "the file name is empty once path parts and leading dots are removed")
    return base


def _move_to_removed(corpus: Path, source: str) -> None:
    """Keep a removed or replaced letter's file in <corpus>/.removed/ (never overwrite an older copy)."""
    path = corpus / source
    if not path.exists():
        return
    target_dir = corpus / REMOVED_DIR
    target_dir.mkdir(exist_ok=True)
    target = target_dir / source
    if target.exists():
        target = target_dir / f"{Path(source).stem}.{datetime.now(UTC):%Y%m%dT%H%M%S%f}{Path(source).suffix}"
    os.replace(path, target)
    log.info("moved %s to %s", path, target)


def add_files(settings: Settings, embedder: Embedder, files: Sequence[Path], *,
              progress: Progress = False) -> BuildReport:
    """Copy letter files into the corpus and index them; a letter with a known 文号 replaces the old one.

    Every file is read and chunked first: one bad file raises DocumentError and nothing changes.
    """
    started, report = time.monotonic(), BuildReport()
    corpus, index_dir = Path(settings.corpus_dir), Path(settings.index_dir)
    items: dict[str, tuple[Path, ParsedLetter]] = {}
    for number, path in enumerate(Path(f) for f in files):
        start, end = 0.2 * number / len(files), 0.2 * (number + 1) / len(files)
        notify(progress, start, READING_PROGRESS.format(name=path.name))
        if not path.is_file():
            raise DocumentError(path, "no such file")
        item = _parse(path, settings, PageReport(progress, path.name, start, end))
        item.doc = dataclasses.replace(item.doc, source=safe_name(path.name))
        if item.doc.doc_id in items:
            raise DocumentError(path, _duplicate(item.doc.doc_id, str(items[item.doc.doc_id][0])))
        items[item.doc.doc_id] = (path, item)
    corpus.mkdir(parents=True, exist_ok=True)
    with writing(index_dir) as conn:
        if _needs_full(index_dir, conn, embedder, False):
            raise IndexMismatchError(
                f"index at {index_dir} was built by an older chunker or tokenizer: run `chatbot index build` "
                "first (it rebuilds everything), then add the files"
            )
        old = {r[0]: r[1] for r in conn.execute("SELECT doc_id, source FROM docs")}
        by_source = {source: doc_id for doc_id, source in old.items()}
        change = Change(new=[item for _, item in items.values()])
        for doc_id, (path, item) in items.items():
            source = item.doc.source
            for gone in {doc_id, by_source.get(source, doc_id)} & set(old):
                change.drop.add(gone)
                (report.replaced if gone == doc_id else report.removed).append(gone)
                if old[gone] != source:
                    _move_to_removed(corpus, old[gone])
            if doc_id not in old:
                report.added.append(doc_id)
            _copy_into(corpus, path, source)
        _apply(index_dir, conn, change, embedder, report, progress)
    report.seconds = time.monotonic() - started
    return report


def _copy_into(corpus: Path, path: Path, name: str) -> None:
    target = corpus / name
    if target.exists() and target.resolve() == path.resolve():
        return
    if target.exists():
        _move_to_removed(corpus, name)
    tmp = corpus / f".tmp-{secrets.token_hex(4)}-{name}"
    shutil.copyfile(path, tmp)
    os.replace(tmp, target)


def remove_letter(settings: Settings, doc_id: str) -> str:
    """Remove a letter from the index; its file moves to <corpus>/.removed/. Returns its file name."""
    index_dir = Path(settings.index_dir)
    unknown = f"no letter {doc_id} in the index at {index_dir}; `chatbot index list` shows them"
    if not store_path(index_dir).is_file():
        raise QueryError(unknown)
    with writing(index_dir) as conn:
        row = conn.execute("SELECT source FROM docs WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise QueryError(unknown)
        _move_to_removed(Path(settings.corpus_dir), row[0])
        commit(index_dir, conn, Change(drop={doc_id}), None, None)
    return str(row[0])
