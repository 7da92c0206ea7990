"""The names a letter goes by: how a question may name it, and the identity every passage of it carries.

A letter's body says 我县 / 我局; a deputy asks about "泰顺的…", "交通局那份", "182号建议", "虞代表的建议". Those
names come from the letter's identity (chatbot.identity): its places with and without their suffix (泰顺县 =
泰顺), its unit and the unit's usual short forms (泰顺县交通运输局 = 交通局 = 泰顺交通局), its people, its numbers
and its title. They are computed once when the letter is indexed (the letter_keys table) and once per letter
when its passages are reranked (`identity_text`).
"""

from __future__ import annotations

import re
from functools import lru_cache

from .identity import compact
from .lexicon import department_stems, place_suffixes, unit_short_names, unit_suffixes
from .schema import LetterMeta

# Kinds of letter keys. A strong key names one letter on purpose (a 文号, a number, a person, a title); a
# place or a unit names every letter of that place or unit.
DOC, DOCNO, PROPOSAL, PERSON, TITLE, UNIT, PLACE = "doc", "docno", "proposal", "person", "title", "unit", "place"
STRONG_KINDS = frozenset({DOC, DOCNO, PROPOSAL, PERSON, TITLE})
CONTENT_KINDS = frozenset({PERSON, TITLE, UNIT, PLACE})  # names a passage's letter bears (its identity)
_DOCNO_NUMBER_RE = re.compile(r"[〕\])]\s*第?\s*0*(\d{1,5})\s*号$")
_TITLE_CORE_RE = re.compile(r"^(?:关于|对)|(?:的)?(?:建议|提案|议案|答复函|答复|复函)$")
_GENERIC_HEADING_MIN = 8  # "答复函" alone does not tell letters apart: a derived id needs more


def split_unit(unit: str) -> tuple[tuple[str, ...], str, str]:
    """(places, department stem, suffix) of a unit's name: 云南省马关县教育体育局 → ((云南省, 马关县), 教育体育, 局).

    The department is found from the known stems (chatbot/data/departments.tsv), longest first; an unknown
    one is what follows the longest run of place names.
    """
    name = compact(unit)
    suffixes = [s for s in unit_suffixes() if name.endswith(s) and len(name) > len(s)] or [""]
    for suffix in suffixes:
        body = name[: len(name) - len(suffix)]
        dept = next((s for s in _department_stems() if body.endswith(s)), None)
        if dept is not None:
            return _places(body[: len(body) - len(dept)]), dept, suffix
    body = name[: len(name) - len(suffixes[0])]
    places = _places(body, leave=2)
    return places, body[len("".join(places)) :], suffixes[0]


@lru_cache(maxsize=1)
def _department_stems() -> tuple[str, ...]:
    """Every full and short department stem, longest first."""
    return tuple(sorted({s for full, short in department_stems().items() for s in (full, *short)}, key=len,
                        reverse=True))


def _places(text: str, leave: int = 0) -> tuple[str, ...]:
    """The administrative places that `text` starts with (温州市, 云南省马关县), leaving `leave` characters."""
    suffixes = "|".join(place_suffixes())
    found: list[str] = []
    pos = 0
    for m in re.finditer(rf"[\u4e00-\u9fff]+?(?:{suffixes})", text):
        if m.start() != pos or len(text) - m.end() < leave:
            break
        found.append(m.group())
        pos = m.end()
    return tuple(found)


def place_names(place: str) -> set[str]:
    """A place with and without its suffix: 泰顺县 → {泰顺县, 泰顺}; a one-character name keeps it (沛县)."""
    names = {place}
    for suffix in place_suffixes():
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            names.add(place[: -len(suffix)])
            break
    return names


def unit_names(unit: str) -> set[str]:
    """A unit's name and its usual forms: 泰顺县交通运输局 → 交通运输局, 交通局, 泰顺交通局, 泰顺县交通局 …"""
    name = compact(unit)
    for full, shorts in unit_short_names().items():  # 攸县残疾人联合会 → 残联, 攸县残联
        if name.endswith(full):
            owners = {n for p in _places(name[: -len(full)]) for n in place_names(p)} | {""}
            return {name, *(owner + s for owner in owners for s in (full, *shorts))}  # 民乐残疾人联合会 too
    places, dept, suffix = split_unit(unit)
    suffixes = {suffix, "委"} if suffix == "委员会" else {suffix}
    stems = {dept, *department_stems().get(dept, ())}
    depts = {stem + s for stem in stems for s in suffixes if stem}
    owners = place_names(places[-1]) if places else set()
    names = {compact(unit), *depts, *(owner + d for owner in owners for d in depts)}
    return {n for n in names if len(n) >= 3}


