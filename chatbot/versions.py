"""What an index generation shows stays readable for as long as a reader may still be on that generation.

A loaded snapshot reads SQLite after loading (a question's chunk text, a letter's title, the letters a
question names), so those reads must not see what later commits changed. Each one is made by an identity
whose meaning never changes:

- a chunk by its row id: ids are never reused (AUTOINCREMENT), so an id names one text forever;
- a letter's version by the row id of its first chunk (a letter's chunks are inserted together, and a
  replaced letter gets new rows): a replaced letter keeps its doc_id but not its version;
- the names a letter is asked by (letter_keys) through that version too.

A commit that drops rows moves them into the retired_* tables in the same transaction, stamped with the
generation that no longer shows them; snapshot reads look in both. Segments that leave the index are listed
in retired_segments the same way, so their folders stay on disk. `purge` deletes what every reader has moved
past: retired at or before the oldest generation a reader lease holds (chatbot.leases).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from .schema import Chunk

RETIRED_SCHEMA = """
CREATE TABLE IF NOT EXISTS retired_chunks (
    id INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL, doc_id TEXT NOT NULL, section TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    search_text TEXT NOT NULL, retired INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS retired_chunks_gen ON retired_chunks (retired);
CREATE TABLE IF NOT EXISTS retired_letters (
    first_id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, source TEXT NOT NULL, meta TEXT NOT NULL,
    text TEXT NOT NULL, retired INTEGER NOT NULL, reading TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS retired_keys (
    key TEXT NOT NULL, doc_id TEXT NOT NULL, first_id INTEGER NOT NULL, retired INTEGER NOT NULL,
    kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS retired_keys_key ON retired_keys (key);
CREATE TABLE IF NOT EXISTS retired_segments (name TEXT PRIMARY KEY, retired INTEGER NOT NULL);
"""
_SQL_BATCH = 400  # ids a statement; twice that many parameters stay under SQLite's limit
_CHUNK_COLUMNS = 'id, chunk_id, doc_id, section, kind, text, start, "end", search_text'


# --- the writer's side -----------------------------------------------------------------------------------
_RETIRE = (  # (statement, the column naming the letter)
    (f"INSERT INTO retired_chunks SELECT {_CHUNK_COLUMNS}, :gen FROM chunks", "doc_id"),
    ("INSERT OR REPLACE INTO retired_letters (first_id, doc_id, source, meta, text, retired, reading) "
     "SELECT r.first_id, d.doc_id, d.source, d.meta, d.text, :gen, d.reading "
     "FROM docs d JOIN letter_rows r ON r.doc_id = d.doc_id", "d.doc_id"),
    ("INSERT INTO retired_keys SELECT k.key, k.doc_id, r.first_id, :gen, k.kind "
     "FROM letter_keys k JOIN letter_rows r ON r.doc_id = k.doc_id", "k.doc_id"),
)


def retire_letters(conn: sqlite3.Connection, generation: int, doc_ids: Collection[str] | None) -> None:
    """Copy the rows of these letters (None: every letter) into retired_*, stamped `generation`: the
    caller's transaction then deletes them from the live tables."""
    for sql, column in _RETIRE:
        if doc_ids is None:
            conn.execute(sql, {"gen": generation})
        else:
            conn.executemany(f"{sql} WHERE {column} = :doc",
                             [{"gen": generation, "doc": doc_id} for doc_id in sorted(doc_ids)])


def retire_segments(conn: sqlite3.Connection, generation: int, names: Collection[str]) -> None:
    """Segments that leave the index at `generation`: their folders stay while a reader may use them."""
    conn.executemany("INSERT OR REPLACE INTO retired_segments (name, retired) VALUES (?, ?)",
                     [(name, generation) for name in sorted(names)])
    conn.executemany("DELETE FROM segments WHERE name = ?", [(name,) for name in sorted(names)])


def purge(conn: sqlite3.Connection, horizon: int) -> list[str]:
    """Delete what was retired at or before `horizon` (no reader is before it); returns the segments whose
    folders may go. Runs in its own transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        gone = [r[0] for r in conn.execute("SELECT name FROM retired_segments WHERE retired <= ?", (horizon,))]
        for table in ("retired_chunks", "retired_letters", "retired_keys", "retired_segments"):
            conn.execute(f"DELETE FROM {table} WHERE retired <= ?", (horizon,))
        conn.execute("DELETE FROM segment_files WHERE segment NOT IN "
                     "(SELECT name FROM segments UNION SELECT name FROM retired_segments)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return gone


def kept_segments(conn: sqlite3.Connection) -> set[str]:
    """Segment folders that must stay: the index's own and those some reader may still load."""
    return {r[0] for r in conn.execute("SELECT name FROM segments UNION SELECT name FROM retired_segments")}


# --- a snapshot's reads ----------------------------------------------------------------------------------
def chunk_rows(conn: sqlite3.Connection, ids: Sequence[int]) -> dict[int, Chunk]:
    """Row id → chunk, live or retired: an id names the same chunk in every generation."""
    found: dict[int, Chunk] = {}
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), _SQL_BATCH):
        batch = wanted[start : start + _SQL_BATCH]
        marks = ",".join("?" * len(batch))
        sql = (f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks}) "
               f"UNION ALL SELECT {_CHUNK_COLUMNS} FROM retired_chunks WHERE id IN ({marks})")
        for row in conn.execute(sql, batch + batch):
            found[row[0]] = Chunk(*row[1:])
    return found


