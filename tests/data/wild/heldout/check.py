#!/usr/bin/env python3
"""Checks the held-out corpus: letters/*.txt (UTF-8 or GBK) and questions.jsonl.

Run:  python3 check.py            (from this directory, or give the directory as argument)
Exit status 0 when every hard check passes; warnings do not fail the run.
"""
import json
import os
import re
import sys
from collections import Counter

BASE = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
LETTERS = os.path.join(BASE, "letters")
QUESTIONS = os.path.join(BASE, "questions.jsonl")
ID_RE = re.compile(r"^ho-\d{3}$")
KINDS = ("factoid", "list", "meta", "oos")
# target share per kind (low, high) and other targets
TARGETS = {"factoid": (0.38, 0.52), "list": (0.08, 0.14), "meta": (0.12, 0.20), "oos": (0.25, 0.30)}
MIN_QUESTIONS = 140
FOLLOWUP_SHARE = (0.08, 0.15)
MAX_EVIDENCE = 80

errors, warnings = [], []


def strip_ws(s):
    return "".join(s.split())


def read_letter(path):
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gbk"), "gbk"


# ---------- letters ----------
letters = {}
for name in sorted(os.listdir(LETTERS)):
    if not name.endswith(".txt"):
        errors.append(f"letters/{name}: not a .txt file")
        continue
    text, enc = read_letter(os.path.join(LETTERS, name))
    letters[name] = {"text": text, "flat": strip_ws(text), "enc": enc}

print(f"letters: {len(letters)}")
for name, d in letters.items():
    t = d["text"]
    first = next((l.strip() for l in t.splitlines() if l.strip()), "")
    wenhao = bool(re.search(r"〔\d{4}〕\d+号$", first))
    body = t
    kind = "政协提案" if ("提案" in first or "政协" in t[:400] and "提案" in t[:400]) else "人大建议"
    halfwidth = sum(t.count(c) for c in ",:;()") > sum(t.count(c) for c in "，：；（）")
    table = ("｜" in t) or ("\t" in t)
    sections = bool(re.search(r"^\s*[一二三四五六七八九十]+、", t, re.M))
    print(f"  {d['enc']:5} {len(t):5} chars  {'文号' if wenhao else '无文号'}  {kind}  "
          f"{'半角' if halfwidth else '全角'}  {'表格' if table else '    '}  "
          f"{'分节' if sections else '不分节'}  {name}")

# ---------- questions ----------
qs = []
with open(QUESTIONS, encoding="utf-8") as fh:
    for ln, line in enumerate(fh, 1):
        if not line.strip():
            continue
        try:
            qs.append(json.loads(line))
        except json.JSONDecodeError as e:
            errors.append(f"questions.jsonl line {ln}: JSON error {e}")

ids = Counter(q.get("id") for q in qs)
for i, n in ids.items():
    if n > 1:
        errors.append(f"duplicate id {i}")
    if not ID_RE.match(str(i)):
        errors.append(f"bad id {i}")

for q in qs:
    qid = q.get("id")
    for key in ("id", "question", "answers", "evidence", "kind", "doc"):
        if key not in q:
            errors.append(f"{qid}: missing key {key}")
    kind = q.get("kind")
    if kind not in KINDS:
        errors.append(f"{qid}: bad kind {kind}")
        continue
    doc = q.get("doc")
    if doc is not None and doc not in letters:
        errors.append(f"{qid}: doc not found: {doc}")
        continue
    if "history" in q:
        h = q["history"]
        if not (isinstance(h, list) and h and all(isinstance(x, str) and x.strip() for x in h)):
            errors.append(f"{qid}: history must be a non-empty list of strings")
    if kind == "oos":
        if q.get("evidence") is not None or q.get("answers") != []:
            errors.append(f"{qid}: oos must have evidence null and answers []")
        continue
    if doc is None:
        errors.append(f"{qid}: answerable question without doc")
        continue
    ev = q.get("evidence")
    ans = q.get("answers")
    if not isinstance(ev, str) or not ev.strip():
        errors.append(f"{qid}: empty evidence")
        continue
    if not isinstance(ans, list) or not ans or not all(isinstance(a, str) and a for a in ans):
        errors.append(f"{qid}: answers must be a non-empty list of strings")
        continue
    flat_ev = strip_ws(ev)
    flat_doc = letters[doc]["flat"]
    n = flat_doc.count(flat_ev)
    if n != 1:
        errors.append(f"{qid}: evidence occurs {n} times in {doc}: {ev[:40]}")
    if "。" in flat_ev.rstrip("。"):
        errors.append(f"{qid}: evidence spans more than one sentence")
    if len(flat_ev) > MAX_EVIDENCE:
        warnings.append(f"{qid}: evidence {len(flat_ev)} chars > {MAX_EVIDENCE}")
    for a in ans:
        fa = strip_ws(a)
        where = flat_doc if kind == "meta" else flat_ev
        if fa not in where:
            errors.append(f"{qid}: answer {a!r} not in {'letter' if kind == 'meta' else 'evidence'}")
        if kind == "meta" and fa not in flat_ev:
            warnings.append(f"{qid}: meta answer {a!r} not inside its evidence line")

# ---------- counts ----------
total = len(qs)
kinds = Counter(q.get("kind") for q in qs)
follow = sum(1 for q in qs if q.get("history"))
print(f"\nquestions: {total}")
for k in KINDS:
    share = kinds[k] / total if total else 0
    lo, hi = TARGETS[k]
    flag = "" if lo <= share <= hi else "   <-- outside target"
    print(f"  {k:8} {kinds[k]:4}  {share:6.1%}  (target {lo:.0%}-{hi:.0%}){flag}")
    if not lo <= share <= hi:
        (errors if k == "oos" else warnings).append(f"share of {k} {share:.1%} outside {lo:.0%}-{hi:.0%}")
fshare = follow / total if total else 0
print(f"  follow-ups {follow} ({fshare:.1%})")
if not FOLLOWUP_SHARE[0] <= fshare <= FOLLOWUP_SHARE[1]:
    warnings.append(f"follow-up share {fshare:.1%} outside target")
if total < MIN_QUESTIONS:
    errors.append(f"only {total} questions (< {MIN_QUESTIONS})")
per_doc = Counter(q.get("doc") for q in qs)
print("  per letter:")
for name in letters:
    ks = Counter(q["kind"] for q in qs if q.get("doc") == name)
    print(f"    {per_doc[name]:3}  {dict(ks)}  {name}")
print(f"    {per_doc[None]:3}  (oos with doc null)")
unused = [n for n in letters if per_doc[n] == 0]
if unused:
    warnings.append(f"letters without questions: {unused}")

for w in warnings:
    print("WARN ", w)
for e in errors:
    print("ERROR", e)
print("\nOK" if not errors else f"\n{len(errors)} error(s)")
sys.exit(1 if errors else 0)
