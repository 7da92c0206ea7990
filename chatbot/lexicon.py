"""The domain's word lists, read once from the data files in chatbot/data/ (one entry a line, # comments).

Knowledge of reply letters that is not code: question fillers, synonyms, measure-word groups, department
names and their short forms, place and unit suffixes, the labels of a letter's labelled lines.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources


@cache
def data_lines(name: str) -> tuple[str, ...]:
    """The non-empty, non-comment lines of chatbot/data/NAME, stripped."""
    raw = resources.files("chatbot").joinpath("data", name).read_text(encoding="utf-8")
    return tuple(line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#"))


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _rows(name: str) -> list[list[str]]:
    """The tab-separated rows of a data file, NFKC, empty cells dropped."""
    return [[_nfkc(cell) for cell in line.split("\t") if cell.strip()] for line in data_lines(name)]


@cache
def fillers() -> frozenset[str]:
    """Words of a question that say nothing a passage must contain (question words, framing, fillers)."""
    return frozenset(_nfkc(w) for w in data_lines("query_fillers.txt"))


@cache
def role_words() -> frozenset[str]:
    """Words about the suggestion process itself (代表, 建议, 部门 …): never required of a passage."""
    return frozenset(_nfkc(w) for w in data_lines("role_words.txt"))


@cache
def synonym_map() -> dict[str, frozenset[str]]:
    """term → every word that may stand for it in a letter (itself included)."""
    groups: dict[str, set[str]] = {}
    for words in _rows("synonyms.tsv"):
        for word in words:
            groups.setdefault(word, {word}).update(words)
    return {word: frozenset(group) for word, group in groups.items()}


@cache
def unit_group(unit: str) -> frozenset[str]:
    """The measure words that answer for `unit` (itself included): 个 → 家, 项, 座 …; 座 → 个; 天 → 工作日.

    On a line of counted things (marked *, chatbot/data/unit_groups.tsv) the general word is answered by the
    whole line, another word by itself only; on other lines every word by the whole line. A word on several
    lines is answered by its first line and by the lines it heads (条 → 艘)."""
    rows = [(first.lstrip("*"), first, words) for first, *words in _rows("unit_groups.tsv")]
    own = {w for general, _, words in rows if general == unit for w in words}  # the lines it heads (条 → 艘)
    for general, first, words in rows:
        if unit == general or (unit in words and first == general):
            return frozenset([general, *words]) | own
        if unit in words:
            return frozenset({unit}) | own
    return frozenset({unit}) | own


@cache
def attribute_units() -> dict[str, frozenset[str]]:
    """Attribute nouns (功率, 金额 …) → the units of a figure that answers them."""
    return {noun: frozenset(units) for noun, *units in _rows("attribute_units.tsv")}


@cache
def department_stems() -> dict[str, tuple[str, ...]]:
    """A department's full stem (交通运输) → its short stems (交通), from departments.tsv."""
    table: dict[str, tuple[str, ...]] = {}
    for full, *short in _rows("departments.tsv"):
        table[full] = tuple(dict.fromkeys([*table.get(full, ()), *short]))
    return table


@cache
def place_suffixes() -> tuple[str, ...]:
    """Suffixes of administrative place names, longest first (自治区 … 县, 区, 镇)."""
    return tuple(sorted({_nfkc(s) for s in data_lines("place_suffixes.txt")}, key=len, reverse=True))


@cache
def unit_suffixes() -> tuple[str, ...]:
    """How a responding unit's name ends, longest first (委员会, 局, 厅, 部 …)."""
    return tuple(sorted({_nfkc(s) for s in data_lines("unit_suffixes.txt")}, key=len, reverse=True))


@cache
def field_labels() -> dict[str, str]:
    """Every label of a letter's labelled lines (办理类别, 联系电话 …) → the field it names (办复类别, 联系电话)."""
    table: dict[str, str] = {}
    for name, *labels in _rows("field_labels.tsv"):
        for label in (name, *labels):
            table.setdefault(label, name)
    return table


@cache
def measure_words() -> tuple[str, ...]:
    """Measure words and units of figures (家, 人次, 亿立方米 …), longest first: a regex alternation of them
    prefers 家次 to 家."""
    return tuple(sorted({_nfkc(w) for w in data_lines("measure_words.txt")}, key=len, reverse=True))


@cache
def unit_short_names() -> dict[str, tuple[str, ...]]:
    """How a unit's name ends (残疾人联合会) → the whole short names people use for it (残联)."""
    return {full: tuple(short) for full, *short in _rows("unit_short_names.tsv")}