def letter_places(meta: LetterMeta) -> tuple[str, ...]:
    """The places a letter is of: those its unit names (温州市科学技术局 → 温州市)."""
    return split_unit(meta.unit)[0] if meta.unit else ()


def people_names(meta: LetterMeta) -> set[str]:
    """Deputies by name, by name and role (虞振勇代表) and by surname and role (虞代表)."""
    roles = (meta.role,) if meta.role else ("代表", "委员")
    names = set(meta.deputies)
    for name in meta.deputies:
        names.update(name + role for role in roles)
        names.update(name[0] + role for role in roles if len(name) >= 2)
    return names


def title_core(title: str) -> str:
    """A title without 关于 … 的建议: what a deputy repeats when naming it ("加快科技成果落地转化")."""
    return _TITLE_CORE_RE.sub("", compact(title))


def doc_number_number(doc_number: str) -> str | None:
    """The number part of a 文号: 温科提复〔2024〕91号 → 91."""
    m = _DOCNO_NUMBER_RE.search(compact(doc_number))
    return m.group(1) if m else None


def letter_keys(doc_id: str, meta: LetterMeta) -> set[tuple[str, str]]:
    """(key, kind) pairs a question may name the letter by, compacted. Stored by the writer (letter_keys)."""
    keys = {(compact(doc_id), DOC)}
    if meta.doc_number:
        keys.add((compact(meta.doc_number), DOC))
        if number := doc_number_number(meta.doc_number):
            keys.add((f"{number}号", DOCNO))
            prefix = re.match(r"[\u4e00-\u9fff]+", compact(meta.doc_number))
            if prefix:  # 浙交复23号: the 文号 without its year
                keys.add((f"{prefix.group()}{number}号", DOC))
    if meta.proposal_number:
        keys.add((f"{meta.proposal_number}号", PROPOSAL))
    keys.update((name, PERSON) for name in people_names(meta) if len(name) >= 2)
    if meta.title:
        keys.update((t, TITLE) for t in {compact(meta.title), title_core(meta.title)} if len(t) >= 4)
    if meta.unit:
        keys.update((name, UNIT) for name in unit_names(meta.unit))
    keys.update((name, PLACE) for place in letter_places(meta) for name in place_names(place))
    return keys


@lru_cache(maxsize=4096)
def identity_text(meta: LetterMeta) -> str:
    """Everything that names the letter, compacted: the context in which each of its passages is read, so
    that "泰顺" or "交通局" in a question is satisfied by a passage that says 我县 or 我局."""
    parts = [key for key, kind in letter_keys("", meta) if kind in (UNIT, PLACE, PERSON)]
    parts += [compact(p) for p in (meta.session, meta.title, meta.heading) if p]
    if meta.proposal_number:
        parts.append(f"第{meta.proposal_number}号{meta.proposal_kind or '建议'}")
    return "|".join(sorted(set(parts)))


def letter_id(meta: LetterMeta, stem: str) -> str:
    """A letter's id: its 文号; without one, its heading with its unit before it (泰顺县水利局关于县十届…第45号
    建议的答复), or 对《title》的答复; the file name only when the letter names itself in no such way."""
    if meta.doc_number:
        return meta.doc_number
    heading = meta.heading if meta.heading and len(meta.heading) >= _GENERIC_HEADING_MIN else None
    base = heading or (f"对《{meta.title}》的答复" if meta.title and meta.title != meta.heading else None)
    if base is None:
        return stem
    if meta.unit and compact(meta.unit) not in base:
        base = compact(meta.unit) + ("" if base.startswith(("关于", "对")) else "：") + base
    return base


@lru_cache(maxsize=1)
def _short_to_full() -> dict[str, frozenset[str]]:
    """A department's usual short name (交通局, 人社部, 残联) → the full names it stands for."""
    table: dict[str, set[str]] = {}
    for full, shorts in unit_short_names().items():
        for short in shorts:
            table.setdefault(short, set()).add(full)
    for full_stem, shorts in department_stems().items():
        for short in shorts:
            for suffix in ("局", "厅", "部", "委", "办"):
                table.setdefault(short + suffix, set()).add(full_stem + suffix)
    return {short: frozenset(fulls) for short, fulls in table.items()}


def full_names(word: str) -> frozenset[str]:
    """The full department names a short one may stand for in a letter's text: 人社部 → 人力资源和社会保障部."""
    return _short_to_full().get(word, frozenset())


def department_short_names() -> list[str]:
    """Every usual short name of a department (交通局, 人社部, 残联): words of their own in a question."""
    return sorted(_short_to_full())