def letter_rows(conn: sqlite3.Connection, versions: Mapping[str, int],
                doc_id: str | None = None) -> list[tuple[str, str, str, str]]:
    """(doc_id, source, meta JSON, reading JSON) of the letter versions in `versions` (doc_id → first chunk
    id), by doc_id; only `doc_id`'s when given."""
    if doc_id is not None:
        if doc_id not in versions:
            return []
        first = versions[doc_id]
        rows = conn.execute(
            "SELECT r.first_id, d.doc_id, d.source, d.meta, d.reading FROM docs d JOIN letter_rows r "
            "ON r.doc_id = d.doc_id WHERE d.doc_id = ? AND r.first_id = ? "
            "UNION ALL SELECT first_id, doc_id, source, meta, reading FROM retired_letters WHERE first_id = ?",
            (doc_id, first, first),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT r.first_id, d.doc_id, d.source, d.meta, d.reading FROM docs d JOIN letter_rows r "
            "ON r.doc_id = d.doc_id UNION ALL SELECT first_id, doc_id, source, meta, reading FROM retired_letters"
        ).fetchall()
    kept = {d: (d, source, meta, reading) for first, d, source, meta, reading in rows if versions.get(d) == first}
    return [kept[d] for d in sorted(kept)]


def letter_text(conn: sqlite3.Connection, doc_id: str, first_id: int) -> str | None:
    row = conn.execute(
        "SELECT d.text FROM docs d JOIN letter_rows r ON r.doc_id = d.doc_id WHERE d.doc_id = ? AND r.first_id = ? "
        "UNION ALL SELECT text FROM retired_letters WHERE first_id = ? AND doc_id = ?",
        (doc_id, first_id, first_id, doc_id),
    ).fetchone()
    return row[0] if row else None


def letters_named(conn: sqlite3.Connection, keys: Collection[str],
                  versions: Mapping[str, int]) -> dict[str, list[tuple[str, str]]]:
    """Which of `keys` name one of the letter versions in `versions`: key → [(doc_id, kind of name)]."""
    wanted, found = list(keys), defaultdict(list)
    for start in range(0, len(wanted), _SQL_BATCH):
        batch = wanted[start : start + _SQL_BATCH]
        marks = ",".join("?" * len(batch))
        sql = ("SELECT k.key, k.doc_id, r.first_id, k.kind FROM letter_keys k "
               f"JOIN letter_rows r ON r.doc_id = k.doc_id WHERE k.key IN ({marks}) "
               f"UNION ALL SELECT key, doc_id, first_id, kind FROM retired_keys WHERE key IN ({marks})")
        for key, doc_id, first, kind in conn.execute(sql, batch + batch):
            if versions.get(doc_id) == first:
                found[key].append((doc_id, kind))
    return dict(found)


def letters_titled(conn: sqlite3.Connection, phrase: str, versions: Mapping[str, int]) -> list[str]:
    """The letter versions in `versions` whose title holds `phrase`."""
    sql = ("SELECT k.doc_id, r.first_id FROM letter_keys k JOIN letter_rows r ON r.doc_id = k.doc_id "
           "WHERE k.kind = 'title' AND instr(k.key, :p) > 0 "
           "UNION ALL SELECT doc_id, first_id FROM retired_keys WHERE kind = 'title' AND instr(key, :p) > 0")
    return sorted({doc_id for doc_id, first in conn.execute(sql, {"p": phrase}) if versions.get(doc_id) == first})
