#!/usr/bin/env python3
"""Check the development corpus: letters, questions.jsonl and conversations.jsonl.

Run from anywhere:  python3 check.py [CORPUS_DIR]
Exits 1 and lists every problem if a check fails; prints the counts either way.
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
LETTERS = ROOT / "letters"
KINDS = {"factoid", "list", "meta", "oos"}
# targets from the brief (shares are of all questions)
MIN_QUESTIONS = 290
SHARE = {"factoid": (0.38, 0.52), "list": (0.07, 0.13), "meta": (0.12, 0.20), "oos": (0.25, 0.30)}
FOLLOWUP_SHARE = (0.07, 0.14)
MIN_CONVS, MIN_TURNS = 14, 60
MAX_EVIDENCE = 90  # "at most ~80 characters"; a little slack for table rows

WS = re.compile(r"\s+")
problems: list[str] = []


def squash(s: str) -> str:
    """Remove all whitespace (incl. U+3000 and tabs); no NFKC, as the brief says."""
    return WS.sub("", s)


def read_letter(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    for enc in ("utf-8", "gbk"):
        try:
            return raw.decode(enc), enc
        except UnicodeDecodeError:
            continue
    raise ValueError(f"{path.name}: neither UTF-8 nor GBK")


def load_letters() -> dict[str, tuple[str, str]]:
    out = {}
    for p in sorted(LETTERS.glob("*.txt")):
        out[p.name] = read_letter(p)
    return out


def check_item(where: str, item: dict, letters: dict, kind: str | None) -> None:
    """Shared checks for a question or a conversation turn."""
    doc, ev, answers = item.get("doc"), item.get("evidence"), item.get("answers")
    if not isinstance(answers, list) or not all(isinstance(a, str) and a for a in answers):
        problems.append(f"{where}: answers must be a list of non-empty strings")
        return
    if doc is not None and doc not in letters:
        problems.append(f"{where}: doc {doc!r} is not a letter file")
        return
    unanswerable = kind == "oos" or (kind is None and ev is None)
    if unanswerable:
        if ev is not None or answers:
            problems.append(f"{where}: out-of-scope item must have evidence null and answers []")
        return
    if doc is None or not isinstance(ev, str) or not ev.strip():
        problems.append(f"{where}: answerable item needs a doc and an evidence string")
        return
    text = squash(letters[doc][0])
    e = squash(ev)
    n = text.count(e)
    if n != 1:
        problems.append(f"{where}: evidence occurs {n} times in {doc}: {ev!r}")
    if "。" in e.rstrip("。"):
        problems.append(f"{where}: evidence spans more than one sentence: {ev!r}")
    if len(e) > MAX_EVIDENCE:
        problems.append(f"{where}: evidence is {len(e)} characters long")
    for a in answers:
        a2 = squash(a)
        if a2 in e:
            continue
        if kind == "meta" and a2 in text:
            continue
        problems.append(f"{where}: answer {a!r} not inside the evidence")
    if not answers:
        problems.append(f"{where}: answerable item has no answers")


def check_questions(letters: dict) -> Counter:
    path = ROOT / "questions.jsonl"
    ids: set[str] = set()
    kinds: Counter = Counter()
    followups = 0
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"questions.jsonl:{ln}: bad JSON ({e})")
            continue
        where = f"questions.jsonl:{ln} {q.get('id')}"
        for key in ("id", "question", "answers", "evidence", "kind", "doc"):
            if key not in q:
                problems.append(f"{where}: missing key {key}")
        if q.get("id") in ids:
            problems.append(f"{where}: duplicate id")
        ids.add(q.get("id"))
        if not re.fullmatch(r"dev-\d{3}", str(q.get("id"))):
            problems.append(f"{where}: id should look like dev-001")
        kind = q.get("kind")
        if kind not in KINDS:
            problems.append(f"{where}: unknown kind {kind!r}")
            continue
        kinds[kind] += 1
        if "history" in q:
            h = q["history"]
            if not isinstance(h, list) or not h or not all(isinstance(x, str) and x for x in h):
                problems.append(f"{where}: history must be a non-empty list of strings")
            followups += 1
        if kind != "oos" and q.get("doc") is None:
            problems.append(f"{where}: answerable question without doc")
        check_item(where, q, letters, kind)
    total = sum(kinds.values())
    if total < MIN_QUESTIONS:
        problems.append(f"questions: {total} < {MIN_QUESTIONS}")
    for k, (lo, hi) in SHARE.items():
        share = kinds[k] / total if total else 0
        if not lo <= share <= hi:
            problems.append(f"questions: {k} share {share:.1%} outside {lo:.0%}-{hi:.0%}")
    fshare = followups / total if total else 0
    if not FOLLOWUP_SHARE[0] <= fshare <= FOLLOWUP_SHARE[1]:
        problems.append(f"questions: follow-up share {fshare:.1%} outside target")
    kinds["_total"] = total
    kinds["_followups"] = followups
    return kinds


def check_conversations(letters: dict) -> tuple[int, int, int]:
    path = ROOT / "conversations.jsonl"
    ids: set[str] = set()
    convs = turns = amb = 0
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            c = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"conversations.jsonl:{ln}: bad JSON ({e})")
            continue
        cid = c.get("id")
        if cid in ids or not re.fullmatch(r"conv-\d{2}", str(cid)):
            problems.append(f"conversations.jsonl:{ln}: bad or duplicate id {cid!r}")
        ids.add(cid)
        t = c.get("turns")
        if not isinstance(t, list) or len(t) < 2:
            problems.append(f"{cid}: needs a list of at least 2 turns")
            continue
        convs += 1
        for i, turn in enumerate(t, 1):
            turns += 1
            where = f"{cid} turn {i}"
            for key in ("question", "doc", "answers", "evidence"):
                if key not in turn:
                    problems.append(f"{where}: missing key {key}")
            if "ambiguous" in turn:
                amb += 1
                a = turn["ambiguous"]
                if not isinstance(a, list) or len(a) < 2 or any(x not in letters for x in a):
                    problems.append(f"{where}: ambiguous must list at least two letter files")
                if turn.get("doc") is not None and turn["doc"] not in a:
                    problems.append(f"{where}: doc of an ambiguous turn must be one of the candidates")
            check_item(where, turn, letters, None)
    if convs < MIN_CONVS:
        problems.append(f"conversations: {convs} < {MIN_CONVS}")
    if turns < MIN_TURNS:
        problems.append(f"conversations: {turns} turns < {MIN_TURNS}")
    if amb == 0:
        problems.append("conversations: no turn marked ambiguous")
    return convs, turns, amb


def main() -> int:
    letters = load_letters()
    print(f"letters: {len(letters)}")
    for name, (text, enc) in letters.items():
        print(f"  {enc:5} {len(text):5d}  {name}")
    if len(letters) < 22:
        problems.append(f"letters: {len(letters)} < 22")
    encs = Counter(enc for _, enc in letters.values())
    print(f"encodings: {dict(encs)}")
    kinds = check_questions(letters)
    total = kinds.pop("_total")
    follow = kinds.pop("_followups")
    print(f"questions: {total}")
    for k in ("factoid", "list", "meta", "oos"):
        print(f"  {k:8} {kinds[k]:4d}  {kinds[k] / total:.1%}")
    print(f"  follow-ups (with history): {follow}  {follow / total:.1%}")
    convs, turns, amb = check_conversations(letters)
    print(f"conversations: {convs}, turns: {turns}, ambiguous turns: {amb}")
    if problems:
        print(f"\n{len(problems)} problem(s):")
        for p in problems:
            print("  -", p)
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
