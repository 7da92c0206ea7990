"""`chatbot index check`: verify every file of an index against what its commits recorded, and set a damaged
index folder aside (never delete it) so that `chatbot index build --full` can rebuild from the corpus.

What is verified: store.sqlite (SQLite's own integrity check, the tables, the committed generation); every
file of every segment the index or a reader still lists (its size and SHA-256 as recorded by the commit
that listed it, no file missing or added); that the index loads (every live chunk has its vectors).
manifest.json is an export rewritten after each commit: a stale or missing one is a note, not damage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .errors import ChatbotError, IndexMismatchError, IndexMissingError
from .index_writer import LOCK_FILE, lock_index
from .leases import READERS_DIR
from .store import MANIFEST_FILE, SCHEMA_VERSION, SEGMENTS_DIR, STORE_FILE, connect, open_index, read_meta

log = logging.getLogger(__name__)

DAMAGED_SUFFIX = ".damaged-"
# Found in an index folder without being index data: the write lock and the reader leases.
_NOT_DATA = {LOCK_FILE, READERS_DIR}


@dataclass
class CheckReport:
    """What `check_index` found: `problems` is damage (exit code 1), `notes` is not."""

    index_dir: Path
    generation: int | None = None
    files_verified: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def check_index(index_dir: Path) -> CheckReport:
    """Verify the index at `index_dir`; IndexMissingError when there is nothing there to check."""
    index_dir = Path(index_dir)
    report = CheckReport(index_dir)
    present = {p.name for p in index_dir.iterdir()} - _NOT_DATA if index_dir.is_dir() else set()
    if STORE_FILE not in present:
        if present:
            report.problems.append(f"{STORE_FILE} is missing (the folder holds {', '.join(sorted(present))})")
            return report
        raise IndexMissingError(f"no index at {index_dir}: run `chatbot index build`")
    recorded = _check_store(index_dir, report)
    if recorded is None or report.generation is None:
        return report
    for segment, files in sorted(recorded.items()):
        _check_segment(index_dir, segment, files, report)
    listed = set(recorded)
    folder = index_dir / SEGMENTS_DIR
    for child in sorted(folder.iterdir()) if folder.is_dir() else []:
        if child.name not in listed:
            report.notes.append(f"{SEGMENTS_DIR}/{child.name} is listed by no generation (left by an interrupted "
                                "write): the next write removes it")
    if not report.problems:
        _check_loads(index_dir, report)
    _check_manifest(index_dir, report)
    return report


def _check_store(index_dir: Path, report: CheckReport) -> dict[str, dict[str, tuple[int, str]]] | None:
    """SQLite's integrity check and the generation; returns segment -> file -> (size, sha256) to verify."""
    try:
        conn = connect(index_dir)
        try:
            conn.execute("BEGIN")
            verdict = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
            if verdict != ["ok"]:
                report.problems.extend(f"{STORE_FILE}: {line}" for line in verdict)
                return None
            meta = read_meta(conn)
            if "generation" not in meta:
                report.notes.append("no generation is committed yet: run `chatbot index build`")
                return None
            report.generation = int(meta["generation"])
            if meta.get("schema_version") != str(SCHEMA_VERSION):
                report.notes.append(f"schema version {meta.get('schema_version')} records no file sizes or "
                                    "checksums: `chatbot index build` upgrades it")
                return {}
            listed = [r[0] for r in conn.execute("SELECT name FROM segments UNION SELECT name FROM retired_segments")]
            recorded: dict[str, dict[str, tuple[int, str]]] = defaultdict(dict, {name: {} for name in listed})
            for segment, file, size, sha in conn.execute("SELECT segment, file, size, sha256 FROM segment_files"):
                if segment in recorded:
                    recorded[segment][file] = (size, sha)
            conn.execute("COMMIT")
            return recorded
        finally:
            conn.close()
    except sqlite3.Error as e:
        report.problems.append(f"{STORE_FILE} is not a readable SQLite database ({e})")
        return None


def _check_segment(index_dir: Path, segment: str, files: dict[str, tuple[int, str]], report: CheckReport) -> None:
    folder = index_dir / SEGMENTS_DIR / segment
    where = f"{SEGMENTS_DIR}/{segment}"
    if not folder.is_dir():
        report.problems.append(f"{where} is missing")
        return
    if not files:
        report.problems.append(f"{where}: no file sizes or checksums were recorded for it")
        return
    for extra in sorted({p.name for p in folder.iterdir()} - set(files)):
        report.problems.append(f"{where}/{extra} was not written by the index")
    for name, (size, sha) in sorted(files.items()):
        path = folder / name
        if not path.is_file():
            report.problems.append(f"{where}/{name} is missing")
            continue
        found = path.stat().st_size
        if found != size:
            report.problems.append(f"{where}/{name} is {found} bytes, {size} were written")
            continue
        with open(path, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != sha:
                report.problems.append(f"{where}/{name} does not match the checksum recorded when it was written")
                continue
        report.files_verified += 1


def _check_loads(index_dir: Path, report: CheckReport) -> None:
    try:
        open_index(index_dir)
    except IndexMismatchError as e:
        report.notes.append(str(e))
    except ChatbotError as e:
        report.problems.append(str(e))


def _check_manifest(index_dir: Path, report: CheckReport) -> None:
    path = index_dir / MANIFEST_FILE
    try:
        generation = json.loads(path.read_text(encoding="utf-8"))["generation"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        report.notes.append(f"{MANIFEST_FILE} is unreadable ({e}): the next write rewrites it")
        return
    if generation != report.generation:
        report.notes.append(f"{MANIFEST_FILE} describes generation {generation}, the index is at "
                            f"{report.generation}: the next write rewrites it")


def set_aside_if_damaged(index_dir: Path) -> Path | None:
    """Move a damaged index folder aside (to <name>.damaged-<UTC time>, next to it) under the write lock;
    returns where it went, or None when the index is sound or absent. Nothing in it is deleted."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return None
    with lock_index(index_dir):
        try:
            problems = check_index(index_dir).problems
        except IndexMissingError:
            return None
        if not problems:
            return None
        target = index_dir.with_name(f"{index_dir.name}{DAMAGED_SUFFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
        os.rename(index_dir, target)
    log.warning("the index at %s is damaged (%s); moved it to %s", index_dir, "; ".join(problems[:3]), target)
    return target

